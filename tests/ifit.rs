//! serve's interactive fit (runner/src/ifit, docs/serve-fit.md): the engine runs the same
//! cell as `flowlab fit`, so its saved mixture equals the batch fit's byte for byte; it
//! streams every iteration through the ABI 1.1 `emit` callback; it stops on request; and
//! the page, driven in Chromium, animates the fit and saves that same file.
use crate::common::{data_dir, flowlab, repo, stderr};
use flowlab::ifit::{Event, Finished, FitSession, FitSpec, SaveWhat, save};
use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::path::{Path, PathBuf};
use std::sync::mpsc::Receiver;
use std::time::{Duration, Instant};

/// The tutorial histogram (flow-models' tutorial: all/length, flows), or None (skipped).
fn tutorial() -> Option<(PathBuf, PathBuf)> {
    let d = data_dir()?.canonicalize().ok()?;
    let h = d.join("agh_2015/histograms/all/length.csv");
    h.is_file().then_some((d, h))
}

fn spec(h: &Path, fams: &[(&str, u32)], iterations: u64, fitter: &str) -> FitSpec {
    FitSpec {
        histogram: h.to_path_buf(),
        column: "flows".into(),
        families: fams.iter().map(|(f, n)| (f.to_string(), *n)).collect::<BTreeMap<_, _>>(),
        iterations,
        fitter: fitter.into(),
        mpw: None,
        initial: None,
    }
}

/// Drains a session: (mixtures as (iteration, of, text), progress reports, the last event).
fn drain(rx: &Receiver<Event>) -> (Vec<(u64, u64, String)>, usize, Event) {
    let (mut mix, mut prog) = (vec![], 0);
    loop {
        match rx.recv_timeout(Duration::from_secs(300)).expect("the fit ended without a final event") {
            Event::Mixture { iteration, of, mixture_json } => mix.push((iteration, of, mixture_json)),
            Event::Progress { .. } => prog += 1,
            end => return (mix, prog, end),
        }
    }
}

fn finished(e: Event) -> Finished {
    match e {
        Event::Done(f) => *f,
        other => panic!("the fit did not finish: {other:?}"),
    }
}

/// The batch fit as a user runs it: `flowlab fit -i N -U u -L l FILE` → `flows.json`, `.mode`.
fn batch_fit(dir: &Path, h: &Path, iterations: u64, u: u32, l: u32) -> (String, String) {
    let o = flowlab().current_dir(dir).args(["fit", "-q", "-i", &iterations.to_string(), "-U", &u.to_string(), "-L", &l.to_string(), "--results"]).arg(dir.join("results")).arg(h).output().unwrap();
    assert!(o.status.success(), "{}", stderr(&o));
    let read = |n: &str| std::fs::read_to_string(dir.join(n)).unwrap();
    (read("flows.json"), read("flows.mode"))
}

/// The tutorial fit (U6 L4, 400 iterations): every iteration is streamed in order, the last
/// streamed mixture is the result, and the file `save` writes equals `flowlab fit`'s output
/// byte for byte, with and without streaming (streaming changes nothing in the fit).
#[test]
fn ifit_saved_mixture_equals_the_batch_fit() {
    let Some((data, h)) = tutorial() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let (json, mode) = batch_fit(tmp.path(), &h, 400, 6, 4);
    for (every, threads) in [(1u64, 2usize), (0, 1), (7, 1)] {
        let (_s, rx) = FitSession::start(spec(&h, &[("uniform", 6), ("lognorm", 4)], 400, "em-compat"), Some(&data), every, threads).unwrap();
        let (mix, _, end) = drain(&rx);
        let f = finished(end);
        assert_eq!(f.iterations, 400);
        assert_eq!(f.termination, "max_iters");
        let its: Vec<u64> = mix.iter().map(|m| m.0).collect();
        let want: Vec<u64> = if every == 0 { vec![] } else { (1..=400).filter(|i| i % every == 0 || *i == 400).collect() };
        assert_eq!(its, want, "emit_every {every}");
        assert!(mix.iter().all(|m| m.1 == 400));
        if let Some(last) = mix.last() {
            assert_eq!(last.2, f.mixture_json, "the last streamed mixture is the result");
            assert_ne!(mix[0].2, last.2, "the first iterate differs from the result");
        }
        let root = tmp.path().join(format!("saved-{every}"));
        std::fs::create_dir_all(&root).unwrap();
        let files = save(&root, "tutorial/", "flows", SaveWhat::Finished(&f)).unwrap();
        assert_eq!(files.len(), 2);
        assert_eq!(std::fs::read_to_string(root.join("tutorial/flows.json")).unwrap(), json, "saved mixture != batch fit (emit_every {every})");
        assert_eq!(std::fs::read_to_string(root.join("tutorial/flows.mode")).unwrap(), mode);
        save(&root, "single.json", "flows", SaveWhat::Finished(&f)).unwrap();
        assert_eq!(std::fs::read_to_string(root.join("single.json")).unwrap(), json);
        assert!(save(&root, "../escape.json", "flows", SaveWhat::Finished(&f)).is_err());
    }
}

