//! The interactive-fit page in Chromium (WebDriver through chromedriver): the tutorial fit
//! with "animate" on redraws the plot while it runs, and "Save" writes the batch fit's file.
//! Skips visibly without chromium/chromedriver or the data; `FLOWLAB_REQUIRE_BROWSER=1`
//! turns a skip into a failure. Screenshots go to `$FLOWLAB_CI_RESULTS` (else
//! target/screenshots).
use super::{batch_fit, tutorial};
use crate::common::repo;
use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

fn which(name: &str) -> Option<PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

fn skip(why: &str) {
    flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_BROWSER", why);
}

/// chromedriver on a free loopback port; killed on drop.
struct Driver(Child, u16);
impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn driver(bin: &PathBuf) -> Driver {
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let child = Command::new(bin).arg(format!("--port={port}")).arg("--allowed-ips=127.0.0.1").stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("start chromedriver");
    let d = Driver(child, port);
    let t = Instant::now();
    while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(t.elapsed() < Duration::from_secs(30), "chromedriver did not listen");
        std::thread::sleep(Duration::from_millis(50));
    }
    d
}

pub fn screenshot_dir() -> PathBuf {
    std::env::var_os("FLOWLAB_CI_RESULTS").map(PathBuf::from).unwrap_or_else(|| repo().join("target/screenshots"))
}

