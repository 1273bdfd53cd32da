//! A GLPI database as the tests need it: categories, the priority matrix, knowledge-base items
//! and closed tickets, with each text stored in the form of the GLPI that wrote it, and the
//! readers that check what ticketlens wrote.

use std::path::Path;

use sqlx::{MySqlPool, Row};
use ticketlens::store::Store;

use crate::common::GlpiDb;

/// GLPI's category ids in the fixture.
pub const NETWORK_VPN: i64 = 2;
pub const ACCOUNTS: i64 = 4;
pub const VPN_FAQ: i64 = 1;
/// More reports of the same VPN trouble: with a first one, enough for a candidate problem.
pub const MORE_VPN: [&str; 3] = [
    "VPN disconnects again and again",
    "VPN keeps dropping when I work from home",
    "My VPN connection drops every ten minutes",
];

pub const HISTORY: [(i64, i64, [&str; 6]); 3] = [
    (
        NETWORK_VPN,
        4,
        [
            "VPN keeps disconnecting",
            "Cannot connect to the VPN from home",
            "VPN drops every few minutes",
            "VPN client says authentication timeout",
            "VPN very slow when working remotely",
            "VPN tunnel closes after login",
        ],
    ),
    (
        3,
        2,
        [
            "Printer on floor 2 is jammed",
            "Printer shows offline",
            "Toner empty on the big printer",
            "Scanner does not send to e-mail",
            "Print queue stuck with old jobs",
            "Printing is very slow",
        ],
    ),
    (
        ACCOUNTS,
        3,
        [
            "Password expired, cannot log in",
            "Account locked after too many attempts",
            "Need access to the finance shared folder",
            "MFA prompt never arrives on my phone",
            "Please reset my password",
            "No permission to open the HR site",
        ],
    ),
];
pub const CONTEXT: [&str; 4] = [
    "since this morning",
    "again today",
    "for the whole week",
    "after the update",
];

/// How a GLPI stored a text: GLPI 10 with `<`, `>` and `&` as numeric entities, 9.5 and older
/// with `&lt;` and `&gt;`, GLPI 11 raw.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Stored {
    Encoded,
    Legacy,
    Raw,
}

impl Stored {
    pub fn html(self, html: &str) -> String {
        match self {
            Stored::Encoded => html
                .replace('&', "&#38;")
                .replace('<', "&#60;")
                .replace('>', "&#62;"),
            Stored::Legacy => html.replace('<', "&lt;").replace('>', "&gt;"),
            Stored::Raw => html.to_owned(),
        }
    }
}

pub async fn exec(pool: &MySqlPool, sql: &str) {
    sqlx::raw_sql(sql).execute(pool).await.unwrap();
}

/// Adds a ticket as GLPI does (with the history row of its creation); returns its id.
pub async fn add_ticket(pool: &MySqlPool, ticket: &GlpiTicket<'_>) -> i64 {
    let id = sqlx::query(
        "INSERT INTO glpi_tickets (name, content, status, type, urgency, impact, priority, \
         itilcategories_id, users_id_recipient, date, date_mod, date_creation, solvedate) \
         VALUES (?, ?, ?, 1, ?, 3, ?, ?, ?, NOW() - INTERVAL ? DAY, NOW() - INTERVAL ? DAY, \
         NOW() - INTERVAL ? DAY, IF(? >= 5, NOW() - INTERVAL ? DAY, NULL))",
    )
    .bind(ticket.stored.html(ticket.name))
    .bind(ticket.stored.html(&format!("<p>{}</p>", ticket.content)))
    .bind(ticket.status)
    .bind(ticket.urgency)
    .bind(ticket.urgency)
    .bind(ticket.category)
    .bind(ticket.requester)
    .bind(ticket.age_days)
    .bind(ticket.age_days)
    .bind(ticket.age_days)
    .bind(ticket.status)
    .bind(ticket.age_days)
    .execute(pool)
    .await
    .unwrap()
    .last_insert_id() as i64;
    sqlx::query(
        "INSERT INTO glpi_logs (itemtype, items_id, itemtype_link, linked_action, user_name, \
         date_mod, id_search_option, old_value, new_value) \
         VALUES ('Ticket', ?, '0', 20, 'glpi (2)', NOW(), 0, '', '')",
    )
    .bind(id)
    .execute(pool)
    .await
    .unwrap();
    if let Some(solution) = ticket.solution {
        sqlx::query(
            "INSERT INTO glpi_itilsolutions (itemtype, items_id, content, date_creation, \
             users_id, status) VALUES ('Ticket', ?, ?, NOW(), 2, 3)",
        )
        .bind(id)
        .bind(ticket.stored.html(&format!("<p>{solution}</p>")))
        .execute(pool)
        .await
        .unwrap();
    }
    id
}

