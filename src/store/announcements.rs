//! Known issues: problems a problem manager announced to end users, with a public title and
//! perhaps a workaround written for them. The before-filing answer reads them on every
//! question, so an announcement and its withdrawal take effect at once, in `serve` as in any
//! other process on the store.

use chrono::Utc;
use serde::{Deserialize, Serialize};
use sqlx::Row;

use super::embeddings::decode_vector;
use super::{stamp, Store, StoreError};

/// Longest public title, in characters: one line on the before-filing page.
pub const MAX_PUBLIC_TITLE_CHARS: usize = 200;

/// Longest workaround, in characters: a few steps, not an article.
pub const MAX_WORKAROUND_CHARS: usize = 2_000;

/// What end users are told about a problem: only what the problem manager wrote for them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Announcement {
    pub title: String,
    pub workaround: Option<String>,
}

/// Why an announcement was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum NotAnAnnouncement {
    #[error("the public title is empty")]
    EmptyTitle,
    #[error("the public title is longer than {MAX_PUBLIC_TITLE_CHARS} characters")]
    LongTitle,
    #[error("the workaround is longer than {MAX_WORKAROUND_CHARS} characters")]
    LongWorkaround,
}

impl Announcement {
    /// Trimmed; a blank workaround is none.
    pub fn new(title: &str, workaround: Option<&str>) -> Result<Self, NotAnAnnouncement> {
        let title = title.trim();
        if title.is_empty() {
            return Err(NotAnAnnouncement::EmptyTitle);
        }
        if title.chars().count() > MAX_PUBLIC_TITLE_CHARS {
            return Err(NotAnAnnouncement::LongTitle);
        }
        let workaround = workaround.map(str::trim).filter(|w| !w.is_empty());
        if workaround.is_some_and(|w| w.chars().count() > MAX_WORKAROUND_CHARS) {
            return Err(NotAnAnnouncement::LongWorkaround);
        }
        Ok(Self {
            title: title.to_owned(),
            workaround: workaround.map(str::to_owned),
        })
    }
}

/// An announcement as problem managers see it on the problem.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AnnouncementView {
    #[serde(flatten)]
    pub announcement: Announcement,
    pub announced_at: String,
}

/// An announced problem, as the before-filing answer matches questions to it. The problem id
/// is for recording what was shown; it is never shown.
#[derive(Debug, Clone, PartialEq)]
pub struct AnnouncedProblem {
    pub problem_id: i64,
    pub announcement: Announcement,
    /// Incidents in the problem now.
    pub reported: i64,
    /// When its first incident was reported.
    pub since: String,
    /// Unit-length mean of its incidents' embeddings, from the last clustering pass.
    pub centre: Vec<f32>,
}

impl Store {
    /// Announces problem `id` to end users, replacing an earlier announcement of it. A
    /// rejected or merged problem is not announced: it is no problem, or another one is.
    pub async fn announce_problem(
        &self,
        id: i64,
        announcement: &Announcement,
    ) -> Result<(), StoreError> {
        let status = self.status_of(id).await?;
        if matches!(status.as_str(), "rejected" | "merged") {
            return Err(StoreError::Review(format!(
                "problem {id} is {status}; announce an open problem"
            )));
        }
        sqlx::query(&self.sql(
            "INSERT INTO problem_announcements (problem_id, public_title, workaround, announced_at) \
             VALUES (?, ?, ?, ?) ON CONFLICT (problem_id) DO UPDATE SET \
             public_title = excluded.public_title, workaround = excluded.workaround, \
             announced_at = excluded.announced_at",
        ))
        .bind(id)
        .bind(&announcement.title)
        .bind(announcement.workaround.as_deref())
        .bind(stamp(Utc::now()))
        .execute(self.pool())
        .await?;
        Ok(())
    }

    /// Withdraws problem `id`'s announcement; withdrawing one that is not announced is no
    /// error (the outcome is the same).
    pub async fn withdraw_problem(&self, id: i64) -> Result<(), StoreError> {
        self.status_of(id).await?;
        sqlx::query(&self.sql("DELETE FROM problem_announcements WHERE problem_id = ?"))
            .bind(id)
            .execute(self.pool())
            .await?;
        Ok(())
    }

    /// The announced problems end users may be shown: not rejected or merged since, and with
    /// a centre to match questions to.
    pub async fn announced_problems(&self) -> Result<Vec<AnnouncedProblem>, StoreError> {
        let rows = sqlx::query(
            "SELECT a.problem_id, a.public_title, a.workaround, p.centre, \
             (SELECT COUNT(*) FROM problem_members m WHERE m.problem_id = p.id) AS reported, \
             (SELECT MIN(t.created_at) FROM problem_members m JOIN tickets t ON t.id = m.ticket_id \
                 WHERE m.problem_id = p.id) AS since \
             FROM problem_announcements a JOIN problems p ON p.id = a.problem_id \
             WHERE p.status NOT IN ('rejected', 'merged') AND p.centre IS NOT NULL \
             ORDER BY a.problem_id",
        )
        .fetch_all(self.pool())
        .await?;
        rows.iter()
            .map(|row| {
                let centre: Vec<u8> = row.try_get("centre")?;
                let since: Option<String> = row.try_get("since")?;
                Ok(AnnouncedProblem {
                    problem_id: row.try_get("problem_id")?,
                    announcement: Announcement {
                        title: row.try_get("public_title")?,
                        workaround: row.try_get("workaround")?,
                    },
                    reported: row.try_get("reported")?,
                    since: since.unwrap_or_default(),
                    centre: decode_vector(&centre),
                })
            })
            .collect::<Result<_, sqlx::Error>>()
            .map_err(StoreError::from)
    }
}
