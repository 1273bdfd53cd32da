//! A stand-in Zammad: the REST endpoints ticketlens uses, answering as Zammad's API
//! documentation describes them (docs.zammad.org, "API" section: tickets with `expand=true`,
//! articles by ticket, tags, links, priorities, condition search), holding its tickets in
//! memory. Not Zammad: what it does not model (permissions beyond the token, core workflow,
//! Elasticsearch) it does not check. Faults can be queued to answer a request with a status,
//! before or after doing what it asked.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use axum::extract::{Path, Query, State};
use axum::http::{Method, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use chrono::{DateTime, Duration, Utc};
use serde_json::{json, Value};

pub const TOKEN: &str = "stand-in-token";
/// The API user ticketlens acts as.
pub const API_USER: i64 = 3;

/// A queued fault: the next request matching `method` and `path` (a prefix) is answered
/// with `status`, either instead of being done (`after_write: false`) or after it was done
/// (the answer is lost on the way: the write happened, the caller does not know).
#[derive(Debug, Clone)]
pub struct Fault {
    pub method: Method,
    pub path: &'static str,
    pub status: u16,
    pub after_write: bool,
}

#[derive(Debug, Default)]
pub struct Desk {
    pub tickets: BTreeMap<i64, Value>,
    pub articles: Vec<Value>,
    pub tags: BTreeMap<i64, Vec<String>>,
    /// (parent, child).
    pub links: Vec<(i64, i64)>,
    /// "METHOD path" of every request, in order.
    pub requests: Vec<String>,
    pub faults: Vec<Fault>,
    /// How many days before now the next change is stamped.
    pub days_ago: i64,
    clock: i64,
}

pub type Shared = Arc<Mutex<Desk>>;

/// A closed or open ticket to seed.
pub struct Seed<'a> {
    pub title: &'a str,
    pub body: &'a str,
    pub state: &'a str,
    pub priority: &'a str,
    pub category: Option<&'a str>,
    pub customer: i64,
    pub resolution: Option<&'a str>,
}

impl Desk {
    fn now(&mut self) -> String {
        // An hour before `days_ago` and on, a second per change, always later than the
        // change before.
        self.clock += 1;
        let start = Utc::now() - Duration::days(self.days_ago) - Duration::hours(1);
        stamp(start + Duration::seconds(self.clock))
    }

    /// Adds a ticket as its customer files it (and, closed, as an agent answered it).
    pub fn add(&mut self, seed: &Seed) -> i64 {
        let id = self.tickets.keys().last().copied().unwrap_or(0) + 1;
        let now = self.now();
        let priority_id = priority_id(seed.priority);
        let mut ticket = json!({
            "id": id, "number": format!("{}", 31000 + id), "title": seed.title,
            "group_id": 1, "group": "Users", "state": seed.state, "state_id": 1,
            "priority": seed.priority, "priority_id": priority_id,
            "owner_id": 1, "owner": "-", "customer_id": seed.customer,
            "customer": format!("user{}@example.com", seed.customer),
            "created_by_id": seed.customer, "updated_by_id": seed.customer,
            "created_at": now, "updated_at": now, "close_at": null, "article_count": 1,
            "category": seed.category,
        });
        self.article(id, seed.body, "Customer", false, "web");
        if let Some(resolution) = seed.resolution {
            self.article(id, resolution, "Agent", false, "email");
            ticket["owner_id"] = json!(5);
            ticket["updated_by_id"] = json!(5);
            ticket["close_at"] = json!(now);
        }
        self.tickets.insert(id, ticket);
        id
    }

    fn article(
        &mut self,
        ticket: i64,
        body: &str,
        sender: &str,
        internal: bool,
        kind: &str,
    ) -> Value {
        let id = self.articles.len() as i64 + 1;
        let now = self.now();
        let article = json!({
            "id": id, "ticket_id": ticket, "type": kind, "sender": sender,
            "subject": null, "body": body, "content_type": "text/html", "internal": internal,
            "created_at": now, "updated_at": now,
        });
        self.articles.push(article.clone());
        article
    }

    /// An agent changes a ticket in Zammad's own screen.
    pub fn agent_sets(&mut self, ticket: i64, key: &str, value: Value) {
        let now = self.now();
        let t = self.tickets.get_mut(&ticket).unwrap();
        t[key] = value;
        t["updated_by_id"] = json!(5);
        t["updated_at"] = json!(now);
    }

    /// The internal notes on a ticket.
    pub fn notes(&self, ticket: i64) -> Vec<&Value> {
        self.articles
            .iter()
            .filter(|a| a["ticket_id"] == json!(ticket) && a["internal"] == json!(true))
            .collect()
    }

    /// Requests that wrote something (every method but GET, and POST but the search).
    pub fn writes(&self) -> Vec<&String> {
        self.requests
            .iter()
            .filter(|r| !r.starts_with("GET ") && !r.starts_with("POST /api/v1/tickets/search"))
            .collect()
    }

