//! `flowlab serve` in a real browser (docs/serve.md): Chromium driven through WebDriver
//! (chromedriver, the `fantoccini` client). Opens every page of a fixture experiment, sorts
//! and filters the cell table, compares two cells, replays a cell, watches a running
//! experiment's counts change, and saves a screenshot of every page into
//! `$FLOWLAB_CI_RESULTS` (else `target/screenshots`).
//!
//! Skips visibly when `chromium` or `chromedriver` is missing; `FLOWLAB_REQUIRE_BROWSER=1`
//! (CI) turns that into a failure.
use crate::common::*;
use crate::serve::{Server, probe_fixture, serve};
use fantoccini::{Client, ClientBuilder, Locator};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// The first of `names` found on PATH.
fn which(names: &[&str]) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    names.iter().find_map(|n| std::env::split_paths(&path).map(|d| d.join(n)).find(|p| p.is_file()))
}

/// Chromium and chromedriver, or None (skipped) unless FLOWLAB_REQUIRE_BROWSER=1.
fn browser() -> Option<(PathBuf, PathBuf)> {
    let found = (which(&["chromium", "chromium-browser", "google-chrome"]), which(&["chromedriver"]));
    match found {
        (Some(b), Some(d)) => Some((b, d)),
        _ => {
            flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_BROWSER", &format!("browser tests need chromium and chromedriver on PATH (Debian: chromium chromium-driver); found {found:?}"));
            None
        }
    }
}

struct Driver(Child);
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A free TCP port on loopback.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

/// Where screenshots go.
fn shots_dir() -> PathBuf {
    let d = std::env::var_os("FLOWLAB_CI_RESULTS").map(|p| PathBuf::from(p).join("screenshots")).unwrap_or_else(|| repo().join("target/screenshots"));
    std::fs::create_dir_all(&d).unwrap();
    d
}

async fn shot(c: &Client, name: &str) {
    let png = c.screenshot().await.expect("screenshot");
    assert!(png.starts_with(b"\x89PNG"), "not a PNG");
    std::fs::write(shots_dir().join(format!("serve-{name}.png")), png).unwrap();
}

