//! Candidate problems: stored so that ids and review decisions outlive a clustering run.

use std::collections::{HashMap, HashSet};

use chrono::Utc;
use serde::Serialize;
use sqlx::{AnyConnection, Row};

use super::announcements::{Announcement, AnnouncementView};
use super::embeddings::{decode_vector, encode_vector};
use super::{id_list, stamp, Backend, RowExt, Store, StoreError};
use crate::problems::{describe_trend, overlaps, Activity, Candidate, OpenProblem};

/// A rejected candidate is proposed again once its pattern is this many times the size it
/// had when it was rejected.
const REOPEN_GROWTH: i64 = 2;

/// A problem as a clustering pass left it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SavedProblem {
    pub id: i64,
    /// Rejected by a reviewer (and not grown enough to be proposed again).
    pub rejected: bool,
}

/// A stored problem, as listed for people.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProblemRow {
    pub id: i64,
    pub title: String,
    pub keywords: Vec<String>,
    pub status: String,
    pub size: i64,
    pub requesters: i64,
    pub first_seen: String,
    pub last_seen: String,
    /// Recent daily rate over the earlier one: above 1, rising.
    pub trend: f32,
    /// The trend in words ([`describe_trend`]).
    pub trend_words: String,
    /// Incidents per day over the last clustering window.
    pub activity: Option<Activity>,
    /// What end users are told of it, if it is announced.
    pub announcement: Option<AnnouncementView>,
    /// In a list: the open problems this open one looks like (close centres and a shared
    /// keyword, see [`overlaps`]), most alike first; a problem manager may merge them.
    pub similar_to: Vec<i64>,
}

impl Store {
    /// Member sets of the problems a new run may be matched to (all but merged ones).
    pub async fn problem_members(&self) -> Result<Vec<(i64, HashSet<i64>)>, StoreError> {
        let rows = sqlx::query(
            "SELECT p.id, m.ticket_id FROM problems p JOIN problem_members m ON m.problem_id = p.id \
             WHERE p.status != 'merged' ORDER BY p.id",
        )
        .fetch_all(self.pool())
        .await?;
        let mut by_problem: HashMap<i64, HashSet<i64>> = HashMap::new();
        for row in rows {
            by_problem
                .entry(row.try_get("id")?)
                .or_default()
                .insert(row.try_get("ticket_id")?);
        }
        let mut out: Vec<_> = by_problem.into_iter().collect();
        out.sort_by_key(|(id, _)| *id);
        Ok(out)
    }

