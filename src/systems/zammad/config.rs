use serde::Deserialize;

/// `[system] kind = "zammad"`: which Zammad, how to reach it, and what ticketlens writes back.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct ZammadConfig {
    /// Zammad's address, `https://helpdesk.example.com` (the API is under `/api/v1`).
    pub url: String,
    /// An API token of a Zammad user with `ticket.agent` on the groups to triage (and
    /// `knowledge_base.reader` for the knowledge base). Sent as `Authorization: Token token=…`.
    /// Leave empty to read it from the environment variable `TICKETLENS_ZAMMAD_TOKEN`.
    pub token: String,
    /// The ticket attribute that holds the category: a select field added in Zammad's object
    /// manager (Zammad has none of its own). Read as the ticket's label, and set by triage
    /// where it is empty. Empty: categories are read from and written as tags (`category_tag`).
    pub category_field: String,
    /// With no `category_field`: the tag prefix that names a ticket's category
    /// (`category:Network`).
    pub category_tag: String,
    /// Set the priority of new tickets that no agent has changed (still at Zammad's default,
    /// unassigned, never updated by anyone but their creator). Off by default: the team
    /// decides whether triage may set it.
    pub write_priority: bool,
    /// Add one internal note to each triaged ticket: the decision, the confidence, the
    /// evidence and the suggested articles and tickets, for the agents.
    pub notes: bool,
    /// Create each candidate problem as a ticket in `problem_group`, its incidents linked to
    /// it as children.
    pub problems: bool,
    /// The group a candidate problem's ticket is filed in.
    pub problem_group: String,
    /// The customer a candidate problem's ticket is filed for (an e-mail address Zammad
    /// knows, or creates): usually the API user's own.
    pub problem_customer: String,
    /// Ticket changes read again on every pass, in seconds before the latest change seen.
    pub overlap_secs: u64,
    /// Tickets asked for per page (Zammad answers at most 100).
    pub page_size: u32,
    /// How long one request may take, in seconds; a request that timed out is retried.
    pub timeout_secs: u64,
    /// The secret of Zammad's webhook (its "HMAC SHA1 signature token"): with it,
    /// `POST /v1/hooks/zammad` accepts Zammad's calls (checked against `X-Hub-Signature`) and
    /// reads the ticket they name at once. Empty: the route refuses every call, and polling
    /// alone finds changes.
    pub webhook_secret: String,
}

impl Default for ZammadConfig {
    fn default() -> Self {
        Self {
            url: String::new(),
            token: String::new(),
            category_field: "category".into(),
            category_tag: "category:".into(),
            write_priority: false,
            notes: true,
            problems: true,
            problem_group: "Users".into(),
            problem_customer: String::new(),
            overlap_secs: 300,
            page_size: 100,
            timeout_secs: 30,
            webhook_secret: String::new(),
        }
    }
}

/// The environment variable the token is read from when the file leaves it empty.
pub const TOKEN_VARIABLE: &str = "TICKETLENS_ZAMMAD_TOKEN";

impl ZammadConfig {
    pub fn validate(&self) -> Result<(), String> {
        if !(self.url.starts_with("https://") || self.url.starts_with("http://")) {
            return Err(format!(
                "system.url must be Zammad's address, https://HOST{}",
                if self.url.is_empty() {
                    String::new()
                } else {
                    format!(", not {:?}", self.url)
                }
            ));
        }
        if !(1..=100).contains(&self.page_size) {
            return Err("system.page_size must be 1 to 100 (Zammad's largest page)".into());
        }
        if self.problems && self.problem_customer.trim().is_empty() {
            return Err(
                "system.problem_customer is empty: a candidate problem's ticket needs a customer \
                 (or set system.problems = false)"
                    .into(),
            );
        }
        Ok(())
    }

    /// The token: the file's, else the environment's.
    pub fn token(&self) -> String {
        if self.token.is_empty() {
            std::env::var(TOKEN_VARIABLE).unwrap_or_default()
        } else {
            self.token.clone()
        }
    }
}
