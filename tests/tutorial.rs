//! `experiments/tutorial.toml` (the flow-models tutorial as one manifest) against flow-models 2.2
//! run on the same inputs: summaries and generated flows byte for byte, the three mixtures to
//! 1e-9, the `.mode` files byte for byte (docs/histfit.md, "The tutorial as one manifest").
use crate::common::*;
use serde_json::Value;
use std::path::Path;
use std::process::Command;

fn close(a: &Value, b: &Value, at: &str) {
    match (a, b) {
        (Value::Number(x), Value::Number(y)) => {
            let (x, y) = (x.as_f64().unwrap(), y.as_f64().unwrap());
            assert!((x - y).abs() <= 1e-9 * x.abs().max(y.abs()).max(1e-300), "{at}: {x} vs {y}");
        }
        (Value::Array(x), Value::Array(y)) => {
            assert_eq!(x.len(), y.len(), "{at}");
            x.iter().zip(y).enumerate().for_each(|(i, (p, q))| close(p, q, &format!("{at}[{i}]")));
        }
        (Value::Object(x), Value::Object(y)) => {
            assert_eq!(x.keys().collect::<Vec<_>>(), y.keys().collect::<Vec<_>>(), "{at}");
            x.iter().for_each(|(k, p)| close(p, &y[k], &format!("{at}.{k}")));
        }
        _ => assert_eq!(a, b, "{at}"),
    }
}

#[test]
fn tutorial_outputs_equal_flow_models() {
    let Some(data) = data_dir() else { return };
    let Some(py) = python_with("flow_models.fit, flow_models.generate, flow_models.summary") else { return };
    let res = tempfile::tempdir().unwrap();
    let o = run(&["run", "experiments/tutorial.toml", "--data-dir", data.to_str().unwrap(), "--results", res.path().to_str().unwrap(), "-q"]);
    assert!(o.status.success(), "{}", stderr(&o));
    let dir = res.path().join("tutorial");
    let all = cells(&dir);
    let art = |c: &Value| dir.join("artifacts").join(c["cell_id"].as_str().unwrap());
    let hists = data.join("agh_2015/histograms/all");
    let length = hists.join("length.csv").canonicalize().unwrap();
    let model = all.values().find(|c| c["capability"] == "fit_model").expect("model cell");
    assert_eq!(model["status"], "ok", "{model}");
    let model_dir = art(model).join("model");

    // flow-models: both summaries, the three fits saved as its CLI's save() would, and the
    // two generate runs, both from its own model directory and from ours
    let fm = tempfile::tempdir().unwrap();
    let code = format!(
        r#"
import contextlib, io, json, pathlib
from flow_models.summary import summary
from flow_models.fit import fit
from flow_models.lib.mix import to_json
from flow_models.generate import generate
for name in ['length', 'size']:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        summary({hists:?} + '/' + name + '.csv')
    pathlib.Path('summary-' + name + '.tex').write_text(out.getvalue())
pathlib.Path('my_mixture').mkdir()
for y, it, init in [('flows', 400, {{'U': 6, 'L': 4}}), ('packets', 100, {{'L': 1}}), ('octets', 400, {{'U': 6, 'L': 4}})]:
    args = {{'in_file': {length:?}, 'y_value': y, 'max_iter': it, 'initial': init, 'max_pareto_w': None}}
    mix = fit(**args)
    pathlib.Path('my_mixture/' + y + '.json').write_text(to_json(mix['mix'], mix['sum']) + '\n')
    pathlib.Path('my_mixture/' + y + '.mode').write_text(json.dumps(args) + '\n')
for seed in [0, 1]:
    generate('my_mixture', 'gen-fm-' + str(seed) + '.csv', 'csv_flow', 20, 'length', seed)
    generate({model_dir:?}, 'gen-ours-' + str(seed) + '.csv', 'csv_flow', 20, 'length', seed)
"#,
        hists = hists.to_string_lossy(),
        length = length.to_string_lossy(),
        model_dir = model_dir.to_string_lossy(),
    );
    let p = Command::new(&py).current_dir(fm.path()).args(["-c", &code]).output().unwrap();
    assert!(p.status.success(), "flow-models failed:\n{}", String::from_utf8_lossy(&p.stderr));
    let read = |p: &Path| std::fs::read(p).unwrap_or_else(|e| panic!("{}: {e}", p.display()));

    // 1. summaries, byte for byte
    let mut n = 0;
    for c in all.values().filter(|c| c["capability"] == "summary") {
        let name = if c["dataset"]["id"] == "all-length" { "length" } else { "size" };
        assert_eq!(read(&art(c).join("summary.tex")), read(&fm.path().join(format!("summary-{name}.tex"))), "summary of {name}");
        n += 1;
    }
    assert_eq!(n, 2);
    // 2. the model: mixtures to 1e-9, .mode files byte for byte
    for y in ["flows", "packets", "octets"] {
        let ours: Value = serde_json::from_slice(&read(&model_dir.join(format!("{y}.json")))).unwrap();
        let theirs: Value = serde_json::from_slice(&read(&fm.path().join(format!("my_mixture/{y}.json")))).unwrap();
        close(&ours, &theirs, y);
        assert_eq!(String::from_utf8(read(&model_dir.join(format!("{y}.mode")))).unwrap(), String::from_utf8(read(&fm.path().join(format!("my_mixture/{y}.mode")))).unwrap(), "{y}.mode");
    }
    // 3. generated flows, byte for byte: flow-models from our model, and from its own
    let mut n = 0;
    for c in all.values().filter(|c| c["capability"] == "generate") {
        let seed = c["response"]["metrics"]["seed"].as_u64().unwrap();
        let ours = read(&art(c).join("flows.csv"));
        assert_eq!(ours, read(&fm.path().join(format!("gen-ours-{seed}.csv"))), "generate seed {seed} (same model)");
        assert_eq!(ours, read(&fm.path().join(format!("gen-fm-{seed}.csv"))), "generate seed {seed} (flow-models' own fits)");
        assert_eq!(String::from_utf8_lossy(&ours).lines().count(), 20);
        n += 1;
    }
    assert_eq!(n, 2, "seeds 0 and 1");
    // 4. the plots with the model: flow-models' file names
    let plot = all.values().find(|c| c["capability"] == "plot").expect("plot cell");
    for f in ["cdf.png", "pdf-flows.png", "pdf-packets.png", "pdf-octets.png", "avg-packets.png", "avg-octets.png", "avg-packet_size.png"] {
        assert!(art(plot).join(f).is_file(), "{f}");
    }
}
