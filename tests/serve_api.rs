//! The HTTP API over a demo store with the real model, called in process (and over a real
//! loopback connection where connections matter): the OpenAPI file against the real routes,
//! the token on the agent side, answer tokens, limits per client and JSON errors, and what the
//! calls change in the store.

mod common;

use std::collections::BTreeSet;
use std::net::SocketAddr;

use axum::body::Body;
use axum::extract::ConnectInfo;
use axum::http::{header, Method, Request, StatusCode};
use axum::Router;
use serde_json::{json, Value};
use tower::ServiceExt;

use ticketlens::serve::{self, Access, ServeConfig};
use ticketlens::store::Store;

const TOKEN: &str = "agent-token-for-tests";

struct App {
    router: Router,
    store: Store,
    _dir: tempfile::TempDir,
}

async fn app_with(config: impl FnOnce(&mut ServeConfig)) -> App {
    let dir = tempfile::tempdir().unwrap();
    let (state, serve_config, store) = common::demo_server(dir.path(), TOKEN, config).await;
    App {
        router: serve::router(state, &serve_config),
        store,
        _dir: dir,
    }
}

async fn app() -> App {
    app_with(|_| {}).await
}

impl App {
    async fn call(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<Value>,
    ) -> (StatusCode, Value) {
        let (status, _, bytes) = self
            .raw(method, path, token, body.map(|b| b.to_string()))
            .await;
        let value = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
        (status, value)
    }

    async fn raw(
        &self,
        method: Method,
        path: &str,
        token: Option<&str>,
        body: Option<String>,
    ) -> (StatusCode, axum::http::HeaderMap, Vec<u8>) {
        let mut request = Request::builder().method(method).uri(path);
        if let Some(token) = token {
            request = request.header(header::AUTHORIZATION, format!("Bearer {token}"));
        }
        if body.is_some() {
            request = request.header(header::CONTENT_TYPE, "application/json");
        }
        let request = request
            .body(body.map_or(Body::empty(), Body::from))
            .unwrap();
        let response = self.router.clone().oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, 1 << 24).await.unwrap().to_vec();
        (parts.status, parts.headers, bytes)
    }
}

fn error_code(body: &Value) -> &str {
    body["error"]["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn the_openapi_file_documents_exactly_the_routes_that_answer() {
    let spec: Value = serde_json::from_str(include_str!("../src/serve/openapi.json")).unwrap();
    let documented: BTreeSet<(String, String)> = spec["paths"]
        .as_object()
        .unwrap()
        .iter()
        .flat_map(|(path, item)| {
            item.as_object()
                .unwrap()
                .keys()
                .map(move |method| (method.to_uppercase(), path.clone()))
        })
        .collect();
    let routes: BTreeSet<(String, String)> = serve::api_routes()
        .iter()
        .map(|r| (r.method.to_string(), r.path.to_owned()))
        .collect();
    assert_eq!(documented, routes);

    // Each documented route is served: never "no such endpoint" nor a wrong method.
    let app = app().await;
    for (method, path) in &documented {
        let path = path.replace("{id}", "1");
        let method = Method::from_bytes(method.as_bytes()).unwrap();
        let body = (method == Method::POST).then(|| json!({}));
        let (status, body) = app.call(method.clone(), &path, Some(TOKEN), body).await;
        assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
        assert_ne!(error_code(&body), "no_route", "{method} {path}: {body}");
    }
    let (status, headers, page) = app.raw(Method::GET, "/", None, None).await;
    assert_eq!(status, StatusCode::OK);
    assert!(String::from_utf8(page).unwrap().contains("Before you file"));
    assert!(headers[header::CONTENT_SECURITY_POLICY]
        .to_str()
        .unwrap()
        .contains("default-src 'self'"));
    let (status, body) = app.call(Method::GET, "/v1/nothing", None, None).await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "no_route")
    );
    let (status, body) = app
        .call(Method::DELETE, "/v1/problems", Some(TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::METHOD_NOT_ALLOWED, "{body}");
}

