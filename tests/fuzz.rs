//! Bounded fuzzing inside `cargo test` (docs/scale-out.md, "Bad inputs and crash safety"): seeded structure-aware mutations of
//! every manifest in the repository through the manifest parser and layering (in process, a
//! few thousand cases within a time budget), the plan builder (plugins validate the settings),
//! and mutated data files of each plugin format through `flowlab run`. Nothing may panic,
//! crash or hang; every rejection must carry a message.
//!
//! Budget: `FLOWLAB_FUZZ_SECS` (default 6 s for the parser loop) and `FLOWLAB_FUZZ_SEED`.
use crate::common::*;
use flowlab::manifest::{Layers, Manifest};
use flowlab::plan::{Plan, PlanOptions};
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const TOKENS: &[&str] = &[
    "[",
    "]",
    "[[",
    "]]",
    "=",
    "\"",
    "'",
    "\"\"\"",
    "\n",
    ".",
    "{",
    "}",
    ",",
    "#",
    " ",
    "\t",
    "\r\n",
    "é",
    "🦀",
    "\u{0}",
    "\\",
    "\\u",
    "-",
    "+",
    "0",
    "1e999",
    "nan",
    "inf",
    "-0",
    "9223372036854775808",
    "true",
    "1979-05-27T07:32:00Z",
    "[experiment]",
    "[run]",
    "[[dataset]]",
    "[sweep]",
    "[[report]]",
    "plugin = \"testplug\"",
    "seed = ",
    "name = ",
    "isolation = \"subprocess\"",
    "timeout_s = ",
    "\"probe.value\" = [",
    "{data}",
    "../",
    "id = \"x\"",
    "capability = ",
    "datasets = [",
    "replicates = 0",
];

fn mutate(rng: &mut Mix, base: &str, corpus: &[String]) -> String {
    let mut s: Vec<u8> = base.as_bytes().to_vec();
    for _ in 0..1 + rng.below(4) {
        let pos = rng.below(s.len() + 1);
        match rng.below(7) {
            0 if !s.is_empty() => {
                let i = rng.below(s.len());
                s[i] ^= 1 << rng.below(8);
            }
            1 => {
                let t = TOKENS[rng.below(TOKENS.len())].as_bytes();
                s.splice(pos..pos, t.iter().copied());
            }
            2 if !s.is_empty() => {
                let end = (pos + 1 + rng.below(40)).min(s.len());
                s.drain(pos.min(end)..end);
            }
            3 => {
                // splice a line of another corpus file
                let other = &corpus[rng.below(corpus.len())];
                let lines: Vec<&str> = other.lines().collect();
                if !lines.is_empty() {
                    let l = format!("{}\n", lines[rng.below(lines.len())]);
                    s.splice(pos..pos, l.bytes());
                }
            }
            4 => {
                // duplicate a line (duplicate keys / sections)
                let text = String::from_utf8_lossy(&s).into_owned();
                let lines: Vec<&str> = text.lines().collect();
                if !lines.is_empty() {
                    let k = rng.below(lines.len());
                    let mut v: Vec<String> = lines.iter().map(|l| l.to_string()).collect();
                    v.insert(k, lines[k].to_string());
                    s = v.join("\n").into_bytes();
                }
            }
            5 => s.truncate(pos),
            _ => {
                let b = [b'0' + rng.below(10) as u8];
                s.splice(pos..pos, b);
            }
        }
    }
    // the parser takes text: lossy decoding keeps invalid UTF-8 cases as replacement chars
    String::from_utf8_lossy(&s).into_owned()
}

fn corpus() -> Vec<(PathBuf, String)> {
    let mut files = Vec::new();
    for dir in ["tests/bad", "tests/manifests", "experiments"] {
        for e in std::fs::read_dir(repo().join(dir)).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "toml") {
                files.push(p);
            }
        }
    }
    for e in std::fs::read_dir(repo().join("tests/bad_data")).unwrap() {
        let p = e.unwrap().path().join("manifest.toml");
        if p.is_file() {
            files.push(p);
        }
    }
    files.sort();
    files.into_iter().map(|p| (p.clone(), std::fs::read_to_string(&p).unwrap())).collect()
}

