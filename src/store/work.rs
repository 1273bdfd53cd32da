//! Taking changed tickets from the store, and acknowledging them once their results are written.
//!
//! SQLite: one process follows a cursor over `tickets.change_seq` (writers are serialised, so a
//! sequence handed out inside the writing transaction never appears behind the cursor).
//!
//! PostgreSQL: writers commit in any order, so a cursor could pass a change that commits late.
//! A trigger instead queues every change in `ticket_work`, one row per (pipeline, ticket), and
//! workers lease rows with `FOR UPDATE SKIP LOCKED`: two workers never take the same ticket,
//! a lease whose worker died expires, and a batch's write-back deletes its rows in the same
//! transaction, only while this worker still holds them. So each change is triaged once, by
//! whichever worker commits it. The trigger also sends a NOTIFY, which idle workers wait on.

use std::time::Duration;

use chrono::Utc;
use sqlx::postgres::PgListener;
use sqlx::{Any, Row, Transaction};

use super::{id_list, stamp, Backend, Store, StoreError, TicketRead, TicketRow, Unreadable};

/// The channel the work queue's trigger notifies on.
const CHANNEL: &str = "ticketlens_changes";

/// One worker's identity and the length of its leases.
#[derive(Debug, Clone)]
pub struct Worker {
    /// Unique among the workers on one store: written on the leases it holds.
    pub id: String,
    /// How long a leased ticket stays this worker's without being written. A worker that dies
    /// holding a lease delays those tickets this long; one slower than this loses them.
    pub lease: Duration,
}

impl Worker {
    /// A worker named after this process (pid and start time).
    pub fn for_this_process(lease: Duration) -> Self {
        let started = Utc::now().timestamp_micros();
        Self {
            id: format!("pid{}-{started:x}", std::process::id()),
            lease,
        }
    }
}

/// Tickets taken from the stream, with what acknowledging them takes.
#[derive(Debug)]
pub struct Taken {
    /// In change order.
    pub rows: Vec<TicketRow>,
    /// Taken tickets that could not be read: acknowledged with the batch, each with a
    /// skipped triage row saying why.
    pub unreadable: Vec<Unreadable>,
    pub claim: Claim,
}

/// How a batch is acknowledged.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Move the pipeline's cursor to this change.
    Cursor(i64),
    /// End these leases: (ticket, change it was leased at), held by `owner`.
    Lease {
        owner: String,
        tickets: Vec<(i64, i64)>,
    },
}

impl Taken {
    /// Nothing was taken: the stream has nothing new for this pipeline (or this worker).
    pub fn is_empty(&self) -> bool {
        match &self.claim {
            Claim::Cursor(_) => self.rows.is_empty() && self.unreadable.is_empty(),
            Claim::Lease { tickets, .. } => tickets.is_empty(),
        }
    }
}

impl Claim {
    pub(super) async fn acknowledge(
        &self,
        tx: &mut Transaction<'_, Any>,
        backend: Backend,
        pipeline: &str,
    ) -> Result<(), StoreError> {
        let position = match self {
            Claim::Cursor(position) => *position,
            Claim::Lease { owner, tickets } => {
                for &(ticket, change) in tickets {
                    end_lease(tx, backend, pipeline, owner, ticket, change).await?;
                }
                tickets.iter().map(|(_, change)| *change).max().unwrap_or(0)
            }
        };
        // On PostgreSQL the position only tells people how far the pipeline has come.
        sqlx::query(&backend.sql(
            "INSERT INTO pipeline_cursors (pipeline, position, updated_at) VALUES (?, ?, ?) \
             ON CONFLICT (pipeline) DO UPDATE SET \
             position = CASE WHEN excluded.position > pipeline_cursors.position \
                 OR ?4 = 'cursor' THEN excluded.position ELSE pipeline_cursors.position END, \
             updated_at = excluded.updated_at",
        ))
        .bind(pipeline)
        .bind(position)
        .bind(stamp(Utc::now()))
        .bind(match self {
            Claim::Cursor(_) => "cursor",
            Claim::Lease { .. } => "lease",
        })
        .execute(&mut **tx)
        .await?;
        Ok(())
    }
}

