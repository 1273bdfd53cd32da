//! ticketlens' own schema as the help desk: the store holds the tickets, agents and other
//! tools edit them there (or send them through `POST /v1/tickets` and `ticketlens import`),
//! and triage writes its results straight into it in the batch's own transaction. So there is
//! nothing to read in and nothing to write back: the pipeline's writer is this system's
//! writer, and its plan is always empty.

use serde::Deserialize;

/// `[system] kind = "native"`: no settings of its own; the store is `store.url`.
#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NativeConfig {}
