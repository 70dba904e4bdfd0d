//! `generate` with `rng = "numpy"` against flow-models 2.2 itself: the csv_flow and binary
//! bytes of `flow_models.generate.generate(…, random_state=seed)` for seeds 0, 1, 42, 2³¹−1
//! and sizes 20 and 10⁵, from mixtures and csv_hist files this test writes or ships (always)
//! and from the agh_2015 data (when the data dir is present); and the random primitives
//! (numpy's RandomState, Python's random, choice, pairwise sum, ndtr) against numpy/scipy on
//! many random seeds. Needs a Python with flow_models (FLOWLAB_PYTHON); skips visibly
//! without one unless FLOWLAB_REQUIRE_PYTHON=1.
mod common;
use flowlab_abi::plugin::call;
use histfit::HistFit;
use histfit::mt19937::{PyRandom, RandomState};
use histfit::npcompat;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use std::path::{Path, PathBuf};
use std::process::Command;

const SEEDS: [u64; 4] = [0, 1, 42, 2_147_483_647];
const SIZES: [u64; 2] = [20, 100_000];

/// A Python that imports flow_models (2.2; `pip install flow-models==2.2`) and its stack.
fn python_fm() -> Option<String> {
    common::python_with("numpy, scipy, pandas, flow_models.generate")
}