/// Deletes the queue row of a written ticket. If the ticket changed while it was leased, the
/// row stays (unleased) so that the new text is triaged too; if the lease went to another
/// worker, the batch must not be written.
async fn end_lease(
    tx: &mut Transaction<'_, Any>,
    backend: Backend,
    pipeline: &str,
    owner: &str,
    ticket: i64,
    change: i64,
) -> Result<(), StoreError> {
    let done = sqlx::query(&backend.sql(
        "DELETE FROM ticket_work WHERE pipeline = ? AND ticket_id = ? AND lease_owner = ? \
         AND change_seq = ?",
    ))
    .bind(pipeline)
    .bind(ticket)
    .bind(owner)
    .bind(change)
    .execute(&mut **tx)
    .await?;
    if done.rows_affected() == 1 {
        return Ok(());
    }
    let released = sqlx::query(&backend.sql(
        "UPDATE ticket_work SET lease_owner = NULL, lease_until = NULL \
         WHERE pipeline = ? AND ticket_id = ? AND lease_owner = ?",
    ))
    .bind(pipeline)
    .bind(ticket)
    .bind(owner)
    .execute(&mut **tx)
    .await?;
    if released.rows_affected() == 1 {
        Ok(())
    } else {
        Err(StoreError::LeaseLost(ticket))
    }
}

impl Store {
    /// The next changed tickets for `pipeline`, at most `limit`: after its cursor on SQLite,
    /// leased to `worker` on PostgreSQL.
    pub async fn take_changes(
        &self,
        pipeline: &str,
        worker: &Worker,
        limit: usize,
    ) -> Result<Taken, StoreError> {
        match self.backend {
            Backend::Sqlite => {
                let position = self.cursor(pipeline).await?;
                self.take_after(position, limit).await
            }
            Backend::Postgres => self.lease(pipeline, worker, limit).await,
        }
    }

    /// Takes rows whose lease ran out, and this worker's own: a batch it failed to write is
    /// taken again at once rather than after its lease.
    /// Up to `limit` changes after `position`, claimed by moving the cursor past them.
    pub async fn take_after(&self, position: i64, limit: usize) -> Result<Taken, StoreError> {
        let read = self.changes_after(position, limit).await?;
        let last = read.last_change().unwrap_or(position);
        Ok(Taken {
            rows: read.rows,
            unreadable: read.unreadable,
            claim: Claim::Cursor(last),
        })
    }

    async fn lease(
        &self,
        pipeline: &str,
        worker: &Worker,
        limit: usize,
    ) -> Result<Taken, StoreError> {
        self.register(pipeline).await?;
        let leased = sqlx::query(
            "UPDATE ticket_work SET lease_owner = $2, \
             lease_until = now() + make_interval(secs => $3) \
             WHERE (pipeline, ticket_id) IN (SELECT pipeline, ticket_id FROM ticket_work \
                 WHERE pipeline = $1 AND (lease_until IS NULL OR lease_until < now() \
                     OR lease_owner = $2) \
                 ORDER BY change_seq LIMIT $4 FOR UPDATE SKIP LOCKED) \
             RETURNING ticket_id, change_seq",
        )
        .bind(pipeline)
        .bind(&worker.id)
        .bind(worker.lease.as_secs_f64())
        .bind(limit as i64)
        .fetch_all(&self.pool)
        .await?;
        let mut tickets = Vec::with_capacity(leased.len());
        for row in &leased {
            tickets.push((row.try_get::<i64, _>(0)?, row.try_get::<i64, _>(1)?));
        }
        // A ticket deleted since it was queued is simply not read; its lease ends with the
        // batch all the same.
        let read = if tickets.is_empty() {
            TicketRead::default()
        } else {
            let ids: Vec<i64> = tickets.iter().map(|&(id, _)| id).collect();
            let filter = format!("WHERE id IN ({}) ORDER BY change_seq, id", id_list(&ids));
            self.tickets_where(&filter, &[]).await?
        };
        Ok(Taken {
            rows: read.rows,
            unreadable: read.unreadable,
            claim: Claim::Lease {
                owner: worker.id.clone(),
                tickets,
            },
        })
    }