    /// Writes `candidates` in one transaction: each either updates the stored problem it was
    /// matched to (`matches[i]`) or becomes a new one. A reviewed problem keeps its status, but
    /// a rejected one that grew to [`REOPEN_GROWTH`] times its size is a candidate again.
    /// Returns the problems in candidate order, with their status after the save.
    pub async fn save_problems(
        &self,
        candidates: &[Candidate],
        matches: &[Option<i64>],
    ) -> Result<Vec<SavedProblem>, StoreError> {
        let now = stamp(Utc::now());
        let mut tx = self.pool().begin().await?;
        let mut ids = Vec::with_capacity(candidates.len());
        for (candidate, matched) in candidates.iter().zip(matches) {
            let keywords = serde_json::to_string(&candidate.keywords).expect("strings serialise");
            let size = candidate.members.len() as i64;
            let requesters = candidate.requesters as i64;
            // A matched problem is updated in place: its id, status and creation time stay.
            let (id, status): (i64, String) = sqlx::query_as(&self.sql(
                "INSERT INTO problems (id, title, keywords, size, requesters, first_seen, \
                 last_seen, created_at, updated_at, activity, trend, centre) \
                 VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?) \
                 ON CONFLICT (id) DO UPDATE SET title = excluded.title, centre = excluded.centre, \
                 activity = excluded.activity, trend = excluded.trend, \
                 keywords = excluded.keywords, size = excluded.size, \
                 status = CASE WHEN problems.status = 'rejected' \
                     AND excluded.size >= ? * problems.rejected_size THEN 'candidate' \
                     ELSE problems.status END, \
                 requesters = excluded.requesters, first_seen = excluded.first_seen, \
                 last_seen = excluded.last_seen, updated_at = excluded.updated_at RETURNING id, status",
            ))
            .bind(matched)
            .bind(&candidate.title)
            .bind(&keywords)
            .bind(size)
            .bind(requesters)
            .bind(stamp(candidate.first_seen))
            .bind(stamp(candidate.last_seen))
            .bind(&now)
            .bind(&now)
            .bind(serde_json::to_string(&candidate.activity).expect("counts serialise"))
            .bind(f64::from(candidate.activity.trend()))
            .bind(encode_vector(&candidate.centre))
            .bind(REOPEN_GROWTH)
            .fetch_one(&mut *tx)
            .await?;
            // Members that left the problem lose their link; those still in get it back below.
            release_members(&mut tx, self.backend(), id, None).await?;
            for member in &candidate.members {
                sqlx::query(&self.sql(
                    "INSERT INTO problem_members (problem_id, ticket_id, similarity) VALUES (?, ?, ?)",
                ))
                .bind(id)
                .bind(member.ticket_id)
                .bind(f64::from(member.similarity))
                .execute(&mut *tx)
                .await?;
            }
            // The members' triage rows name their problem (the latest pass's word).
            sqlx::query(&self.sql(
                "UPDATE triage_results SET problem_id = ?1 WHERE ticket_id IN \
                 (SELECT ticket_id FROM problem_members WHERE problem_id = ?1)",
            ))
            .bind(id)
            .execute(&mut *tx)
            .await?;
            ids.push(SavedProblem {
                id,
                rejected: status == "rejected",
            });
        }
        tx.commit().await?;
        Ok(ids)
    }

    /// Problems that are not merged away, by size × trend.
    pub async fn problems(&self) -> Result<Vec<ProblemRow>, StoreError> {
        self.problem_rows("WHERE status != 'merged'", None).await
    }

    /// What a problem manager is shown: as [`Store::problems`], without the rejected ones
    /// unless `with_rejected`.
    pub async fn listed_problems(
        &self,
        with_rejected: bool,
    ) -> Result<Vec<ProblemRow>, StoreError> {
        let filter = if with_rejected {
            "WHERE status != 'merged'"
        } else {
            "WHERE status NOT IN ('merged', 'rejected')"
        };
        self.problem_rows(filter, None).await
    }

    /// As [`Store::listed_problems`], each open (candidate or accepted) problem with the open
    /// problems it looks like: centres at least `join_similarity` alike and a shared keyword.
    pub async fn listed_problems_with_overlaps(
        &self,
        with_rejected: bool,
        join_similarity: f32,
    ) -> Result<Vec<ProblemRow>, StoreError> {
        let mut rows = self.listed_problems(with_rejected).await?;
        let open: Vec<usize> = (0..rows.len())
            .filter(|&i| matches!(rows[i].status.as_str(), "candidate" | "accepted"))
            .collect();
        let ids: Vec<i64> = open.iter().map(|&i| rows[i].id).collect();
        let centres = self.problem_centres(&ids).await?;
        let found: HashMap<i64, Vec<i64>> = {
            let described: Vec<OpenProblem<'_>> = open
                .iter()
                .filter_map(|&i| {
                    Some(OpenProblem {
                        id: rows[i].id,
                        centre: centres.get(&rows[i].id)?,
                        keywords: &rows[i].keywords,
                    })
                })
                .collect();
            let similar = overlaps(&described, join_similarity);
            described.iter().map(|p| p.id).zip(similar).collect()
        };
        for row in &mut rows {
            row.similar_to = found.get(&row.id).cloned().unwrap_or_default();
        }
        Ok(rows)
    }

