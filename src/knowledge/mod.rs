//! Knowledge suggestions: the articles and resolved tickets most like a ticket. Agents see
//! every article and similar past tickets; end users only published articles, never another
//! person's ticket.

mod bm25;
mod drafts;
mod fusion;
mod index;
mod passage;
mod scrub;
mod tfidf;

use serde::Serialize;

pub use drafts::{draft_articles, says_enough, Draft, DraftSettings, ResolvedTicket};
pub use fusion::{learn as learn_fusion, Basis, Fusion, Linked};
pub use index::{ArticleIndex, IndexedArticle};
pub use passage::{best_passage, MAX_PASSAGE_CHARS};
pub use tfidf::TfIdf;

use crate::domain::{SuggestionKind, SuggestionRecord};
use crate::triage::PastTicket;
use crate::vectors::Scan;

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

/// How many of each to suggest, and how similar they must be.
#[derive(Debug, Clone, Copy)]
pub struct Limits {
    pub articles: usize,
    /// Resolved tickets, and open ones flagged as possible duplicates (each).
    pub tickets: usize,
    /// Lowest cosine similarity at which an article or ticket is suggested at all.
    pub min_similarity: f32,
    /// Lowest cosine similarity at which an open ticket is a possible duplicate.
    pub duplicate_similarity: f32,
}

/// What suggestions are drawn from.
#[derive(Debug, Clone, Copy)]
pub struct Sources<'a> {
    pub articles: &'a ArticleIndex,
    /// Resolved tickets, scanned for the query's vector (agents only: end users are shown
    /// no tickets, so theirs may be [`Scan::empty`]).
    pub resolved: &'a Scan<'a, PastTicket>,
    /// Open tickets, scanned for the query's vector (as `resolved`).
    pub open: &'a Scan<'a, PastTicket>,
    /// The tickets' words: each one's TF-IDF cosine to the query.
    pub words: Words<'a>,
}

/// The TF-IDF cosine of each resolved and open ticket to a query, in the scans' order (empty
/// where no ticket is shown), and how it mixes with the embedding's.
#[derive(Debug, Clone, Copy, Default)]
pub struct Words<'a> {
    pub resolved: &'a [f32],
    pub open: &'a [f32],
    pub fusion: Fusion,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Suggested {
    pub id: i64,
    pub title: String,
    /// What the ranking used (for articles: the similarity with a lexical bonus).
    pub score: f32,
    /// Cosine similarity of the embeddings.
    pub similarity: f32,
    /// For a resolved ticket: how it was solved.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub resolution: Option<String>,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Suggestions {
    pub articles: Vec<Suggested>,
    /// Similar resolved tickets, with their resolution.
    pub tickets: Vec<Suggested>,
    /// Open tickets so similar that they may report the same thing.
    pub duplicates: Vec<Suggested>,
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
        let mut out = rows(SuggestionKind::Article, &self.articles);
        out.extend(rows(SuggestionKind::Ticket, &self.tickets));
        out.extend(rows(SuggestionKind::Duplicate, &self.duplicates));
        out
    }
}

/// What a query is: its text (for the lexical match) and its embedding.
#[derive(Debug, Clone, Copy)]
pub struct Query<'a> {
    pub text: &'a str,
    pub vector: &'a [f32],
}

