//! Zammad through its REST API (`/api/v1`): its tickets, their articles and the category
//! attribute are read into ticketlens' own store ([`pull`]); each batch's results are planned
//! against Zammad's current tickets ([`plan`]) and written as an agent would write them
//! ([`apply`]): the category attribute (or a tag) where empty, the priority where no agent
//! changed anything, one internal note, and a candidate problem as a parent ticket.
//!
//! A REST API gives no transaction to share with ticketlens' store, so every write is made
//! once by two means: what was written is recorded in the store (`system_writes`) with the
//! batch's acknowledgement, and where the record is missing (a crash after Zammad took the
//! write and before the store committed) Zammad is asked first: a note carries a reference
//! to the text it is for, and a problem's ticket a tag naming its candidate.

mod apply;
mod client;
mod config;
mod hook;
mod plan;
mod pull;

use std::time::Duration;

pub use config::ZammadConfig;
pub use plan::Plan;

use crate::store::{StoreError, SystemWrite};
use client::Client;

#[derive(Debug, thiserror::Error)]
pub enum ZammadError {
    #[error("cannot reach Zammad at {url}: {message}")]
    Unreachable { url: String, message: String },
    #[error("Zammad refused the API token (HTTP {0}): check system.token and its permissions")]
    Token(u16),
    #[error(
        "system.token is empty and {} is not set: Zammad needs an API token",
        config::TOKEN_VARIABLE
    )]
    NoToken,
    #[error("Zammad answered {status} to {method} {path}: {body}")]
    Status {
        method: String,
        path: String,
        status: u16,
        body: String,
    },
    #[error("Zammad's answer to {path} is not shaped as its API documents: {message}")]
    Shape { path: String, message: String },
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl ZammadError {
    /// Unreachable, rate-limited or failing on its side: the same call may succeed later.
    pub fn is_retriable(&self) -> bool {
        match self {
            ZammadError::Unreachable { .. } => true,
            ZammadError::Status { status, .. } => *status == 429 || *status >= 500,
            ZammadError::Token(_) | ZammadError::NoToken | ZammadError::Shape { .. } => false,
            ZammadError::Store(e) => e.is_retriable(),
        }
    }
}

/// A connection to one Zammad.
pub struct Zammad {
    client: Client,
    config: ZammadConfig,
    /// Names this Zammad in ticketlens' own tables (its read position, its writes).
    source: String,
    /// Webhook deliveries seen lately (see [`crate::systems::hook`]).
    deliveries: crate::systems::hook::Seen,
}

impl Zammad {
    /// Checks the address and the token with one call (`/users/me`).
    pub async fn connect(config: &ZammadConfig) -> Result<Self, ZammadError> {
        let token = config.token();
        if token.is_empty() {
            return Err(ZammadError::NoToken);
        }
        let client = Client::new(
            &config.url,
            &token,
            Duration::from_secs(config.timeout_secs.max(1)),
        )?;
        match client.get("/users/me").await {
            Ok(_) => {}
            Err(ZammadError::Status { status, .. }) if status == 401 || status == 403 => {
                return Err(ZammadError::Token(status))
            }
            Err(e) => return Err(e),
        }
        let host = config
            .url
            .split("://")
            .nth(1)
            .unwrap_or(&config.url)
            .trim_end_matches('/');
        Ok(Self {
            client,
            config: config.clone(),
            source: format!("zammad:{host}"),
            deliveries: Default::default(),
        })
    }

    fn record(&self, item: String, external_id: impl ToString) -> SystemWrite {
        SystemWrite {
            source: self.source.clone(),
            item,
            external_id: external_id.to_string(),
        }
    }
}

/// A JSON value's field as an id (Zammad sends ids as numbers).
fn id_of(value: &serde_json::Value, key: &str) -> Option<i64> {
    value.get(key).and_then(serde_json::Value::as_i64)
}

/// A JSON value's field as text, absent when null or empty.
fn text_of<'a>(value: &'a serde_json::Value, key: &str) -> Option<&'a str> {
    value
        .get(key)
        .and_then(serde_json::Value::as_str)
        .filter(|s| !s.is_empty())
}