/// Runs `script` with the JSON `input` as argv[1]; returns its stdout parsed as JSON.
fn run_py(py: &str, script: &str, input: &Value) -> Value {
    let dir = tempfile::tempdir().unwrap();
    let f = dir.path().join("in.json");
    std::fs::write(&f, input.to_string()).unwrap();
    let out = Command::new(py).args(["-c", script, f.to_str().unwrap()]).output().unwrap();
    assert!(out.status.success(), "python failed: {}", String::from_utf8_lossy(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or(Value::Null)
}

/// flow-models' generate for each job `{in_file, out, fmt, size, x, seed}`. On pandas ≥ 3
/// its csv_hist branch fails (`np.clip(…, out=packet_size)` on the read-only array that
/// `Series.to_numpy()` returns under copy-on-write); the oracle hands it a writable copy of
/// the same values, nothing else changes.
const FM_GENERATE: &str = r#"
import json, sys
import numpy as np, pandas as pd
_to_numpy = pd.Series.to_numpy
pd.Series.to_numpy = lambda self, *a, **k: np.array(_to_numpy(self, *a, **k), copy=True)
from flow_models.generate import generate
for j in json.load(open(sys.argv[1])):
    generate(j['in_file'], j['out'], j['fmt'], j['size'], j['x'], j['seed'])
print('null')
"#;

/// One generation job: flowlab's settings and where flow-models writes the same.
struct Job {
    source: (&'static str, String),
    x: &'static str,
    size: u64,
    seed: u64,
    fmt: &'static str,
    fm_out: PathBuf,
}

fn fm_jobs(py: &str, jobs: &[Job]) {
    let list: Vec<Value> = jobs.iter().map(|j| json!({"in_file": j.source.1, "out": j.fm_out, "fmt": j.fmt, "size": j.size, "x": j.x, "seed": j.seed})).collect();
    run_py(py, FM_GENERATE, &Value::Array(list));
}

/// flowlab's output of a job, in `out` (the cell directory).
fn flowlab(j: &Job, out: &Path) -> flowlab_abi::Response {
    let mut s = json!({"rng": "numpy", "seed": j.seed, "flows": j.size, "x": j.x, "out_format": j.fmt});
    s[j.source.0] = json!(j.source.1);
    call(&HistFit, &common::request("generate", s, None, out)).unwrap_or_else(|e| panic!("{}: {e:?}", j.source.1))
}

/// Asserts equal bytes, naming the first differing line.
fn assert_same(ours: &Path, theirs: &Path, what: &str) {
    let a = std::fs::read(ours).unwrap_or_else(|e| panic!("{}: {e}", ours.display()));
    let b = std::fs::read(theirs).unwrap_or_else(|e| panic!("{}: {e}", theirs.display()));
    if a != b {
        let (ta, tb) = (String::from_utf8_lossy(&a), String::from_utf8_lossy(&b));
        let first = ta.lines().zip(tb.lines()).position(|(x, y)| x != y);
        let detail = match first {
            Some(i) => format!("line {}: flowlab `{}` vs flow-models `{}`", i + 1, ta.lines().nth(i).unwrap(), tb.lines().nth(i).unwrap()),
            None => format!("lengths {} vs {} bytes", a.len(), b.len()),
        };
        panic!("{what}: flowlab differs from flow-models: {detail}");
    }
}

/// A source of flows: the setting naming it (`mixture_dir`, `histogram`) with its path, and x.
type Source = ((&'static str, String), &'static str);

/// The sources that need no data dir, written under `root`: a mixture directory with the
/// tutorial model (x = length), one with the fm 2.2 refit of agh_2015 all/size shipped as
/// fixtures (x = size), and the fixture csv_hist (x = length).
fn written_sources(root: &Path) -> [Source; 3] {
    let len = root.join("tutorial");
    std::fs::create_dir_all(&len).unwrap();
    for (n, t) in [("flows", histfit::sampling::TUTORIAL_FLOWS), ("packets", histfit::sampling::TUTORIAL_PACKETS), ("octets", histfit::sampling::TUTORIAL_OCTETS)] {
        std::fs::write(len.join(format!("{n}.json")), t).unwrap();
    }
    let size = root.join("size");
    std::fs::create_dir_all(&size).unwrap();
    for n in ["flows", "packets", "octets"] {
        std::fs::copy(common::fixture(&format!("fm22_refit_all_size_{n}.json")), size.join(format!("{n}.json"))).unwrap();
    }
    let s = |p: &Path| p.to_string_lossy().into_owned();
    [(("mixture_dir", s(&len)), "length"), (("mixture_dir", s(&size)), "size"), (("histogram", s(&common::fixture("small_length.csv"))), "length")]
}

/// Each source's csv_flow for every seed of SEEDS and every size, flowlab vs flow-models.
fn compare_csv(py: &str, sources: &[Source], sizes: &[u64]) {
    compare_csv_on(py, sources, &SEEDS.iter().flat_map(|&s| sizes.iter().map(move |&n| (s, n))).collect::<Vec<_>>());
}

/// The same for explicit (seed, size) pairs.
fn compare_csv_on(py: &str, sources: &[Source], cases: &[(u64, u64)]) {
    let tmp = tempfile::tempdir().unwrap();
    let mut jobs = vec![];
    for (src, x) in sources {
        for &(seed, size) in cases {
            let fm_out = tmp.path().join(format!("fm{}.csv", jobs.len()));
            jobs.push(Job { source: src.clone(), x, size, seed, fmt: "csv_flow", fm_out });
        }
    }
    fm_jobs(py, &jobs);
    for j in &jobs {
        let out = tempfile::tempdir().unwrap();
        let r = flowlab(j, out.path());
        let what = format!("{} x={} seed={} size={}", j.source.1, j.x, j.seed, j.size);
        assert_same(&out.path().join("flows.csv"), &j.fm_out, &what);
        let lines = std::fs::read_to_string(&j.fm_out).unwrap().lines().count() as u64;
        assert_eq!(r.metrics["flows"], json!(lines), "{what}");
        eprintln!("identical: {what} ({lines} flows)");
    }
}

#[test]
fn csv_flow_identical_to_flow_models_from_written_mixtures() {
    let Some(py) = python_fm() else { return };
    let tmp = tempfile::tempdir().unwrap();
    compare_csv(&py, &written_sources(tmp.path())[..2], &SIZES);
}

/// Held-out seeds and sizes: 8 random seeds over numpy's whole range, random sizes.
#[test]
fn csv_flow_identical_on_random_seeds_and_sizes() {
    let Some(py) = python_fm() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let mut g = rand_pcg::Pcg64::seed_from_u64(2026);
    let cases: Vec<(u64, u64)> = (0..8).map(|_| (u64::from(g.random::<u32>()), g.random_range(1..30_000))).collect();
    compare_csv_on(&py, &written_sources(tmp.path()), &cases);
}

#[test]
fn csv_flow_identical_to_flow_models_from_a_csv_hist() {
    let Some(py) = python_fm() else { return };
    let tmp = tempfile::tempdir().unwrap();
    // size 0 replays every flow of the histogram (flow-models' `-s 0`)
    compare_csv(&py, &written_sources(tmp.path())[2..], &[0, 20, 100_000]);
}

#[test]
fn csv_flow_identical_to_flow_models_on_agh_2015() {
    let Some(data) = common::data_dir() else { return };
    let Some(py) = python_fm() else { return };
    let d = data.join("agh_2015");
    let s = |p: PathBuf| p.to_string_lossy().into_owned();
    compare_csv(
        &py,
        &[
            (("mixture_dir", s(d.join("mixtures/all/length"))), "length"),
            (("mixture_dir", s(d.join("mixtures/tcp/size"))), "size"),
            (("histogram", s(d.join("histograms/all/length.csv"))), "length"),
            (("histogram", s(d.join("histograms/udp/size.csv"))), "size"),
        ],
        &SIZES,
    );
}

/// The sorted file names of a directory.
fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    v.sort();
    v
}

#[test]
fn binary_and_none_outputs_match_flow_models() {
    let Some(py) = python_fm() else { return };
    let tmp = tempfile::tempdir().unwrap();
    let jobs: Vec<Job> = written_sources(tmp.path())
        .into_iter()
        .zip([(100_000, 42), (20, 0), (40_000, 2_147_483_647)])
        .enumerate()
        .map(|(i, ((source, x), (size, seed)))| Job { source, x, size, seed, fmt: "binary", fm_out: tmp.path().join(format!("fm{i}")) })
        .collect();
    fm_jobs(&py, &jobs);
    for j in &jobs {
        let out = tempfile::tempdir().unwrap();
        let r = flowlab(j, out.path());
        assert_eq!(r.artifacts.len(), 21);
        let (ours, theirs) = (listing(&out.path().join("flows")), listing(&j.fm_out));
        assert_eq!(ours, theirs, "the same 21 field files");
        for f in &theirs {
            assert_same(&out.path().join("flows").join(f), &j.fm_out.join(f), &format!("binary {f} of {} seed {}", j.source.1, j.seed));
        }
        let packets = std::fs::read(out.path().join("flows/packets.Q")).unwrap();
        assert_eq!(packets.len() as u64, 8 * j.size);
        // `none`: the same totals, nothing written
        let none = tempfile::tempdir().unwrap();
        let jn = Job { source: j.source.clone(), x: j.x, size: j.size, seed: j.seed, fmt: "none", fm_out: PathBuf::new() };
        let rn = flowlab(&jn, none.path());
        assert!(rn.artifacts.is_empty() && std::fs::read_dir(none.path()).unwrap().next().is_none());
        assert_eq!(rn.metrics, r.metrics);
        let total: u128 = packets.chunks(8).map(|c| u64::from_le_bytes(c.try_into().unwrap()) as u128).sum();
        assert_eq!(rn.metrics["packets"].as_f64().unwrap(), total as f64);
    }
}

/// numpy/Python values of the primitives for each case of `in.json`.
const PRIMITIVES: &str = r#"
import json, sys, random
import numpy as np, scipy.special, scipy.stats
inp = json.load(open(sys.argv[1]))
out = {'rs': [], 'py': [], 'sum': [], 'ndtr': None, 'lognorm': []}
for c in inp['rs']:
    rs = np.random.RandomState(c['seed'])
    u = rs.random_sample(c['n']).tolist()
    z = rs.standard_normal(c['n'] + 1).tolist()
    rs2 = np.random.RandomState(c['seed'])
    p = np.array(c['w']); p = p / p.sum()
    k = rs2.choice(len(p), size=c['n'], p=p).tolist()
    out['rs'].append({'u': u, 'z': z, 'k': k})
for s in inp['py']:
    r = random.Random(s)
    out['py'].append([r.random() for _ in range(1000)])
for a in inp['sum']:
    out['sum'].append(float(np.array(a).sum()))
out['ndtr'] = scipy.special.ndtr(np.array(inp['ndtr'])).tolist()
for s, scale, x in inp['lognorm']:
    d = scipy.stats.lognorm(s, 0, scale)
    out['lognorm'].append([d.cdf(x).tolist(), d.pdf(x).tolist()])
print(json.dumps(out))
"#;

fn ulps(a: f64, b: f64) -> u64 {
    if a == b {
        return 0;
    }
    (a.to_bits() as i64).abs_diff(b.to_bits() as i64)
}

#[test]
fn random_primitives_match_numpy_and_python_on_random_seeds() {
    let Some(py) = python_fm() else { return };
    let mut g = rand_pcg::Pcg64::seed_from_u64(18);
    let mut seeds: Vec<u32> = vec![0, 1, 42, 2_147_483_647, u32::MAX];
    seeds.extend((0..60).map(|_| g.random::<u32>()));
    let rs_cases: Vec<Value> = seeds
        .iter()
        .map(|&s| {
            let k = g.random_range(1..300);
            let w: Vec<f64> = (0..k).map(|_| if g.random_bool(0.1) { 0.0 } else { g.random::<f64>() * 10f64.powi(g.random_range(-6..6)) }).collect();
            json!({"seed": s, "n": g.random_range(1..3000), "w": w})
        })
        .collect();
    let py_seeds: Vec<i64> = [0i64, 1, -1, 42, 1 << 32, i64::MAX, i64::MIN + 1].into_iter().chain((0..40).map(|_| g.random::<i64>() >> g.random_range(0..63))).collect();
    let sums: Vec<Vec<f64>> = (0..200).map(|_| (0..g.random_range(1..1000)).map(|_| (g.random::<f64>() - 0.3) * 10f64.powi(g.random_range(-8..8))).collect()).collect();
    let ndtr_x: Vec<f64> = (0..100_000).map(|_| (g.random::<f64>() - 0.5) * 80.0 * g.random::<f64>().powi(3)).collect();
    let lognorm: Vec<(f64, f64, Vec<f64>)> =
        (0..50).map(|_| (0.1 + 3.0 * g.random::<f64>(), 10f64.powf(g.random::<f64>() * 6.0), (0..400).map(|i| (i as f64 + 1.0) * 10f64.powi(g.random_range(0..4))).collect())).collect();
    let r = run_py(&py, PRIMITIVES, &json!({"rs": rs_cases, "py": py_seeds, "sum": sums, "ndtr": ndtr_x, "lognorm": lognorm}));
    let f = |v: &Value| -> Vec<f64> { v.as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect() };
    for (c, want) in rs_cases.iter().zip(r["rs"].as_array().unwrap()) {
        let seed = c["seed"].as_u64().unwrap() as u32;
        let n = c["n"].as_u64().unwrap() as usize;
        let mut rs = RandomState::new(seed);
        let u: Vec<f64> = (0..n).map(|_| rs.random_sample()).collect();
        assert_eq!(u, f(&want["u"]), "random_sample, seed {seed}");
        let z: Vec<f64> = (0..=n).map(|_| rs.standard_normal()).collect();
        let zw = f(&want["z"]);
        assert_eq!(z, zw, "standard_normal (legacy polar method, glibc log), seed {seed}");
        let p = npcompat::normalise(&f(&c["w"]));
        let ch = npcompat::Choice::new(&p);
        let mut rs = RandomState::new(seed);
        let k: Vec<u64> = (0..n).map(|_| ch.draw(&mut rs) as u64).collect();
        let kw: Vec<u64> = want["k"].as_array().unwrap().iter().map(|v| v.as_u64().unwrap()).collect();
        assert_eq!(k, kw, "choice, seed {seed}");
    }
    for (s, want) in py_seeds.iter().zip(r["py"].as_array().unwrap()) {
        let mut p = PyRandom::new(*s);
        let ours: Vec<f64> = (0..1000).map(|_| p.random()).collect();
        assert_eq!(ours, f(want), "random.Random({s})");
    }
    for (a, want) in sums.iter().zip(r["sum"].as_array().unwrap()) {
        assert_eq!(npcompat::pairwise_sum(a).to_bits(), want.as_f64().unwrap().to_bits(), "sum of {} values", a.len());
    }
    let nd = f(&r["ndtr"]);
    let differ = ndtr_x.iter().zip(&nd).filter(|(x, w)| npcompat::ndtr(**x).to_bits() != w.to_bits()).count();
    assert_eq!(differ, 0, "scipy.special.ndtr: {differ} of {} values differ", nd.len());
    let (mut n, mut inexact, mut worst) = (0usize, 0usize, 0u64);
    for ((s, scale, xs), want) in lognorm.iter().zip(r["lognorm"].as_array().unwrap()) {
        let (c, d) = (f(&want[0]), f(&want[1]));
        for (i, &x) in xs.iter().enumerate() {
            let fam = npcompat::Family::Lognorm(*s);
            for (ours, theirs) in [(npcompat::cdf(fam, 0.0, *scale, x), c[i]), (npcompat::pdf(fam, 0.0, *scale, x), d[i])] {
                let u = ulps(ours, theirs);
                n += 1;
                inexact += usize::from(u > 0);
                worst = worst.max(u);
            }
        }
    }
    eprintln!("lognorm cdf/pdf vs scipy: {inexact} of {n} differ, at most {worst} ulp (numpy's log/exp are SVML, ours glibc)");
    assert!(worst <= 64, "lognorm cdf/pdf differ from scipy by {worst} ulp");
}

/// Settings flow-models' generator cannot take are refused at validation, naming the key.
#[test]
fn bad_numpy_settings_are_explained() {
    use flowlab_abi::Plugin;
    let gamma = json!({"flows": [[1.0, "gamma", [2.0, 0, 3.0]]], "packets": {"sum": 10, "mix": [[1.0, "lognorm", [1.0, 0, 5.0]]]}, "octets": {"sum": 700, "mix": [[1.0, "lognorm", [1.0, 0, 500.0]]]}});
    for (settings, key, want) in [
        (json!({"rng": "numpy", "seed": 4_294_967_296u64}), "seed", "above the maximum"),
        (json!({"seed": 3}), "seed", "applies to rng = \"numpy\""),
        (json!({"output": "../x.csv"}), "output", "relative path inside the cell's directory"),
        (json!({"output": "/tmp/x.csv"}), "output", "relative path"),
        (json!({"rng": "numpy", "model": gamma}), "rng", "flows mix[0] is gamma"),
        (json!({"rng": "numpy", "out_format": "parquet"}), "", "unknown variant `parquet`"),
    ] {
        let e = HistFit.validate("generate", &settings).expect_err(&settings.to_string());
        let text = format!("{} (at {:?})", e.message, e.path);
        assert!(text.contains(want), "{settings}: {text}");
        assert!(key.is_empty() || text.contains(key), "{settings}: {text} does not name `{key}`");
    }
}
