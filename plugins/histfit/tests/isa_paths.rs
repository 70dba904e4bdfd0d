//! histfit's loops give the same bits on every instruction-set path (docs/kernels.md): whole
//! em-compat and em-binned fits (the E-step, activity and bin loops run on a rayon pool whose
//! workers are forced to the path) and the goodness of fit, and the vectorised normal cdf/sf
//! at random sorted edges, each on every path the CPU has against the baseline path (a path
//! the CPU lacks is reported as "skipped: no …" on stderr).
mod common;
use flowlab_abi::Host;
use flowlab_abi::plugin::call;
use histfit::HistFit;
use histfit::binned::Binned;
use histfit::em::{BinnedOptions, CompatOptions, FitOutcome, em_binned, em_compat};
use histfit::families::{Dist, Family};
use histfit::hist::{Hist, YCol};
use kernels::isa::{Isa, force, on_every_path, set_thread};
use rand_core::{RngCore, SeedableRng};
use serde_json::json;

/// A two-worker pool whose threads run the loops on `isa`.
fn pool_on(isa: Isa) -> rayon::ThreadPool {
    rayon::ThreadPoolBuilder::new().num_threads(2).start_handler(move |_| assert!(set_thread(Some(isa)))).build().unwrap()
}

fn bits(f: &FitOutcome) -> (String, Vec<u64>, u64) {
    (f.mixture.to_json_text(), f.trace.iter().map(|v| v.to_bits()).collect(), f.iterations)
}

#[test]
fn fits_are_bit_identical_on_every_path() {
    let dir = tempfile::tempdir().unwrap();
    let r = call(&HistFit, &common::request("generate_hist", json!({"flows": 100_000}), None, dir.path())).unwrap();
    let data = Binned::new(&Hist::read(&dir.path().join(&r.artifacts[0].path)).unwrap(), YCol::Flows).unwrap();
    let counts = histfit::initial::Counts(vec![(Family::Uniform, 6), (Family::Lognorm, 4)]);
    let start = histfit::initial::initial_mix(&counts, data.x[0], *data.x.last().unwrap(), histfit::initial::InitialGrid::FlowModels).unwrap();
    let run = |isa: Isa| {
        let pool = pool_on(isa);
        let compat = em_compat(&data, &start, CompatOptions { iterations: 40, mpw: None, trace: true }, &Host::detached(), Some(&pool)).unwrap();
        let binned =
            em_binned(&data, &start, BinnedOptions { max_iterations: 60, tolerance: 1e-10, trace: true, mpw: None, accel: Default::default(), polish: true }, &Host::detached(), Some(&pool)).unwrap();
        let g = pool.install(|| histfit::gof::gof(&data, &binned.mixture));
        (bits(&compat), bits(&binned), [g.ll_per_unit, g.kl_nats, g.ks].map(f64::to_bits))
    };
    let base = force(Isa::Baseline, || run(Isa::Baseline)).unwrap();
    assert!(base.0.1.len() == 41 && base.1.1.len() > 2, "traces kept");
    on_every_path("histfit fits_are_bit_identical_on_every_path", |isa| {
        let got = run(isa);
        assert_eq!(got.0, base.0, "em-compat on {isa:?}");
        assert_eq!(got.1, base.1, "em-binned on {isa:?}");
        assert_eq!(got.2, base.2, "goodness of fit on {isa:?}");
    });
}

#[test]
fn normal_cdf_at_random_edges_is_bit_identical_on_every_path() {
    let mut rng = rand_pcg::Pcg64::seed_from_u64(11);
    let mut u = || (rng.next_u64() >> 11) as f64 / (1u64 << 53) as f64;
    for case in 0..100 {
        let d = Dist::new("lognorm", &[0.05 + 3.0 * u(), 0.0, (12.0 * u()).exp()]).unwrap();
        let n = 1 + (u() * 3000.0) as usize;
        let mut ln_e: Vec<f64> = (0..n).map(|_| -5.0 + 25.0 * u()).collect();
        ln_e.sort_by(f64::total_cmp);
        let e: Vec<f64> = ln_e.iter().map(|l| l.exp()).collect();
        let run = || {
            let mut out = vec![[0.0; 4]; n];
            histfit::ndtr::lognorm_edges(&mut out, &e, &ln_e, &d, true);
            out.iter().flatten().map(|v| v.to_bits()).collect::<Vec<u64>>()
        };
        let base = force(Isa::Baseline, run).unwrap();
        on_every_path("histfit normal_cdf_at_random_edges_is_bit_identical_on_every_path", |isa| assert_eq!(run(), base, "case {case} on {isa:?}"));
    }
}
