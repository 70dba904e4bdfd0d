//! Training-step throughput at the benchmark shape (docs/lstm.md, "Implementation choices"), in the same protocol as
//! `benches/lstm_vs_pytorch.py`: 2 warm-up steps, then the median of 12 steps; prints
//! `rust <shape> threads=<n> seq_per_s=<x>` lines. Shapes: `h128` (hidden 128 + Linear head,
//! sigmoid gates, Adam) and `orig` (LSTM(146) + ReLU, hard-sigmoid gates, RMSprop).
//! Run: `cargo run -p flowlab-lstm --release --example step_throughput -- [threads…]`.
use lstm::model::{Arch, Head, Init, OutAct, RecAct};
use lstm::optim::{OptConfig, OptKind, Optimizer};
use lstm::seq::Batch;
use lstm::trainer::{LossMask, Trainer};
use rand::Rng;
use std::time::Instant;

const B: usize = 64;
const T: usize = 100;
const F: usize = 146;

fn main() {
    let threads: Vec<usize> = std::env::args().skip(1).filter_map(|a| a.parse().ok()).collect();
    let threads = if threads.is_empty() { vec![1, 2] } else { threads };
    let chunk = std::env::var("LSTM_CHUNK_ROWS").ok().and_then(|v| v.parse().ok()).unwrap_or(32usize);
    for shape in ["h128", "orig"] {
        for &n in &threads {
            let mut rng = flowlab_abi::seed::stream_rng("bench", "data", 0);
            let data: Vec<Batch> = (0..B.div_ceil(chunk))
                .map(|c| {
                    let rows = chunk.min(B - c * chunk);
                    let x: Vec<f32> = (0..T * rows * F).map(|_| rng.random::<f32>()).collect();
                    let y: Vec<f32> = (0..T * rows * F).map(|_| rng.random::<f32>()).collect();
                    Batch { rows, steps: T, dim: F, x, y, mask: vec![1.0; T * rows], lens: vec![T; rows], idx: (0..rows).collect() }
                })
                .collect();
            let orig = shape == "orig";
            let arch = if orig {
                Arch { input: F, hidden: F, output: F, head: Head::None, out_act: OutAct::Relu, rec_act: RecAct::HardSigmoidKeras2 }
            } else {
                Arch { input: F, hidden: 128, output: F, head: Head::Linear, out_act: OutAct::Identity, rec_act: RecAct::Sigmoid }
            };
            let p = arch.init(Init::PytorchUniform, &mut flowlab_abi::seed::stream_rng("bench", "init", 0));
            let cfg = OptConfig { kind: if orig { OptKind::Rmsprop } else { OptKind::Adam }, lr: 1e-3, rho: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-7 };
            let len = p.len();
            let mut tr = Trainer::new(arch, p, Optimizer::new(cfg, len), LossMask::None);
            let pool = rayon::ThreadPoolBuilder::new().num_threads(n).build().expect("pool");
            let mut cpu0 = 0.0;
            let mut times: Vec<f64> = (0..14)
                .map(|i| {
                    if i == 2 {
                        cpu0 = cpu_seconds();
                    }
                    let t0 = Instant::now();
                    pool.install(|| tr.step(&data));
                    t0.elapsed().as_secs_f64()
                })
                .skip(2)
                .collect();
            let cpu = cpu_seconds() - cpu0;
            times.sort_by(|a, b| a.total_cmp(b));
            let med = 0.5 * (times[5] + times[6]);
            // CPU-time throughput (12 steps / process CPU seconds): robust on a loaded machine,
            // comparable to wall time only for 1 thread
            println!("rust {shape} threads={n} chunk_rows={chunk} cpu_seq_per_s={:.1} seq_per_s={:.1}", 12.0 * B as f64 / cpu, B as f64 / med);
        }
    }
}

/// User + system CPU seconds of this process (Linux `/proc/self/stat`, 100 Hz ticks).
fn cpu_seconds() -> f64 {
    let s = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = s.rsplit(") ").next().unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let tick = |i: usize| f.get(i).and_then(|v| v.parse::<f64>().ok()).unwrap_or(0.0);
    (tick(11) + tick(12)) / 100.0
}