#[tokio::test]
async fn agent_endpoints_refuse_a_missing_or_wrong_token() {
    let app = app().await;
    for route in serve::api_routes()
        .iter()
        .filter(|r| r.access == Access::Agent)
    {
        let path = route.path.replace("{id}", "1");
        let body = (route.method == Method::POST).then(|| json!({ "text": "x", "into": 2 }));
        for token in [None, Some("wrong"), Some("agent-token-for-test")] {
            let (status, headers, bytes) = app
                .raw(
                    route.method.clone(),
                    &path,
                    token,
                    body.as_ref().map(Value::to_string),
                )
                .await;
            let body: Value = serde_json::from_slice(&bytes).unwrap();
            assert_eq!(status, StatusCode::UNAUTHORIZED, "{path} with {token:?}");
            assert_eq!(error_code(&body), "unauthorized");
            assert_eq!(headers[header::WWW_AUTHENTICATE], "Bearer");
        }
    }
    let (status, problems) = app
        .call(Method::GET, "/v1/problems", Some(TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    assert!(
        !problems.as_array().unwrap().is_empty(),
        "the demo has candidate problems"
    );
}

#[tokio::test]
async fn before_filing_answers_with_public_articles_and_records_feedback() {
    let app = app().await;
    let question = json!({ "text": "The VPN will not connect when I work from home" });
    let (status, answer) = app
        .call(Method::POST, "/v1/suggest", None, Some(question))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let articles = answer["articles"].as_array().unwrap();
    assert!(
        articles
            .iter()
            .any(|a| a["title"] == "Connect to the VPN from home (SkyGate)"),
        "{answer}"
    );
    for article in articles {
        let id = article["id"].as_i64().unwrap();
        assert!(
            app.store.public_article(id).await.unwrap().is_some(),
            "{article} is not public"
        );
    }
    let token = answer["answer"].as_str().unwrap();
    assert_eq!(token.len(), 32, "{answer}");
    assert!(
        answer.get("answer_id").is_none(),
        "no sequential id is handed out"
    );
    let feedback = json!({ "answer": token, "helped": true });
    let (status, _) = app
        .call(Method::POST, "/v1/suggest/feedback", None, Some(feedback))
        .await;
    assert_eq!(status, StatusCode::OK);
    let deflection = app.store.deflection().await.unwrap();
    assert_eq!((deflection.rated, deflection.helped), (1, 1));

    // A person still typing rewords the question: one answer, not one per pause.
    let first = json!({ "text": "printer", "refines": null });
    let (_, first) = app
        .call(Method::POST, "/v1/suggest", None, Some(first))
        .await;
    let reworded = json!({ "text": "printer shows offline", "refines": first["answer"] });
    let (_, reworded) = app
        .call(Method::POST, "/v1/suggest", None, Some(reworded))
        .await;
    assert_eq!(reworded["answer"], first["answer"]);
    assert_eq!(app.store.deflection().await.unwrap().asked, 2);
    // An answer that was rated stays as it was rated.
    let after_feedback = json!({ "text": "vpn from home", "refines": answer["answer"] });
    let (_, after_feedback) = app
        .call(Method::POST, "/v1/suggest", None, Some(after_feedback))
        .await;
    assert_ne!(after_feedback["answer"], answer["answer"]);
    assert_eq!(app.store.deflection().await.unwrap().asked, 3);
}

/// What one person was shown, as the store holds it.
async fn stored_answer(store: &Store, id: i64) -> (String, i64, Option<i64>) {
    sqlx::query_as("SELECT shown, query_chars, helped FROM public_answers WHERE id = ?")
        .bind(id)
        .fetch_one(store.pool())
        .await
        .unwrap()
}

#[tokio::test]
async fn nobody_can_reword_or_rate_another_persons_answer() {
    let app = app().await;
    let question = json!({ "text": "The VPN will not connect when I work from home" });
    let (status, mine) = app
        .call(Method::POST, "/v1/suggest", None, Some(question))
        .await;
    assert_eq!(status, StatusCode::OK, "{mine}");
    let id: i64 = sqlx::query_scalar("SELECT MAX(id) FROM public_answers")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    let before = stored_answer(&app.store, id).await;
    assert_ne!(before.0, "[]");

    // Sequential ids (this answer's, its neighbours') and made-up tokens reach nothing.
    let guesses = [
        json!(id),
        json!(id.to_string()),
        json!(1),
        json!("0".repeat(32)),
    ];
    for guess in &guesses {
        let forged = json!({ "text": "zz", "refines": guess });
        let (status, body) = app
            .call(Method::POST, "/v1/suggest", None, Some(forged))
            .await;
        assert!(
            status == StatusCode::OK || status == StatusCode::BAD_REQUEST,
            "{guess}: {status} {body}"
        );
        assert_ne!(body["answer"], mine["answer"], "{guess}");
        let rating = json!({ "answer": guess, "helped": false });
        let (status, body) = app
            .call(Method::POST, "/v1/suggest/feedback", None, Some(rating))
            .await;
        assert!(
            status == StatusCode::NOT_FOUND || status == StatusCode::BAD_REQUEST,
            "{guess}: {status} {body}"
        );
        assert!(body["error"]["message"].is_string(), "{body}");
    }
    assert_eq!(stored_answer(&app.store, id).await, before);
    assert_eq!(app.store.deflection().await.unwrap().rated, 0);

    // The asker's token still works for the asker.
    let rating = json!({ "answer": mine["answer"], "helped": true });
    let (status, _) = app
        .call(Method::POST, "/v1/suggest/feedback", None, Some(rating))
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(stored_answer(&app.store, id).await.2, Some(1));
}

#[tokio::test]
async fn bad_requests_get_json_errors_and_floods_are_limited() {
    let app = app_with(|c| c.max_body_bytes = 512).await;
    let huge = json!({ "text": "x".repeat(2000) }).to_string();
    let (status, _, bytes) = app
        .raw(Method::POST, "/v1/triage", Some(TOKEN), Some(huge))
        .await;
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large")
    );

    for (text, why) in [
        ("{\"text\": ", "malformed"),
        ("{\"text\": \"printer\", \"extra\": 1}", "unknown field"),
    ] {
        let (status, _, bytes) = app
            .raw(Method::POST, "/v1/triage", Some(TOKEN), Some(text.into()))
            .await;
        let body: Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(
            (status, error_code(&body)),
            (StatusCode::BAD_REQUEST, "bad_request"),
            "{why}"
        );
    }
    // Nothing to read is refused alike on both sides, and recorded nowhere.
    for text in ["", "   ", "<p> </p>", "<div><br></div>"] {
        for (path, token) in [("/v1/triage", Some(TOKEN)), ("/v1/suggest", None)] {
            let (status, body) = app
                .call(Method::POST, path, token, Some(json!({ "text": text })))
                .await;
            assert_eq!(
                (status, error_code(&body)),
                (StatusCode::BAD_REQUEST, "empty_text"),
                "{path} {text:?}: {body}"
            );
        }
    }
    assert_eq!(app.store.deflection().await.unwrap().asked, 0);
    let (status, body) = app
        .call(Method::GET, "/v1/problems/abc", Some(TOKEN), None)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::BAD_REQUEST, "bad_request")
    );

    // Three at once are allowed, the fourth within the minute is not.
    let app = app_with(|c| {
        c.public_burst = 3;
        c.public_per_minute = 1;
    })
    .await;
    let ask = || json!({ "text": "printer offline" });
    for _ in 0..3 {
        let (status, _) = app
            .call(Method::POST, "/v1/suggest", None, Some(ask()))
            .await;
        assert_eq!(status, StatusCode::OK);
    }
    let (status, headers, bytes) = app
        .raw(Method::POST, "/v1/suggest", None, Some(ask().to_string()))
        .await;
    let body: Value = serde_json::from_slice(&bytes).unwrap();
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::TOO_MANY_REQUESTS, "too_many_requests")
    );
    // One wait, said once: the message and Retry-After agree (a minute per request here).
    let wait: u64 = headers[header::RETRY_AFTER]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((1..=60).contains(&wait), "{wait}");
    assert_eq!(
        body["error"]["message"],
        format!("too many requests; try again in {wait} s")
    );
    // The agent side is not limited by the public quota.
    let (status, _) = app.call(Method::GET, "/v1/review", Some(TOKEN), None).await;
    assert_eq!(status, StatusCode::OK);
}

