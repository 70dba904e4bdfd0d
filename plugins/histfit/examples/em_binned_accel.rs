//! em-binned with plain EM and with SQUAREM side by side on the agh_2015 histograms (the
//! table of `docs/histfit.md`, "em-binned convergence"):
//! `em_binned_accel DATA_DIR [TOLERANCE] [CAP] [MPW]` prints one markdown row per set, column
//! flows, families U6 L4 and U6 P1 L4: M-steps, termination, ℓ per flow, fit wall time.
use flowlab_abi::Host;
use histfit::binned::Binned;
use histfit::em::{em_binned, BinnedOptions};
use histfit::em_binned::Accel;
use histfit::families::Family;
use histfit::hist::{Hist, YCol};
use histfit::initial::{initial_mix, Counts, InitialGrid};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let Some(dir) = a.get(1) else {
        eprintln!("usage: em_binned_accel DATA_DIR [TOLERANCE] [CAP] [MPW]");
        std::process::exit(2);
    };
    let tol: f64 = a.get(2).map_or(1e-9, |s| s.parse().expect("TOLERANCE"));
    let cap: u64 = a.get(3).map_or(1000, |s| s.parse().expect("CAP"));
    let mpw: Option<f64> = a.get(4).map(|s| s.parse().expect("MPW"));
    let pool = rayon::ThreadPoolBuilder::new().build().unwrap_or_else(|e| panic!("{e}"));
    println!("| set | families | plain EM: M-steps, termination | ℓ/flow | wall s | SQUAREM: M-steps (E-steps), termination | ℓ/flow | wall s | Δℓ/flow |");
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for set in ["all/length", "all/size", "tcp/length", "tcp/size", "udp/length", "udp/size"] {
        let h = Hist::read(&std::path::Path::new(dir).join(format!("agh_2015/histograms/{set}.csv"))).unwrap_or_else(|e| panic!("{e}"));
        let data = Binned::new(&h, YCol::Flows).unwrap_or_else(|e| panic!("{e}"));
        for (name, counts) in [("U6 L4", vec![(Family::Uniform, 6), (Family::Lognorm, 4)]), ("U6 P1 L4", vec![(Family::Uniform, 6), (Family::Genpareto, 1), (Family::Lognorm, 4)])] {
            let start = initial_mix(&Counts(counts), data.x[0], *data.x.last().unwrap(), InitialGrid::FlowModels).unwrap_or_else(|e| panic!("{e}"));
            let mut row = format!("| {set} | {name} |");
            let mut lls = vec![];
            for accel in [Accel::None, Accel::Squarem] {
                let t = std::time::Instant::now();
                let f = em_binned(&data, &start, BinnedOptions { max_iterations: cap, tolerance: tol, trace: false, mpw, accel }, &Host::detached(), Some(&pool)).unwrap_or_else(|e| panic!("{e}"));
                let wall = t.elapsed().as_secs_f64();
                let term = if f.termination == flowlab_abi::Termination::Converged { "converged" } else { "max_iterations" };
                let its = if accel == Accel::None { format!("{}", f.iterations) } else { format!("{} ({})", f.iterations, f.evaluations) };
                row.push_str(&format!(" {its}, {term} | {:.10} | {wall:.2} |", f.objective()));
                lls.push(f.objective());
            }
            row.push_str(&format!(" {:+.2e} |", lls[1] - lls[0]));
            println!("{row}");
        }
    }
}