async fn wait_for<F, Fut>(what: &str, limit: Duration, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let t0 = Instant::now();
    while !f().await {
        assert!(t0.elapsed() < limit, "timed out waiting for {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

async fn text(c: &Client, css: &str) -> String {
    match c.find(Locator::Css(css)).await {
        Ok(e) => e.text().await.unwrap_or_default(),
        Err(_) => String::new(),
    }
}

/// Ids of the cell table's rows, in order. The page re-renders the table (sorting, filtering,
/// live refreshes), so a row found may be gone when it is read (a stale element): read the
/// whole table again until one read sees one table.
async fn rows(c: &Client) -> Vec<String> {
    let t0 = Instant::now();
    'again: loop {
        assert!(t0.elapsed() < Duration::from_secs(10), "the cell table kept changing under the reads for 10 s");
        let Ok(found) = c.find_all(Locator::Css("#cells tbody tr[data-id]")).await else {
            tokio::time::sleep(Duration::from_millis(50)).await;
            continue;
        };
        let mut v = Vec::new();
        for e in found {
            match e.attr("data-id").await {
                Ok(id) => v.push(id.unwrap_or_default()),
                Err(_) => {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue 'again;
                }
            }
        }
        return v;
    }
}

fn record(results: &Path, exp: &str, id: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(results.join(exp).join(format!("{id}.json"))).unwrap()).unwrap()
}

async fn session(chromium: &Path, driver_port: u16) -> Client {
    let mut caps = serde_json::Map::new();
    caps.insert(
        "goog:chromeOptions".into(),
        serde_json::json!({"binary": chromium, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1360,900", "--hide-scrollbars"]}),
    );
    let url = format!("http://127.0.0.1:{driver_port}");
    let t0 = Instant::now();
    loop {
        match ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new()).capabilities(caps.clone()).connect(&url).await {
            Ok(c) => return c,
            Err(e) => {
                assert!(t0.elapsed() < Duration::from_secs(30), "no WebDriver session: {e}");
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
        }
    }
}

#[test]
fn browse_sort_filter_compare_replay_and_watch_in_chromium() {
    let Some((chromium, chromedriver)) = browser() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (exps, results) = probe_fixture(tmp.path());
    std::fs::copy(repo().join("tests/manifests/slow.toml"), exps.join("slow.toml")).unwrap();
    let s: Server = serve(&results, "127.0.0.1:0", &["--experiments", exps.to_str().unwrap()]);
    let port = free_port();
    let _driver = Driver(Command::new(&chromedriver).arg(format!("--port={port}")).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start chromedriver"));
    let base = format!("http://{}", s.addr);
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    rt.block_on(async {
        let c = session(&chromium, port).await;
        // experiments
        c.goto(&format!("{base}/?token={}", s.token)).await.unwrap();
        assert!(text(&c, "main").await.contains("probe"));
        shot(&c, "experiments").await;
        // an experiment: default order by id
        c.find(Locator::LinkText("probe")).await.unwrap().click().await.unwrap();
        wait_for("the cell table", Duration::from_secs(10), || async { rows(&c).await.len() == 11 }).await;
        shot(&c, "experiment").await;
        // sort by the sweep value, descending (two clicks on the header)
        c.find(Locator::Css(r#"th a[data-sort="p:probe.value"]"#)).await.unwrap().click().await.unwrap();
        c.find(Locator::Css(r#"th a[data-sort="p:probe.value"]"#)).await.unwrap().click().await.unwrap();
        // the table is re-rendered after each click: wait for the order rather than read once
        let values = || async { rows(&c).await.iter().filter_map(|id| record(&results, "probe", id)["point"]["probe.value"].as_i64()).collect::<Vec<i64>>() };
        wait_for("the table sorted by value, descending", Duration::from_secs(10), || async { values().await == [5, 5, 4, 4, 3, 3, 2, 2, 1, 1] }).await;
        // filter: failed cells only
        let form = c.form(Locator::Css("form.filters")).await.unwrap();
        form.set_by_name("status", "failed").await.unwrap();
        form.submit().await.unwrap();
        wait_for("the filter", Duration::from_secs(10), || async { rows(&c).await.len() == 2 }).await;
        for id in rows(&c).await {
            assert_eq!(record(&results, "probe", &id)["status"], "failed");
        }
        shot(&c, "experiment-filtered").await;
        // a failed cell: error and log tail
        let failed = rows(&c).await[0].clone();
        c.goto(&format!("{base}/e/probe/c/{failed}")).await.unwrap();
        assert!(text(&c, ".errbox").await.contains("testplug told to fail at value 4"));
        shot(&c, "cell-failed").await;
        // compare two ok cells picked with the checkboxes
        c.goto(&format!("{base}/e/probe?status=ok&q=probe")).await.unwrap();
        let picks = c.find_all(Locator::Css("input.pick")).await.unwrap();
        picks[0].click().await.unwrap();
        picks[1].click().await.unwrap();
        c.find(Locator::Css("#compare")).await.unwrap().click().await.unwrap();
        wait_for("the compare page", Duration::from_secs(10), || async { c.find(Locator::Css("#cmp")).await.is_ok() }).await;
        assert!(c.find_all(Locator::Css("#cmp tr.differs")).await.unwrap().len() >= 2);
        assert_eq!(c.find_all(Locator::Css("svg.chart polyline")).await.unwrap().len(), 2);
        shot(&c, "compare").await;
        c.find(Locator::Css("#onlydiff")).await.unwrap().click().await.unwrap();
        let same_visible = c.execute("return Array.from(document.querySelectorAll('#cmp tr.same')).some(r => r.offsetParent !== null)", vec![]).await.unwrap();
        assert_eq!(same_visible, serde_json::json!(false), "only differing rows shown");
        // replay an ok cell from its page
        let ok = c.find(Locator::Css("#cmp thead th a")).await.unwrap().attr("href").await.unwrap().unwrap();
        c.goto(&format!("{base}{ok}")).await.unwrap();
        c.find(Locator::Css("button[data-post]")).await.unwrap().click().await.unwrap();
        wait_for("the replay verdict", Duration::from_secs(60), || async { text(&c, "#verdict").await.contains("Replay:") }).await;
        assert!(text(&c, "#verdict").await.contains("Replay: equal"), "{}", text(&c, "#verdict").await);
        shot(&c, "cell-replayed").await;
        // watch a running experiment: the run starts as from another terminal, the page
        // follows it through server-sent events
        let mut runner = flowlab().args(["run", exps.join("slow.toml").to_str().unwrap(), "--results", results.to_str().unwrap(), "-q", "--no-env", "--no-report", "-j", "1"]).spawn().unwrap();
        wait_for("the slow results", Duration::from_secs(30), || async { results.join("slow").is_dir() }).await;
        c.goto(&format!("{base}/e/slow")).await.unwrap();
        let first: u64 = text(&c, "#n-cells").await.parse().unwrap_or(0);
        wait_for("the live panel", Duration::from_secs(30), || async { c.find(Locator::Css("#live:not([hidden])")).await.is_ok() }).await;
        wait_for("the counts to change", Duration::from_secs(60), || async { text(&c, "#n-cells").await.parse::<u64>().unwrap_or(0) > first + 2 }).await;
        assert!(text(&c, "#live-text").await.contains("of 16 cells"), "{}", text(&c, "#live-text").await);
        shot(&c, "experiment-live").await;
        wait_for("the run to end on the page", Duration::from_secs(120), || async { text(&c, "#n-cells").await == "16" }).await;
        assert!(runner.wait().unwrap().success());
        wait_for("the table to show every cell", Duration::from_secs(30), || async { rows(&c).await.len() == 16 }).await;
        // compare along the sweep axis
        c.goto(&format!("{base}/e/slow/compare?axis=probe.value")).await.unwrap();
        assert_eq!(c.find_all(Locator::Css("#cmp thead th a")).await.unwrap().len(), 12, "at most 12 cells compared");
        shot(&c, "compare-axis").await;
        c.close().await.unwrap();
    });
    eprintln!("screenshots in {}", shots_dir().display());
}
