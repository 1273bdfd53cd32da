//! The ticket systems ticketlens serves, one file or folder each, behind one boundary:
//!
//! - [`TicketSystem::pull`] reads what changed in the system since the last pass (tickets,
//!   their labels and resolutions, articles) into ticketlens' own store, where the pipeline
//!   reads everything it learns from and triages;
//! - [`TicketSystem::plan`] (and [`TicketSystem::plan_problems`]) says what the system would
//!   get for a batch's results ([`TicketOutcome`], [`ProblemOutcome`]), writing nothing:
//!   `--dry-run` prints the plan;
//! - [`TicketSystem::apply`] writes a plan, each change guarded so that what a person did
//!   since the plan was made stands, and a plan applied twice writes nothing twice;
//! - [`TicketSystem::receive`] takes a system's webhook call and reads the ticket it names at
//!   once (polling stays for the calls that never come).
//!
//! A closed enum rather than a trait object: every system is compiled in and the pipeline file
//! picks one, the boundary's methods are `async` (a trait would need boxed futures to be
//! object-safe), and a plan is the system's own type that only that system applies. A new
//! system is a folder here, a variant in [`SystemConfig`], [`TicketSystem`] and [`Plan`], and
//! one arm in each method below.

pub mod glpi;
pub mod hook;
mod native;
pub mod note;
mod outcome;
pub mod zammad;

use serde::Deserialize;

pub use native::NativeConfig;
pub use outcome::{FieldResult, ProblemOutcome, TicketOutcome};

use crate::store::{Store, StoreError, SystemWrite};
use glpi::{Glpi, GlpiConfig, GlpiError};
use hook::{Delivery, HookError, Receipt};
use zammad::{Zammad, ZammadConfig, ZammadError};

/// Which system the tickets live in (`[system]` in the pipeline file), with that system's
/// own settings.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum SystemConfig {
    /// ticketlens' own schema (`store.url`) is the help desk: triage writes straight into it,
    /// and other desks send their tickets in through `POST /v1/tickets` or `ticketlens import`.
    Native(NativeConfig),
    /// A GLPI 10 or 11 database: its tickets and knowledge base are read into the store, and
    /// results are written back into GLPI's own tables.
    Glpi(GlpiConfig),
    /// A Zammad, through its REST API: its tickets are read into the store, and results are
    /// written back as an agent would (attribute or tag, priority, internal note, links).
    Zammad(ZammadConfig),
}

impl Default for SystemConfig {
    fn default() -> Self {
        SystemConfig::Native(NativeConfig {})
    }
}

impl SystemConfig {
    pub fn is_native(&self) -> bool {
        matches!(self, SystemConfig::Native(_))
    }

    /// The settings that make no sense, named by key.
    pub fn validate(&self) -> Result<(), String> {
        match self {
            SystemConfig::Native(_) => Ok(()),
            SystemConfig::Glpi(glpi) => glpi.validate(),
            SystemConfig::Zammad(zammad) => zammad.validate(),
        }
    }
}

/// Why a ticket system did not answer or refused: the boundary's one error. Systems keep
/// their own detailed errors inside and say here only what the pipeline acts on.
#[derive(Debug, thiserror::Error)]
pub enum SystemError {
    /// The system is down, unreachable, locked or overloaded: the same call may succeed
    /// later, and the pipeline waits it out.
    #[error("{0}")]
    Unavailable(String),
    /// A fault that would repeat (wrong database, missing tables, a refused write).
    #[error("{0}")]
    Refused(String),
    /// ticketlens' own store failed while the system's data was written into it.
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl SystemError {
    pub fn is_retriable(&self) -> bool {
        match self {
            SystemError::Unavailable(_) => true,
            SystemError::Refused(_) => false,
            SystemError::Store(e) => e.is_retriable(),
        }
    }
}

impl From<GlpiError> for SystemError {
    fn from(e: GlpiError) -> Self {
        match e {
            GlpiError::Store(e) => SystemError::Store(e),
            e if e.is_retriable() => SystemError::Unavailable(e.to_string()),
            e => SystemError::Refused(e.to_string()),
        }
    }
}

impl From<ZammadError> for SystemError {
    fn from(e: ZammadError) -> Self {
        match e {
            ZammadError::Store(e) => SystemError::Store(e),
            e if e.is_retriable() => SystemError::Unavailable(e.to_string()),
            e => SystemError::Refused(e.to_string()),
        }
    }
}

/// Where the tickets come from and the results go.
pub enum TicketSystem {
    /// The store is the system: nothing to read in, nothing to write back.
    Native,
    Glpi(Box<Glpi>),
    Zammad(Box<Zammad>),
}

/// What [`TicketSystem::apply`] wrote.
#[derive(Debug, Default)]
pub struct Applied {
    /// One line per change, as a person reads it.
    pub lines: Vec<String>,
    /// Writes to record in ticketlens' store with the batch (a system that shares no
    /// transaction with the store keeps its exactly-once there).
    pub records: Vec<SystemWrite>,
}

/// What a system would write: made by [`TicketSystem::plan`], printed by a dry run, written
/// by [`TicketSystem::apply`].
#[derive(Debug, Default)]
pub enum Plan {
    #[default]
    Nothing,
    Glpi(glpi::Plan),
    Zammad(zammad::Plan),
}

impl Plan {
    /// One line per change, as a person reads a plan.
    pub fn lines(&self) -> Vec<String> {
        match self {
            Plan::Nothing => Vec::new(),
            Plan::Glpi(plan) => plan.lines(),
            Plan::Zammad(plan) => plan.lines(),
        }
    }
}

impl TicketSystem {
    pub async fn connect(config: &SystemConfig) -> Result<Self, SystemError> {
        Ok(match config {
            SystemConfig::Native(_) => TicketSystem::Native,
            SystemConfig::Glpi(glpi) => TicketSystem::Glpi(Box::new(Glpi::connect(glpi).await?)),
            SystemConfig::Zammad(zammad) => {
                TicketSystem::Zammad(Box::new(Zammad::connect(zammad).await?))
            }
        })
    }

