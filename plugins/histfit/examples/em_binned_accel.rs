//! em-binned with plain EM, SQUAREM alone and SQUAREM with the quasi-Newton polish (the
//! default) side by side on the agh_2015 histograms (the table of `docs/histfit.md`,
//! "em-binned convergence"):
//! `em_binned_accel DATA_DIR [TOLERANCE] [CAP] [SETS] [COLUMN]` prints one markdown row per set
//! (SETS: comma-separated, default the six; COLUMN: flows, packets or octets, default flows),
//! families U6 L4 and U6 P1 L4: iterations (E-steps), termination, ℓ per unit, process CPU
//! seconds of the fit (Linux `/proc/self/stat`), and ℓ of the default minus each other's.
use flowlab_abi::Host;
use histfit::binned::Binned;
use histfit::em::{BinnedOptions, em_binned};
use histfit::em_binned::Accel;
use histfit::families::Family;
use histfit::hist::{Hist, YCol};
use histfit::initial::{Counts, InitialGrid, initial_mix};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    let Some(dir) = a.get(1) else {
        eprintln!("usage: em_binned_accel DATA_DIR [TOLERANCE] [CAP] [SETS]");
        std::process::exit(2);
    };
    let tol: f64 = a.get(2).map_or(1e-9, |s| s.parse().expect("TOLERANCE"));
    let cap: u64 = a.get(3).map_or(1000, |s| s.parse().expect("CAP"));
    let sets: Vec<String> =
        a.get(4).map_or_else(|| ["all/length", "all/size", "tcp/length", "tcp/size", "udp/length", "udp/size"].map(String::from).to_vec(), |s| s.split(',').map(String::from).collect());
    let col = match a.get(5).map_or("flows", String::as_str) {
        "flows" => YCol::Flows,
        "packets" => YCol::Packets,
        "octets" => YCol::Octets,
        c => panic!("COLUMN {c}: flows, packets or octets"),
    };
    let pool = rayon::ThreadPoolBuilder::new().build().unwrap_or_else(|e| panic!("{e}"));
    println!(
        "| set | families | plain EM: iterations, termination | ℓ/unit | CPU s | SQUAREM alone: iterations (E-steps), termination | ℓ/unit | CPU s | SQUAREM + polish: iterations (E-steps), termination | ℓ/unit | CPU s | Δℓ vs plain | Δℓ vs SQUAREM alone |"
    );
    println!("| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |");
    for set in &sets {
        let h = Hist::read(&std::path::Path::new(dir).join(format!("agh_2015/histograms/{set}.csv"))).unwrap_or_else(|e| panic!("{e}"));
        let data = Binned::new(&h, col).unwrap_or_else(|e| panic!("{e}"));
        for (name, counts) in [("U6 L4", vec![(Family::Uniform, 6), (Family::Lognorm, 4)]), ("U6 P1 L4", vec![(Family::Uniform, 6), (Family::Genpareto, 1), (Family::Lognorm, 4)])] {
            let start = initial_mix(&Counts(counts), data.x[0], *data.x.last().unwrap(), InitialGrid::FlowModels).unwrap_or_else(|e| panic!("{e}"));
            let mut row = format!("| {set} | {name} |");
            let mut lls = vec![];
            for (accel, polish) in [(Accel::None, false), (Accel::Squarem, false), (Accel::Squarem, true)] {
                let t = cpu_seconds();
                let f = em_binned(&data, &start, BinnedOptions { max_iterations: cap, tolerance: tol, trace: false, mpw: None, accel, polish }, &Host::detached(), Some(&pool))
                    .unwrap_or_else(|e| panic!("{e}"));
                let wall = cpu_seconds() - t;
                let term = if f.termination == flowlab_abi::Termination::Converged { "converged" } else { "max_iterations" };
                let its = if accel == Accel::None { format!("{}", f.iterations) } else { format!("{} ({})", f.iterations, f.evaluations) };
                row.push_str(&format!(" {its}, {term} | {:.10} | {wall:.2} |", f.objective()));
                lls.push(f.objective());
            }
            row.push_str(&format!(" {:+.2e} | {:+.2e} |", lls[2] - lls[0], lls[2] - lls[1]));
            println!("{row}");
        }
    }
}

/// User + system CPU time of this process in seconds (`/proc/self/stat` fields 14 and 15, in
/// clock ticks of 1/100 s).
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    // the fields after the command name, which is in parentheses and may hold spaces
    let rest = s.rsplit_once(')').map_or("", |(_, r)| r);
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}