/// "As manifest": the TOML the page shows, run by `flowlab run`, gives the session's file,
/// for em-binned (a setting `flowlab fit` has no flag for) and a family beyond U/P/L.
#[test]
fn ifit_as_manifest_reproduces_the_fit() {
    let Some((data, h)) = tutorial() else { return };
    let tmp = tempfile::tempdir().unwrap();
    for (fams, fitter, iters) in [(vec![("uniform", 2), ("lognorm", 3)], "em-binned", 200u64), (vec![("lognorm", 2), ("gamma", 1)], "em-compat", 50)] {
        let s = spec(&h, &fams, iters, fitter);
        let text = s.manifest(Some(&data)).unwrap();
        assert!(text.contains("{data}/agh_2015/histograms/all/length.csv"), "{text}");
        let (_s, rx) = FitSession::start(s, Some(&data), 5, 1).unwrap();
        let (mix, _, end) = drain(&rx);
        let f = finished(end);
        assert_eq!(mix.last().map(|m| &m.2), Some(&f.mixture_json));
        let m = tmp.path().join(format!("{fitter}.toml"));
        std::fs::write(&m, &text).unwrap();
        let res = tmp.path().join(format!("results-{fitter}"));
        let o = flowlab().env("FLOWLAB_DATA_DIR", &data).arg("run").arg(&m).arg("--results").arg(&res).arg("-q").output().unwrap();
        assert!(o.status.success(), "{}", stderr(&o));
        let found: Vec<PathBuf> = walk(&res).into_iter().filter(|p| p.file_name().is_some_and(|n| n == "flows.json")).collect();
        assert_eq!(found.len(), 1, "{found:?}");
        assert_eq!(std::fs::read_to_string(&found[0]).unwrap(), f.mixture_json, "{fitter}: manifest run != session");
    }
}

fn walk(d: &Path) -> Vec<PathBuf> {
    let mut out = vec![];
    for e in std::fs::read_dir(d).into_iter().flatten().flatten() {
        let p = e.path();
        if p.is_dir() { out.extend(walk(&p)) } else { out.push(p) }
    }
    out
}

/// Stop ends a long fit at the next iteration: the session reports `Stopped` soon after, the
/// last streamed mixture is an intermediate one, and it can be saved as such.
#[test]
fn ifit_stop_ends_a_fit_early() {
    let fixture = repo().join("plugins/histfit/tests/fixtures/small_length.csv");
    let (data, h) = match tutorial() {
        Some(t) => t,
        None if fixture.is_file() => (fixture.parent().unwrap().to_path_buf(), fixture.clone()),
        None => return,
    };
    let (s, rx) = FitSession::start(spec(&h, &[("uniform", 6), ("lognorm", 4)], 1_000_000, "em-compat"), Some(&data), 1, 1).unwrap();
    let first = loop {
        match rx.recv_timeout(Duration::from_secs(120)).unwrap() {
            Event::Mixture { iteration, .. } => break iteration,
            Event::Progress { .. } => {}
            e => panic!("ended before streaming: {e:?}"),
        }
    };
    let t = Instant::now();
    s.stop();
    let (mix, _, end) = drain(&rx);
    assert_eq!(end, Event::Stopped);
    assert!(t.elapsed() < Duration::from_secs(30), "stop took {:?}", t.elapsed());
    let last = mix.last().map(|m| m.0).unwrap_or(first);
    assert!(last < 1_000_000, "stopped at {last}");
    let tmp = tempfile::tempdir().unwrap();
    let text = mix.last().map(|m| m.2.clone()).unwrap_or_default();
    if !text.is_empty() {
        save(tmp.path(), "partial.json", "flows", SaveWhat::Partial(&text)).unwrap();
        let v: serde_json::Value = serde_json::from_str(&std::fs::read_to_string(tmp.path().join("partial.json")).unwrap()).unwrap();
        assert_eq!(v["mix"].as_array().map(Vec::len), Some(10));
    }
}

