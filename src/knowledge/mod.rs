//! Knowledge suggestions: the articles and resolved tickets most like a ticket. Agents see
//! every article and similar past tickets; end users only published articles, never another
//! person's ticket.

use serde::Serialize;

use crate::store::SuggestionRecord;
use crate::triage::PastTicket;
use crate::vectors::VectorIndex;

/// An article in the search index.
#[derive(Debug, Clone)]
pub struct ArticleRef {
    pub id: i64,
    pub title: String,
    pub public: bool,
}

/// The text of an article as it is embedded and searched.
pub fn article_text(title: &str, body: &str) -> String {
    format!("{title}\n{body}")
}

/// Who the suggestions are for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Audience {
    /// Agents: internal and public articles, and similar resolved tickets.
    Agent,
    /// End users: public articles only.
    Public,
}

/// How many of each to suggest.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub articles: usize,
    pub tickets: usize,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggested {
    pub id: i64,
    pub title: String,
    pub score: f32,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Suggestions {
    pub articles: Vec<Suggested>,
    pub tickets: Vec<Suggested>,
}

impl Suggestions {
    /// The rows written back to the store: articles first, then tickets, each ranked.
    pub fn records(&self) -> Vec<SuggestionRecord> {
        let rows = |kind, list: &[Suggested]| {
            list.iter()
                .map(|s| SuggestionRecord {
                    kind,
                    target_id: s.id,
                    score: s.score,
                })
                .collect::<Vec<_>>()
        };
        let mut out = rows("article", &self.articles);
        out.extend(rows("ticket", &self.tickets));
        out
    }
}

/// Suggestions for the ticket `exclude` (if it is in the history itself, it is left out).
pub fn suggest(
    articles: &VectorIndex<ArticleRef>,
    history: &VectorIndex<PastTicket>,
    query: &[f32],
    limits: Limits,
    audience: Audience,
    exclude: Option<i64>,
) -> Suggestions {
    let articles = articles
        .nearest(query, limits.articles, |a| {
            audience == Audience::Agent || a.public
        })
        .into_iter()
        .map(|hit| Suggested {
            id: hit.item.id,
            title: hit.item.title.clone(),
            score: hit.similarity,
        })
        .collect();
    let tickets = match audience {
        Audience::Public => Vec::new(),
        Audience::Agent => history
            .nearest(query, limits.tickets, |t| Some(t.id) != exclude)
            .into_iter()
            .map(|hit| Suggested {
                id: hit.item.id,
                title: hit.item.subject.clone(),
                score: hit.similarity,
            })
            .collect(),
    };
    Suggestions { articles, tickets }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn indexes() -> (VectorIndex<ArticleRef>, VectorIndex<PastTicket>) {
        let mut articles = VectorIndex::new(2);
        let article = |id, public| ArticleRef {
            id,
            title: format!("article {id}"),
            public,
        };
        articles.push(&[1.0, 0.0], article(1, false));
        articles.push(&[0.8, 0.6], article(2, true));
        articles.push(&[0.0, 1.0], article(3, true));
        let mut history = VectorIndex::new(2);
        for (id, v) in [(10, [1.0, 0.0]), (11, [0.6, 0.8])] {
            history.push(
                &v,
                PastTicket {
                    id,
                    subject: format!("ticket {id}"),
                    category: None,
                    urgency: None,
                },
            );
        }
        (articles, history)
    }

    const LIMITS: Limits = Limits {
        articles: 2,
        tickets: 3,
    };

    #[test]
    fn agents_get_internal_articles_and_similar_tickets() {
        let (articles, history) = indexes();
        let s = suggest(
            &articles,
            &history,
            &[1.0, 0.0],
            LIMITS,
            Audience::Agent,
            Some(10),
        );
        assert_eq!(s.articles.iter().map(|a| a.id).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(s.tickets.iter().map(|t| t.id).collect::<Vec<_>>(), [11]);
        let kinds: Vec<_> = s.records().iter().map(|r| r.kind).collect();
        assert_eq!(kinds, ["article", "article", "ticket"]);
    }

    #[test]
    fn end_users_see_only_public_articles_and_no_tickets() {
        let (articles, history) = indexes();
        let s = suggest(
            &articles,
            &history,
            &[1.0, 0.0],
            LIMITS,
            Audience::Public,
            None,
        );
        assert_eq!(s.articles.iter().map(|a| a.id).collect::<Vec<_>>(), [2, 3]);
        assert!(s.tickets.is_empty());
    }
}