/// The history row GLPI writes when an agent changes a ticket field (`option` is the field's
/// search option).
pub async fn agent_changed(pool: &MySqlPool, ticket: i64, option: i64, old: &str, new: &str) {
    sqlx::query(
        "INSERT INTO glpi_logs (itemtype, items_id, linked_action, user_name, date_mod, \
         id_search_option, old_value, new_value) \
         VALUES ('Ticket', ?, 0, 'Tech One (5)', NOW(), ?, ?, ?)",
    )
    .bind(ticket)
    .bind(option)
    .bind(old)
    .bind(new)
    .execute(pool)
    .await
    .unwrap();
}

pub struct GlpiTicket<'a> {
    pub name: &'a str,
    pub content: &'a str,
    pub status: i64,
    pub urgency: i64,
    pub category: i64,
    pub requester: i64,
    pub age_days: i64,
    pub solution: Option<&'a str>,
    pub stored: Stored,
}

impl<'a> GlpiTicket<'a> {
    pub fn new_incident(name: &'a str, content: &'a str, requester: i64) -> Self {
        GlpiTicket {
            name,
            content,
            status: 1,
            urgency: 3,
            category: 0,
            requester,
            age_days: 0,
            solution: None,
            stored: Stored::Encoded,
        }
    }
}

/// GLPI 10 with categories, the default priority matrix, two knowledge-base items (one FAQ)
/// and 72 closed tickets with their category, urgency and solution.
pub async fn seeded_glpi() -> (GlpiDb, MySqlPool) {
    seeded(GlpiDb::new().await, Stored::Encoded).await
}

/// The same history in `db`, every text stored as `stored`.
pub async fn seeded(db: GlpiDb, stored: Stored) -> (GlpiDb, MySqlPool) {
    let pool = MySqlPool::connect(&db.url()).await.unwrap();
    // A full name's parts are stored each in the version's form, its " > " raw.
    for (id, parent, path) in [
        (1, 0, &["Network"][..]),
        (2, 1, &["Network", "VPN"][..]),
        (3, 0, &["Printing"][..]),
        (ACCOUNTS, 0, &["Accounts & Access"][..]),
    ] {
        let parts: Vec<String> = path.iter().map(|p| stored.html(p)).collect();
        sqlx::query(
            "INSERT INTO glpi_itilcategories (id, itilcategories_id, name, completename, level) \
             VALUES (?, ?, ?, ?, ?)",
        )
        .bind(id)
        .bind(parent)
        .bind(parts.last().unwrap())
        .bind(parts.join(" > "))
        .bind(parts.len() as i64)
        .execute(&pool)
        .await
        .unwrap();
    }
    exec(
        &pool,
        "INSERT INTO glpi_configs (context, name, value) VALUES ('core', 'priority_matrix', \
         '{\"1\":{\"1\":1,\"2\":1,\"3\":2,\"4\":2,\"5\":2},\"2\":{\"1\":1,\"2\":2,\"3\":2,\"4\":3,\"5\":3},\
         \"3\":{\"1\":2,\"2\":2,\"3\":3,\"4\":4,\"5\":4},\"4\":{\"1\":2,\"2\":3,\"3\":4,\"4\":4,\"5\":5},\
         \"5\":{\"1\":2,\"2\":3,\"3\":4,\"4\":5,\"5\":5}}');",
    )
    .await;
    for (id, name, answer, faq) in [
        (
            VPN_FAQ,
            "Connect to the VPN from home",
            "<p>Open the VPN client, choose &quot;Office&quot; and sign in again when the \
             VPN keeps disconnecting.</p>",
            1,
        ),
        (
            2,
            "Reset a stuck print queue (runbook)",
            "<p>On the print server, stop the spooler and clear the queue.</p>",
            0,
        ),
    ] {
        sqlx::query(
            "INSERT INTO glpi_knowbaseitems (id, name, answer, is_faq, date_creation, date_mod) \
             VALUES (?, ?, ?, ?, NOW(), NOW())",
        )
        .bind(id)
        .bind(stored.html(name))
        .bind(stored.html(answer))
        .bind(faq)
        .execute(&pool)
        .await
        .unwrap();
    }
    let mut n = 0;
    for (category, urgency, subjects) in HISTORY {
        for i in 0..24 {
            n += 1;
            let name = format!("{} {}", subjects[i % 6], CONTEXT[(i / 6) % 4]);
            let ticket = GlpiTicket {
                name: &name,
                content: "Reported through the portal.",
                status: 6,
                urgency,
                category,
                requester: 100 + n,
                age_days: 40,
                solution: Some("Fixed it with the user & closed."),
                stored,
            };
            add_ticket(&pool, &ticket).await;
        }
    }
    (db, pool)
}

