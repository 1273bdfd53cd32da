//! A problem manager's decisions on candidate problems: accept, reject, merge. Each is one
//! transaction, and each outlives the clustering runs that follow (see
//! [`crate::problems::match_stored`] and [`Store::save_problems`]).

use chrono::Utc;
use serde::Serialize;
use sqlx::Row;

use super::problems::release_members;
use super::{stamp, ProblemRow, RowExt, Store, StoreError};

/// One incident of a problem, as shown to the problem manager.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemMember {
    pub ticket_id: i64,
    pub subject: String,
    pub similarity: f32,
    pub created_at: String,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemDetail {
    #[serde(flatten)]
    pub problem: ProblemRow,
    /// For a merged problem: the one it was merged into.
    pub merged_into: Option<i64>,
    /// Most central first.
    pub members: Vec<ProblemMember>,
}

impl Store {
    pub async fn problem(&self, id: i64) -> Result<ProblemDetail, StoreError> {
        let merged_into: Option<Option<i64>> =
            sqlx::query_scalar(&self.sql("SELECT merged_into FROM problems WHERE id = ?"))
                .bind(id)
                .fetch_optional(self.pool())
                .await?;
        let merged_into = merged_into.ok_or(StoreError::NoSuchProblem(id))?;
        let problem = self
            .problem_rows("WHERE id = ?", Some(id))
            .await?
            .pop()
            .ok_or(StoreError::NoSuchProblem(id))?;
        let rows = sqlx::query(&self.sql(&format!(
            "SELECT m.ticket_id, {} AS subject, m.similarity, t.created_at \
             FROM problem_members m JOIN tickets t ON t.id = m.ticket_id \
             WHERE m.problem_id = ? ORDER BY m.similarity DESC, m.ticket_id",
            self.backend().text_as_bytes("COALESCE(t.subject, '')")
        )))
        .bind(id)
        .fetch_all(self.pool())
        .await?;
        let members = rows
            .iter()
            .map(|r| {
                Ok(ProblemMember {
                    ticket_id: r.try_get("ticket_id")?,
                    subject: r.lossy("subject")?,
                    similarity: r.float("similarity")?,
                    created_at: r.try_get("created_at")?,
                })
            })
            .collect::<Result<_, sqlx::Error>>()?;
        Ok(ProblemDetail {
            problem,
            merged_into,
            members,
        })
    }

    /// Accepts a candidate (or a rejected one, on second thoughts) as a problem.
    pub async fn accept_problem(&self, id: i64) -> Result<(), StoreError> {
        self.review(id, "accepted").await
    }

    /// Rejects a candidate: it is not proposed again unless the pattern grows well past its
    /// size now.
    pub async fn reject_problem(&self, id: i64) -> Result<(), StoreError> {
        self.review(id, "rejected").await
    }

    async fn review(&self, id: i64, status: &str) -> Result<(), StoreError> {
        let current = self.status_of(id).await?;
        if current == "merged" {
            return Err(StoreError::Review(format!(
                "problem {id} was merged into another; review that one"
            )));
        }
        sqlx::query(&self.sql(
            "UPDATE problems SET status = ?, reviewed_at = ?, \
             rejected_size = CASE WHEN ? = 'rejected' THEN size ELSE NULL END WHERE id = ?",
        ))
        .bind(status)
        .bind(stamp(Utc::now()))
        .bind(status)
        .bind(id)
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Merges problem `id` into `into`: its incidents join `into`, and it is listed no more.
    /// Later clustering runs keep the two together.
    pub async fn merge_problems(&self, id: i64, into: i64) -> Result<(), StoreError> {
        if id == into {
            return Err(StoreError::Review(
                "a problem cannot be merged into itself".into(),
            ));
        }
        for p in [id, into] {
            if self.status_of(p).await? == "merged" {
                return Err(StoreError::Review(format!("problem {p} is already merged")));
            }
        }
        let mut tx = self.pool().begin().await?;
        sqlx::query(&self.sql(
            "INSERT INTO problem_members (problem_id, ticket_id, similarity) \
             SELECT ?, ticket_id, similarity FROM problem_members WHERE problem_id = ? \
             ON CONFLICT (problem_id, ticket_id) DO NOTHING",
        ))
        .bind(into)
        .bind(id)
        .execute(&mut *tx)
        .await?;
        release_members(&mut tx, self.backend(), id, Some(into)).await?;
        sqlx::query(&self.sql(
            "UPDATE problems SET size = (SELECT COUNT(*) FROM problem_members WHERE problem_id = ?), \
             requesters = (SELECT COUNT(DISTINCT t.requester) FROM problem_members m \
                 JOIN tickets t ON t.id = m.ticket_id WHERE m.problem_id = ?), \
             updated_at = ? WHERE id = ?",
        ))
        .bind(into)
        .bind(into)
        .bind(stamp(Utc::now()))
        .bind(into)
        .execute(&mut *tx)
        .await?;
        sqlx::query(&self.sql(
            "UPDATE problems SET status = 'merged', merged_into = ?, reviewed_at = ? WHERE id = ?",
        ))
        .bind(into)
        .bind(stamp(Utc::now()))
        .bind(id)
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    pub(super) async fn status_of(&self, id: i64) -> Result<String, StoreError> {
        sqlx::query_scalar(&self.sql("SELECT status FROM problems WHERE id = ?"))
            .bind(id)
            .fetch_optional(self.pool())
            .await?
            .ok_or(StoreError::NoSuchProblem(id))
    }
}
