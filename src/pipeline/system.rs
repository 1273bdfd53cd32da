//! The ticket system the pipeline serves: ticketlens' native schema, where the store is the
//! system, or GLPI, whose tickets are read into the store and whose tables get the results.

use crate::config::{PipelineConfig, StoreKind};
use crate::glpi::{Glpi, GlpiError, Outcome, ProblemOutcome};
use crate::store::Store;

pub enum TicketSystem {
    Native,
    Glpi(Box<Glpi>),
}

impl TicketSystem {
    pub async fn connect(config: &PipelineConfig) -> Result<Self, GlpiError> {
        Ok(match config.store.kind() {
            StoreKind::Native => TicketSystem::Native,
            StoreKind::Glpi => TicketSystem::Glpi(Box::new(
                Glpi::connect(&config.store.url, config.glpi.clone()).await?,
            )),
        })
    }

    /// Reads what changed in the system into the store; the number of items read.
    pub async fn pull(&self, store: &Store) -> Result<usize, GlpiError> {
        match self {
            TicketSystem::Native => Ok(0),
            TicketSystem::Glpi(glpi) => glpi.pull(store).await,
        }
    }

    /// Writes a batch's results into the system (before the store acknowledges the batch);
    /// one line per change. Nothing to do where the store is the system.
    pub async fn push(
        &self,
        outcomes: &[Outcome],
        dry_run: bool,
    ) -> Result<Vec<String>, GlpiError> {
        match self {
            TicketSystem::Native => Ok(Vec::new()),
            TicketSystem::Glpi(glpi) => glpi.push(outcomes, dry_run).await,
        }
    }

    pub async fn push_problems(
        &self,
        problems: &[ProblemOutcome],
        dry_run: bool,
    ) -> Result<Vec<String>, GlpiError> {
        match self {
            TicketSystem::Glpi(glpi) if glpi.writes_problems() => {
                glpi.push_problems(problems, dry_run).await
            }
            _ => Ok(Vec::new()),
        }
    }

    pub fn writes_back(&self) -> bool {
        matches!(self, TicketSystem::Glpi(_))
    }
}
