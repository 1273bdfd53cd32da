//! `eval` replays a labelled set through the pipeline and scores it against the labels.

use std::path::PathBuf;

use ticketlens::eval::{self, EvalData, EvalOptions};

#[tokio::test]
async fn eval_scores_the_demo_history_and_caches_its_embeddings() {
    let dir = tempfile::tempdir().unwrap();
    let options = EvalOptions {
        data: EvalData::Split {
            tickets: PathBuf::from("fixtures/demo/history.jsonl"),
            history_share: 0.75,
        },
        pipeline: PathBuf::from("pipelines/eval.toml"),
        cache: dir.path().join("cache.db"),
        learning_curve: vec![40, 100],
        articles: None,
    };
    let report = eval::run(&options).await.unwrap();
    assert_eq!((report.history, report.incoming), (255, 85));
    let category = report.category.expect("the demo history has categories");
    assert_eq!(category.n, 85);
    // Nine balanced categories: chance is ~0.11; the classifier does far better on this data.
    assert!(category.accuracy > 0.6, "{category:?}");
    assert!(
        category.macro_f1 > 0.5 && category.macro_f1 <= 1.0,
        "{category:?}"
    );
    assert!((0.0..=1.0).contains(&category.coverage_at_95));
    if let Some(p) = category.applied_precision {
        assert!(
            p > category.accuracy - 0.05,
            "applying only confident decisions does not hurt"
        );
    }
    let urgency = report.urgency.expect("the demo history has urgencies");
    assert_eq!(urgency.n, 85);
    assert!(report.problems.is_none() && report.suggestions.is_none());

    // The learning curve: the same incoming tickets judged with less history.
    let sizes: Vec<usize> = report.learning_curve.iter().map(|r| r.history).collect();
    assert_eq!(sizes, [40, 100]);
    let small = report.learning_curve[0].category.as_ref().unwrap();
    assert_eq!(small.n, 85);
    assert!(
        small.coverage_at_95 <= category.coverage_at_95 + 0.05,
        "{small:?}"
    );

    // The second run embeds nothing: every text is in the cache.
    let options = EvalOptions {
        learning_curve: Vec::new(),
        ..options
    };
    let again = eval::run(&options).await.unwrap();
    assert_eq!(again.category.unwrap().accuracy, category.accuracy);
    let pool = sqlx::SqlitePool::connect(&format!(
        "sqlite://{}",
        dir.path().join("cache.db").display()
    ))
    .await
    .unwrap();
    let cached: i64 = sqlx::query_scalar("SELECT COUNT(*) FROM vectors")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert!(cached >= 330, "{cached} vectors cached for 340 tickets");
}
