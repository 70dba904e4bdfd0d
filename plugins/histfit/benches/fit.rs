//! criterion benches of the fitters: one em-compat E-step+M-step (1 iteration), the whole
//! tutorial fit (400 iterations, U6 L4) and 50 em-binned iterations, on agh_2015 all/length
//! flows when the data directory exists (FLOWLAB_DATA_DIR or the default of docs/design.md §9), else on a
//! synthetic 10^6-flow histogram from the tutorial model.
//! Run: `cargo bench -p flowlab-histfit --bench fit`.
use criterion::{Criterion, criterion_group, criterion_main};
use flowlab_abi::Host;
use histfit::binned::Binned;
use histfit::em::{BinnedOptions, CompatOptions, em_binned, em_compat};
use histfit::families::Family;
use histfit::hist::{Binner, Hist, YCol};
use histfit::initial::{Counts, initial_mix};
use histfit::sampling::{FlowGen, Model};
use std::path::PathBuf;

fn histogram() -> (Hist, &'static str) {
    let dir = std::env::var_os("FLOWLAB_DATA_DIR").map(PathBuf::from).unwrap_or_else(|| PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/data")));
    let p = dir.join("agh_2015/histograms/all/length.csv");
    if let Ok(h) = Hist::read(&p) {
        return (h, "agh_2015 all/length");
    }
    let m = Model::tutorial();
    let mut g = FlowGen::new(&m, "bench");
    let mut b = Binner::new(12);
    for _ in 0..1_000_000 {
        let (p, o) = g.next_flow();
        b.add(p, p, o);
    }
    (b.finish("synthetic"), "synthetic 10^6 flows")
}

fn benches(c: &mut Criterion) {
    let (h, what) = histogram();
    let data = Binned::new(&h, YCol::Flows).unwrap();
    let counts = Counts(vec![(Family::Uniform, 6), (Family::Lognorm, 4)]);
    let start = initial_mix(&counts, data.x[0], *data.x.last().unwrap(), histfit::initial::InitialGrid::FlowModels).unwrap();
    let pool = rayon::ThreadPoolBuilder::new().num_threads(1).build().unwrap();
    let host = Host::detached();
    let mut g = c.benchmark_group(format!("em ({what}, {} bins, U6 L4, 1 thread)", data.len()));
    g.sample_size(10);
    g.bench_function("em-compat 1 iteration", |b| b.iter(|| em_compat(&data, &start, CompatOptions { iterations: 1, mpw: None, trace: false }, &host, Some(&pool)).unwrap()));
    g.bench_function("em-compat 400 iterations (tutorial fit)", |b| b.iter(|| em_compat(&data, &start, CompatOptions { iterations: 400, mpw: None, trace: false }, &host, Some(&pool)).unwrap()));
    g.bench_function("em-binned 50 iterations", |b| {
        b.iter(|| {
            em_binned(&data, &start, BinnedOptions { max_iterations: 50, tolerance: 0.0, trace: true, mpw: None, accel: histfit::em_binned::Accel::None, polish: true }, &host, Some(&pool)).unwrap()
        })
    });
    g.finish();
}

criterion_group!(fit, benches);
criterion_main!(fit);
