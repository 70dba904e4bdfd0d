//! Fits one histogram column once with em-compat or em-binned and prints the mixture JSON
//! (used by benches/histfit_vs_python.sh for timing):
//! `histfit_fit_once HIST.csv flows|packets|octets ITER U L [compat|binned] [squarem] [trace] [gof]`
//! (em-binned runs plain EM unless `squarem` is given, so timings per iteration compare).
//! By default it does what flow-models' fit does (read, fit, write the JSON); `trace` records
//! the objective after every iteration, `gof` also scores the fit (docs/histfit.md, "Goodness of fit") and prints it.
use flowlab_abi::Host;
use histfit::binned::Binned;
use histfit::families::Family;
use histfit::fitcap::{FitRun, Fitter};
use histfit::hist::{Hist, YCol};
use histfit::initial::{Counts, initial_mix};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 6 {
        eprintln!("usage: histfit_fit_once HIST.csv flows|packets|octets ITER U L [compat|binned] [squarem] [trace] [gof]");
        std::process::exit(2);
    }
    let t0 = std::time::Instant::now();
    let h = Hist::read(std::path::Path::new(&a[1])).unwrap_or_else(|e| panic!("{e}"));
    let y = match a[2].as_str() {
        "flows" => YCol::Flows,
        "packets" => YCol::Packets,
        _ => YCol::Octets,
    };
    let data = Binned::new(&h, y).unwrap_or_else(|e| panic!("{e}"));
    let it: u64 = a[3].parse().expect("ITER");
    let counts = Counts(vec![(Family::Uniform, a[4].parse().expect("U")), (Family::Lognorm, a[5].parse().expect("L"))]);
    let start = initial_mix(&counts, data.x[0], *data.x.last().unwrap(), histfit::initial::InitialGrid::FlowModels).unwrap();
    // one pool for the process, as a runner cell has (RAYON_NUM_THREADS threads)
    let pool = rayon::ThreadPoolBuilder::new().build().unwrap_or_else(|e| panic!("{e}"));
    let flag = |f: &str| a[6..].iter().any(|s| s == f);
    let t1 = std::time::Instant::now();
    let fitter = if flag("binned") { Fitter::EmBinned } else { Fitter::EmCompat };
    // em-binned with tolerance 0: the full iteration count, as em-compat
    let accel = if flag("squarem") { histfit::em_binned::Accel::Squarem } else { histfit::em_binned::Accel::None };
    let run = FitRun::new(fitter, Some(it), Some(0.0), None, Some(flag("trace"))).with_accel(Some(accel));
    let fit = run.fit(&data, &start, &Host::detached(), Some(&pool)).unwrap_or_else(|e| panic!("{e}"));
    let t2 = std::time::Instant::now();
    print!("{}", fit.mixture.to_json_text());
    eprint!("read {:.3} s, fit {:.3} s ({} iterations), objective {:.9}", (t1 - t0).as_secs_f64(), (t2 - t1).as_secs_f64(), fit.iterations, fit.objective());
    if flag("gof") {
        let g = pool.install(|| histfit::gof::gof(&data, &fit.mixture));
        eprint!(", ll/unit {:.6}, KL {:.4e}, KS {:.4e}", g.ll_per_unit, g.kl_nats, g.ks);
    }
    eprintln!();
}