/// Suggestions for a query; the ticket `exclude` (the query's own) is left out.
pub fn suggest(
    sources: Sources<'_>,
    query: Query<'_>,
    limits: Limits,
    audience: Audience,
    exclude: Option<i64>,
) -> Suggestions {
    let articles = sources.articles.search(
        query.text,
        query.vector,
        limits.articles,
        limits.min_similarity,
        |a| audience == Audience::Agent || a.public,
    );
    if audience == Audience::Public {
        return Suggestions {
            articles,
            ..Suggestions::default()
        };
    }
    // A ticket duplicates the open tickets filed before it (ids grow with time): so a replay
    // of the stream, which finds later tickets in the index too, decides the same.
    let earlier = |id: i64| exclude.is_none_or(|me| id < me);
    let not_this = |id: i64| Some(id) != exclude;
    let words = sources.words;
    let tickets =
        |scan: &Scan<'_, PastTicket>, scores: &[f32], floor: f32, keep: &dyn Fn(i64) -> bool| {
            let lexical = |p: usize| scores.get(p).copied().unwrap_or(0.0);
            // Only what the embedding finds similar enough is shown: a shared word alone never
            // brings an unrelated ticket, it reorders the related ones.
            scan.best_by(
                limits.tickets,
                |t| keep(t.id),
                |p, similarity| {
                    if similarity >= floor {
                        words.fusion.score(similarity, lexical(p))
                    } else {
                        f32::NEG_INFINITY
                    }
                },
            )
            .into_iter()
            .filter(|(hit, _)| hit.similarity >= floor)
            .map(|(hit, score)| Suggested {
                id: hit.item.id,
                title: hit.item.subject.clone(),
                score,
                similarity: hit.similarity,
                resolution: hit.item.resolution.clone(),
            })
            .collect::<Vec<_>>()
        };
    Suggestions {
        articles,
        tickets: tickets(
            sources.resolved,
            words.resolved,
            limits.min_similarity,
            &not_this,
        ),
        duplicates: tickets(
            sources.open,
            words.open,
            limits.duplicate_similarity,
            &earlier,
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vectors::VectorIndex;

    fn indexes() -> All {
        let article = |id, public| ArticleRef {
            id,
            title: format!("article {id}"),
            public,
        };
        let indexed = |id, public, vector, text| IndexedArticle {
            article: article(id, public),
            vector,
            title_vector: vector,
            text,
        };
        let articles = ArticleIndex::new(
            2,
            [
                indexed(
                    1,
                    false,
                    &[1.0, 0.0],
                    "internal runbook: restart the VPN concentrator",
                ),
                indexed(2, true, &[0.8, 0.6], "VPN from home"),
                indexed(3, true, &[0.0, 1.0], "printer jams"),
            ],
        );
        let mut history = VectorIndex::new(2);
        for (id, v) in [(10, [1.0, 0.0]), (11, [0.6, 0.8])] {
            history.push(
                &v,
                PastTicket {
                    id,
                    subject: format!("ticket {id}"),
                    category: None,
                    urgency: None,
                    resolution: Some("restarted it".into()),
                },
            );
        }
        let mut open = VectorIndex::new(2);
        let ticket = |id| PastTicket {
            id,
            subject: format!("open ticket {id}"),
            category: None,
            urgency: None,
            resolution: None,
        };
        open.push(&[1.0, 0.0], ticket(5));
        open.push(&[0.0, 1.0], ticket(6));
        open.push(&[1.0, 0.0], ticket(40)); // filed after the query's ticket (10)
        (articles, history, open)
    }

    type All = (
        ArticleIndex,
        VectorIndex<PastTicket>,
        VectorIndex<PastTicket>,
    );

    /// What `suggest` makes of `text` with the embedding `vector`, the tickets scanned for it.
    fn ask(
        (articles, resolved, open): &All,
        (text, vector): (&str, &[f32]),
        limits: Limits,
        audience: Audience,
        exclude: Option<i64>,
    ) -> Suggestions {
        let (resolved, open) = (resolved.scan(vector), open.scan(vector));
        let sources = Sources {
            articles,
            resolved: &resolved,
            open: &open,
            words: Words::default(),
        };
        suggest(sources, Query { text, vector }, limits, audience, exclude)
    }

    const LIMITS: Limits = Limits {
        articles: 2,
        tickets: 3,
        min_similarity: -1.0,
        duplicate_similarity: 0.9,
    };

    #[test]
    fn agents_get_internal_articles_and_similar_tickets() {
        let all = indexes();
        let s = ask(
            &all,
            ("vpn", &[1.0, 0.0]),
            LIMITS,
            Audience::Agent,
            Some(10),
        );
        assert_eq!(s.articles.iter().map(|a| a.id).collect::<Vec<_>>(), [1, 2]);
        assert_eq!(s.tickets.iter().map(|t| t.id).collect::<Vec<_>>(), [11]);
        assert_eq!(s.tickets[0].resolution.as_deref(), Some("restarted it"));
        // Only an earlier open ticket above the duplicate floor is a possible duplicate.
        assert_eq!(s.duplicates.iter().map(|t| t.id).collect::<Vec<_>>(), [5]);
        let kinds: Vec<_> = s.records().iter().map(|r| r.kind).collect();
        assert_eq!(
            kinds,
            [
                SuggestionKind::Article,
                SuggestionKind::Article,
                SuggestionKind::Ticket,
                SuggestionKind::Duplicate
            ]
        );
    }

    #[test]
    fn end_users_see_only_public_articles_and_no_tickets() {
        let all = indexes();
        let s = ask(&all, ("vpn", &[1.0, 0.0]), LIMITS, Audience::Public, None);
        assert_eq!(s.articles.iter().map(|a| a.id).collect::<Vec<_>>(), [2, 3]);
        assert!(s.tickets.is_empty() && s.duplicates.is_empty());
    }

    #[test]
    fn shared_words_break_ties_and_the_floor_drops_what_is_unlike() {
        let all = indexes();
        // Equally close to 2 and 3 by embedding; only 3 shares a word.
        let v = [1.0 / 5f32.sqrt(), 2.0 / 5f32.sqrt()];
        let ties = |text| {
            let s = ask(&all, (text, &v), LIMITS, Audience::Public, None);
            s.articles.iter().map(|a| a.id).collect::<Vec<_>>()
        };
        assert_eq!(ties("printer")[0], 3);
        assert_eq!(ties("vpn")[0], 2);
        let strict = Limits {
            min_similarity: 0.9,
            ..LIMITS
        };
        let s = ask(&all, ("vpn", &[1.0, 0.0]), strict, Audience::Agent, None);
        assert_eq!(s.articles.iter().map(|a| a.id).collect::<Vec<_>>(), [1]);
        assert_eq!(s.tickets.iter().map(|t| t.id).collect::<Vec<_>>(), [10]);
    }

    #[test]
    fn shared_words_lift_a_similar_ticket_but_never_bring_an_unlike_one() {
        let (articles, _, _) = indexes();
        let mut resolved = VectorIndex::new(2);
        let texts = [
            "outlook crashes on start",
            "mail client error 0x800ccc0e",
            "0x800ccc0e on the badge reader",
        ];
        let vectors = [[0.8, 0.6], [0.8, 0.6], [0.0, 1.0]];
        for (id, v) in (1..).zip(vectors) {
            resolved.push(
                &v,
                PastTicket {
                    id,
                    subject: texts[id as usize - 1].into(),
                    category: None,
                    urgency: None,
                    resolution: None,
                },
            );
        }
        let mut words = TfIdf::default();
        texts.iter().for_each(|t| words.push(t));
        words.settle();
        let lexical = words.scores("0x800ccc0e");
        let query = [1.0, 0.0];
        let ranked = |fusion: Fusion| {
            let scan = resolved.scan(&query);
            let sources = Sources {
                articles: &articles,
                resolved: &scan,
                open: &Scan::empty(),
                words: Words {
                    resolved: &lexical,
                    open: &[],
                    fusion,
                },
            };
            let limits = Limits {
                min_similarity: 0.5,
                ..LIMITS
            };
            let query = Query {
                text: "",
                vector: &query,
            };
            let s = suggest(sources, query, limits, Audience::Agent, None);
            s.tickets.iter().map(|t| t.id).collect::<Vec<_>>()
        };
        // Tickets 1 and 2 are equally similar; 2 shares the error code and comes first. Ticket
        // 3 shares it too but is below the similarity floor.
        assert_eq!(ranked(Fusion::default()), [2, 1]);
        let dense = Fusion {
            weight: 0.0,
            basis: Basis::Fixed,
        };
        assert_eq!(ranked(dense), [1, 2]);
    }
}
