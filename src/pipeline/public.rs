//! Before filing: what an end user may see. Published, public articles only — never a
//! ticket, never an internal article, never another person's words — built from its own
//! narrow type so that nothing else can slip into the answer.

use serde::Serialize;

use super::judge::Scans;
use super::known_issues::KnownIssue;
use super::{prepare_query, Pipeline, PipelineError};
use crate::knowledge::{best_passage, Audience, Query};

/// The answer to an end user's question.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicAnswer {
    /// This answer's token (32 hex digits): what the person who asked sends to reword the
    /// question or to say whether the answer helped. Only they are given it.
    pub answer: String,
    /// Announced problems the question is about, most similar first: shown above the
    /// articles, in the words written for end users (see [`KnownIssue`]).
    pub known_issues: Vec<KnownIssue>,
    pub articles: Vec<PublicArticle>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct PublicArticle {
    pub id: i64,
    pub title: String,
    pub score: f32,
    /// The passage of the article's public text that best matches the question (at most
    /// [`MAX_PASSAGE_CHARS`](crate::knowledge::MAX_PASSAGE_CHARS) characters).
    pub passage: Option<String>,
}

impl Pipeline {
    /// Published articles that may answer `question`, best first; what was shown is recorded
    /// (not the question) so that [`Pipeline::feedback`] can count deflected tickets. A
    /// question with nothing to search (empty, blank, markup only) is refused as `run` and
    /// `classify` refuse such a text.
    pub async fn before_filing(&self, question: &str) -> Result<PublicAnswer, PipelineError> {
        self.before_filing_refined(question, None).await
    }

    /// As [`Pipeline::before_filing`] for a question that rewords the one answered with the
    /// token `refines` (a person still typing): that answer is replaced, so the deflection
    /// figures count one question, not one per pause in typing. A token that no unrated
    /// answer holds, or text that is no token at all, records a new answer.
    pub async fn before_filing_refined(
        &self,
        question: &str,
        refines: Option<&str>,
    ) -> Result<PublicAnswer, PipelineError> {
        let prepared = prepare_query(question)?;
        let vector = self.embed_query(&prepared.text).await?;
        let query = Query {
            text: &prepared.text,
            vector: &vector,
        };
        let suggested = self
            .suggest(query, Audience::Public, None, &Scans::none())
            .articles;
        // Read again as the public page reads it: an article unpublished since the last reload
        // is not offered, and no internal text can reach the passage.
        let ids: Vec<i64> = suggested.iter().map(|a| a.id).collect();
        let public = self.store.public_articles(&ids).await?;
        let articles: Vec<PublicArticle> = suggested
            .into_iter()
            .filter_map(|a| {
                let body = &public.iter().find(|p| p.id == a.id)?.body;
                Some(PublicArticle {
                    id: a.id,
                    title: a.title,
                    score: a.score,
                    passage: best_passage(body, &prepared.text),
                })
            })
            .collect();
        let known = self.known_issues(&vector).await?;
        let shown: Vec<i64> = articles.iter().map(|a| a.id).collect();
        let refines = refines.and_then(|token| token.parse().ok());
        let token = self
            .store
            .record_public_answer(
                prepared.text.chars().count(),
                &shown,
                &known.problem_ids,
                refines,
            )
            .await?;
        Ok(PublicAnswer {
            answer: token.to_string(),
            known_issues: known.issues,
            articles,
        })
    }

    /// Records whether the answer with the token `answer` helped the person who asked;
    /// `false` when no answer holds that token (a sequential id never does).
    pub async fn feedback(&self, answer: &str, helped: bool) -> Result<bool, PipelineError> {
        let Ok(token) = answer.parse() else {
            return Ok(false);
        };
        Ok(self.store.record_feedback(token, helped).await?)
    }
}
