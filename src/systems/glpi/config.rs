use serde::Deserialize;

/// `[system] kind = "glpi"`: which GLPI (10 or 11, read from its `glpi_configs`), and what
/// ticketlens writes back to it.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct GlpiConfig {
    /// GLPI's own database, `mysql://USER:PASSWORD@HOST/DATABASE` (MariaDB or MySQL). The user
    /// needs SELECT on GLPI's tables, INSERT on glpi_itilfollowups, glpi_logs,
    /// glpi_knowbaseitems_items, glpi_problems and glpi_problems_tickets, UPDATE on
    /// glpi_tickets, and CREATE for ticketlens' own tables (ticketlens_written and two more).
    pub url: String,
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
    /// GLPI 11: the secret of a webhook (Setup → Webhooks, on Ticket's events) pointing at
    /// `https://TICKETLENS/v1/hooks/glpi`: with it, each call (checked against
    /// `X-GLPI-signature` and `X-GLPI-timestamp`) reads its ticket at once. Empty: the route
    /// refuses every call, and polling alone finds changes.
    pub webhook_secret: String,
}

impl Default for GlpiConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            write_urgency: false,
            followups: true,
            link_articles: true,
            problems: true,
            user_name: "ticketlens".into(),
            overlap_secs: 300,
            webhook_secret: String::new(),
        }
    }
}

impl GlpiConfig {
    pub fn validate(&self) -> Result<(), String> {
        let scheme = self.url.split(':').next().unwrap_or_default();
        if !matches!(scheme, "mysql" | "mariadb") {
            return Err(format!(
                "system.url must be GLPI's database, mysql://USER:PASSWORD@HOST/DATABASE{}",
                if self.url.is_empty() {
                    String::new()
                } else {
                    format!(", not {:?}", crate::store::redact(&self.url))
                }
            ));
        }
        Ok(())
    }
}