    /// Makes the queue trigger fill `pipeline`'s queue, and queues every ticket there is the
    /// first time (as a cursor at 0 would). The table lock waits for writers in flight and
    /// holds new ones back, so no ticket is written between the backfill and the trigger
    /// knowing the pipeline.
    async fn register(&self, pipeline: &str) -> Result<(), StoreError> {
        let known: Option<i64> =
            sqlx::query_scalar("SELECT position FROM pipeline_cursors WHERE pipeline = $1")
                .bind(pipeline)
                .fetch_optional(&self.pool)
                .await?;
        if known.is_some() {
            return Ok(());
        }
        let mut tx = self.pool.begin().await?;
        sqlx::query("LOCK TABLE tickets IN SHARE MODE")
            .execute(&mut *tx)
            .await?;
        let added = sqlx::query(
            "INSERT INTO pipeline_cursors (pipeline, position, updated_at) VALUES ($1, 0, $2) \
             ON CONFLICT (pipeline) DO NOTHING",
        )
        .bind(pipeline)
        .bind(stamp(Utc::now()))
        .execute(&mut *tx)
        .await?;
        if added.rows_affected() == 1 {
            sqlx::query(
                "INSERT INTO ticket_work (pipeline, ticket_id, change_seq) \
                 SELECT $1, id, change_seq FROM tickets ON CONFLICT DO NOTHING",
            )
            .bind(pipeline)
            .execute(&mut *tx)
            .await?;
        }
        tx.commit().await?;
        Ok(())
    }

    /// Changed tickets `pipeline` has not written yet.
    pub async fn queue_depth(&self, pipeline: &str) -> Result<i64, StoreError> {
        Ok(match self.backend {
            Backend::Sqlite => {
                let position = self.cursor(pipeline).await?;
                sqlx::query_scalar("SELECT COUNT(*) FROM tickets WHERE change_seq > ?")
                    .bind(position)
                    .fetch_one(&self.pool)
                    .await?
            }
            Backend::Postgres => {
                sqlx::query_scalar("SELECT COUNT(*) FROM ticket_work WHERE pipeline = $1")
                    .bind(pipeline)
                    .fetch_one(&self.pool)
                    .await?
            }
        })
    }

    /// Whether `worker` may run the periodic pass `task` now: on PostgreSQL one worker takes it
    /// for `period` and the others skip it meanwhile; on SQLite there is only one process.
    pub async fn claim_task(
        &self,
        task: &str,
        worker: &Worker,
        period: Duration,
    ) -> Result<bool, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(true);
        }
        let claimed: Option<String> = sqlx::query_scalar(
            "INSERT INTO worker_tasks (task, owner, until) \
             VALUES ($1, $2, now() + make_interval(secs => $3)) \
             ON CONFLICT (task) DO UPDATE SET owner = excluded.owner, until = excluded.until \
             WHERE worker_tasks.until < now() OR worker_tasks.owner = excluded.owner \
             RETURNING owner",
        )
        .bind(task)
        .bind(&worker.id)
        // A little short of the period, so that the same worker takes it again on time.
        .bind(period.as_secs_f64() * 0.9)
        .fetch_optional(&self.pool)
        .await?;
        Ok(claimed.is_some())
    }

    /// A way to wait for changes without polling, where the database offers one
    /// (PostgreSQL's LISTEN); `None` elsewhere.
    pub async fn listen(&self) -> Result<Option<ChangeListener>, StoreError> {
        if self.backend != Backend::Postgres {
            return Ok(None);
        }
        let mut listener = PgListener::connect(&self.url).await?;
        listener.listen(CHANNEL).await?;
        Ok(Some(ChangeListener { listener }))
    }
}

/// Wakes a worker when tickets change.
pub struct ChangeListener {
    listener: PgListener,
}

impl ChangeListener {
    /// Returns at the next change notification, or after `at_most`. Notifications that came
    /// while the worker was busy are drained, so a burst wakes it once.
    pub async fn wait(&mut self, at_most: Duration) -> Result<(), StoreError> {
        match tokio::time::timeout(at_most, self.listener.recv()).await {
            Ok(received) => {
                received?;
                while self.listener.next_buffered().is_some() {}
                Ok(())
            }
            Err(_) => Ok(()),
        }
    }
}
