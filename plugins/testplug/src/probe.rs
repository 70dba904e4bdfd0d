//! `probe`: deterministic draws from the cell's seeded stream; can be told to panic, fail,
//! sleep, stall, hang, allocate, segfault or abort (the runner's failure and isolation tests).
use flowlab_abi::prelude::*;
use rand::Rng;
use serde::Deserialize;

/// The capability.
pub struct Probe;

/// Settings of `probe`. Each `*_on` fires when the cell's `value` equals it.
#[derive(Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct ProbeSettings {
    /// Numbers drawn from the stream `probe`.
    #[serde(default = "one")]
    pub draws: u32,
    /// Panic when `value` equals this.
    #[serde(default)]
    pub panic_on: Option<i64>,
    /// Return a run error.
    #[serde(default)]
    pub fail_on: Option<i64>,
    /// Abort the process.
    #[serde(default)]
    pub abort_on: Option<i64>,
    /// The cell's value (swept by the tests).
    #[serde(default)]
    pub value: i64,
    /// Sleep this long, polling cancel.
    #[serde(default)]
    pub sleep_ms: u64,
    /// Dereference a bad pointer (SIGSEGV).
    #[serde(default)]
    pub segfault_on: Option<i64>,
    /// Sleep forever, never polling the cancel callback.
    #[serde(default)]
    pub hang_on: Option<i64>,
    /// Sleep forever but poll the cancel callback (a soft timeout stops it).
    #[serde(default)]
    pub stall_on: Option<i64>,
    /// Allocate and touch `alloc_mb` MiB.
    #[serde(default)]
    pub alloc_on: Option<i64>,
    /// MiB for `alloc_on`.
    #[serde(default)]
    pub alloc_mb: u64,
}

/// Default of counts that are at least one.
pub fn one() -> u32 {
    1
}

/// Sleeps `ms` milliseconds in steps of 10, polling cancel before each.
pub fn sleep_polling(ctx: &Ctx, ms: u64) -> Result<(), PluginError> {
    let mut waited = 0;
    while waited < ms {
        ctx.check_cancel()?;
        std::thread::sleep(std::time::Duration::from_millis(10.min(ms - waited)));
        waited += 10;
    }
    Ok(())
}

impl Cap for Probe {
    const NAME: &'static str = "probe";
    const SUMMARY: &'static str = "deterministic draws; can panic, fail, sleep or abort on request";
    const DATASETLESS: bool = true;
    type Settings = ProbeSettings;

    fn run(p: ProbeSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        ctx.info(&format!("probe value {} draws {}", p.value, p.draws));
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
                sleep_polling(ctx, 10)?;
            }
        }
        if p.alloc_on == Some(p.value) {
            let mut v: Vec<u8> = Vec::new();
            for _ in 0..p.alloc_mb {
                let mut chunk = vec![1u8; 1 << 20];
                chunk[0] = 2;
                v.extend_from_slice(std::hint::black_box(&chunk));
            }
            ctx.info(&format!("allocated {} bytes", std::hint::black_box(&v).len()));
        }
        sleep_polling(ctx, p.sleep_ms)?;
        let mut rng = ctx.stream("probe", 0);
        let draws: Vec<f64> = (0..p.draws).map(|_| rng.random::<f64>()).collect();
        let mean = draws.iter().sum::<f64>() / draws.len().max(1) as f64;
        ctx.progress(1, 1);
        let mut r = Response::default();
        r.metrics.insert("mean".into(), num(mean));
        r.metrics.insert("value".into(), json!(p.value));
        r.metrics.insert("nan".into(), num(f64::NAN));
        r.metrics.insert("dataset_sha256".into(), json!(ctx.dataset().map(|d| d.sha256.clone())));
        r.data.insert("draws".into(), json!(draws));
        r.iterations = p.draws as u64;
        Ok(r)
    }
}