    /// Each of problems `ids`' centre, as the last clustering pass stored it (a problem saved
    /// before centres were kept has none until the next pass).
    async fn problem_centres(&self, ids: &[i64]) -> Result<HashMap<i64, Vec<f32>>, StoreError> {
        if ids.is_empty() {
            return Ok(HashMap::new());
        }
        let sql = format!(
            "SELECT id, centre FROM problems WHERE centre IS NOT NULL AND id IN ({})",
            id_list(ids)
        );
        // Its ids are in its text: not worth a place in the prepared statements' cache.
        let rows = sqlx::query(&sql)
            .persistent(false)
            .fetch_all(self.pool())
            .await?;
        rows.iter()
            .map(|row| {
                let blob: Vec<u8> = row.try_get("centre")?;
                Ok((row.try_get("id")?, decode_vector(&blob)))
            })
            .collect()
    }

    /// Problems matching `filter` (an SQL `WHERE` clause, with at most one `?` for `id`).
    pub(super) async fn problem_rows(
        &self,
        filter: &str,
        id: Option<i64>,
    ) -> Result<Vec<ProblemRow>, StoreError> {
        let sql = format!(
            "SELECT id, title, keywords, status, size, requesters, first_seen, last_seen, \
             trend, activity, public_title, workaround, announced_at FROM problems \
             LEFT JOIN problem_announcements ON problem_id = id \
             {filter} ORDER BY size * trend DESC, id"
        );
        let sql = self.sql(&sql);
        let mut query = sqlx::query(&sql);
        if let Some(id) = id {
            query = query.bind(id);
        }
        let rows = query.fetch_all(self.pool()).await?;
        rows.iter()
            .map(|row| {
                let keywords: String = row.try_get("keywords")?;
                let trend = row.float("trend")?;
                Ok(ProblemRow {
                    id: row.try_get("id")?,
                    title: row.try_get("title")?,
                    keywords: serde_json::from_str(&keywords).unwrap_or_default(),
                    status: row.try_get("status")?,
                    size: row.try_get("size")?,
                    requesters: row.try_get("requesters")?,
                    first_seen: row.try_get("first_seen")?,
                    last_seen: row.try_get("last_seen")?,
                    trend,
                    trend_words: describe_trend(trend),
                    activity: row
                        .try_get::<Option<String>, _>("activity")?
                        .and_then(|a| serde_json::from_str(&a).ok()),
                    announcement: announcement_of(row)?,
                    similar_to: Vec::new(),
                })
            })
            .collect()
    }

    /// Ticket ids of one problem, most central first.
    pub async fn members_of(&self, problem_id: i64) -> Result<Vec<i64>, StoreError> {
        Ok(sqlx::query_scalar(&self.sql(
            "SELECT ticket_id FROM problem_members WHERE problem_id = ? ORDER BY similarity DESC",
        ))
        .bind(problem_id)
        .fetch_all(self.pool())
        .await?)
    }
}

/// The announcement columns of a problem row, if it is announced.
fn announcement_of(row: &sqlx::any::AnyRow) -> Result<Option<AnnouncementView>, sqlx::Error> {
    let Some(title) = row.try_get::<Option<String>, _>("public_title")? else {
        return Ok(None);
    };
    Ok(Some(AnnouncementView {
        announcement: Announcement {
            title,
            workaround: row.try_get("workaround")?,
        },
        announced_at: row.try_get("announced_at")?,
    }))
}

/// Empties problem `id` of its members; their triage rows' link moves to `to`, or is cleared.
pub(super) async fn release_members(
    conn: &mut AnyConnection,
    backend: Backend,
    id: i64,
    to: Option<i64>,
) -> Result<(), sqlx::Error> {
    sqlx::query(&backend.sql("DELETE FROM problem_members WHERE problem_id = ?"))
        .bind(id)
        .execute(&mut *conn)
        .await?;
    sqlx::query(&backend.sql("UPDATE triage_results SET problem_id = ? WHERE problem_id = ?"))
        .bind(to)
        .bind(id)
        .execute(&mut *conn)
        .await?;
    Ok(())
}
