//! Times `Hist::read` of a csv_hist file (the reader's line-length bound must not slow it;
//! `docs/histfit-benchmarks.md`): `cargo run --release -p flowlab-histfit --example
//! read_hist_timed -- FILE [REPEATS]` prints the median wall time of REPEATS reads (default 7).
use histfit::hist::Hist;
use std::time::Instant;

fn main() {
    let mut args = std::env::args().skip(1);
    let path = args.next().expect("usage: read_hist_timed FILE [REPEATS]");
    let reps: usize = args.next().and_then(|r| r.parse().ok()).unwrap_or(7);
    let mut t = Vec::with_capacity(reps);
    let mut rows = 0;
    for _ in 0..reps {
        let t0 = Instant::now();
        let h = Hist::read(std::path::Path::new(&path)).unwrap_or_else(|e| panic!("{e}"));
        t.push(t0.elapsed().as_secs_f64());
        rows = h.len();
    }
    t.sort_by(f64::total_cmp);
    println!("{rows} rows: median {:.1} ms, min {:.1} ms over {reps} reads", t[reps / 2] * 1e3, t[0] * 1e3);
}