#[test]
fn fuzz_manifest_parser_and_plan_builder() {
    let secs: u64 = std::env::var("FLOWLAB_FUZZ_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(6);
    let seed: u64 = std::env::var("FLOWLAB_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261122);
    let files = corpus();
    assert!(files.len() >= 50);
    let texts: Vec<String> = files.iter().map(|(_, t)| t.clone()).collect();
    let mut rng = Mix::new(seed, "fuzz-manifest");
    let t0 = Instant::now();
    let (mut cases, mut accepted, mut planned) = (0usize, 0usize, 0usize);
    let sets_pool = [
        "experiment.seed=3",
        "experiment.seed=\"x\"",
        "probe.draws=-1",
        "run.jobs=0",
        "run.isolation=\"x\"",
        "a.b.c=[1,{x=2}]",
        "sweep.x=[]",
        "=",
        "experiment=1",
        "probe.value=1e400",
        "probe.value=2",
        "prob.draws=5",
        "nosuch.key=1",
        "experiment.seed=18446744073709551615",
        "run.timeout_s=1e300",
        "run.timeout_s=nan",
        "probe.draws=inf",
        "sweep={\"probe.value\"=[9]}",
        "fit.iterations=10",
        "gen.settings.rows=3",
        "gen.path=\"/etc/passwd\"",
        "report.0.template=\"../x\"",
        "experiment.replicates=10000000",
        "run.max_cells=1",
        "...=1",
        "probe..x=1",
    ];
    // environment overrides go through the same parser as --set (given explicitly: no
    // process-wide set_var in a threaded test)
    let env_pool = [
        ("FLOWLAB_EXPERIMENT__SEED", "7"),
        ("FLOWLAB_EXPERIMENT__SEED", "18446744073709551615"),
        ("FLOWLAB_PROBE__DRAWS", "1e-6"),
        ("FLOWLAB_PROBE__VALUE", "3"),
        ("FLOWLAB_RUN__TIMEOUT_S", "inf"),
        ("FLOWLAB_PROB__DRAWS", "2"),
        ("FLOWLAB___", "1"),
        ("FLOWLAB_RUN__JOBS", "[1"),
        ("FLOWLAB_FIT__FAMILIES", "{lognorm = 2}"),
        ("FLOWLAB_EXPERIMENT__NAME", "\"../x\""),
    ];
    let sweep_pool = [
        "probe.value=1,2",
        "probe.value=1:6",
        "probe.draws=0:1000000:1",
        "probe.value=[1,2],[3]",
        "nosuch.x=1",
        "probe.value=",
        "probe.value=1:",
        "probe.value=5:1:0",
        "probe.value=nan",
        "fit.iterations=100,400",
        "probe.value=\"a,b\",c",
        "probe.value=1,1",
        "=1",
        "probe.value=-9223372036854775808:9223372036854775807",
    ];
    while t0.elapsed() < Duration::from_secs(secs) || cases < 200 {
        let (path, base) = &files[rng.below(files.len())];
        let text = mutate(&mut rng, base, &texts);
        let pick = |rng: &mut Mix, s: &str| if rng.below(4) == 0 { mutate(rng, s, &[s.to_string()]) } else { s.to_string() };
        let mut sets: Vec<String> = Vec::new();
        for _ in 0..rng.below(3) {
            let s = sets_pool[rng.below(sets_pool.len())];
            sets.push(pick(&mut rng, s));
        }
        let mut env_vars: Vec<(String, String)> = Vec::new();
        for _ in 0..rng.below(3) {
            let (k, v) = env_pool[rng.below(env_pool.len())];
            env_vars.push((k.to_string(), pick(&mut rng, v)));
        }
        let mut sweeps: Vec<String> = Vec::new();
        for _ in 0..rng.below(2) {
            let s = sweep_pool[rng.below(sweep_pool.len())];
            sweeps.push(pick(&mut rng, s));
        }
        let layers = Layers { sets: sets.clone(), sweeps: sweeps.clone(), env: !env_vars.is_empty(), env_vars: Some(env_vars.clone()) };
        let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Manifest::from_text(path, text.clone(), &layers)));
        let r = r.unwrap_or_else(|_| panic!("the manifest parser panicked (seed {seed}, case {cases}, sets {sets:?}, sweeps {sweeps:?}, env {env_vars:?}) on:\n{text}"));
        cases += 1;
        match r {
            Err(e) => {
                let msg = e.to_string();
                assert!(!msg.trim().is_empty() && !e.0.is_empty(), "empty error for:\n{text}");
            }
            Ok(m) => {
                accepted += 1;
                // plan a few accepted ones: plugins validate the (mutated) settings; no data dir
                if accepted % 4 == 0 && !text.contains("{data}") {
                    let r = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| Plan::build(m, &PlanOptions { data_dir: None })));
                    match r {
                        Ok(Ok(_)) => planned += 1,
                        Ok(Err(e)) => assert!(!e.to_string().trim().is_empty()),
                        Err(_) => panic!("the plan builder panicked (seed {seed}, case {cases}) on:\n{text}"),
                    }
                }
            }
        }
    }
    eprintln!("fuzz: {cases} manifests in {:.1} s ({accepted} accepted, {planned} planned), seed {seed}", t0.elapsed().as_secs_f64());
}