#[tokio::test]
async fn triage_answers_without_writing_and_tickets_show_their_latest_triage() {
    let app = app().await;
    let count = |store: Store| async move {
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM triage_results")
            .fetch_one(store.pool())
            .await
            .unwrap()
    };
    let before = count(app.store.clone()).await;
    let text = json!({ "text": "Laptop screen flickers and goes black when docked" });
    let (status, assessment) = app
        .call(Method::POST, "/v1/triage", Some(TOKEN), Some(text))
        .await;
    assert_eq!(status, StatusCode::OK, "{assessment}");
    assert_eq!(
        assessment["verdict"]["category"]["label"], "hardware",
        "{assessment}"
    );
    assert!(!assessment["verdict"]["evidence"]
        .as_array()
        .unwrap()
        .is_empty());
    // Why, against the class's threshold and its record on past tickets.
    let category = &assessment["verdict"]["category"];
    let reason = category["reason"].as_str().unwrap();
    assert!(reason.starts_with("hardware "), "{reason}");
    match category["basis"]["kind"].as_str().unwrap() {
        "threshold" => assert!(reason.contains("is applied from"), "{reason}"),
        "not_reliable" => assert!(reason.contains("never applied"), "{reason}"),
        other => panic!("the demo has a category model, not {other}"),
    }
    assert_eq!(
        count(app.store.clone()).await,
        before,
        "triage wrote something"
    );

    let (status, queue) = app
        .call(Method::GET, "/v1/review?limit=500", Some(TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK);
    let queue = queue.as_array().unwrap();
    assert!(!queue.is_empty(), "the demo leaves tickets for review");
    for item in queue {
        assert_eq!(item["outcome"], "needs_review", "{item}");
        assert!(["new", "open", "pending"].contains(&item["ticket_status"].as_str().unwrap()));
    }
    let id = queue[0]["ticket_id"].as_i64().unwrap();
    let (status, triage) = app
        .call(
            Method::GET,
            &format!("/v1/tickets/{id}/triage"),
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(triage["ticket_id"], id);
    assert!(triage["suggestions"].is_array(), "{triage}");

    // An agent sets the field for it: it stands as the ticket's own and leaves the queue.
    let field = if queue[0]["category"]["status"] == "needs_review" {
        "category"
    } else {
        "urgency"
    };
    let other = if field == "category" {
        "urgency"
    } else {
        "category"
    };
    let queue0_other = queue[0][other]["status"].as_str().unwrap().to_owned();
    let path = format!("/v1/tickets/{id}/fields");
    let set = |body: serde_json::Value| app.call(Method::POST, &path, Some(TOKEN), Some(body));
    let (status, _) = set(json!({ field: "network" })).await;
    assert_eq!(status, StatusCode::OK);
    let ticket = app.store.ticket(id).await.unwrap();
    let now = if field == "category" {
        ticket.category
    } else {
        ticket.urgency
    };
    assert_eq!(now.as_deref(), Some("network"));
    let (_, queue) = app
        .call(Method::GET, "/v1/review?limit=500", Some(TOKEN), None)
        .await;
    let still_listed = queue
        .as_array()
        .unwrap()
        .iter()
        .any(|t| t["ticket_id"] == id);
    let other_waits = ["needs_review", "shadow"].contains(&queue0_other.as_str());
    assert_eq!(
        still_listed, other_waits,
        "only a field still unset keeps it waiting"
    );
    for bad in [
        json!({}),
        json!({ field: " " }),
        json!({ "priority": "high" }),
    ] {
        let (status, body) = set(bad).await;
        assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    }
    let (status, body) = app
        .call(Method::GET, "/v1/tickets/987654/triage", Some(TOKEN), None)
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn problem_decisions_through_the_api_persist_in_the_store() {
    let app = app().await;
    let (_, problems) = app
        .call(Method::GET, "/v1/problems", Some(TOKEN), None)
        .await;
    let ids: Vec<i64> = problems
        .as_array()
        .unwrap()
        .iter()
        .map(|p| p["id"].as_i64().unwrap())
        .collect();
    assert!(ids.len() >= 3, "{problems}");
    let (a, b, c) = (ids[0], ids[1], ids[2]);

    let (status, accepted) = app
        .call(
            Method::POST,
            &format!("/v1/problems/{a}/accept"),
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(
        (status, accepted["status"].as_str()),
        (StatusCode::OK, Some("accepted"))
    );
    assert_eq!(
        app.store.problem(a).await.unwrap().problem.status,
        "accepted"
    );

    let (status, _) = app
        .call(
            Method::POST,
            &format!("/v1/problems/{b}/reject"),
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(
        app.store.problem(b).await.unwrap().problem.status,
        "rejected"
    );
    let (_, listed) = app
        .call(Method::GET, "/v1/problems", Some(TOKEN), None)
        .await;
    assert!(
        listed.as_array().unwrap().iter().all(|p| p["id"] != b),
        "rejected ones are hidden"
    );
    let (_, listed) = app
        .call(Method::GET, "/v1/problems?all=true", Some(TOKEN), None)
        .await;
    assert!(listed.as_array().unwrap().iter().any(|p| p["id"] == b));

    let size = |p: &Value| p["size"].as_i64().unwrap();
    let (_, before) = app
        .call(Method::GET, &format!("/v1/problems/{a}"), Some(TOKEN), None)
        .await;
    let (_, merged_away) = app
        .call(Method::GET, &format!("/v1/problems/{c}"), Some(TOKEN), None)
        .await;
    let merge = json!({ "into": a });
    let (status, into) = app
        .call(
            Method::POST,
            &format!("/v1/problems/{c}/merge"),
            Some(TOKEN),
            Some(merge),
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{into}");
    assert_eq!(size(&into), size(&before) + size(&merged_away));
    assert_eq!(app.store.problem(c).await.unwrap().merged_into, Some(a));

    let itself = json!({ "into": a });
    let (status, body) = app
        .call(
            Method::POST,
            &format!("/v1/problems/{a}/merge"),
            Some(TOKEN),
            Some(itself),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::CONFLICT, "conflict")
    );
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/problems/987654/accept",
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found")
    );
}

#[tokio::test]
async fn metrics_and_health_report_what_the_store_holds() {
    let app = app().await;
    let (status, health) = app.call(Method::GET, "/healthz", None, None).await;
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );

    app.call(
        Method::POST,
        "/v1/suggest",
        None,
        Some(json!({ "text": "toner is empty" })),
    )
    .await;
    let (status, _, bytes) = app.raw(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(bytes).unwrap();
    let value = |name: &str| -> f64 {
        text.lines()
            .find_map(|l| l.strip_prefix(name)?.strip_prefix(' ')?.parse().ok())
            .unwrap_or_else(|| panic!("{name} missing from:\n{text}"))
    };
    let triaged: i64 = sqlx::query_scalar("SELECT COUNT(DISTINCT ticket_id) FROM triage_results")
        .fetch_one(app.store.pool())
        .await
        .unwrap();
    assert_eq!(value("ticketlens_tickets_triaged"), triaged as f64);
    let open: i64 = sqlx::query_scalar(
        "SELECT COUNT(*) FROM problems WHERE status IN ('candidate', 'accepted')",
    )
    .fetch_one(app.store.pool())
    .await
    .unwrap();
    assert_eq!(value("ticketlens_problems_open"), open as f64);
    assert_eq!(
        value("ticketlens_queue_depth"),
        0.0,
        "the demo drained its store"
    );
    assert!(value("ticketlens_embedding_batch_size_count") >= 1.0);
    assert!(value("ticketlens_tickets_needs_review") >= value("ticketlens_review_queue"));
    assert_eq!(value("ticketlens_store_up"), 1.0);
    assert_eq!(value("ticketlens_tickets_unreadable"), 0.0);

    // The store goes away: /metrics still answers, and says so.
    app.store.pool().close().await;
    let (status, _, bytes) = app.raw(Method::GET, "/metrics", None, None).await;
    assert_eq!(status, StatusCode::OK);
    let text = String::from_utf8(bytes).unwrap();
    assert!(text.lines().any(|l| l == "ticketlens_store_up 0"), "{text}");
}

#[tokio::test]
async fn the_bearer_scheme_is_case_insensitive_and_the_token_exact() {
    let app = app().await;
    let review = |authorization: String| {
        let request = Request::builder()
            .uri("/v1/review")
            .header(header::AUTHORIZATION, authorization)
            .body(Body::empty())
            .unwrap();
        let router = app.router.clone();
        async move { router.oneshot(request).await.unwrap().status() }
    };
    for scheme in ["Bearer", "bearer", "BEARER"] {
        assert_eq!(
            review(format!("{scheme} {TOKEN}")).await,
            StatusCode::OK,
            "{scheme}"
        );
    }
    let shouted = TOKEN.to_uppercase();
    assert_eq!(
        review(format!("Bearer {shouted}")).await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        review(format!("Basic {TOKEN}")).await,
        StatusCode::UNAUTHORIZED
    );
}

/// The home page (public and rate-limited, no model) as `peer` asks for it, with `headers`.
async fn page_from(app: &App, peer: &str, headers: &[(&str, &str)]) -> StatusCode {
    let mut request = Request::builder().uri("/");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    let mut request = request.body(Body::empty()).unwrap();
    let peer: SocketAddr = format!("{peer}:40000").parse().unwrap();
    request.extensions_mut().insert(ConnectInfo(peer));
    app.router.clone().oneshot(request).await.unwrap().status()
}

#[tokio::test]
async fn clients_behind_a_trusted_proxy_each_have_their_own_budget() {
    let app = app_with(|c| {
        c.public_burst = 2;
        c.public_per_minute = 1;
        c.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
    })
    .await;
    let proxy = "10.0.0.2";
    for client in ["198.51.100.1", "198.51.100.2"] {
        // A client may write its own X-Forwarded-For: the proxy appends the real address.
        let chain = format!("6.6.6.6, {client}");
        let forwarded = [("x-forwarded-for", chain.as_str())];
        for _ in 0..2 {
            assert_eq!(page_from(&app, proxy, &forwarded).await, StatusCode::OK);
        }
        assert_eq!(
            page_from(&app, proxy, &forwarded).await,
            StatusCode::TOO_MANY_REQUESTS,
            "{client}"
        );
    }
    // Without the header the proxy itself is the client, with a budget of its own.
    assert_eq!(page_from(&app, proxy, &[]).await, StatusCode::OK);
}

#[tokio::test]
async fn a_forged_forwarded_header_from_an_untrusted_peer_dodges_nothing() {
    let app = app_with(|c| {
        c.public_burst = 2;
        c.public_per_minute = 1;
        c.trusted_proxies = vec!["10.0.0.0/8".parse().unwrap()];
    })
    .await;
    let peer = "203.0.113.9";
    let mut statuses = Vec::new();
    for i in 0..5 {
        let forged = format!("198.51.100.{i}");
        let headers = [
            ("x-forwarded-for", forged.as_str()),
            ("forwarded", &*format!("for={forged}")),
        ];
        statuses.push(page_from(&app, peer, &headers).await);
    }
    let refused = StatusCode::TOO_MANY_REQUESTS;
    assert_eq!(
        statuses,
        [StatusCode::OK, StatusCode::OK, refused, refused, refused]
    );
}

#[tokio::test]
async fn a_person_typing_is_not_refused_with_the_default_limits() {
    // The demo's pipeline file sets its own limits: this is about the defaults.
    let defaults = ServeConfig::default();
    let app = app_with(|c| {
        c.public_per_minute = defaults.public_per_minute;
        c.public_burst = defaults.public_burst;
    })
    .await;
    // Thirty rewordings, as fast as they come (the limiter's unit test spaces them 250 ms
    // apart on a fake clock); the burst alone covers them.
    let mut previous = Value::Null;
    let question = "my laptop will not connect to the office wifi since this morning";
    for length in (question.len() - 29)..=question.len() {
        let ask = json!({ "text": &question[..length], "refines": previous });
        let (status, answer) = app.call(Method::POST, "/v1/suggest", None, Some(ask)).await;
        assert_eq!(status, StatusCode::OK, "at {length}: {answer}");
        previous = answer["answer"].clone();
    }
    assert_eq!(
        app.store.deflection().await.unwrap().asked,
        1,
        "one question"
    );
}

/// Many clients on keep-alive connections over a real loopback socket, far past the public
/// limit: every answer arrives whole (200 or 429), no connection breaks or is dropped by the
/// server, also when a body comes after its headers (as slow clients send it).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn refusals_keep_keep_alive_connections_usable() {
    use std::sync::atomic::{AtomicUsize, Ordering};
    use std::sync::Arc;

    use axum::body::Bytes;
    use http_body_util::channel::Channel;
    use http_body_util::BodyExt;
    use hyper_util::client::legacy::connect::HttpConnector;
    use hyper_util::client::legacy::Client;
    use hyper_util::rt::TokioExecutor;

    const CLIENTS: usize = 50;
    const REQUESTS: usize = 8;
    let dir = tempfile::tempdir().unwrap();
    let (state, config, _store) = common::demo_server(dir.path(), TOKEN, |c| {
        c.public_per_minute = 1;
        c.public_burst = 2;
    })
    .await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let address = listener.local_addr().unwrap();
    let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
    let server = tokio::spawn(serve::serve(listener, state, config, async {
        let _ = stopped.await;
    }));

    let opened = Arc::new(AtomicUsize::new(0));
    let mut clients = Vec::new();
    for c in 0..CLIENTS {
        let counter = opened.clone();
        clients.push(tokio::spawn(async move {
            let connector = tower::ServiceBuilder::new()
                .map_request(move |uri: axum::http::Uri| {
                    counter.fetch_add(1, Ordering::SeqCst);
                    uri
                })
                .service(HttpConnector::new());
            let client: Client<_, Body> = Client::builder(TokioExecutor::new()).build(connector);
            let mut outcomes = Vec::new();
            for r in 0..REQUESTS {
                let json = json!({ "text": format!("printer offline {c} {r}") }).to_string();
                let body = if r % 2 == 0 {
                    Body::from(json)
                } else {
                    let (mut sender, body) = Channel::<Bytes, std::convert::Infallible>::new(1);
                    tokio::spawn(async move {
                        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
                        let _ = sender.send_data(json.into()).await;
                    });
                    Body::new(body)
                };
                let request = Request::builder()
                    .method(Method::POST)
                    .uri(format!("http://{address}/v1/suggest"))
                    .header(header::CONTENT_TYPE, "application/json")
                    .body(body)
                    .unwrap();
                let outcome = match client.request(request).await {
                    Ok(response) => {
                        let status = response.status();
                        match response.into_body().collect().await {
                            Ok(body) => Ok((
                                status,
                                serde_json::from_slice(&body.to_bytes()).unwrap_or(Value::Null),
                            )),
                            Err(e) => Err(format!("reading the body: {e}")),
                        }
                    }
                    Err(e) => Err(format!("{e:?}")),
                };
                outcomes.push(outcome);
            }
            outcomes
        }));
    }
    let (mut answered, mut limited, mut broken) = (0, 0, Vec::new());
    for client in clients {
        for outcome in client.await.unwrap() {
            match outcome {
                Ok((StatusCode::OK, _)) => answered += 1,
                Ok((StatusCode::TOO_MANY_REQUESTS, body))
                    if error_code(&body) == "too_many_requests" =>
                {
                    limited += 1
                }
                Ok((status, body)) => broken.push(format!("{status} {body}")),
                Err(e) => broken.push(e),
            }
        }
    }
    let _ = stop.send(());
    server.await.unwrap().unwrap();
    assert!(broken.is_empty(), "{broken:?}");
    assert_eq!((answered, limited), (2, CLIENTS * REQUESTS - 2));
    assert_eq!(
        opened.load(Ordering::SeqCst),
        CLIENTS,
        "the server closed connections after refusing a request"
    );
}

/// The demo's problems as the list shows them, found by how their title starts.
fn listed<'a>(problems: &'a Value, title: &str) -> &'a Value {
    problems
        .as_array()
        .unwrap()
        .iter()
        .find(|p| p["title"].as_str().unwrap().starts_with(title))
        .unwrap_or_else(|| panic!("no problem titled {title}… in {problems}"))
}

fn similar_to(problem: &Value) -> Vec<i64> {
    problem["similar_to"]
        .as_array()
        .unwrap()
        .iter()
        .map(|id| id.as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn the_demos_two_mfa_candidates_look_alike_and_vpn_and_printer_do_not() {
    let app = app().await;
    let (status, problems) = app
        .call(Method::GET, "/v1/problems", Some(TOKEN), None)
        .await;
    assert_eq!(status, StatusCode::OK, "{problems}");
    let phone = listed(&problems, "Not getting the sign in approval");
    let push = listed(&problems, "new MFA app");
    assert!(
        similar_to(phone).contains(&push["id"].as_i64().unwrap()),
        "{problems}"
    );
    assert!(
        similar_to(push).contains(&phone["id"].as_i64().unwrap()),
        "{problems}"
    );
    let vpn = listed(&problems, "VPN keeps dropping");
    let printer = listed(&problems, "3rd floor printer");
    assert!(
        !similar_to(vpn).contains(&printer["id"].as_i64().unwrap()),
        "{problems}"
    );
    assert!(
        !similar_to(printer).contains(&vpn["id"].as_i64().unwrap()),
        "{problems}"
    );
    for p in problems.as_array().unwrap() {
        let trend = p["trend"].as_f64().unwrap() as f32;
        assert_eq!(
            p["trend_words"],
            ticketlens::problems::describe_trend(trend),
            "{p}"
        );
    }
}

#[tokio::test]
async fn each_public_article_comes_with_a_bounded_passage_of_its_own_text() {
    let app = app().await;
    let question = json!({ "text": "Not getting the sign in approval on my phone" });
    let (status, answer) = app
        .call(Method::POST, "/v1/suggest", None, Some(question))
        .await;
    assert_eq!(status, StatusCode::OK, "{answer}");
    let articles = answer["articles"].as_array().unwrap();
    assert!(!articles.is_empty(), "{answer}");
    for article in articles {
        let passage = article["passage"].as_str().expect("a passage");
        assert!(
            passage.chars().count() <= ticketlens::knowledge::MAX_PASSAGE_CHARS,
            "{passage}"
        );
        let id = article["id"].as_i64().unwrap();
        let body = app.store.public_article(id).await.unwrap().unwrap().body;
        let body = body.split_whitespace().collect::<Vec<_>>().join(" ");
        assert!(
            body.contains(passage.trim_end_matches('…')),
            "{passage:?} is not from article {id}"
        );
    }
}

/// Known issues before filing: an announced problem is shown to a matching question in the
/// words written for end users and nothing else of it; an unannounced one never is, and a
/// withdrawal counts at once.
#[tokio::test]
async fn an_announced_problem_is_a_known_issue_for_matching_questions_until_withdrawn() {
    let app = app().await;
    let (_, problems) = app
        .call(Method::GET, "/v1/problems", Some(TOKEN), None)
        .await;
    let vpn = listed(&problems, "VPN keeps dropping").clone();
    let id = vpn["id"].as_i64().unwrap();
    let vpn_question =
        json!({ "text": "VPN keeps disconnecting every few minutes since the update" });
    let printer_question = json!({ "text": "The printer on the 3rd floor says it is offline" });
    let ask =
        |question: &Value| app.call(Method::POST, "/v1/suggest", None, Some(question.clone()));

    // Detected but not announced: nothing of it reaches the public side.
    for question in [&vpn_question, &printer_question] {
        let (status, answer) = ask(question).await;
        assert_eq!(status, StatusCode::OK, "{answer}");
        assert_eq!(answer["known_issues"], json!([]), "{answer}");
    }

    let path = format!("/v1/problems/{id}/announce");
    let announcement = json!({ "title": "VPN disconnects after the 5.2 update", "workaround": "Use the web portal" });
    let (status, _) = app
        .call(Method::POST, &path, None, Some(announcement.clone()))
        .await;
    assert_eq!(status, StatusCode::UNAUTHORIZED);
    let (status, body) = app
        .call(
            Method::POST,
            &path,
            Some(TOKEN),
            Some(json!({ "title": "  " })),
        )
        .await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    let (status, body) = app
        .call(
            Method::POST,
            "/v1/problems/987654/announce",
            Some(TOKEN),
            Some(announcement.clone()),
        )
        .await;
    assert_eq!(
        (status, error_code(&body)),
        (StatusCode::NOT_FOUND, "not_found"),
        "{body}"
    );
    let (status, detail) = app
        .call(Method::POST, &path, Some(TOKEN), Some(announcement))
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(
        detail["announcement"]["title"],
        "VPN disconnects after the 5.2 update"
    );

    let (_, answer) = ask(&vpn_question).await;
    let issues = answer["known_issues"].as_array().unwrap();
    assert_eq!(issues.len(), 1, "{answer}");
    let issue = issues[0].as_object().unwrap();
    let keys: BTreeSet<&str> = issue.keys().map(String::as_str).collect();
    assert_eq!(
        keys,
        BTreeSet::from(["title", "workaround", "reported", "since"])
    );
    assert_eq!(issue["title"], "VPN disconnects after the 5.2 update");
    assert_eq!(issue["workaround"], "Use the web portal");
    let detail = app.store.problem(id).await.unwrap();
    assert_eq!(issue["reported"], json!(detail.members.len()));
    let first = detail
        .members
        .iter()
        .map(|m| m.created_at.as_str())
        .min()
        .unwrap();
    assert_eq!(issue["since"], first);
    // Nothing private: not the detected title, keywords, incidents' subjects or requesters.
    let text = answer.to_string();
    assert!(!text.contains(vpn["title"].as_str().unwrap()), "{text}");
    for member in &detail.members {
        assert!(!text.contains(&member.subject), "{text}");
    }
    assert!(!text.contains("@"), "{text}");

    let (_, unrelated) = ask(&printer_question).await;
    assert_eq!(unrelated["known_issues"], json!([]), "{unrelated}");
    let deflection = app.store.deflection().await.unwrap();
    assert_eq!(deflection.known_issue, 1, "{deflection:?}");
    assert!(deflection.answered >= deflection.known_issue);

    let (status, detail) = app
        .call(
            Method::POST,
            &format!("/v1/problems/{id}/withdraw"),
            Some(TOKEN),
            None,
        )
        .await;
    assert_eq!(status, StatusCode::OK, "{detail}");
    assert_eq!(detail["announcement"], Value::Null);
    let (_, answer) = ask(&vpn_question).await;
    assert_eq!(answer["known_issues"], json!([]), "{answer}");
}
