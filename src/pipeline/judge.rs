//! What triage makes of tickets before anything is written: the verdict, the suggestions
//! and the known problem an incident joins, from the indexes scanned for each ticket's vector.

use rayon::prelude::*;

use super::Pipeline;
use crate::domain::{SuggestionRecord, TicketKind};
use crate::knowledge::{self, Audience, Limits, Query, Sources, Suggestions, Words};
use crate::problems;
use crate::store::TicketRow;
use crate::text::Prepared;
use crate::triage::{PastTicket, Verdict};
use crate::vectors::{Rows, Scan};

/// The history and the open tickets scanned for one ticket's vector, and their words' TF-IDF
/// scores for its text (in the same order).
pub(super) struct Scans<'a> {
    pub history: Scan<'a, PastTicket>,
    pub open: Scan<'a, PastTicket>,
    pub history_words: Vec<f32>,
    pub open_words: Vec<f32>,
}

impl Scans<'_> {
    /// For a query shown no tickets (an end user's).
    pub(super) fn none() -> Self {
        Self {
            history: Scan::empty(),
            open: Scan::empty(),
            history_words: Vec::new(),
            open_words: Vec::new(),
        }
    }
}

/// What triage made of one ticket, to be written.
pub(super) struct Judgement {
    pub verdict: Verdict,
    pub suggestions: Vec<SuggestionRecord>,
    /// The known problem the incident joins: (id, similarity to its centre, growing fast).
    pub problem: Option<(i64, f32, bool)>,
}

impl Pipeline {
    /// The history and the open tickets scanned for one text and its vector.
    pub(super) fn scans(&self, text: &str, vector: &[f32]) -> Scans<'_> {
        Scans {
            history: self.triage.history.scan(vector),
            open: self.open.scan(vector),
            history_words: self.words.history.scores(text),
            open_words: self.words.open.scores(text),
        }
    }

    /// Suggestions for `query`, whose vector `scans` are of (for end users, whom no ticket
    /// is shown, [`Scans::none`]).
    pub(super) fn suggest(
        &self,
        query: Query<'_>,
        audience: Audience,
        exclude: Option<i64>,
        scans: &Scans<'_>,
    ) -> Suggestions {
        let limits = Limits {
            articles: self.config.knowledge.articles,
            tickets: self.config.knowledge.similar_tickets,
            min_similarity: self.config.knowledge.min_similarity,
            duplicate_similarity: self.config.knowledge.duplicate_similarity,
        };
        let sources = Sources {
            articles: &self.articles,
            resolved: &scans.history,
            open: &scans.open,
            words: Words {
                resolved: &scans.history_words,
                open: &scans.open_words,
                fusion: self.words.fusion,
            },
        };
        knowledge::suggest(sources, query, limits, audience, exclude)
    }

    /// Triage, suggestions and the known problem joined, for each ticket of `group`, whose
    /// vectors are `vectors`' rows: the history and the open tickets scanned once for all.
    pub(super) fn judge(
        &self,
        group: &[(&TicketRow, &Prepared)],
        vectors: &Rows,
    ) -> Vec<Judgement> {
        // On the thread pool the encoder's layers run on, a ticket a task (the calling thread
        // waits, as it was busy before): on the pipeline's own thread this work took a core
        // from the encoder in the middle of a layer, and the encoder's other thread then
        // waited for it at the layer's end; as the pool's tasks it fills the encoder's gaps
        // (int8 pipeline bench, 2-core Zen 5, the two ways taking turns: 89.8, 90.8, 90.9% of
        // the encoder alone against 87.1, 85.7, 85.4% on the pipeline's thread).
        let (history, open) = rayon::join(
            || self.triage.history.similarities_many(vectors),
            || self.open.similarities_many(vectors),
        );
        group
            .par_iter()
            .with_max_len(1)
            .enumerate()
            .map(|(i, &(row, prepared))| {
                let vector = vectors.row(i);
                let scans = Scans {
                    history: self.triage.history.scanned(history.row(i)),
                    open: self.open.scanned(open.row(i)),
                    history_words: self.words.history.scores(&prepared.text),
                    open_words: self.words.open.scores(&prepared.text),
                };
                let query = Query {
                    text: &prepared.text,
                    vector,
                };
                let settings = &self.config.problems;
                let problem = (row.kind() == Some(TicketKind::Incident))
                    .then(|| problems::join(&self.known_problems, vector, settings.join_similarity))
                    .flatten()
                    .map(|(p, similarity)| {
                        (p.id, similarity, p.trend >= settings.major_incident_trend)
                    });
                Judgement {
                    verdict: self.triage.verdict(&prepared.text, vector, &scans.history),
                    suggestions: self
                        .suggest(query, Audience::Agent, Some(row.id), &scans)
                        .records(),
                    problem,
                }
            })
            .collect()
    }
}
