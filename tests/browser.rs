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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_pages_work_in_a_real_browser() {
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

    let (_driver, driver_port) = start_chromedriver(&out);
    let client = open_browser(driver_port, &dir.path().join("profile")).await;

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
    screenshot(&client, &out, "1-before-filing.png").await;
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
    screenshot(&client, &out, "2-article.png").await;
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
    screenshot(&client, &out, "3-problems-without-token.png").await;

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
    screenshot(&client, &out, "4-problems.png").await;
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
    screenshot(&client, &out, "5-problem-accepted.png").await;

    // The review queue, with the token remembered from the problems page.
    client.goto(&format!("{base}/review")).await.unwrap();
    client
        .wait()
        .for_element(Locator::Css("#queue tbody tr"))
        .await
        .expect("the review queue lists tickets");
    screenshot(&client, &out, "6-review.png").await;

    client.close().await.unwrap();
    let _ = stop.send(());
    server.await.unwrap().unwrap();
}
