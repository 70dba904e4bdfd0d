//! One full training step (forward, BPTT, Adam) at the benchmark shape (docs/lstm.md, "Implementation choices"):
//! batch 64 × 100 steps × 146 features, hidden 128, Linear(128→146) head, MSE, Adam 1e-3.
//! Throughput = 64 / step time. Run: `cargo bench -p flowlab-lstm --bench lstm_step`.
//! Also the original shape (LSTM(146) + ReLU, no head, hard-sigmoid gates, RMSprop).
use criterion::{Criterion, Throughput, criterion_group, criterion_main};
use lstm::model::{Arch, Head, Init, OutAct, RecAct};
use lstm::optim::{OptConfig, OptKind, Optimizer};
use lstm::seq::Batch;
use lstm::trainer::{LossMask, Trainer};
use rand::Rng;

const B: usize = 64;
const T: usize = 100;
const F: usize = 146;

fn chunks(chunk_rows: usize) -> Vec<Batch> {
    let mut rng = flowlab_abi::seed::stream_rng("bench", "data", 0);
    (0..B.div_ceil(chunk_rows))
        .map(|c| {
            let rows = chunk_rows.min(B - c * chunk_rows);
            let x: Vec<f32> = (0..T * rows * F).map(|_| rng.random::<f32>()).collect();
            let y: Vec<f32> = (0..T * rows * F).map(|_| rng.random::<f32>()).collect();
            Batch { rows, steps: T, dim: F, x, y, mask: vec![1.0; T * rows], lens: vec![T; rows], idx: (0..rows).collect() }
        })
        .collect()
}

fn trainer(original: bool) -> Trainer {
    let arch = if original {
        Arch { input: F, hidden: F, output: F, head: Head::None, out_act: OutAct::Relu, rec_act: RecAct::HardSigmoidKeras2 }
    } else {
        Arch { input: F, hidden: 128, output: F, head: Head::Linear, out_act: OutAct::Identity, rec_act: RecAct::Sigmoid }
    };
    let p = arch.init(Init::PytorchUniform, &mut flowlab_abi::seed::stream_rng("bench", "init", 0));
    let kind = if original { OptKind::Rmsprop } else { OptKind::Adam };
    let cfg = OptConfig { kind, lr: 1e-3, rho: 0.9, beta1: 0.9, beta2: 0.999, eps: 1e-7 };
    let n = p.len();
    Trainer::new(arch, p, Optimizer::new(cfg, n), LossMask::None)
}

fn bench(c: &mut Criterion) {
    let mut g = c.benchmark_group("lstm_train_step");
    g.throughput(Throughput::Elements(B as u64));
    g.sample_size(20);
    for (name, original) in [("h128_linear_adam", false), ("orig_h146_relu_rmsprop", true)] {
        for (threads, chunk) in [(1usize, 64usize), (1, 32), (2, 32)] {
            let pool = rayon::ThreadPoolBuilder::new().num_threads(threads).build().unwrap();
            let data = chunks(chunk);
            let mut tr = trainer(original);
            g.bench_function(format!("{name}/threads{threads}_chunk{chunk}"), |b| b.iter(|| pool.install(|| tr.step(&data))));
        }
    }
    g.finish();
}

criterion_group!(benches, bench);
criterion_main!(benches);