/// Bad choices are refused with the key named, before anything runs.
#[test]
fn ifit_refuses_bad_specs_with_the_key() {
    let h = PathBuf::from("/nonexistent/length.csv");
    for (s, key) in [
        (FitSpec { column: "bytes".into(), ..spec(&h, &[("lognorm", 1)], 10, "em-compat") }, "column"),
        (spec(&h, &[("lognorm", 1)], 10, "newton"), "fitter"),
        (spec(&h, &[("cauchy", 1)], 10, "em-compat"), "families.cauchy"),
        (spec(&h, &[("lognorm", 0)], 10, "em-compat"), "families"),
    ] {
        let e = FitSession::start(s, None, 1, 1).err().expect("refused").to_string();
        assert!(e.starts_with(key), "{key}: {e}");
    }
    let e = FitSession::start(spec(&h, &[("lognorm", 1)], 10, "em-compat"), None, 1, 1).err().expect("refused").to_string();
    assert!(e.contains("length.csv"), "{e}");
}

/// One HTTP/1.1 exchange on a blocking socket: (status, body).
fn http(addr: std::net::SocketAddr, method: &str, path: &str, body: Option<&str>) -> (u16, String) {
    use std::io::{Read, Write};
    let b = body.unwrap_or("");
    let ct = if body.is_some() { "Content-Type: application/json\r\n" } else { "" };
    // the token in the header, unless the path carries it (`?token=`)
    let tok = if path.contains("token=") { "" } else { "X-Flowlab-Token: tok\r\n" };
    let req = format!("{method} {path} HTTP/1.1\r\nHost: {addr}\r\n{ct}{tok}Content-Length: {}\r\nConnection: close\r\n\r\n{b}", b.len());
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    s.write_all(req.as_bytes()).unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let code = out.get(9..12).and_then(|c| c.parse().ok()).unwrap_or(0);
    (code, out.split_once("\r\n\r\n").map(|(_, b)| b.to_string()).unwrap_or_default())
}

