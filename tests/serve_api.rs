//! The HTTP API over a demo store with the real model, called in process: the OpenAPI file
//! against the real routes, the token on the agent side, limits and JSON errors, and what the
//! calls change in the store.

mod common;

use std::collections::BTreeSet;

use axum::body::Body;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use ticketlens::serve::{self, Access, ServeConfig};
use ticketlens::store::Store;

const TOKEN: &str = "agent-token-for-tests";

struct App {
    router: Router,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn app_with(config: impl FnOnce(&mut ServeConfig)) -> App {
    let dir = tempfile::tempdir().unwrap();
    let (state, serve_config, store) = common::demo_server(dir.path(), TOKEN, config).await;
    App {
        router: serve::router(state, &serve_config),
        store,
        _dir: dir,
    }
}

async fn app() -> App {
    app_with(|_| {}).await
}

impl App {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, bytes) = self
            .raw(method, path, token, body.map(|b| b.to_string()))
            .await;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(body.map_or(Body::empty(), Body::from))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 24).await.unwrap().to_vec();
        (parts.status, parts.headers, bytes)
    }
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn the_openapi_file_documents_exactly_the_routes_that_answer() {
    let spec: Value = serde_json::from_str(include_str!("../src/serve/openapi.json")).unwrap();
    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let routes: BTreeSet<(String, String)> = serve::api_routes()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, routes);

    // Each documented route is served: never "no such endpoint" nor a wrong method.
    let app = app().await;
    for (method, path) in &documented {
        let path = path.replace("{id}", "1");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = (method == Method::POST).then(|| json!({}));
        let (status, body) = app.call(method.clone(), &path, Some(TOKEN), body).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_ne!(error_code(&body), "no_route", "{method} {path}: {body}");
    }
    let (status, headers, page) = app.raw(Method::GET, "/", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8(page).unwrap().contains("Before you file"));
    assert!(headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    let (status, body) = app.call(Method::GET, "/v1/nothing", None, None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "no_route")
    );
    let (status, body) = app
        .call(Method::DELETE, "/v1/problems", Some(TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
}

#[tokio::test]
async fn agent_endpoints_refuse_a_missing_or_wrong_token() {
    let app = app().await;
    for route in serve::api_routes()
        .iter()
        .filter(|r| r.access == Access::Agent)
    {
        let path = route.path.replace("{id}", "1");
        let body = (route.method == Method::POST).then(|| json!({ "text": "x", "into": 2 }));
        for token in [None, Some("wrong"), Some("agent-token-for-test")] {
            let (status, headers, bytes) = app
                .raw(
                    route.method.clone(),
                    &path,
                    token,
                    body.as_ref().map(Value::to_string),
                )
                .await;
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} with {token:?}");
            assert_eq!(error_code(&body), "unauthorized");
            assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
        }
    }
    let (status, problems) = app
        .call(Method::GET, "/v1/problems", Some(TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !problems.as_array().unwrap().is_empty(),
        "the demo has candidate problems"
    );
}

#[tokio::test]
async fn before_filing_answers_with_public_articles_and_records_feedback() {
    let app = app().await;
    let question = json!({ "text": "The VPN will not connect when I work from home" });
    let (status, answer) = app
        .call(Method::POST, "/v1/suggest", None, Some(question))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let articles = answer["articles"].as_array().unwrap();
    assert!(
        articles
            .iter()
            .any(|a| a["title"] == "Connect to the VPN from home (SkyGate)"),
        "{answer}"
    );
    for article in articles {
        let id = article["id"].as_i64().unwrap();
        assert!(
            app.store.public_article(id).await.unwrap().is_some(),
            "{article} is not public"
        );
    }
    let feedback = json!({ "answer_id": answer["answer_id"], "helped": true });
    let (status, _) = app
        .call(Method::POST, "/v1/suggest/feedback", None, Some(feedback))
        .await;
    assert_eq!(status, StatusCode::OK);
    let deflection = app.store.deflection().await.unwrap();
    assert_eq!((deflection.rated, deflection.helped), (1, 1));

    // A person still typing rewords the question: one answer, not one per pause.
    let first = json!({ "text": "printer", "refines": null });
    let (_, first) = app
        .call(Method::POST, "/v1/suggest", None, Some(first))
        .await;
    let reworded = json!({ "text": "printer shows offline", "refines": first["answer_id"] });
    let (_, reworded) = app
        .call(Method::POST, "/v1/suggest", None, Some(reworded))
        .await;
    assert_eq!(reworded["answer_id"], first["answer_id"]);
    assert_eq!(app.store.deflection().await.unwrap().asked, 2);
    // An answer that was rated stays as it was rated.
    let after_feedback = json!({ "text": "vpn from home", "refines": answer["answer_id"] });
    let (_, after_feedback) = app
        .call(Method::POST, "/v1/suggest", None, Some(after_feedback))
        .await;
    assert_ne!(after_feedback["answer_id"], answer["answer_id"]);
    assert_eq!(app.store.deflection().await.unwrap().asked, 3);

    let unknown = json!({ "answer_id": 987654, "helped": false });
    let (status, body) = app
        .call(Method::POST, "/v1/suggest/feedback", None, Some(unknown))
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_floods_are_limited() {
    let app = app_with(|c| {
        c.max_body_bytes = 512;
        c.public_burst = 3;
        c.public_per_minute = 1;
    })
    .await;
    let huge = json!({ "text": "x".repeat(2000) }).to_string();
    let (status, _, bytes) = app
        .raw(Method::POST, "/v1/triage", Some(TOKEN), Some(huge))
        .await;
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );

    for (text, why) in [
        ("{\"text\": ", "malformed"),
        ("{\"text\": \"printer\", \"extra\": 1}", "unknown field"),
        ("{\"text\": \"   \"}", "empty"),
    ] {
        let (status, _, bytes) = app
            .raw(Method::POST, "/v1/triage", Some(TOKEN), Some(text.into()))
            .await;
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{why}"
        );
    }
    let (status, body) = app
        .call(Method::GET, "/v1/problems/abc", Some(TOKEN), None)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "bad_request")
    );

    // Three at once are allowed, the fourth within the minute is not.
    let ask = || json!({ "text": "printer offline" });
    for _ in 0..3 {
        let (status, _) = app
            .call(Method::POST, "/v1/suggest", None, Some(ask()))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, headers, bytes) = app
        .raw(Method::POST, "/v1/suggest", None, Some(ask().to_string()))
        .await;
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
    );
    assert!(headers.contains_key(header::RETRY_AFTER));
    // The agent side is not limited by the public quota.
    let (status, _) = app.call(Method::GET, "/v1/review", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn triage_answers_without_writing_and_tickets_show_their_latest_triage() {
    let app = app().await;
    let count = |store: Store| async move {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM triage_results")
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    let before = count(app.store.clone()).await;
    let text = json!({ "text": "Laptop screen flickers and goes black when docked" });
    let (status, assessment) = app
        .call(Method::POST, "/v1/triage", Some(TOKEN), Some(text))
        .await;
    assert_eq!(status, StatusCode::OK, "{assessment}");
    assert_eq!(
        assessment["verdict"]["category"]["label"], "hardware",
        "{assessment}"
    );
    assert!(!assessment["verdict"]["evidence"]
        .as_array()
        .unwrap()
        .is_empty());
    assert_eq!(
        count(app.store.clone()).await,
        before,
        "triage wrote something"
    );

    let (status, queue) = app
        .call(Method::GET, "/v1/review?limit=500", Some(TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let queue = queue.as_array().unwrap();
    assert!(!queue.is_empty(), "the demo leaves tickets for review");
    for item in queue {
        assert_eq!(item["outcome"], "needs_review", "{item}");
        assert!(["new", "open", "pending"].contains(&item["ticket_status"].as_str().unwrap()));
    }
    let id = queue[0]["ticket_id"].as_i64().unwrap();
    let (status, triage) = app
        .call(
            Method::GET,
            &format!("/v1/tickets/{id}/triage"),
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(triage["ticket_id"], id);
    assert!(triage["suggestions"].is_array(), "{triage}");
    let (status, body) = app
        .call(Method::GET, "/v1/tickets/987654/triage", Some(TOKEN), None)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn problem_decisions_through_the_api_persist_in_the_store() {
    let app = app().await;
    let (_, problems) = app
        .call(Method::GET, "/v1/problems", Some(TOKEN), None)
        .await;
    let ids: Vec<i64> = problems
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert!(ids.len() >= 3, "{problems}");
    let (a, b, c) = (ids[0], ids[1], ids[2]);

    let (status, accepted) = app
        .call(
            Method::POST,
            &format!("/v1/problems/{a}/accept"),
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(
        (status, accepted["status"].as_str()),
        (StatusCode::OK, Some("accepted"))
    );
    assert_eq!(
        app.store.problem(a).await.unwrap().problem.status,
        "accepted"
    );

    let (status, _) = app
        .call(
            Method::POST,
            &format!("/v1/problems/{b}/reject"),
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.store.problem(b).await.unwrap().problem.status,
        "rejected"
    );
    let (_, listed) = app
        .call(Method::GET, "/v1/problems", Some(TOKEN), None)
        .await;
    assert!(
        listed.as_array().unwrap().iter().all(|p| p["id"] != b),
        "rejected ones are hidden"
    );
    let (_, listed) = app
        .call(Method::GET, "/v1/problems?all=true", Some(TOKEN), None)
        .await;
    assert!(listed.as_array().unwrap().iter().any(|p| p["id"] == b));

    let size = |p: &Value| p["size"].as_i64().unwrap();
    let (_, before) = app
        .call(Method::GET, &format!("/v1/problems/{a}"), Some(TOKEN), None)
        .await;
    let (_, merged_away) = app
        .call(Method::GET, &format!("/v1/problems/{c}"), Some(TOKEN), None)
        .await;
    let merge = json!({ "into": a });
    let (status, into) = app
        .call(
            Method::POST,
            &format!("/v1/problems/{c}/merge"),
            Some(TOKEN),
            Some(merge),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{into}");
    assert_eq!(size(&into), size(&before) + size(&merged_away));
    assert_eq!(app.store.problem(c).await.unwrap().merged_into, Some(a));

    let itself = json!({ "into": a });
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/v1/problems/{a}/merge"),
            Some(TOKEN),
            Some(itself),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "conflict")
    );
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/problems/987654/accept",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn metrics_and_health_report_what_the_store_holds() {
    let app = app().await;
    let (status, health) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );

    app.call(
        Method::POST,
        "/v1/suggest",
        None,
        Some(json!({ "text": "toner is empty" })),
    )
    .await;
    let (status, _, bytes) = app.raw(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(bytes).unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
    };
    let triaged: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT ticket_id) FROM triage_results")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(value("ticketlens_tickets_triaged"), triaged as f64);
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM problems WHERE status IN ('candidate', 'accepted')",
    )
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!(value("ticketlens_problems_open"), open as f64);
    assert_eq!(
        value("ticketlens_queue_depth"),
        0.0,
        "the demo drained its store"
    );
    assert!(value("ticketlens_embedding_batch_size_count") >= 1.0);
    assert!(value("ticketlens_tickets_needs_review") >= value("ticketlens_review_queue"));
}
