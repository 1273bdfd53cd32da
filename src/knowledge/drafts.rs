//! Knowledge gaps: resolved tickets whose resolutions say the same thing, and that no article
//! answers, become a draft article for the knowledge manager — symptoms from the tickets, the
//! steps from the most representative resolution, links to the sources, personal data removed.

use std::collections::HashMap;

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::scrub::{name_words, names_pattern, scrub_with};
use super::ArticleIndex;
use crate::problems::{self, terms, ClusterSettings, ProblemError, WindowIncident};
use crate::vectors::unit_mean;

/// A resolved ticket with a resolution, and both its embeddings.
#[derive(Debug, Clone)]
pub struct ResolvedTicket {
    pub id: i64,
    pub subject: String,
    pub resolution: String,
    pub requester: Option<String>,
    pub category: Option<String>,
    pub created_at: DateTime<Utc>,
    /// Embedding of the ticket's text.
    pub vector: Vec<f32>,
    /// Embedding of the resolution.
    pub resolution_vector: Vec<f32>,
}

#[derive(Debug, Clone, Copy)]
pub struct DraftSettings {
    /// How resolutions are clustered (smallest group, radius, cohesion).
    pub cluster: ClusterSettings,
    /// An article at least this similar to the group's tickets or resolutions covers it.
    pub covered_similarity: f32,
}

/// A draft article, never published by ticketlens.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Draft {
    pub title: String,
    /// Markdown: symptoms, resolution, sources.
    pub body: String,
    /// The most common category of the sources.
    pub category: Option<String>,
    /// The resolved tickets it was written from, most representative first.
    pub sources: Vec<i64>,
}

/// Resolutions shorter than this many words ("Fixed.", "Done, closing") say nothing to share.
const MIN_RESOLUTION_TERMS: usize = 3;
/// Symptoms listed in a draft.
const SYMPTOMS: usize = 5;

/// Whether a resolution has enough words to be worth sharing in an article.
pub fn says_enough(resolution: &str) -> bool {
    terms(resolution).len() >= MIN_RESOLUTION_TERMS
}

/// The drafts for the groups of similar resolutions that no article in `articles` covers.
pub fn draft_articles(
    tickets: &[ResolvedTicket],
    articles: &ArticleIndex,
    settings: DraftSettings,
) -> Result<Vec<Draft>, ProblemError> {
    let usable: Vec<&ResolvedTicket> = tickets
        .iter()
        .filter(|t| says_enough(&t.resolution))
        .collect();
    let by_resolution: Vec<WindowIncident> = usable
        .iter()
        .map(|t| WindowIncident {
            ticket_id: t.id,
            subject: t.subject.clone(),
            text: t.resolution.clone(),
            requester: t.requester.clone(),
            created_at: t.created_at,
            vector: t.resolution_vector.clone(),
        })
        .collect();
    let groups = problems::detect(&by_resolution, settings.cluster)?;
    let by_id: HashMap<i64, &ResolvedTicket> = usable.iter().map(|t| (t.id, *t)).collect();
    let find = |id: i64| by_id[&id];
    Ok(groups
        .into_iter()
        .map(|g| {
            g.members
                .iter()
                .map(|m| find(m.ticket_id))
                .collect::<Vec<_>>()
        })
        .filter(|members| !covered(members, articles, settings.covered_similarity))
        .map(|members| draft(&members))
        .collect())
}

/// Whether an article is close to the group's tickets or to their resolutions.
fn covered(members: &[&ResolvedTicket], articles: &ArticleIndex, floor: f32) -> bool {
    [
        unit_mean(members.iter().map(|t| t.vector.as_slice())),
        unit_mean(members.iter().map(|t| t.resolution_vector.as_slice())),
    ]
    .iter()
    .any(|centre| articles.covers(centre, floor))
}

