//! `flowlab serve` (docs/serve.md) over HTTP: the real binary on an ephemeral port, spoken
//! to with a raw HTTP/1.1 client (a library client would normalise `..` and escapes away,
//! and the traversal tests need the bytes sent as written).
use crate::common::*;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

/// A running `flowlab serve`, stopped on drop.
pub struct Server {
    pub child: Child,
    /// `127.0.0.1:port`.
    pub addr: String,
    pub token: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Starts `flowlab serve --results R --bind B [extra]` and reads the URL it prints.
pub fn serve(results: &Path, bind: &str, extra: &[&str]) -> Server {
    let mut c = flowlab();
    c.args(["serve", "--results", results.to_str().unwrap(), "--bind", bind]).args(extra).stdout(Stdio::piped()).stderr(Stdio::null());
    let mut child = c.spawn().expect("start flowlab serve");
    let mut line = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut line).unwrap();
    let url = line.trim().strip_prefix("flowlab serve: ").unwrap_or_else(|| panic!("no URL printed: {line:?}")).to_string();
    let rest = url.strip_prefix("http://").unwrap();
    let (hostport, query) = rest.split_once("/?token=").unwrap();
    let port = hostport.rsplit(':').next().unwrap();
    Server { child, addr: format!("127.0.0.1:{port}"), token: query.to_string() }
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    pub head: String,
    pub body: String,
}

/// One request with `Connection: close`; `headers` are extra lines (`Name: value`).
pub fn http(addr: &str, method: &str, target: &str, headers: &[&str]) -> Answer {
    let mut s = TcpStream::connect(addr).unwrap();
    s.set_read_timeout(Some(Duration::from_secs(60))).unwrap();
    let host = headers.iter().any(|h| h.to_ascii_lowercase().starts_with("host:"));
    let mut req = format!("{method} {target} HTTP/1.1\r\n");
    if !host {
        req.push_str(&format!("Host: {addr}\r\n"));
    }
    for h in headers {
        req.push_str(h);
        req.push_str("\r\n");
    }
    req.push_str("Connection: close\r\nContent-Length: 0\r\n\r\n");
    s.write_all(req.as_bytes()).unwrap();
    let mut buf = Vec::new();
    s.read_to_end(&mut buf).unwrap();
    let text = String::from_utf8_lossy(&buf).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head.split(' ').nth(1).and_then(|s| s.parse().ok()).unwrap_or(0);
    let body = if head.to_ascii_lowercase().contains("transfer-encoding: chunked") { dechunk(body) } else { body.to_string() };
    Answer { status, head: head.to_string(), body }
}

fn dechunk(mut b: &str) -> String {
    let mut out = String::new();
    while let Some((len, rest)) = b.split_once("\r\n") {
        let n = usize::from_str_radix(len.trim(), 16).unwrap_or(0);
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        b = rest[n..].trim_start_matches("\r\n");
    }
    out
}

pub fn get(s: &Server, target: &str) -> Answer {
    http(&s.addr, "GET", target, &[])
}

/// The probe manifest with value 4 failing, in a directory of its own (the experiments dir).
pub fn probe_fixture(root: &Path) -> (PathBuf, PathBuf) {
    let exps = root.join("experiments");
    std::fs::create_dir_all(&exps).unwrap();
    let text =
        std::fs::read_to_string(repo().join("tests/manifests/probe.toml")).unwrap().replace("draws = 10", "draws = 10\nfail_on = 4").replace("#:schema ../../schemas/manifest.schema.json\n", "");
    let m = exps.join("probe.toml");
    std::fs::write(&m, text).unwrap();
    let results = root.join("results");
    let o = run(&["run", m.to_str().unwrap(), "--results", results.to_str().unwrap(), "-q", "--no-env", "--no-report"]);
    assert_eq!(o.status.code(), Some(1), "value 4 fails: {}", stderr(&o));
    (exps, results)
}