fn run_bounded(args: &[&str]) -> std::process::Output {
    let mut child = flowlab().args(args).stdout(std::process::Stdio::piped()).stderr(std::process::Stdio::piped()).spawn().unwrap();
    let t0 = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if t0.elapsed() > Duration::from_secs(120) {
            child.kill().unwrap();
            panic!("flowlab hung on {args:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// Mutated data files of each format through `flowlab run`: exit 0 or 1 (a failed cell),
/// never a signal, a panic or a hang.
#[test]
fn fuzz_data_files_through_the_runner() {
    let seed: u64 = std::env::var("FLOWLAB_FUZZ_SEED").ok().and_then(|s| s.parse().ok()).unwrap_or(20261122);
    let mut rng = Mix::new(seed, "fuzz-data");
    let per_format: usize = std::env::var("FLOWLAB_FUZZ_DATA_CASES").ok().and_then(|s| s.parse().ok()).unwrap_or(3);
    let work = tempfile::tempdir().unwrap();
    let res = work.path().join("results");
    // (bad_data case whose manifest and file name to reuse, a valid seed text of that format)
    let seeds: &[(&str, &str, &str)] = &[
        ("csv_hist_empty", "data.csv", "bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n1,2,10,10,1000\n2,3,5,10,900\n3,4,2,6,700\n4,6,3,12,2000\n"),
        ("counts_empty", "counts.txt", "# counts\n1\n1\n2\n3\n1\n5\n8\n2\n1\n13\n"),
        (
            "profile_empty",
            "profile.csv",
            "START_TIME,END_TIME,L3_PROTO,L4_PROTO,SRC_PORT,DST_PORT,PACKETS,BYTES,PACKETS_REV,BYTES_REV\n35775,35778,4,6,59164,53,2,207,0,0\n-12781,-631,6,6,443,55320,6,1530,0,0\n100,900,4,17,53,5353,1,80,1,120\n",
        ),
        ("features_empty", "features.csv", "[1.0, 0.0, 3.5], [0.0, 1.0, 2.0], [1.0, 1.0, 0.5], \n[0.5, 0.5, 0.5], [0.0, 0.0, 1.0], \n"),
    ];
    let mut n = 0;
    for (case, file, valid) in seeds {
        let src = repo().join("tests/bad_data").join(case).join("manifest.toml");
        for k in 0..per_format {
            let dir = work.path().join(format!("{case}-{k}"));
            std::fs::create_dir_all(&dir).unwrap();
            let text = std::fs::read_to_string(&src).unwrap().replace(&format!("name = \"bad-{}\"", case.replace('_', "-")), &format!("name = \"fuzz-{}-{k}\"", case.replace('_', "-")));
            std::fs::write(dir.join("manifest.toml"), text).unwrap();
            let data = mutate(&mut rng, valid, &[valid.to_string()]);
            std::fs::write(dir.join(file), &data).unwrap();
            let m = dir.join("manifest.toml");
            let o = run_bounded(&["run", m.to_str().unwrap(), "--results", res.to_str().unwrap(), "-q", "--no-report", "--no-env"]);
            let err = stderr(&o);
            assert!(matches!(o.status.code(), Some(0) | Some(1)), "{case} #{k}: {:?}\n{err}\ndata:\n{data}", o.status);
            assert!(!err.contains("panicked"), "{case} #{k}: {err}\ndata:\n{data}");
            n += 1;
        }
    }
    let _: &Path = work.path();
    eprintln!("fuzz: {n} mutated data files through flowlab run");
}