/// Members most representative first.
fn draft(members: &[&ResolvedTicket]) -> Draft {
    let names: Vec<String> = members
        .iter()
        .filter_map(|t| t.requester.as_deref())
        .flat_map(name_words)
        .collect();
    let names = names_pattern(&names);
    let clean = |text: &str| scrub_with(text, names.as_ref());
    let mut symptoms: Vec<String> = Vec::new();
    for t in members {
        if symptoms.len() == SYMPTOMS {
            break;
        }
        let line = clean(t.subject.trim());
        if !line.is_empty() && !symptoms.contains(&line) {
            symptoms.push(line);
        }
    }
    let mut body = String::from("## Symptoms\n\n");
    for s in &symptoms {
        body.push_str(&format!("- {s}\n"));
    }
    body.push_str("\n## Resolution\n\n");
    body.push_str(&clean(members[0].resolution.trim()));
    body.push_str("\n\n## Source tickets\n\n");
    let sources: Vec<i64> = members.iter().map(|t| t.id).collect();
    let links: Vec<String> = sources.iter().map(|id| format!("#{id}")).collect();
    body.push_str(&links.join(", "));
    body.push('\n');
    Draft {
        title: symptoms
            .first()
            .cloned()
            .unwrap_or_else(|| "Recurring fix".into()),
        body,
        category: most_common(members.iter().filter_map(|t| t.category.as_deref())),
        sources,
    }
}

fn most_common<'a>(items: impl Iterator<Item = &'a str>) -> Option<String> {
    let mut counts: Vec<(&str, usize)> = Vec::new();
    for item in items {
        match counts.iter_mut().find(|(i, _)| *i == item) {
            Some((_, n)) => *n += 1,
            None => counts.push((item, 1)),
        }
    }
    // First seen wins a tie: the most representative member's.
    let best = counts.iter().map(|(_, n)| *n).max()?;
    counts
        .into_iter()
        .find(|(_, n)| *n == best)
        .map(|(i, _)| i.to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::knowledge::{ArticleRef, IndexedArticle};

    fn ticket(
        id: i64,
        subject: &str,
        resolution: &str,
        resolution_vector: [f32; 3],
    ) -> ResolvedTicket {
        ResolvedTicket {
            id,
            subject: subject.into(),
            resolution: resolution.into(),
            requester: Some(format!("sam.okafor{id}@corp.example")),
            category: Some("software".into()),
            created_at: Utc::now(),
            vector: resolution_vector.to_vec(),
            resolution_vector: resolution_vector.to_vec(),
        }
    }

    const SETTINGS: DraftSettings = DraftSettings {
        cluster: ClusterSettings {
            min_size: 3,
            max_distance: 0.05,
            min_cohesion: 0.75,
        },
        covered_similarity: 0.8,
    };

    fn tickets() -> Vec<ResolvedTicket> {
        let fix = "Cleared the Teams cache folder and signed in again";
        vec![
            ticket(1, "Teams white screen, Sam Okafor", fix, [1.0, 0.0, 0.0]),
            ticket(
                2,
                "Teams stuck loading",
                &format!("{fix}; called 0161 496 0123"),
                [0.99, 0.1, 0.0],
            ),
            ticket(
                3,
                "Teams blank after update",
                &format!("{fix} for sam.okafor3@corp.example"),
                [0.99, 0.0, 0.1],
            ),
            ticket(
                4,
                "Monitor flickers",
                "Replaced the DisplayPort cable at the desk",
                [0.0, 1.0, 0.0],
            ),
            ticket(5, "Laptop slow", "Fixed", [0.0, 0.0, 1.0]),
        ]
    }

    #[test]
    fn a_recurring_fix_without_an_article_becomes_a_clean_draft() {
        let drafts = draft_articles(&tickets(), &ArticleIndex::new(3, []), SETTINGS).unwrap();
        assert_eq!(drafts.len(), 1);
        let d = &drafts[0];
        let mut sources = d.sources.clone();
        sources.sort();
        assert_eq!(sources, [1, 2, 3]);
        assert!(d.title.contains("Teams"), "{}", d.title);
        assert!(d.body.contains("Cleared the Teams cache"), "{}", d.body);
        assert!(
            d.body.contains("## Symptoms") && d.body.contains("#1"),
            "{}",
            d.body
        );
        for planted in ["Sam", "Okafor", "0161", "@corp.example"] {
            assert!(
                !d.body.contains(planted) && !d.title.contains(planted),
                "{planted}: {d:?}"
            );
        }
        assert_eq!(d.category.as_deref(), Some("software"));
    }

    #[test]
    fn a_fix_an_article_covers_is_no_gap() {
        let article = IndexedArticle {
            article: ArticleRef {
                id: 9,
                title: "Teams shows a white screen".into(),
                public: true,
            },
            vector: &[1.0, 0.0, 0.0],
            title_vector: &[1.0, 0.0, 0.0],
            text: "Teams shows a white screen: clear the cache",
        };
        let articles = ArticleIndex::new(3, [article]);
        assert!(draft_articles(&tickets(), &articles, SETTINGS)
            .unwrap()
            .is_empty());
    }
}