async fn wait_for(c: &Client, script: &str, timeout: Duration) -> Value {
    let t = Instant::now();
    loop {
        let v = c.execute(script, vec![]).await.unwrap();
        if !v.is_null() && v != json!(false) {
            return v;
        }
        assert!(t.elapsed() < timeout, "timed out waiting for: {script}");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[test]
fn ifit_browser_animates_the_tutorial_fit_and_saves_the_batch_file() {
    let (Some(chromium), Some(cd)) = (which("chromium").or_else(|| which("chromium-browser")), which("chromedriver")) else {
        return skip("chromium or chromedriver is not on PATH");
    };
    let Some((data, h)) = tutorial() else { return skip("no tutorial data (FLOWLAB_DATA_DIR)") };
    let tmp = tempfile::tempdir().unwrap();
    let (batch_json, batch_mode) = batch_fit(tmp.path(), &h, 400, 6, 4);
    let save_root = tmp.path().join("saves");
    std::fs::create_dir_all(&save_root).unwrap();
    let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
    rt.block_on(async {
        // the page as `flowlab serve` serves it: nested at /fit behind serve's guard, whose
        // Content-Security-Policy refuses inline script and style
        let cfg = flowlab::serve::ServeConfig {
            results: tmp.path().join("results"),
            experiments: None,
            data_dir: Some(data.clone()),
            bind: "127.0.0.1:0".parse().unwrap(),
            save_dir: Some(save_root.clone()),
            flowlab_exe: PathBuf::from(env!("CARGO_BIN_EXE_flowlab")),
        };
        let st = flowlab::serve::ServeState::new(&cfg).unwrap();
        let token = st.token().to_string();
        let app = flowlab::serve::app(st);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });

        // an action without the token is refused
        let body = json!({"histogram": "agh_2015/histograms/all/length.csv", "column": "flows", "families": {"lognorm": 1}, "iterations": 5, "fitter": "em-compat"});
        let r = raw_post(addr, "/fit/manifest", &body.to_string(), None).await;
        assert!(r.starts_with("HTTP/1.1 403"), "{r}");
        let r = raw_post(addr, "/fit/manifest", &body.to_string(), Some(&token)).await;
        assert!(r.starts_with("HTTP/1.1 200") && r.contains("lognorm = 1"), "{r}");

        let drv = driver(&cd);
        let mut caps = serde_json::Map::new();
        caps.insert("goog:chromeOptions".into(), json!({"binary": chromium, "args": ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1440,1040", "--force-device-scale-factor=1"]}));
        let c = ClientBuilder::new(hyper_util::client::legacy::connect::HttpConnector::new()).capabilities(caps).connect(&format!("http://127.0.0.1:{}", drv.1)).await.expect("connect to chromedriver");
        let result = async {
            c.goto(&format!("http://{addr}/fit")).await.unwrap();
            // the data curves load with the page (the tutorial histogram is the default)
            wait_for(&c, "return window.ifit && window.ifit.loaded", Duration::from_secs(30)).await;
            let defaults = c.execute("return [document.getElementById('histogram-list').value, document.querySelector('[data-family=uniform]').value, document.querySelector('[data-family=lognorm]').value, document.getElementById('iterations').value, document.getElementById('animate').checked]", vec![]).await.unwrap();
            assert_eq!(defaults, json!(["agh_2015/histograms/all/length.csv", "6", "4", "400", true]));
            c.find(Locator::Id("fit")).await.unwrap().click().await.unwrap();
            wait_for(&c, "return document.getElementById('fit-form').dataset.state === 'done'", Duration::from_secs(120)).await;
            let st = c.execute("const s = window.ifit.stats; return {redraws: s.redraws, during: s.duringFit, iterations: s.iterations, drawMs: s.drawMs / s.redraws, status: document.getElementById('status').textContent, dom: document.getElementById('redraws').dataset.count}", vec![]).await.unwrap();
            eprintln!("ifit browser: {}", st);
            let its: Vec<u64> = st["iterations"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
            // the animation shows the fit's course: intermediate mixtures, then the result
            let intermediate = its.iter().filter(|&&i| i < 400).count();
            assert!(intermediate >= 2, "the plot did not animate the fit (intermediate redraws: {intermediate}): {st}");
            assert_eq!(st["during"].as_u64().unwrap() as usize, its.len(), "every redraw before the result belongs to the fit: {st}");
            assert!(its.windows(2).all(|w| w[0] <= w[1]), "iterations drawn out of order: {its:?}");
            assert_eq!(its.last(), Some(&400));
            assert_eq!(st["dom"], json!(its.len().to_string()), "the DOM counter follows the redraws");
            // redraw throughput on the tutorial histogram: one redraw per animation frame for 2 s
            let rate = c.execute_async("const done = arguments[arguments.length - 1]; window.ifit.bench(2000).then(done);", vec![]).await.unwrap();
            eprintln!("ifit browser: {rate} redraws per second (one per animation frame, 2 s), mean draw {:.2} ms", st["drawMs"].as_f64().unwrap_or(f64::NAN));
            assert!(rate.as_f64().unwrap() > 0.0);
            // the JSON pane holds the result
            let pane = c.find(Locator::Id("mixture-json")).await.unwrap().text().await.unwrap();
            assert_eq!(pane.trim(), batch_json.trim());
            // save into a directory: <column>.json and .mode, as flowlab fit writes them
            let path = c.find(Locator::Id("save-path")).await.unwrap();
            path.clear().await.unwrap();
            path.send_keys("browser/").await.unwrap();
            c.find(Locator::Id("save")).await.unwrap().click().await.unwrap();
            wait_for(&c, "return document.getElementById('saved').dataset.saved", Duration::from_secs(20)).await;
            assert_eq!(std::fs::read_to_string(save_root.join("browser/flows.json")).unwrap(), batch_json, "saved != batch fit");
            assert_eq!(std::fs::read_to_string(save_root.join("browser/flows.mode")).unwrap(), batch_mode);
            // "as manifest" shows the section of this fit
            c.find(Locator::Id("as-manifest")).await.unwrap().click().await.unwrap();
            let m = wait_for(&c, "const m = document.getElementById('manifest'); return !m.hidden && m.textContent", Duration::from_secs(20)).await;
            let m = m.as_str().unwrap();
            assert!(m.contains("families = { uniform = 6, lognorm = 4 }") && m.contains("iterations = 400") && m.contains("{data}/agh_2015/histograms/all/length.csv"), "{m}");
            let dir = screenshot_dir();
            std::fs::create_dir_all(&dir).unwrap();
            let png = c.screenshot().await.unwrap();
            std::fs::write(dir.join("ifit.png"), png).unwrap();
            eprintln!("ifit browser: screenshot {}", dir.join("ifit.png").display());
        };
        // close the browser even when an assertion fails
        let r = futures_util::FutureExt::catch_unwind(std::panic::AssertUnwindSafe(result)).await;
        let _ = c.close().await;
        if let Err(p) = r {
            std::panic::resume_unwind(p);
        }
    });
}

/// A POST without a browser (to check the token), as raw HTTP/1.1 on a blocking socket.
async fn raw_post(addr: std::net::SocketAddr, path: &str, body: &str, token: Option<&str>) -> String {
    let tok = token.map(|t| format!("X-Flowlab-Token: {t}\r\n")).unwrap_or_default();
    let req = format!("POST {path} HTTP/1.1\r\nHost: {addr}\r\nContent-Type: application/json\r\n{tok}Content-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len());
    tokio::task::spawn_blocking(move || {
        use std::io::{Read, Write};
        let mut s = std::net::TcpStream::connect(addr).unwrap();
        s.write_all(req.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        out
    })
    .await
    .unwrap()
}