    /// Reads what changed in the system into the store; the number of items read.
    pub async fn pull(&self, store: &Store) -> Result<usize, SystemError> {
        match self {
            TicketSystem::Native => Ok(0),
            TicketSystem::Glpi(glpi) => Ok(glpi.pull(store).await?),
            TicketSystem::Zammad(zammad) => Ok(zammad.pull(store).await?),
        }
    }

    /// What the system would get for a batch's results; nothing is written. `store` holds
    /// what was written before (for a system that keeps its records there).
    pub async fn plan(&self, store: &Store, batch: &[TicketOutcome]) -> Result<Plan, SystemError> {
        match self {
            TicketSystem::Native => Ok(Plan::Nothing),
            TicketSystem::Glpi(glpi) => Ok(Plan::Glpi(glpi.plan(batch).await?)),
            TicketSystem::Zammad(zammad) => Ok(Plan::Zammad(zammad.plan(store, batch).await?)),
        }
    }

    /// What the system would get for a clustering pass's candidate problems.
    pub async fn plan_problems(
        &self,
        store: &Store,
        problems: &[ProblemOutcome],
    ) -> Result<Plan, SystemError> {
        match self {
            TicketSystem::Native => Ok(Plan::Nothing),
            TicketSystem::Glpi(glpi) => Ok(Plan::Glpi(glpi.plan_problems(problems).await?)),
            TicketSystem::Zammad(zammad) => {
                Ok(Plan::Zammad(zammad.plan_problems(store, problems).await?))
            }
        }
    }

    /// Writes a plan: in one transaction where the system has them (GLPI), else change by
    /// change, each looked at first (Zammad), with the writes to record in the store.
    pub async fn apply(&self, plan: &Plan) -> Result<Applied, SystemError> {
        match (self, plan) {
            (_, Plan::Nothing) => Ok(Applied::default()),
            (TicketSystem::Glpi(glpi), Plan::Glpi(plan)) => Ok(Applied {
                lines: glpi.apply(plan).await?,
                records: Vec::new(),
            }),
            (TicketSystem::Zammad(zammad), Plan::Zammad(plan)) => Ok(zammad.apply(plan).await?),
            _ => Err(SystemError::Refused(
                "a plan given to another system than the one that made it".into(),
            )),
        }
    }

    /// A call a system made to `POST /v1/hooks/{name}`: checked, then the ticket it names
    /// read into `store` at once (see [`hook`]).
    pub async fn receive(
        &self,
        name: &str,
        store: &Store,
        delivery: Delivery<'_>,
    ) -> Result<Receipt, HookError> {
        match self {
            TicketSystem::Zammad(zammad) if name == "zammad" => {
                zammad.receive(store, delivery).await
            }
            TicketSystem::Glpi(glpi) if name == "glpi" => glpi.receive(store, delivery).await,
            _ => Err(HookError::Off(name.to_owned())),
        }
    }

    /// Whether results go anywhere but the store (so a dry run has something to show).
    pub fn writes_back(&self) -> bool {
        !matches!(self, TicketSystem::Native)
    }
}