/// Cell ids of the table rows of a page, in order.
pub fn row_ids(html: &str) -> Vec<String> {
    html.split(r#"<tr data-id=""#).skip(1).map(|s| s.split('"').next().unwrap().to_string()).collect()
}

/// The stored record of a cell.
fn record(results: &Path, id: &str) -> serde_json::Value {
    serde_json::from_slice(&std::fs::read(results.join("probe").join(format!("{id}.json"))).unwrap()).unwrap()
}

#[test]
fn serve_pages_of_a_fixture_experiment() {
    let tmp = tempfile::tempdir().unwrap();
    let (exps, results) = probe_fixture(tmp.path());
    let s = serve(&results, "127.0.0.1:0", &["--experiments", exps.to_str().unwrap()]);
    // experiments: the manifest planned as `flowlab status` counts it
    let a = get(&s, "/");
    assert_eq!(a.status, 200, "{}", a.body);
    let row = a.body.split(r#"<a href="/e/probe">probe</a>"#).nth(1).expect("probe listed");
    let nums: Vec<&str> = row.split(r#"<td class="num"#).skip(1).take(5).map(|c| c.split('>').nth(1).unwrap().split('<').next().unwrap()).collect();
    assert_eq!(nums, ["11", "9", "2", "0", "0"], "cells, done, failed, stale, missing");
    // the table: every cell, sortable, filterable, paginated
    let a = get(&s, "/e/probe");
    assert_eq!(a.status, 200);
    let ids = row_ids(&a.body);
    assert_eq!(ids.len(), 11);
    let mut sorted = ids.clone();
    sorted.sort();
    assert_eq!(ids, sorted, "default order is by id");
    let a = get(&s, "/e/probe?sort=p:probe.value&dir=desc");
    let vals: Vec<i64> = row_ids(&a.body).iter().filter_map(|id| record(&results, id)["point"]["probe.value"].as_i64()).collect();
    assert_eq!(vals, [5, 5, 4, 4, 3, 3, 2, 2, 1, 1]);
    let failed = row_ids(&get(&s, "/e/probe?status=failed").body);
    assert_eq!(failed.len(), 2);
    assert!(failed.iter().all(|id| record(&results, id)["status"] == "failed"));
    let three = row_ids(&get(&s, "/e/probe?q=value%3D3").body);
    assert_eq!(three.len(), 2);
    assert!(three.iter().all(|id| record(&results, id)["point"]["probe.value"] == 3));
    let a = get(&s, "/e/probe?per=5&page=3");
    assert_eq!(row_ids(&a.body), ids[10..].to_vec());
    assert!(a.body.contains("11–11 of 11 cells") && a.body.contains("page 3 of 3"), "{}", a.body);
    // a failed cell: error and log tail
    let a = get(&s, &format!("/e/probe/c/{}", failed[0]));
    assert_eq!(a.status, 200);
    assert!(a.body.contains("testplug told to fail at value 4") && a.body.contains("[info] probe value 4 draws 10"), "{}", a.body);
    // an ok cell: metrics as stored, and its draws drawn
    let ok = &ids.iter().find(|id| record(&results, id)["status"] == "ok" && record(&results, id)["kind"] == "task").unwrap().clone();
    let a = get(&s, &format!("/e/probe/c/{ok}"));
    let mean = record(&results, ok)["response"]["metrics"]["mean"].as_f64().unwrap();
    assert!(a.body.contains(&format!("<td>{}</td>", flowlab::browse::show_value(&serde_json::json!(mean)))), "{}", a.body);
    assert!(a.body.contains("data.draws") && a.body.contains("<polyline"));
    // compare two cells: the rows that differ are marked, the same ones not
    let b = ids.iter().find(|id| *id != ok && record(&results, id)["kind"] == "task" && record(&results, id)["status"] == "ok").unwrap();
    let a = get(&s, &format!("/e/probe/compare?cells={ok},{b}"));
    assert_eq!(a.status, 200);
    let marked = |key: &str| a.body.split(&format!(r#"<th class="mono small">{key}</th>"#)).next().unwrap().rsplit("<tr class=\"").next().unwrap().starts_with("differs");
    assert!(marked("mean"), "means differ");
    assert!(!marked("draws"), "draws setting is the same");
    assert_eq!(a.body.matches("<polyline").count(), 2, "both draws overlaid");
    // along the sweep axis: one cell per value
    let a = get(&s, "/e/probe/compare?axis=probe.value&status=ok");
    assert_eq!(a.body.matches(r#"<span class="swatch""#).count(), 4, "values 1, 2, 3, 5 (4 always fails)");
    let a = get(&s, "/e/probe/compare?axis=probe.value");
    assert_eq!(a.body.matches(r#"<span class="swatch""#).count(), 5);
    // bad names are 404s, not errors
    for t in ["/e/nope", "/e/probe/c/nope", "/e/probe/c/..%2F..%2Fetc", "/e/..", "/e/probe/compare?cells=a"] {
        let a = get(&s, t);
        assert!(a.status == 404 || (a.status == 200 && a.body.contains("at least two")), "{t}: {}", a.status);
    }
}

#[test]
fn traversal_attempts_are_refused() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, results) = probe_fixture(tmp.path());
    let secret = tmp.path().join("secret.txt");
    std::fs::write(&secret, "SECRET-CONTENT").unwrap();
    std::os::unix::fs::symlink(&secret, results.join("probe").join("link.txt")).unwrap();
    std::os::unix::fs::symlink(tmp.path(), results.join("probe").join("up")).unwrap();
    let s = serve(&results, "127.0.0.1:0", &[]);
    // a real file is served
    let ctx = get(&s, "/files/results/probe/.flowlab-run.json");
    assert_eq!(ctx.status, 200, "{}", ctx.body);
    assert!(ctx.body.contains("\"manifest\""));
    let attempts = [
        "/files/results/../secret.txt",
        "/files/results/probe/../../secret.txt",
        "/files/results/%2e%2e/secret.txt",
        "/files/results/%2E%2E/secret.txt",
        "/files/results/%2e%2e%2fsecret.txt",
        "/files/results/%2e%2e%2Fsecret.txt",
        "/files/results/..%2fsecret.txt",
        "/files/results/.%2e/secret.txt",
        "/files/results/%252e%252e/secret.txt",
        "/files/results/%252e%252e%252fsecret.txt",
        "/files/results/..%5csecret.txt",
        "/files/results/%2e%2e%5csecret.txt",
        "/files/results/..\\secret.txt",
        "/files/results/%c0%ae%c0%ae/secret.txt",
        "/files/results/%c0%ae%c0%ae%c0%afsecret.txt",
        "/files/results/%uff0e%uff0e/secret.txt",
        "/files/results//etc/passwd",
        "/files/results/%2fetc%2fpasswd",
        &format!("/files/results/{}", secret.display()),
        &format!("/files/results/{}", secret.display().to_string().replace('/', "%2f")),
        "/files/results/probe/link.txt",
        "/files/results/probe/up/secret.txt",
        "/files/results/probe/%2e/link.txt",
        "/files/results/probe/./.flowlab-run.json",
        "/files/results/probe/x%00/../../secret.txt",
        "/files/data/../secret.txt",
        "/files/../secret.txt",
        "/files/results/....//secret.txt",
    ];
    assert!(attempts.len() >= 15);
    for t in attempts {
        let a = get(&s, t);
        assert!(matches!(a.status, 400 | 404), "{t}: status {} {}", a.status, a.body);
        assert!(!a.body.contains("SECRET-CONTENT") && !a.body.contains("root:"), "{t} leaked");
    }
}

#[test]
fn actions_need_the_token_and_replay_gives_a_verdict() {
    let tmp = tempfile::tempdir().unwrap();
    let (exps, results) = probe_fixture(tmp.path());
    let s = serve(&results, "127.0.0.1:0", &["--experiments", exps.to_str().unwrap()]);
    let ok = row_ids(&get(&s, "/e/probe?status=ok&q=probe").body)[0].clone();
    let replay = format!("/e/probe/c/{ok}/replay");
    let tok = format!("X-Flowlab-Token: {}", s.token);
    let cookie = format!("Cookie: flowlab_token={}", s.token);
    let wrong = format!("X-Flowlab-Token: {}", s.token.replace(|c: char| c.is_ascii_digit(), "a"));
    for (t, h) in [(replay.as_str(), None), ("/e/probe/run", None), (replay.as_str(), Some(cookie.as_str())), (replay.as_str(), Some(wrong.as_str())), ("/e/probe/run?token=x", None)] {
        let a = http(&s.addr, "POST", t, h.as_slice());
        assert_eq!(a.status, 403, "{t} {h:?}: {}", a.body);
    }
    // a page seen without the token does not hold it; with it, it does (and sets the cookie)
    assert!(!get(&s, "/e/probe").body.contains(&s.token));
    let a = get(&s, &format!("/e/probe?token={}", s.token));
    assert!(a.body.contains(&format!(r#"content="{}""#, s.token)) && a.head.contains("flowlab_token=") && a.head.contains("HttpOnly"));
    // DNS rebinding: a foreign Host is refused on a loopback bind
    assert_eq!(http(&s.addr, "GET", "/", &["Host: attacker.example:8737"]).status, 403);
    // with the token: replay in-process, verdict equal
    let a = http(&s.addr, "POST", &replay, &[&tok]);
    assert_eq!(a.status, 200, "{}", a.body);
    let v: serde_json::Value = serde_json::from_str(&a.body).unwrap();
    assert_eq!(v["equal"], true, "{v}");
    // a unique prefix replays the cell, as the cell page opens it; an unknown id is a JSON 404
    let a = http(&s.addr, "POST", &format!("/e/probe/c/{}/replay", &ok[..12]), &[&tok]);
    assert_eq!(a.status, 200, "{}", a.body);
    assert_eq!(serde_json::from_str::<serde_json::Value>(&a.body).unwrap()["cell_id"], ok.as_str());
    let a = http(&s.addr, "POST", "/e/probe/c/ffffffffffffffffffff/replay", &[&tok]);
    assert_eq!(a.status, 404, "{}", a.body);
    assert!(serde_json::from_str::<serde_json::Value>(&a.body).unwrap()["error"].as_str().unwrap().contains("no cell"));
    // an address no route serves is a page that says so (it was an empty 404)
    let a = get(&s, "/nothing/here");
    assert_eq!(a.status, 404);
    assert!(a.body.contains("Nothing is served at") && a.body.contains("/nothing/here"), "{}", a.body);
    // a tampered record: the verdict names the first difference
    let p = results.join("probe").join(format!("{ok}.json"));
    let mut rec: serde_json::Value = serde_json::from_slice(&std::fs::read(&p).unwrap()).unwrap();
    rec["response"]["metrics"]["mean"] = serde_json::json!(0.125);
    std::fs::write(&p, serde_json::to_vec_pretty(&rec).unwrap()).unwrap();
    let v: serde_json::Value = serde_json::from_str(&http(&s.addr, "POST", &replay, &[&tok]).body).unwrap();
    assert_eq!(v["equal"], false);
    assert_eq!(v["first_difference"]["at"], "/response/metrics/mean", "{v}");
    // start a run from the page: the tampered cell stays (cached), the failed ones rerun
    let a = http(&s.addr, "POST", &format!("/e/probe/run?token={}", s.token), &[]);
    assert_eq!(a.status, 202, "{}", a.body);
    let pid = serde_json::from_str::<serde_json::Value>(&a.body).unwrap()["started"].as_u64().unwrap();
    let t0 = Instant::now();
    loop {
        // the progress file of that run (the fixture's run left one too)
        let p = flowlab::live::read(&results.join("probe"));
        if p.as_ref().is_some_and(|p| p["pid"] == pid && p["finished"] == true) {
            let p = p.unwrap();
            assert_eq!((p["done"].as_u64(), p["failed"].as_u64(), p["cached"].as_u64()), (Some(11), Some(2), Some(9)), "{p}");
            break;
        }
        assert!(t0.elapsed() < Duration::from_secs(120), "the run did not finish");
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn a_non_loopback_bind_requires_the_token_everywhere() {
    let tmp = tempfile::tempdir().unwrap();
    let (_, results) = probe_fixture(tmp.path());
    let s = serve(&results, "0.0.0.0:0", &[]);
    for t in ["/", "/e/probe", "/static/app.css", "/files/results/probe/.flowlab-run.json", "/e/probe/events"] {
        assert_eq!(get(&s, t).status, 401, "{t}");
    }
    let a = get(&s, &format!("/?token={}", s.token));
    assert_eq!(a.status, 200);
    assert_eq!(http(&s.addr, "GET", "/e/probe", &[&format!("Cookie: flowlab_token={}", s.token)]).status, 200);
    assert_eq!(http(&s.addr, "GET", "/e/probe", &["Cookie: flowlab_token=nope"]).status, 401);
}

/// Reads server-sent `state` events from `/e/{exp}/events` until `until` holds for one.
fn watch(s: &Server, exp: &str, until: impl Fn(&serde_json::Value) -> bool, limit: Duration) -> Vec<serde_json::Value> {
    let mut st = TcpStream::connect(&s.addr).unwrap();
    st.set_read_timeout(Some(limit)).unwrap();
    write!(st, "GET /e/{exp}/events HTTP/1.1\r\nHost: {}\r\nAccept: text/event-stream\r\n\r\n", s.addr).unwrap();
    let mut seen = Vec::new();
    let t0 = Instant::now();
    for line in BufReader::new(st).lines() {
        let Ok(line) = line else { break };
        if let Some(d) = line.strip_prefix("data: ") {
            let v: serde_json::Value = serde_json::from_str(d).unwrap();
            let stop = until(&v);
            seen.push(v);
            if stop {
                break;
            }
        }
        if t0.elapsed() > limit {
            break;
        }
    }
    seen
}

#[test]
fn live_events_follow_a_run_and_pages_load_while_it_writes() {
    let tmp = tempfile::tempdir().unwrap();
    let results = tmp.path().join("results");
    std::fs::create_dir_all(&results).unwrap();
    let s = serve(&results, "127.0.0.1:0", &[]);
    let mut runner = flowlab().args(["run", "tests/manifests/slow.toml", "--results", results.to_str().unwrap(), "-q", "--no-env", "--no-report", "-j", "2"]).spawn().unwrap();
    let t0 = Instant::now();
    while !results.join("slow").is_dir() {
        assert!(t0.elapsed() < Duration::from_secs(30));
        std::thread::sleep(Duration::from_millis(20));
    }
    // 100 concurrent page loads while the run writes cells
    let handles: Vec<_> = (0..100)
        .map(|i| {
            let addr = s.addr.clone();
            std::thread::spawn(move || {
                let t = ["/", "/e/slow", "/e/slow?sort=p:probe.value&dir=desc", "/e/slow/rows", "/static/app.js"][i % 5];
                http(&addr, "GET", t, &[]).status
            })
        })
        .collect();
    let statuses: Vec<u16> = handles.into_iter().map(|h| h.join().unwrap()).collect();
    assert!(statuses.iter().all(|s| *s == 200), "{statuses:?}");
    let seen = watch(&s, "slow", |v| v["progress"]["finished"] == true && v["cells"] == 16, Duration::from_secs(120));
    assert!(runner.wait().unwrap().success());
    let last = seen.last().unwrap();
    assert_eq!((last["cells"].as_u64(), last["ok"].as_u64(), last["progress"]["done"].as_u64()), (Some(16), Some(16), Some(16)), "{last}");
    // the counts rose while we watched: the page saw the run, not only its end
    let counts: Vec<u64> = seen.iter().map(|v| v["cells"].as_u64().unwrap()).collect();
    assert!(counts.windows(2).all(|w| w[0] <= w[1]) && counts.iter().collect::<std::collections::BTreeSet<_>>().len() >= 3, "{counts:?}");
    assert!(seen.iter().any(|v| v["progress"]["active"] == true && v["progress"]["running"].as_array().is_some_and(|r| !r.is_empty())), "running cells were shown");
}

/// Peak resident memory of a process, MB (Linux `VmHWM`).
fn peak_rss_mb(pid: u32) -> f64 {
    let s = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    s.lines().find_map(|l| l.strip_prefix("VmHWM:")).and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok()).unwrap_or(0.0) / 1024.0
}

#[test]
fn a_hundred_thousand_cell_experiment_opens() {
    // the records are those of the probe run, copied under new ids with a 3-axis sweep point
    let tmp = tempfile::tempdir().unwrap();
    let (_, results) = probe_fixture(tmp.path());
    let src = results.join("probe");
    let proto: Vec<serde_json::Value> = std::fs::read_dir(&src)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .filter(|v: &serde_json::Value| v["kind"] == "task")
        .collect();
    let big = results.join("big");
    std::fs::create_dir_all(&big).unwrap();
    let n = 100_000usize;
    let mut mix = Mix::new(5, "serve-big");
    for i in 0..n {
        let mut r = proto[i % proto.len()].clone();
        let id = format!("{:020x}", mix.next() as u128 * 31 + i as u128);
        r["cell_id"] = id.clone().into();
        r["experiment"] = "big".into();
        r["point"] = serde_json::json!({"probe.value": i % 50, "probe.draws": (i / 50) % 40, "probe.alpha": (i % 7) as f64 / 7.0});
        if r["status"] == "ok" {
            r["response"]["metrics"]["mean"] = serde_json::json!((mix.next() % 1_000_000) as f64 / 1e6);
        }
        std::fs::write(big.join(format!("{id}.json")), serde_json::to_vec_pretty(&r).unwrap()).unwrap();
    }
    let s = serve(&results, "127.0.0.1:0", &[]);
    let t0 = Instant::now();
    let a = get(&s, "/e/big");
    let first = t0.elapsed();
    assert_eq!(a.status, 200);
    assert!(a.body.contains(&format!("1–50 of {n} cells")), "{}", &a.body[..a.body.len().min(3000)]);
    assert_eq!(row_ids(&a.body).len(), 50);
    let t1 = Instant::now();
    let a = get(&s, "/e/big?sort=m:mean&dir=desc&page=7");
    let sorted = t1.elapsed();
    assert!(a.body.contains(&format!("301–350 of {n} cells")));
    let t2 = Instant::now();
    let a = get(&s, "/e/big?q=value%3D7&status=ok");
    let filtered = t2.elapsed();
    assert!(row_ids(&a.body).iter().all(|id| a.body.contains(id.as_str())));
    let rss = peak_rss_mb(s.child.id());
    eprintln!(
        "serve, {n} cells: first page {:.3} s (index built during start-up or on this request), sorted page {:.3} s, filtered page {:.3} s, server peak RSS {rss:.0} MB",
        first.as_secs_f64(),
        sorted.as_secs_f64(),
        filtered.as_secs_f64()
    );
    assert!(rss < 200.0, "server peak RSS {rss:.0} MB");
}

/// The compare page of histfit fits draws every compared cell's mixture over the histogram it
/// was fitted to (a generated dataset, found as a replay finds it): one PDF and one CDF chart,
/// the data as dots on histfit's plot grid, one line per cell in the cell's colour, a legend
/// entry each; the objective traces are overlaid per iterate and against time; when the data
/// no longer has the recorded hash, the mixtures are still drawn
/// and a note says why the data is not.
#[test]
fn compare_overlays_fitted_mixtures_on_their_histogram() {
    let tmp = tempfile::tempdir().unwrap();
    let m = tmp.path().join("fits.toml");
    std::fs::write(
        &m,
        r#"[experiment]
name = "fits"
seed = 3
[[dataset]]
id = "synthetic"
plugin = "histfit"
capability = "generate_hist"
format = "csv_hist"
[dataset.settings]
flows = 20000
x = "length"
bin_exp = 12
[[fit]]
id = "f"
plugin = "histfit"
column = "flows"
families = { uniform = 2, lognorm = 2 }
iterations = 30
plots = false
trace = true
[sweep]
"f.fitter" = ["em-compat", "em-binned"]
"#,
    )
    .unwrap();
    let results = tmp.path().join("results");
    let o = run(&["run", m.to_str().unwrap(), "--results", results.to_str().unwrap(), "-q", "--no-env", "--no-report"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = results.join("fits");
    let recs: Vec<serde_json::Value> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json") && !p.file_name().unwrap().to_string_lossy().starts_with('.'))
        .map(|p| serde_json::from_slice(&std::fs::read(p).unwrap()).unwrap())
        .collect();
    let fits: Vec<&serde_json::Value> = recs.iter().filter(|r| r["kind"] == "task").collect();
    assert_eq!(fits.len(), 2);
    let ids: Vec<&str> = fits.iter().map(|r| r["cell_id"].as_str().unwrap()).collect();
    let s = serve(&results, "127.0.0.1:0", &[]);
    let page = get(&s, &format!("/e/fits/compare?cells={}", ids.join(",")));
    assert_eq!(page.status, 200);
    // the objective traces, per iterate and against time, one line per cell
    let traces = page.body.split("Fitted mixtures over the data").next().unwrap();
    let timed = traces.split("data.trace against time").nth(2).expect("a trace chart against time");
    assert_eq!(timed.split("</figure>").next().unwrap().matches("<polyline").count(), 2);
    let sec = page.body.split("Fitted mixtures over the data").nth(1).unwrap_or_else(|| panic!("no mixture section: {}", &page.body[..page.body.len().min(2000)]));
    let charts: Vec<&str> = sec.split("<figure class=\"chartbox\">").skip(1).collect();
    assert_eq!(charts.len(), 2, "one PDF and one CDF chart");
    assert!(charts[0].contains("PDF · synthetic · flows") && charts[1].contains("CDF · synthetic · flows"));
    // the histogram's grid: as many dots as grid points with a value on each axis (the CDF has
    // every point; the PDF only the positive ones), one line per fitted cell
    let dots = |c: &str| c.matches("<circle cx=").count() - c.matches("<li><svg width=\"18\" height=\"10\"><circle").count();
    assert!(dots(charts[1]) > 20, "{}", dots(charts[1]));
    assert!(dots(charts[0]) <= dots(charts[1]) && dots(charts[0]) > 10);
    for c in &charts {
        assert_eq!(c.matches("<polyline").count(), 2);
        assert!(c.contains("data (flows)"));
        for r in &fits {
            assert!(c.contains(&r["cell_id"].as_str().unwrap()[..8]), "legend names each cell");
        }
        assert!(c.contains("U2 L2"));
        assert!(c.contains("10<tspan"), "decade ticks written 10^k");
    }
    // the data file changes: the mixtures remain, the note says why the data is not drawn
    let generator = recs.iter().find(|r| r["kind"] == "dataset").unwrap();
    let art = dir.join("artifacts").join(generator["cell_id"].as_str().unwrap());
    let file = std::fs::read_dir(&art).unwrap().map(|e| e.unwrap().path()).find(|p| p.extension().is_some_and(|e| e == "csv")).unwrap();
    let mut text = std::fs::read_to_string(&file).unwrap();
    text.push_str("99999999,100000000,1,1,1\n");
    std::fs::write(&file, text).unwrap();
    let page = get(&s, &format!("/e/fits/compare?cells={}", ids.join(",")));
    let sec = page.body.split("Fitted mixtures over the data").nth(1).unwrap();
    assert!(sec.contains("no data drawn under its mixture") && sec.contains("not found among the generator cells"), "{sec}");
    assert_eq!(sec.matches("<polyline").count(), 4);
    assert!(!sec.contains("data (flows)"));
}

/// The `<script src>` / `<link href>` targets of a page, after checking that it has no inline
/// script or style: serve's Content-Security-Policy (`script-src 'self'; style-src 'self'`)
/// makes a browser refuse those, which leaves a page unstyled and dead.
fn own_files_of(target: &str, html: &str) -> Vec<String> {
    let lower = html.to_ascii_lowercase();
    assert!(!lower.contains("<style"), "{target}: an inline <style> element");
    assert!(!lower.contains(" style=\""), "{target}: an inline style attribute");
    let mut files = vec![];
    for tag in lower.split("<script").skip(1) {
        let (attrs, rest) = tag.split_once('>').unwrap();
        assert!(attrs.contains("src=\""), "{target}: an inline <script>");
        assert!(rest.trim_start().starts_with("</script>"), "{target}: a <script src> with a body");
        files.push(attrs.split("src=\"").nth(1).unwrap().split('"').next().unwrap().to_string());
    }
    for tag in lower.split("<link").skip(1) {
        if let Some(h) = tag.split_once('>').unwrap().0.split("href=\"").nth(1) {
            files.push(h.split('"').next().unwrap().to_string());
        }
    }
    for a in ["onclick=", "onload=", "onchange=", "onsubmit=", "oninput=", "javascript:"] {
        assert!(!lower.contains(a), "{target}: inline handler {a}");
    }
    files
}

#[test]
fn every_page_keeps_to_its_content_security_policy() {
    let tmp = tempfile::tempdir().unwrap();
    let (exps, results) = probe_fixture(tmp.path());
    let s = serve(&results, "127.0.0.1:0", &["--experiments", exps.to_str().unwrap(), "--save-dir", tmp.path().to_str().unwrap()]);
    let ok = row_ids(&get(&s, "/e/probe").body).into_iter().find(|id| record(&results, id)["status"] == "ok").unwrap();
    let pages = ["/".to_string(), "/e/probe".into(), format!("/e/probe/c/{ok}"), "/fit".into()];
    let mut files = std::collections::BTreeSet::new();
    for p in &pages {
        let a = get(&s, p);
        assert_eq!(a.status, 200, "{p}: {}", a.body);
        assert!(a.head.to_ascii_lowercase().contains("content-security-policy: default-src 'self'"), "{p}: {}", a.head);
        files.extend(own_files_of(p, &a.body));
    }
    assert!(files.contains("/fit/page.js") && files.contains("/fit/page.css"), "{files:?}");
    for f in &files {
        let a = get(&s, f);
        let want = if f.ends_with(".js") { "text/javascript" } else { "text/css" };
        assert!(a.status == 200 && a.head.to_ascii_lowercase().contains(&format!("content-type: {want}")), "{f}: {}", a.head);
        assert!(!a.body.is_empty(), "{f} is empty");
    }
}

#[test]
fn short_cell_ids_and_a_slash_after_fit_lead_to_the_page() {
    let tmp = tempfile::tempdir().unwrap();
    let (exps, results) = probe_fixture(tmp.path());
    let s = serve(&results, "127.0.0.1:0", &["--experiments", exps.to_str().unwrap()]);
    let ids = row_ids(&get(&s, "/e/probe").body);
    // the 12 characters the tables show lead to the cell
    let a = get(&s, &format!("/e/probe/c/{}", &ids[0][..12]));
    assert_eq!(a.status, 303, "{}", a.head);
    assert!(a.head.to_ascii_lowercase().contains(&format!("location: /e/probe/c/{}", ids[0])), "{}", a.head);
    // a prefix of several cells names how many, a short one is not searched
    let first = &ids[0][..1];
    let shared = ids.iter().filter(|i| i.starts_with(first)).count();
    let a = get(&s, &format!("/e/probe/c/{first}"));
    assert_eq!(a.status, 404, "{}", a.body);
    if shared > 1 {
        assert!(!a.body.contains("cells start with"), "a 1-character prefix is not searched: {}", a.body);
    }
    let a = get(&s, "/fit/?x=1");
    assert_eq!(a.status, 308);
    assert!(a.head.to_ascii_lowercase().contains("location: /fit?x=1"), "{}", a.head);
}

#[test]
fn compare_along_an_axis_holds_everything_else_fixed() {
    let tmp = tempfile::tempdir().unwrap();
    let exps = tmp.path().join("experiments");
    std::fs::create_dir_all(&exps).unwrap();
    // two swept settings and two replicates: along probe.value, draws and replicate must not vary
    let text = std::fs::read_to_string(repo().join("tests/manifests/probe.toml"))
        .unwrap()
        .replace("#:schema ../../schemas/manifest.schema.json\n", "")
        .replace("\"probe.value\" = [1, 2, 3, 4, 5]", "\"probe.value\" = [1, 2, 3]\n\"probe.draws\" = [10, 20]");
    let m = exps.join("probe.toml");
    std::fs::write(&m, text).unwrap();
    let results = tmp.path().join("results");
    let o = run(&["run", m.to_str().unwrap(), "--results", results.to_str().unwrap(), "-q", "--no-env", "--no-report"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let s = serve(&results, "127.0.0.1:0", &["--experiments", exps.to_str().unwrap()]);
    let a = get(&s, "/e/probe/compare?axis=probe.value");
    assert_eq!(a.status, 200);
    assert!(a.body.contains("Held fixed"), "{}", a.body);
    let mut ids: Vec<String> = a.body.split("/e/probe/c/").skip(1).map(|t| t.chars().take_while(|c| c.is_ascii_alphanumeric()).collect()).collect();
    ids.sort();
    ids.dedup();
    let recs: Vec<serde_json::Value> = ids.iter().map(|id| record(&results, id)).collect();
    assert_eq!(recs.len(), 3, "one cell per value: {ids:?}");
    let values: std::collections::BTreeSet<i64> = recs.iter().map(|r| r["point"]["probe.value"].as_i64().unwrap()).collect();
    assert_eq!(values.len(), 3);
    for r in &recs {
        assert_eq!((&r["point"]["probe.draws"], &r["replicate"]), (&recs[0]["point"]["probe.draws"], &recs[0]["replicate"]), "{ids:?}");
    }
}