    fn take_fault(&mut self, method: &Method, path: &str) -> Option<Fault> {
        let i = self
            .faults
            .iter()
            .position(|f| f.method == method && path.starts_with(f.path))?;
        Some(self.faults.remove(i))
    }
}

fn stamp(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true)
}

fn priority_id(name: &str) -> i64 {
    name[..1].parse().unwrap_or(2)
}

fn error(status: StatusCode, message: &str) -> Response {
    (
        status,
        Json(json!({ "error": message, "error_human": message })),
    )
        .into_response()
}

/// Serves `desk` on a free local port; returns its address.
pub async fn serve(desk: Shared) -> String {
    let app = Router::new()
        .route(
            "/api/v1/users/me",
            get(|| async { Json(json!({"id": API_USER, "login": "ticketlens"})) }),
        )
        .route("/api/v1/tickets/search", post(search))
        .route("/api/v1/tickets", post(create_ticket))
        .route("/api/v1/tickets/{id}", get(show_ticket).put(update_ticket))
        .route("/api/v1/ticket_articles/by_ticket/{id}", get(articles))
        .route("/api/v1/ticket_articles", post(create_article))
        .route("/api/v1/tags", get(tags))
        .route("/api/v1/tags/add", post(add_tag))
        .route("/api/v1/links", get(links))
        .route("/api/v1/links/add", post(add_link))
        .route(
            "/api/v1/ticket_priorities",
            get(|| async {
                Json(json!([
                    {"id": 1, "name": "1 low", "active": true, "default_create": false},
                    {"id": 2, "name": "2 normal", "active": true, "default_create": true},
                    {"id": 3, "name": "3 high", "active": true, "default_create": false},
                ]))
            }),
        )
        .layer(axum::middleware::from_fn_with_state(desk.clone(), gate))
        .with_state(desk);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    format!("http://{address}")
}

/// The token, the request log and queued faults, for every endpoint.
async fn gate(
    State(desk): State<Shared>,
    request: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let method = request.method().clone();
    let uri: Uri = request.uri().clone();
    let fault = {
        let mut d = desk.lock().unwrap();
        d.requests.push(format!("{method} {}", uri.path()));
        d.take_fault(&method, uri.path())
    };
    let authorized = request
        .headers()
        .get("authorization")
        .and_then(|v| v.to_str().ok())
        == Some(&format!("Token token={TOKEN}"));
    if !authorized {
        return error(StatusCode::UNAUTHORIZED, "authentication failed");
    }
    match fault {
        Some(f) if !f.after_write => error(StatusCode::from_u16(f.status).unwrap(), "fault"),
        Some(f) => {
            let _ = next.run(request).await;
            error(StatusCode::from_u16(f.status).unwrap(), "fault after write")
        }
        None => next.run(request).await,
    }
}

/// Condition search on `ticket.updated_at` ("after (absolute)") or `ticket.tags`
/// ("contains all", one tag), sorted, paged.
async fn search(State(desk): State<Shared>, Json(body): Json<Value>) -> Response {
    let d = desk.lock().unwrap();
    if let Some(tag) = body["condition"]["ticket.tags"]["value"].as_str() {
        let found: Vec<Value> = d
            .tags
            .iter()
            .filter(|(_, tags)| tags.iter().any(|t| t == tag))
            .filter_map(|(id, _)| d.tickets.get(id).cloned())
            .collect();
        return Json(Value::Array(found)).into_response();
    }
    let after = body["condition"]["ticket.updated_at"]["value"]
        .as_str()
        .and_then(|v| DateTime::parse_from_rfc3339(v).ok())
        .map(|t| t.with_timezone(&Utc));
    let mut found: Vec<&Value> = d
        .tickets
        .values()
        .filter(|t| {
            let updated = DateTime::parse_from_rfc3339(t["updated_at"].as_str().unwrap()).unwrap();
            after.is_none_or(|a| updated > a)
        })
        .collect();
    found.sort_by_key(|t| {
        (
            t["updated_at"].as_str().unwrap().to_owned(),
            t["id"].as_i64(),
        )
    });
    let page = body["page"].as_u64().unwrap_or(1) as usize;
    let per_page = body["per_page"].as_u64().unwrap_or(50).min(200) as usize;
    let page: Vec<Value> = found
        .into_iter()
        .skip((page - 1) * per_page)
        .take(per_page)
        .cloned()
        .collect();
    Json(Value::Array(page)).into_response()
}

async fn show_ticket(State(desk): State<Shared>, Path(id): Path<i64>) -> Response {
    let d = desk.lock().unwrap();
    match d.tickets.get(&id) {
        Some(t) => Json(t.clone()).into_response(),
        None => error(
            StatusCode::NOT_FOUND,
            &format!("Couldn't find Ticket with 'id'={id}"),
        ),
    }
}

