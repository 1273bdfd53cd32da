//! The pages in a real headless Chromium (Debian's `chromium` and `chromium-driver`, which
//! `.ci/run` installs), against a server on a free loopback port over a copy of the demo
//! store: a question finds the planted article and the feedback is recorded; the agent pages
//! refuse a browser without the token; accepting a problem persists. Screenshots are saved
//! under target/tmp/browser/.

mod common;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;

use ticketlens::serve;

const TOKEN: &str = "browser-test-token";

/// chromedriver, stopped when dropped.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn installed(env: &str, default: &str) -> PathBuf {
    let path = PathBuf::from(std::env::var(env).unwrap_or_else(|_| default.into()));
    assert!(
        path.exists(),
        "{} not found: the browser tests need Debian's chromium and chromium-driver \
         (apt-get install chromium chromium-driver; .ci/run does it), or set {env}",
        path.display()
    );
    path
}

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn start_chromedriver(out: &Path) -> (Driver, u16) {
    let binary = installed("CHROMEDRIVER", "/usr/bin/chromedriver");
    let port = free_port();
    let log = std::fs::File::create(out.join("chromedriver.log")).unwrap();
    let child = Command::new(binary)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(log)
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let deadline = Instant::now() + Duration::from_secs(20);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(
            Instant::now() < deadline,
            "chromedriver did not listen on {port}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    (driver, port)
}

async fn open_browser(driver_port: u16, profile: &Path) -> Client {
    let chromium = installed("CHROMIUM", "/usr/bin/chromium");
    // Without the background-networking flags Chromium keeps dialling Google on a closed
    // network; a fresh profile keeps runs independent.
    let capabilities = json!({
        "browserName": "chrome",
        "goog:chromeOptions": {
            "binary": chromium,
            "args": [
                "--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--disable-background-networking", "--disable-component-update",
                "--disable-sync", "--no-first-run", "--window-size=1280,1000",
                format!("--user-data-dir={}", profile.display()),
            ]
        }
    });
    let connector = hyper_util::client::legacy::connect::HttpConnector::new();
    ClientBuilder::new(connector)
        .capabilities(capabilities.as_object().unwrap().clone())
        .connect(&format!("http://127.0.0.1:{driver_port}"))
        .await
        .expect("a Chromium session starts")
}

async fn screenshot(client: &Client, out: &Path, name: &str) {
    let png = client.screenshot().await.unwrap();
    std::fs::write(out.join(name), png).unwrap();
}

/// A demo server with the agent token and a browser on it, for one test.
struct Session {
    out: PathBuf,
    /// Holds the demo store's copy and the browser profile.
    _dir: tempfile::TempDir,
    store: ticketlens::store::Store,
    base: String,
    client: Client,
    stop: tokio::sync::oneshot::Sender<()>,
    server: tokio::task::JoinHandle<std::io::Result<()>>,
    _driver: Driver,
}

impl Session {
    async fn start() -> Self {
        let out = Path::new(env!("CARGO_TARGET_TMPDIR")).join("browser");
        std::fs::create_dir_all(&out).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let (state, serve_config, store) = common::demo_server(dir.path(), TOKEN, |_| {}).await;
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let base = format!("http://{}", listener.local_addr().unwrap());
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let server = tokio::spawn(serve::serve(listener, state, serve_config, async {
            let _ = stopped.await;
        }));
        let (driver, driver_port) = start_chromedriver(&out);
        let client = open_browser(driver_port, &dir.path().join("profile")).await;
        Self {
            out,
            _dir: dir,
            store,
            base,
            client,
            stop,
            server,
            _driver: driver,
        }
    }

    async fn end(self) {
        self.client.close().await.unwrap();
        let _ = self.stop.send(());
        self.server.await.unwrap().unwrap();
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_work_in_a_real_browser() {
    let session = Session::start().await;
    let (out, store, base, client) = (&session.out, &session.store, &session.base, &session.client);

    // Before filing: type a question, see the planted article, open it, say it helped.
    client.goto(&format!("{base}/")).await.unwrap();
    client
        .find(Locator::Id("question"))
        .await
        .unwrap()
        .send_keys("The VPN will not connect when I work from home")
        .await
        .unwrap();
    let article = client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::XPath(
            "//a[contains(@class, 'article') and normalize-space(.) = 'Connect to the VPN from home (SkyGate)']",
        ))
        .await
        .expect("the planted article appears as the person types");
    // The article carries the answer's token, never a sequential id.
    let href = article.attr("href").await.unwrap().unwrap();
    let token = href.split_once("?answer=").map_or("", |(_, t)| t);
    assert!(
        token.len() == 32 && token.bytes().all(|b| b.is_ascii_hexdigit()),
        "{href}"
    );
    screenshot(client, out, "1-before-filing.png").await;
    article.click().await.unwrap();
    let title = client
        .wait()
        .for_element(Locator::Id("article-title"))
        .await
        .unwrap();
    assert_eq!(
        title.text().await.unwrap(),
        "Connect to the VPN from home (SkyGate)"
    );
    screenshot(client, out, "2-article.png").await;
    client
        .find(Locator::Id("helped"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let thanks = client.find(Locator::Id("thanks")).await.unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !thanks.is_displayed().await.unwrap() {
        assert!(Instant::now() < deadline, "no thanks after the feedback");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let deflection = store.deflection().await.unwrap();
    assert_eq!((deflection.rated, deflection.helped), (1, 1));

    // Without the token the agent side refuses: the page says so, the API answers 401.
    client.goto(&format!("{base}/problems")).await.unwrap();
    let error = client
        .wait()
        .for_element(Locator::XPath("//p[@id='error' and not(@hidden)]"))
        .await
        .unwrap();
    assert!(error.text().await.unwrap().contains("agent token"));
    let status = client
        .execute("return fetch('/v1/problems').then(r => r.status)", vec![])
        .await
        .unwrap();
    assert_eq!(status, json!(401));
    screenshot(client, out, "3-problems-without-token.png").await;

    // With the token: the ranked problems; accept the first candidate.
    client
        .find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(TOKEN)
        .await
        .unwrap();
    client
        .find(Locator::Css("#token-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let card = client
        .wait()
        .for_element(Locator::XPath(
            "//div[contains(@class, 'problem') and .//span[contains(@class, 'status') and text() = 'candidate']]",
        ))
        .await
        .expect("candidate problems are listed");
    assert!(client
        .find(Locator::Css(".problem svg.activity"))
        .await
        .is_ok());
    screenshot(client, out, "4-problems.png").await;
    let id: i64 = card
        .attr("data-id")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    card.find(Locator::Css("button.accept"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::XPath(&format!(
            "//div[@data-id='{id}']//span[contains(@class, 'status') and text() = 'accepted']"
        )))
        .await
        .expect("the problem shows as accepted");
    assert_eq!(store.problem(id).await.unwrap().problem.status, "accepted");
    screenshot(client, out, "5-problem-accepted.png").await;

    // The review queue, with the token remembered from the problems page.
    client.goto(&format!("{base}/review")).await.unwrap();
    client
        .wait()
        .for_element(Locator::Css("#queue tbody tr"))
        .await
        .expect("the review queue lists tickets");
    // Each prediction says why it was (not) applied, against its class's past record.
    let reasons = client
        .find_all(Locator::Css("#queue .reason"))
        .await
        .unwrap();
    assert!(!reasons.is_empty(), "the review queue gives reasons");
    let reason = reasons[0].text().await.unwrap();
    assert!(
        reason.contains("past tickets") || reason.contains("no model"),
        "{reason}"
    );
    screenshot(client, out, "6-review.png").await;
    // An agent sets a field left for review from the page: it becomes the ticket's own.
    let row = client.find(Locator::Css("#queue tbody tr")).await.unwrap();
    let ticket: i64 = row
        .attr("data-ticket")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    let input = row
        .find(Locator::Css(".set-field input"))
        .await
        .expect("a ticket in the review queue has a field to set");
    let field = input.attr("name").await.unwrap().unwrap();
    input.clear().await.unwrap();
    input.send_keys("printing").await.unwrap();
    row.find(Locator::Css(".set-field button.set"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let now = store.ticket(ticket).await.unwrap();
        let value = if field == "category" {
            now.category
        } else {
            now.urgency
        };
        if value.as_deref() == Some("printing") {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the {field} was never set"
        );
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }

    session.end().await;
}

/// Waits until `script` (a JavaScript expression) is true on the page.
async fn wait_until(client: &Client, script: &str, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        let done = client
            .execute(&format!("return Boolean({script})"), vec![])
            .await
            .unwrap();
        if done == json!(true) {
            return;
        }
        assert!(Instant::now() < deadline, "{what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

/// Types `question` on the before-filing page and waits for the article `article` to appear:
/// the answer to this question is shown, not one to an earlier one.
async fn ask(client: &Client, question: &str, article: &str) {
    let input = client.find(Locator::Id("question")).await.unwrap();
    input.clear().await.unwrap();
    input.send_keys(question).await.unwrap();
    client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::XPath(&format!(
            "//a[contains(@class, 'article') and normalize-space(.) = '{article}']"
        )))
        .await
        .unwrap_or_else(|_| panic!("{article} is offered for {question}"));
}

/// Announce on the problems page → the before-filing page shows the known issue for a
/// matching question and not for an unrelated one → withdraw → it is gone.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_announced_problem_shows_before_filing_until_withdrawn() {
    let session = Session::start().await;
    let (out, store, base, client) = (&session.out, &session.store, &session.base, &session.client);

    client.goto(&format!("{base}/problems")).await.unwrap();
    client
        .find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(TOKEN)
        .await
        .unwrap();
    client
        .find(Locator::Css("#token-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let vpn_card =
        "//div[contains(@class, 'problem') and .//h2[contains(., 'VPN keeps dropping')]]";
    let card = client
        .wait()
        .for_element(Locator::XPath(vpn_card))
        .await
        .expect("the VPN problem is listed");
    let id: i64 = card
        .attr("data-id")
        .await
        .unwrap()
        .unwrap()
        .parse()
        .unwrap();
    card.find(Locator::Css("button.announce"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let title = "VPN disconnects after the 5.2 update";
    card.find(Locator::Css("input.announce-title"))
        .await
        .unwrap()
        .send_keys(title)
        .await
        .unwrap();
    card.find(Locator::Css("textarea.announce-workaround"))
        .await
        .unwrap()
        .send_keys("Use the web portal meanwhile")
        .await
        .unwrap();
    card.find(Locator::Css("button.announce-send"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    client
        .wait()
        .for_element(Locator::XPath(&format!(
            "//div[@data-id='{id}']//span[contains(@class, 'announced')]"
        )))
        .await
        .expect("the problem shows as announced");
    let stored = store.problem(id).await.unwrap().problem.announcement;
    assert_eq!(stored.map(|a| a.announcement.title).as_deref(), Some(title));
    screenshot(client, out, "7-problem-announced.png").await;

    client.goto(&format!("{base}/")).await.unwrap();
    ask(
        client,
        "VPN keeps disconnecting every few minutes since the update",
        "Connect to the VPN from home (SkyGate)",
    )
    .await;
    let issue = client
        .find(Locator::Css("#known-issues .known-issue"))
        .await
        .expect("the known issue is shown above the articles");
    let text = issue.text().await.unwrap();
    assert!(text.contains(title), "{text}");
    assert!(text.contains("Use the web portal meanwhile"), "{text}");
    assert!(text.contains("the team is on it"), "{text}");
    let reported = store.problem(id).await.unwrap().members.len();
    assert!(
        text.contains(&format!("Reported {reported} times since")),
        "{text}"
    );
    screenshot(client, out, "8-known-issue.png").await;

    ask(
        client,
        "The printer on the 3rd floor says it is offline",
        "Printer troubleshooting: offline, jams and stuck jobs",
    )
    .await;
    wait_until(
        client,
        "document.querySelectorAll('#known-issues .known-issue').length === 0",
        "an unrelated question shows no known issue",
    )
    .await;

    client.goto(&format!("{base}/problems")).await.unwrap();
    client
        .wait()
        .for_element(Locator::XPath(&format!(
            "//div[@data-id='{id}']//button[contains(@class, 'withdraw')]"
        )))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_until(
        client,
        &format!("document.querySelector(\"div[data-id='{id}']\") && !document.querySelector(\"div[data-id='{id}'] .announced\")"),
        "the announcement is withdrawn",
    )
    .await;
    assert_eq!(store.problem(id).await.unwrap().problem.announcement, None);

    client.goto(&format!("{base}/")).await.unwrap();
    ask(
        client,
        "VPN keeps disconnecting every few minutes since the update",
        "Connect to the VPN from home (SkyGate)",
    )
    .await;
    let shown = client
        .find_all(Locator::Css("#known-issues .known-issue"))
        .await
        .unwrap();
    assert!(shown.is_empty(), "a withdrawn announcement is gone at once");
    screenshot(client, out, "9-withdrawn.png").await;

    session.end().await;
}

/// Pages that show what they know: the passage under each article before filing; on the
/// problems page the days under the activity chart, the trend in words and "looks like #N" on
/// the demo's two MFA candidates (not on VPN or the printer), merged with one click.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn passages_days_and_look_alike_problems_show_and_merge_in_one_click() {
    let session = Session::start().await;
    let (out, store, base, client) = (&session.out, &session.store, &session.base, &session.client);

    client.goto(&format!("{base}/")).await.unwrap();
    client
        .find(Locator::Id("question"))
        .await
        .unwrap()
        .send_keys("The VPN will not connect when I work from home")
        .await
        .unwrap();
    let passage = client
        .wait()
        .at_most(Duration::from_secs(30))
        .for_element(Locator::XPath(
            "//li[a[normalize-space(.) = 'Connect to the VPN from home (SkyGate)']]/p[contains(@class, 'passage')]",
        ))
        .await
        .expect("the article's passage is shown under its title");
    let text = passage.text().await.unwrap();
    assert!(
        !text.is_empty() && text.chars().count() <= ticketlens::knowledge::MAX_PASSAGE_CHARS,
        "{text}"
    );
    screenshot(client, out, "10-passage.png").await;

    client.goto(&format!("{base}/problems")).await.unwrap();
    client
        .find(Locator::Id("token"))
        .await
        .unwrap()
        .send_keys(TOKEN)
        .await
        .unwrap();
    client
        .find(Locator::Css("#token-form button"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    let card_of = |title: &str| {
        format!("//div[contains(@class, 'problem') and .//h2[contains(., '{title}')]]")
    };
    let push = client
        .wait()
        .for_element(Locator::XPath(&card_of("new MFA app")))
        .await
        .expect("the MFA push candidate is listed");
    let phone = client
        .find(Locator::XPath(&card_of("Not getting the sign in approval")))
        .await
        .unwrap();
    let id_of = |card: &fantoccini::elements::Element| {
        let card = card.clone();
        async move {
            card.attr("data-id")
                .await
                .unwrap()
                .unwrap()
                .parse::<i64>()
                .unwrap()
        }
    };
    let (push_id, phone_id) = (id_of(&push).await, id_of(&phone).await);
    let hint = push
        .find(Locator::Css(".looks-like .hint"))
        .await
        .expect("the push candidate looks like the phone one");
    assert_eq!(
        hint.attr("data-like").await.unwrap(),
        Some(phone_id.to_string())
    );
    assert!(phone.find(Locator::Css(".looks-like .hint")).await.is_ok());
    for unrelated in ["VPN keeps dropping", "3rd floor printer"] {
        let card = client
            .find(Locator::XPath(&card_of(unrelated)))
            .await
            .unwrap();
        let hints = card.find_all(Locator::Css(".looks-like")).await.unwrap();
        assert!(hints.is_empty(), "{unrelated} looks like nothing");
    }
    // Days under the bars, the trend in words.
    let dates = push
        .find_all(Locator::Css("svg.activity text.date"))
        .await
        .unwrap();
    assert_eq!(dates.len(), 2, "first and last day");
    let days = push
        .find_all(Locator::Css("svg.activity text.day"))
        .await
        .unwrap();
    assert!(days.len() >= 7, "a weekday under each bar");
    let trend = push.find(Locator::Css(".trend")).await.unwrap();
    let words = trend.text().await.unwrap();
    assert!(
        ["rising", "steady", "falling", "dying out"]
            .iter()
            .any(|w| words.starts_with(w)),
        "{words}"
    );
    screenshot(client, out, "11-looks-like.png").await;

    // One click: the smaller candidate goes into the larger.
    hint.find(Locator::Css("button.merge-like"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    wait_until(
        client,
        &format!("!document.querySelector(\"div[data-id='{push_id}']\")"),
        "the merged candidate leaves the list",
    )
    .await;
    let merged = store.problem(push_id).await.unwrap();
    assert_eq!(
        (merged.problem.status.as_str(), merged.merged_into),
        ("merged", Some(phone_id))
    );
    let phone = client
        .find(Locator::XPath(&format!("//div[@data-id='{phone_id}']")))
        .await
        .unwrap();
    assert!(phone
        .find_all(Locator::Css(".looks-like"))
        .await
        .unwrap()
        .is_empty());
    screenshot(client, out, "12-merged.png").await;

    session.end().await;
}