pub fn pipeline_file(dir: &Path, glpi: &GlpiDb, extra: &str) -> std::path::PathBuf {
    let path = dir.join("glpi.toml");
    std::fs::write(
        &path,
        format!(
            "name = \"glpi\"\n[store]\nurl = \"sqlite://{}\"\n\
             [system]\nkind = \"glpi\"\nurl = \"{}\"\nwrite_urgency = true\n{extra}",
            dir.join("state.db").display(),
            glpi.url()
        ),
    )
    .unwrap();
    path
}

pub async fn count(pool: &MySqlPool, sql: &str) -> i64 {
    sqlx::query_scalar(sql).fetch_one(pool).await.unwrap()
}

/// (id_search_option, old, new) of the field changes ticketlens logged on a ticket.
pub async fn field_logs(pool: &MySqlPool, ticket: i64) -> Vec<(i64, String, String)> {
    sqlx::query_as(
        "SELECT CAST(id_search_option AS SIGNED), old_value, new_value FROM glpi_logs \
         WHERE itemtype = 'Ticket' AND items_id = ? AND user_name = 'ticketlens' \
         AND linked_action = 0 ORDER BY id",
    )
    .bind(ticket)
    .fetch_all(pool)
    .await
    .unwrap()
}

/// (category, urgency, priority) of a GLPI ticket.
pub async fn fields(pool: &MySqlPool, ticket: i64) -> (i64, i64, i64) {
    sqlx::query_as(
        "SELECT CAST(itilcategories_id AS SIGNED), CAST(urgency AS SIGNED), \
         CAST(priority AS SIGNED) FROM glpi_tickets WHERE id = ?",
    )
    .bind(ticket)
    .fetch_one(pool)
    .await
    .unwrap()
}

/// (category, category status, urgency, urgency status) as ticketlens recorded them.
pub async fn recorded(
    store: &Store,
    ticket: i64,
) -> (Option<String>, String, Option<String>, String) {
    let row = sqlx::query(
        "SELECT category, category_status, urgency, urgency_status FROM triage_results \
         WHERE ticket_id = ?",
    )
    .bind(ticket)
    .fetch_one(store.pool())
    .await
    .unwrap();
    (row.get(0), row.get(1), row.get(2), row.get(3))
}

/// Rows in the tables ticketlens writes to.
pub async fn glpi_counts(pool: &MySqlPool) -> Vec<i64> {
    let mut out = Vec::new();
    for table in [
        "glpi_itilfollowups",
        "glpi_logs",
        "glpi_knowbaseitems_items",
        "glpi_problems",
        "glpi_problems_tickets",
        "ticketlens_written",
        "ticketlens_problems",
        "ticketlens_problem_tickets",
    ] {
        // ticketlens' own table appears when ticketlens first connects.
        let exists = count(
            pool,
            &format!(
                "SELECT COUNT(*) FROM information_schema.tables \
                 WHERE table_schema = DATABASE() AND table_name = '{table}'"
            ),
        )
        .await;
        let rows = if exists == 1 {
            count(pool, &format!("SELECT COUNT(*) FROM {table}")).await
        } else {
            0
        };
        out.push(rows);
    }
    let changed: i64 = count(
        pool,
        "SELECT CAST(COALESCE(SUM(itilcategories_id + urgency * 10 + priority * 100), 0) \
         AS SIGNED) FROM glpi_tickets",
    )
    .await;
    out.push(changed);
    out
}