async fn update_ticket(
    State(desk): State<Shared>,
    Path(id): Path<i64>,
    Json(body): Json<Value>,
) -> Response {
    let mut d = desk.lock().unwrap();
    let now = d.now();
    let Some(t) = d.tickets.get_mut(&id) else {
        return error(StatusCode::NOT_FOUND, "not found");
    };
    for (key, value) in body.as_object().unwrap() {
        if key == "priority" {
            t["priority_id"] = json!(priority_id(value.as_str().unwrap()));
        }
        t[key.as_str()] = value.clone();
    }
    t["updated_by_id"] = json!(API_USER);
    t["updated_at"] = json!(now);
    Json(t.clone()).into_response()
}

async fn create_ticket(State(desk): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut d = desk.lock().unwrap();
    let id = d.add(&Seed {
        title: body["title"].as_str().unwrap_or(""),
        body: body["article"]["body"].as_str().unwrap_or(""),
        state: "new",
        priority: "2 normal",
        category: None,
        customer: 50,
        resolution: None,
    });
    // The first article is the agent's internal note, as asked.
    let article = d.articles.last_mut().unwrap();
    article["internal"] = body["article"]["internal"].clone();
    article["type"] = json!("note");
    article["sender"] = json!("Agent");
    if let Some(tags) = body["tags"].as_str() {
        let tags = tags.split(',').map(|t| t.trim().to_owned()).collect();
        d.tags.insert(id, tags);
    }
    let t = d.tickets.get_mut(&id).unwrap();
    t["group"] = body["group"].clone();
    t["created_by_id"] = json!(API_USER);
    t["updated_by_id"] = json!(API_USER);
    (StatusCode::CREATED, Json(t.clone())).into_response()
}

async fn articles(State(desk): State<Shared>, Path(id): Path<i64>) -> Response {
    let d = desk.lock().unwrap();
    if !d.tickets.contains_key(&id) {
        return error(StatusCode::NOT_FOUND, "not found");
    }
    let list: Vec<Value> = d
        .articles
        .iter()
        .filter(|a| a["ticket_id"] == json!(id))
        .cloned()
        .collect();
    Json(Value::Array(list)).into_response()
}

async fn create_article(State(desk): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut d = desk.lock().unwrap();
    let ticket = body["ticket_id"].as_i64().unwrap();
    if !d.tickets.contains_key(&ticket) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "no such ticket");
    }
    let internal = body["internal"].as_bool().unwrap_or(false);
    let article = d.article(
        ticket,
        body["body"].as_str().unwrap_or(""),
        "Agent",
        internal,
        "note",
    );
    let now = d.now();
    d.tickets.get_mut(&ticket).unwrap()["updated_at"] = json!(now);
    (StatusCode::CREATED, Json(article)).into_response()
}

async fn tags(
    State(desk): State<Shared>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let d = desk.lock().unwrap();
    let id: i64 = params["o_id"].parse().unwrap();
    Json(json!({ "tags": d.tags.get(&id).cloned().unwrap_or_default() })).into_response()
}

async fn add_tag(State(desk): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut d = desk.lock().unwrap();
    let id = body["o_id"].as_i64().unwrap();
    let tag = body["item"].as_str().unwrap().to_owned();
    let tags = d.tags.entry(id).or_default();
    if !tags.contains(&tag) {
        tags.push(tag);
    }
    (StatusCode::CREATED, Json(json!(true))).into_response()
}

/// Each linked ticket's role relative to the one asked about.
async fn links(
    State(desk): State<Shared>,
    Query(params): Query<BTreeMap<String, String>>,
) -> Response {
    let d = desk.lock().unwrap();
    let id: i64 = params["link_object_value"].parse().unwrap();
    let mut links = Vec::new();
    for &(parent, child) in &d.links {
        if parent == id {
            links.push(
                json!({"link_type": "child", "link_object": "Ticket", "link_object_value": child}),
            );
        }
        if child == id {
            links.push(json!({"link_type": "parent", "link_object": "Ticket", "link_object_value": parent}));
        }
    }
    Json(json!({ "links": links, "assets": {} })).into_response()
}

/// `(type, source, target)`: "source is target's type".
async fn add_link(State(desk): State<Shared>, Json(body): Json<Value>) -> Response {
    let mut d = desk.lock().unwrap();
    let number = body["link_object_source_number"].as_str().unwrap_or("");
    let Some(source) = d
        .tickets
        .values()
        .find(|t| t["number"] == json!(number))
        .and_then(|t| t["id"].as_i64())
    else {
        return error(
            StatusCode::UNPROCESSABLE_ENTITY,
            "The object could not be found.",
        );
    };
    let target = body["link_object_target_value"].as_i64().unwrap();
    let link = match body["link_type"].as_str() {
        Some("parent") => (source, target),
        Some("child") => (target, source),
        _ => return error(StatusCode::UNPROCESSABLE_ENTITY, "unsupported link type"),
    };
    if d.links.contains(&link) {
        return error(StatusCode::UNPROCESSABLE_ENTITY, "Link already exists");
    }
    d.links.push(link);
    (StatusCode::CREATED, Json(json!({"id": d.links.len()}))).into_response()
}
