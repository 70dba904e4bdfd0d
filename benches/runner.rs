//! Runner overhead: planning 10 000 cells, and one no-op cell round trip through the C ABI
//! (JSON request out, JSON response back, buffers freed by their owner).
//!
//! `cargo build --release -p flowlab-testplug && cargo bench --bench runner`
use criterion::{Criterion, criterion_group, criterion_main};
use flowlab::manifest::{Layers, Manifest};
use flowlab::plan::{Plan, PlanOptions};
use flowlab_abi::host::{LoadedPlugin, NullHost, find_plugin_file};
use std::path::Path;

fn manifest_10k() -> String {
    let values: Vec<String> = (0..100).map(|i| i.to_string()).collect();
    format!("[experiment]\nname = \"bench\"\nseed = 1\n[probe]\nplugin = \"testplug\"\n[sweep]\n\"probe.value\" = [{v}]\n\"probe.draws\" = [{v}]\n", v = values.join(", "))
}

fn bench(c: &mut Criterion) {
    let text = manifest_10k();
    let path = Path::new("bench.toml");
    let layers = Layers { sets: vec![], sweeps: vec![], env: false, env_vars: None };
    {
        let m = Manifest::from_text(path, text.clone(), &layers).expect("manifest");
        let plan = Plan::build(m, &PlanOptions::default()).expect("plan (build testplug first)");
        assert_eq!(plan.cells.len(), 10_000);
    }
    c.bench_function("plan_10000_cells", |b| {
        b.iter(|| {
            let m = Manifest::from_text(path, text.clone(), &layers).expect("manifest");
            Plan::build(m, &PlanOptions::default()).expect("plan").cells.len()
        })
    });
    let file = find_plugin_file("testplug").expect("run `cargo build --release -p flowlab-testplug` first");
    let p = LoadedPlugin::load(&file).expect("load");
    let req = flowlab_abi::plugin::request("noop", serde_json::json!({}), "/tmp");
    c.bench_function("abi_noop_cell_round_trip", |b| b.iter(|| p.run(&req, &NullHost).expect("noop")));
}

criterion_group!(benches, bench);
criterion_main!(benches);
