use serde::Deserialize;

/// What ticketlens writes back to GLPI (`[glpi]` in the pipeline file).
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlpiConfig {
    /// Set the urgency (and GLPI's priority, from its impact × urgency matrix) of open tickets
    /// that no agent has touched since they were opened. Off by default: GLPI lets the
    /// requester choose the urgency, and a team decides whether triage may overrule it.
    pub write_urgency: bool,
    /// Add a private follow-up to each triaged ticket: the decision, the confidence, the
    /// evidence and the suggested articles, for the agents.
    pub followups: bool,
    /// Link the suggested knowledge-base items to the ticket.
    pub link_articles: bool,
    /// Create candidate problems in GLPI (status new), with their tickets linked.
    pub problems: bool,
    /// The name GLPI's ticket history shows for ticketlens' changes.
    pub user_name: String,
    /// Ticket changes read again on every pass, in seconds before the latest change seen:
    /// GLPI stamps changes to the second, and a transaction may commit after a later one.
    pub overlap_secs: u64,
}

impl Default for GlpiConfig {
    fn default() -> Self {
        Self {
            write_urgency: false,
            followups: true,
            link_articles: true,
            problems: true,
            user_name: "ticketlens".into(),
            overlap_secs: 300,
        }
    }
}