/// The page's API on its own (no browser, synthetic data): settings the fit would refuse are
/// refused before it starts, naming the setting and not the fit's temporary manifest; every
/// refusal is `{"error"}` JSON; a histogram the fit would refuse is not drawn; at most
/// `MAX_RUNNING` fits run at once; and a fit no page watches is stopped after `UNWATCHED`.
#[test]
fn ifit_api_checks_settings_first_and_bounds_the_fits_it_runs() {
    use flowlab::ifit::web::{IfitConfig, MAX_RUNNING, UNWATCHED, router};
    let tmp = tempfile::tempdir().unwrap();
    let data = tmp.path().join("data");
    std::fs::create_dir_all(&data).unwrap();
    // a long-tailed synthetic histogram: 1 500 log-spaced bins, counts falling as a power law
    let mut h = String::from("bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n");
    let mut x = 1u64;
    for i in 0..1500u64 {
        let next = x + 1 + x / 64;
        let f = 1 + 1_000_000_000 / (x * x / 4 + 1) + i % 7;
        let _ = writeln!(h, "{x},{next},{f},{},{}", f * x, f * x * 700);
        x = next;
    }
    std::fs::write(data.join("h.csv"), h).unwrap();
    std::fs::write(data.join("zero.csv"), "bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n0,1,100,0,0\n").unwrap();
    std::fs::create_dir_all(tmp.path().join("save")).unwrap();
    let cfg = IfitConfig { data_dir: Some(data.clone()), save_root: Some(tmp.path().join("save")), token: "tok".into(), threads: 1 };
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let rt = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        rt.block_on(async move {
            let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
            tx.send(l.local_addr().unwrap()).unwrap();
            axum::serve(l, axum::Router::new().nest("/fit", router(cfg))).await.unwrap();
        });
    });
    let addr = rx.recv().unwrap();
    let form = |fams: &str, iterations: &str, extra: &str| format!(r#"{{"histogram":"h.csv","column":"flows","families":{fams},"iterations":{iterations},"fitter":"em-compat"{extra}}}"#);
    let error = |body: &str| {
        serde_json::from_str::<serde_json::Value>(body).unwrap_or_else(|e| panic!("not JSON ({e}): {body}"))["error"].as_str().map(str::to_string).unwrap_or_else(|| panic!("no error: {body}"))
    };
    // the plugin's own ranges, answered at once, for "as manifest" and for a start
    for (fams, its, extra, key) in [(r#"{"lognorm":1}"#, "0", "", "iterations"), (r#"{"uniform":1000}"#, "10", "", "families.uniform"), (r#"{"lognorm":1}"#, "10", r#","mpw":-5"#, "mpw")] {
        for route in ["/fit/manifest", "/fit/start"] {
            let (code, body) = http(addr, "POST", route, Some(&form(fams, its, extra)));
            let e = error(&body);
            assert_eq!(code, 400, "{route} {fams} {its} {extra}: {body}");
            assert!(e.contains(key) && !e.contains("ifit.toml"), "{route}: {e}");
        }
    }
    // the token as serve's guard takes it: the header or `?token=`
    assert_eq!(http(addr, "POST", "/fit/manifest?token=tok", Some(&form(r#"{"lognorm":1}"#, "10", ""))).0, 200);
    let (c, b) = http(addr, "POST", "/fit/manifest?token=bad", Some(&form(r#"{"lognorm":1}"#, "10", "")));
    assert_eq!(c, 403, "{b}");
    error(&b);
    // malformed requests: the same JSON shape as every other refusal
    for (body, code) in [("{", 400), ("null", 422), (r#"{"histogram":1}"#, 422)] {
        let (c, b) = http(addr, "POST", "/fit/start", Some(body));
        assert_eq!(c, code, "{body}: {b}");
        error(&b);
    }
    let (c, b) = http(addr, "GET", "/fit/events/abc", None);
    assert_eq!(c, 400, "{b}");
    assert!(error(&b).contains("session id"), "{b}");
    // a histogram the fit refuses is not drawn either
    let (c, b) = http(addr, "GET", "/fit/curves?histogram=zero.csv&column=flows", None);
    assert_eq!(c, 400, "{b}");
    assert!(error(&b).contains("bin_lo 0"), "{b}");
    // at most MAX_RUNNING fits at once (long ones: a million iterations)
    let long = form(r#"{"uniform":6,"lognorm":4}"#, "1000000", r#","animate":true"#);
    let ids: Vec<u64> = (0..MAX_RUNNING)
        .map(|_| {
            let (c, b) = http(addr, "POST", "/fit/start", Some(&long));
            assert_eq!(c, 200, "{b}");
            serde_json::from_str::<serde_json::Value>(&b).unwrap()["session"].as_u64().unwrap()
        })
        .collect();
    let (c, b) = http(addr, "POST", "/fit/start", Some(&long));
    assert_eq!(c, 429, "{b}");
    assert!(error(&b).contains("running"), "{b}");
    // no event stream ever opened on them: each is stopped UNWATCHED after its launch, and
    // its newest mixture can then be saved (while it runs, saving is refused)
    let t0 = Instant::now();
    let (c, b) = http(addr, "POST", &format!("/fit/save/{}", ids[0]), Some(r#"{"path":"early.json"}"#));
    assert_eq!(c, 409, "still running: {b}");
    for (k, id) in ids.iter().enumerate() {
        loop {
            let (c, b) = http(addr, "POST", &format!("/fit/save/{id}"), Some(&format!(r#"{{"path":"s{k}.json"}}"#)));
            if c == 200 {
                break;
            }
            assert_eq!(c, 409, "{b}");
            assert!(t0.elapsed() < Duration::from_secs(120), "fit {id} unwatched for 2 min and still running");
            std::thread::sleep(Duration::from_millis(250));
        }
    }
    assert!(t0.elapsed() >= UNWATCHED - Duration::from_secs(2), "stopped before UNWATCHED");
    assert!(std::fs::read_to_string(tmp.path().join("save/s0.json")).unwrap().contains("\"mix\""));
    // with those ended, a start is accepted again (and stopped at once)
    let (c, b) = http(addr, "POST", "/fit/start", Some(&long));
    assert_eq!(c, 200, "{b}");
    let id = serde_json::from_str::<serde_json::Value>(&b).unwrap()["session"].as_u64().unwrap();
    assert_eq!(http(addr, "POST", &format!("/fit/stop/{id}"), Some("{}")).0, 200);
}

/// The slowdown streaming costs, printed for BENCHMARKS.md (no threshold in a test): the
/// tutorial fit's plugin wall time with a mixture emitted every iteration vs none, median of
/// alternating runs.
#[test]
fn ifit_streaming_cost_is_reported() {
    let Some((data, h)) = tutorial() else { return };
    let (mut on, mut off) = (vec![], vec![]);
    for _ in 0..5 {
        for (every, v) in [(1u64, &mut on), (0, &mut off)] {
            let (_s, rx) = FitSession::start(spec(&h, &[("uniform", 6), ("lognorm", 4)], 400, "em-compat"), Some(&data), every, 1).unwrap();
            v.push(finished(drain(&rx).2).wall_s);
        }
    }
    let med = |v: &mut Vec<f64>| {
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let (a, b) = (med(&mut on), med(&mut off));
    eprintln!("ifit streaming cost: tutorial fit {:.1} ms with a mixture every iteration, {:.1} ms batch: {:.2}x", a * 1e3, b * 1e3, a / b);
}

mod browser;
