//! Before filing: what an end user may see. Published, public articles only — never a
//! ticket, never an internal article, never another person's words — built from its own
//! narrow type so that nothing else can slip into the answer.

use serde::Serialize;

use super::judge::Scans;
use super::{Pipeline, PipelineError};
use crate::knowledge::{Audience, Query};
use crate::text;

/// The answer to an end user's question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicAnswer {
    /// Refers to this answer when the person says whether it helped.
    pub answer_id: i64,
    pub articles: Vec<PublicArticle>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicArticle {
    pub id: i64,
    pub title: String,
    pub score: f32,
}

impl Pipeline {
    /// Published articles that may answer `question`, best first; what was shown is recorded
    /// (not the question) so that [`Pipeline::feedback`] can count deflected tickets.
    pub async fn before_filing(&self, question: &str) -> Result<PublicAnswer, PipelineError> {
        self.before_filing_refined(question, None).await
    }

    /// As [`Pipeline::before_filing`] for a question that rewords the one answered by
    /// `refines` (a person still typing): that answer is replaced, so the deflection figures
    /// count one question, not one per pause in typing.
    pub async fn before_filing_refined(
        &self,
        question: &str,
        refines: Option<i64>,
    ) -> Result<PublicAnswer, PipelineError> {
        let articles = match text::prepare(None, Some(question.as_bytes())) {
            Ok(prepared) => {
                let vector = self.embed_query(&prepared.text).await?;
                let query = Query {
                    text: &prepared.text,
                    vector: &vector,
                };
                self.suggest(query, Audience::Public, None, &Scans::none())
                    .articles
                    .into_iter()
                    .map(|a| PublicArticle {
                        id: a.id,
                        title: a.title,
                        score: a.score,
                    })
                    .collect()
            }
            Err(_) => Vec::new(), // nothing to search for
        };
        let shown: Vec<i64> = articles.iter().map(|a: &PublicArticle| a.id).collect();
        let answer_id = self
            .store
            .record_public_answer(question.chars().count(), &shown, refines)
            .await?;
        Ok(PublicAnswer {
            answer_id,
            articles,
        })
    }

    /// Records whether the answer `answer_id` helped the person who asked.
    pub async fn feedback(&self, answer_id: i64, helped: bool) -> Result<(), PipelineError> {
        Ok(self.store.record_feedback(answer_id, helped).await?)
    }
}
