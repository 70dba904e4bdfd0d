//! `testplug`: a plugin for flowlab's own tests and benchmarks. Capability `probe` draws
//! numbers from the cell's seeded stream and can be told to panic, fail, sleep or abort;
//! capability `noop` does nothing (ABI round-trip benchmark); capability `lines` reads a
//! text dataset (and can edit it while it runs, for the dataset-guard tests); dataset
//! capability `synth` writes a small file.
use flowlab_abi::prelude::*;
use rand::Rng;
use serde::Deserialize;

/// The test plugin.
#[derive(Default)]
pub struct TestPlug;

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Probe {
    #[serde(default = "one")]
    draws: u32,
    /// Panic when the cell's `value` setting equals this.
    #[serde(default)]
    panic_on: Option<i64>,
    #[serde(default)]
    fail_on: Option<i64>,
    #[serde(default)]
    abort_on: Option<i64>,
    #[serde(default)]
    value: i64,
    #[serde(default)]
    sleep_ms: u64,
    /// Dereference a bad pointer (SIGSEGV) when `value` equals this.
    #[serde(default)]
    segfault_on: Option<i64>,
    /// Sleep forever, never polling the cancel callback, when `value` equals this.
    #[serde(default)]
    hang_on: Option<i64>,
    /// Sleep forever but poll the cancel callback (a soft timeout stops it).
    #[serde(default)]
    stall_on: Option<i64>,
    /// Allocate and touch `alloc_mb` MiB when `value` equals this.
    #[serde(default)]
    alloc_on: Option<i64>,
    #[serde(default)]
    alloc_mb: u64,
}
fn one() -> u32 {
    1
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct Empty {}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Lines {
    /// Append a line to the dataset file after reading it (an edit during the run).
    #[serde(default)]
    append: bool,
    /// Sleep this long after writing the artifact (polls cancel).
    #[serde(default)]
    sleep_ms: u64,
}

#[derive(Deserialize, Default)]
#[serde(deny_unknown_fields)]
struct Synth {
    #[serde(default = "one")]
    rows: u32,
}

impl Plugin for TestPlug {
    fn describe(&self) -> Description {
        let probe = json!({"type":"object","additionalProperties":false,"properties":{
            "draws":{"type":"integer","minimum":0},"panic_on":{"type":"integer"},"fail_on":{"type":"integer"},
            "abort_on":{"type":"integer"},"value":{"type":"integer"},"sleep_ms":{"type":"integer","minimum":0},
            "segfault_on":{"type":"integer"},"hang_on":{"type":"integer"},"stall_on":{"type":"integer"},
            "alloc_on":{"type":"integer"},"alloc_mb":{"type":"integer","minimum":0}}});
        let mut d = Description::new("testplug", env!("CARGO_PKG_VERSION"))
            .with(Capability::task("probe", "deterministic draws; can panic, fail, sleep or abort on request", probe).without_dataset())
            .with(Capability::task("noop", "does nothing (ABI round-trip benchmark)", json!({"type":"object","additionalProperties":false})).without_dataset())
            .with(Capability::task("lines", "counts a text dataset's lines; can append to it while running", json!({"type":"object","additionalProperties":false,"properties":{"append":{"type":"boolean"},"sleep_ms":{"type":"integer","minimum":0,"maximum":3600000}}})).accepting(&["text"]))
            .with(Capability::dataset("synth", "writes a small text dataset", json!({"type":"object","additionalProperties":false,"properties":{"rows":{"type":"integer","minimum":1}}})).producing("text"));
        d.summary = "flowlab's test plugin".into();
        d.formats = vec!["text".into()];
        d.internal = true;
        d
    }

    fn validate(&self, capability: &str, settings: &Value) -> Result<(), PluginError> {
        match capability {
            "probe" => parse_settings::<Probe>(settings).map(|_| ()),
            "synth" => parse_settings::<Synth>(settings).map(|_| ()),
            "noop" => parse_settings::<Empty>(settings).map(|_| ()),
            "lines" => parse_settings::<Lines>(settings).map(|_| ()),
            other => Err(PluginError::config("", format!("unknown capability `{other}`; testplug provides probe, noop, lines, synth"))),
        }
    }

    fn run(&self, req: &Request, host: &Host) -> Result<Response, PluginError> {
        match req.capability.as_str() {
            "noop" => Ok(Response::default()),
            "lines" => {
                let s: Lines = parse_settings(&req.settings)?;
                let ds = req.dataset.as_ref().ok_or_else(|| PluginError::data("`lines` needs a dataset"))?;
                let text = std::fs::read_to_string(&ds.path).map_err(|e| PluginError::data(format!("{}: {e}", ds.path)))?;
                if s.append {
                    use std::io::Write;
                    let mut f = std::fs::OpenOptions::new().append(true).open(&ds.path).map_err(|e| PluginError::run(format!("{}: {e}", ds.path)))?;
                    writeln!(f, "appended").map_err(|e| PluginError::run(e.to_string()))?;
                }
                let out = std::path::Path::new(&req.output_dir).join("count.txt");
                std::fs::write(&out, format!("{}\n", text.lines().count())).map_err(|e| PluginError::run(format!("{}: {e}", out.display())))?;
                let mut waited = 0;
                while waited < s.sleep_ms {
                    host.check_cancel()?;
                    std::thread::sleep(std::time::Duration::from_millis(10.min(s.sleep_ms - waited)));
                    waited += 10;
                }
                let mut r = Response { artifacts: vec![Artifact { name: "count".into(), path: "count.txt".into(), kind: "text".into() }], ..Default::default() };
                r.metrics.insert("lines".into(), json!(text.lines().count()));
                Ok(r)
            }
            "synth" => {
                let s: Synth = parse_settings(&req.settings)?;
                let mut rng = stream_rng(&req.seed_hex, "synth", 0);
                let text: String = (0..s.rows).map(|_| format!("{}\n", rng.random_range(0..1000u32))).collect();
                let path = std::path::Path::new(&req.output_dir).join("synth.txt");
                std::fs::write(&path, text).map_err(|e| PluginError::run(format!("{}: {e}", path.display())))?;
                Ok(Response { artifacts: vec![Artifact { name: "dataset".into(), path: "synth.txt".into(), kind: "text".into() }], ..Default::default() })
            }
            _ => {
                let p: Probe = parse_settings(&req.settings)?;
                host.info(&format!("probe value {} draws {}", p.value, p.draws));
                if p.panic_on == Some(p.value) {
                    panic!("testplug told to panic at value {}", p.value);
                }
                if p.fail_on == Some(p.value) {
                    return Err(PluginError::run(format!("testplug told to fail at value {}", p.value)));
                }
                if p.abort_on == Some(p.value) {
                    std::process::abort();
                }
                if p.segfault_on == Some(p.value) {
                    eprintln!("testplug: about to segfault at value {}", p.value);
                    // SAFETY: deliberately not: this write faults (address 8 is never mapped);
                    // it exists to test the runner's subprocess isolation.
                    unsafe { std::ptr::write_volatile(std::hint::black_box(8usize) as *mut u64, 1) };
                }
                if p.hang_on == Some(p.value) {
                    loop {
                        std::thread::sleep(std::time::Duration::from_secs(3600));
                    }
                }
                if p.stall_on == Some(p.value) {
                    loop {
                        host.check_cancel()?;
                        std::thread::sleep(std::time::Duration::from_millis(10));
                    }
                }
                if p.alloc_on == Some(p.value) {
                    let mut v: Vec<u8> = Vec::new();
                    for _ in 0..p.alloc_mb {
                        let mut chunk = vec![1u8; 1 << 20];
                        chunk[0] = 2;
                        v.extend_from_slice(std::hint::black_box(&chunk));
                    }
                    host.info(&format!("allocated {} bytes", std::hint::black_box(&v).len()));
                }
                let step = 10u64;
                let mut waited = 0;
                while waited < p.sleep_ms {
                    host.check_cancel()?;
                    std::thread::sleep(std::time::Duration::from_millis(step.min(p.sleep_ms - waited)));
                    waited += step;
                }
                let mut rng = stream_rng(&req.seed_hex, "probe", 0);
                let draws: Vec<f64> = (0..p.draws).map(|_| rng.random::<f64>()).collect();
                let mean = draws.iter().sum::<f64>() / draws.len().max(1) as f64;
                host.progress(1, 1);
                let mut r = Response::default();
                r.metrics.insert("mean".into(), num(mean));
                r.metrics.insert("value".into(), json!(p.value));
                r.metrics.insert("nan".into(), num(f64::NAN));
                r.metrics.insert("dataset_sha256".into(), json!(req.dataset.as_ref().map(|d| d.sha256.clone())));
                r.data.insert("draws".into(), json!(draws));
                r.iterations = p.draws as u64;
                Ok(r)
            }
        }
    }
}

flowlab_abi::export_plugin!(TestPlug, "testplug");
