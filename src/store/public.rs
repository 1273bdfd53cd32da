//! What end users were shown before filing, and whether it helped: the deflection figures.

use chrono::Utc;
use serde::Serialize;

use super::backend::count_where;
use super::{stamp, Store, StoreError};

/// Before-filing answers over a period, for `ticketlens report`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Deflection {
    /// Questions asked.
    pub asked: i64,
    /// Of those, answered with at least one article.
    pub answered: i64,
    /// Answers the person said helped or not (with or without articles).
    pub rated: i64,
    /// Of those, it helped: a ticket that was probably never filed.
    pub helped: i64,
}

impl Deflection {
    /// Share of the rated answers that helped.
    pub fn rate(&self) -> Option<f64> {
        (self.rated > 0).then(|| self.helped as f64 / self.rated as f64)
    }
}

impl Store {
    /// Records that a question of `query_chars` characters was answered with `shown` article
    /// ids; returns the answer's id, which feedback refers to. `refines`: the answer this
    /// question rewords (the same person still typing), replaced rather than counted twice
    /// unless it already has feedback.
    pub async fn record_public_answer(
        &self,
        query_chars: usize,
        shown: &[i64],
        refines: Option<i64>,
    ) -> Result<i64, StoreError> {
        let shown = serde_json::to_string(shown).expect("ids serialise");
        if let Some(id) = refines {
            let replaced: Option<i64> = sqlx::query_scalar(&self.sql(
                "UPDATE public_answers SET asked_at = ?, query_chars = ?, shown = ? \
                 WHERE id = ? AND helped IS NULL RETURNING id",
            ))
            .bind(stamp(Utc::now()))
            .bind(query_chars as i64)
            .bind(&shown)
            .bind(id)
            .fetch_optional(self.pool())
            .await?;
            if let Some(id) = replaced {
                return Ok(id);
            }
        }
        Ok(sqlx::query_scalar(&self.sql(
            "INSERT INTO public_answers (asked_at, query_chars, shown) VALUES (?, ?, ?) \
             RETURNING id",
        ))
        .bind(stamp(Utc::now()))
        .bind(query_chars as i64)
        .bind(shown)
        .fetch_one(self.pool())
        .await?)
    }

    /// Records whether answer `id` helped; the last word counts.
    pub async fn record_feedback(&self, id: i64, helped: bool) -> Result<(), StoreError> {
        let done = sqlx::query(
            &self.sql("UPDATE public_answers SET helped = ?, answered_at = ? WHERE id = ?"),
        )
        .bind(i64::from(helped))
        .bind(stamp(Utc::now()))
        .bind(id)
        .execute(self.pool())
        .await?;
        if done.rows_affected() == 0 {
            return Err(StoreError::NoSuchAnswer(id));
        }
        Ok(())
    }

    pub async fn deflection(&self) -> Result<Deflection, StoreError> {
        let sql = format!(
            "SELECT COUNT(*), {}, COUNT(helped), {} FROM public_answers",
            count_where("shown <> '[]'"),
            count_where("helped = 1"),
        );
        let (asked, answered, rated, helped): (i64, i64, i64, i64) =
            sqlx::query_as(&sql).fetch_one(self.pool()).await?;
        Ok(Deflection {
            asked,
            answered,
            rated,
            helped,
        })
    }
}
