//! Loss and gradients of the hand-written LSTM against PyTorch's `nn.LSTM` + `nn.Linear` in
//! double precision (same weights; gate order i, f, g, o in both; PyTorch's `bias_hh` held at 0).
//! Python from env `FLOWLAB_TORCH_PYTHON` (else `FLOWLAB_PYTHON`, else `python3`); skipped when
//! torch is not importable unless `FLOWLAB_REQUIRE_TORCH=1`. Locally:
//! `FLOWLAB_TORCH_PYTHON=<venv with torch>/bin/python cargo test -p flowlab-lstm --test torch_oracle`.
use flowlab_abi::seed::stream_rng;
use lstm::model::{Arch, Head, Init, OutAct, RecAct, Work, backward, forward, sq_error};
use rand::Rng;
use serde_json::{Value, json};

const SCRIPT: &str = r#"
import json, sys, torch
d = json.load(open(sys.argv[1]))
F, H, O, T, B = d["F"], d["H"], d["O"], d["T"], d["B"]
t = lambda v, *s: torch.tensor(v, dtype=torch.float64).reshape(*s)
lstm = torch.nn.LSTM(F, H).double()
head = torch.nn.Linear(H, O).double()
with torch.no_grad():
    lstm.weight_ih_l0.copy_(t(d["wx"], F, 4 * H).T)
    lstm.weight_hh_l0.copy_(t(d["wh"], H, 4 * H).T)
    lstm.bias_ih_l0.copy_(t(d["b"], 4 * H))
    lstm.bias_hh_l0.zero_()
    head.weight.copy_(t(d["wo"], H, O).T)
    head.bias.copy_(t(d["bo"], O))
x, y = t(d["x"], T, B, F), t(d["y"], T, B, O)
loss = torch.nn.functional.mse_loss(head(lstm(x)[0]), y)
loss.backward()
g = lambda p: p.grad.detach().T.reshape(-1).tolist()
print(json.dumps({"loss": loss.item(), "wx": g(lstm.weight_ih_l0), "wh": g(lstm.weight_hh_l0),
                  "b": lstm.bias_ih_l0.grad.tolist(), "wo": g(head.weight), "bo": head.bias.grad.tolist()}))
"#;

#[test]
fn loss_and_gradients_match_pytorch() {
    let py = std::env::var("FLOWLAB_TORCH_PYTHON").or_else(|_| std::env::var("FLOWLAB_PYTHON")).unwrap_or_else(|_| "python3".into());
    let has_torch = std::process::Command::new(&py).args(["-c", "import torch"]).output().map(|o| o.status.success()).unwrap_or(false);
    if !has_torch {
        flowlab_conformance::skip::skip("FLOWLAB_REQUIRE_TORCH", &format!("`{py}` cannot import torch, the oracle of this test (PyPI; set FLOWLAB_TORCH_PYTHON)"));
        return;
    }
    let (f, h, o, steps, rows) = (5, 4, 6, 7, 3);
    let a = Arch { input: f, hidden: h, output: o, head: Head::Linear, out_act: OutAct::Identity, rec_act: RecAct::Sigmoid };
    let mut rng = stream_rng("70c4", "oracle", 0);
    let p: Vec<f64> = a.init(Init::Keras, &mut rng).into_iter().map(|v| v as f64 + 0.1 * (rng.random::<f64>() - 0.5)).collect();
    let x: Vec<f64> = (0..steps * rows * f).map(|_| rng.random::<f64>() * 2.0 - 1.0).collect();
    let y: Vec<f64> = (0..steps * rows * o).map(|_| rng.random::<f64>()).collect();
    let m = vec![1.0; steps * rows];
    let mut w = Work::default();
    forward(&a, &p, &x, rows, steps, &mut w);
    let n = (steps * rows * o) as f64;
    let loss = sq_error(&a, &w, &y, &m) / n;
    backward(&a, &p, &x, &y, &m, 1.0 / n, &mut w);
    let l = a.layout();
    let dir = tempfile::tempdir().unwrap();
    let input = dir.path().join("in.json");
    std::fs::write(
        &input,
        json!({"F": f, "H": h, "O": o, "T": steps, "B": rows, "wx": &p[l.wx..l.wh], "wh": &p[l.wh..l.b], "b": &p[l.b..l.wo],
        "wo": &p[l.wo..l.bo], "bo": &p[l.bo..], "x": x, "y": y})
        .to_string(),
    )
    .unwrap();
    let script = dir.path().join("oracle.py");
    std::fs::write(&script, SCRIPT).unwrap();
    let out = std::process::Command::new(&py).arg(&script).arg(&input).output().unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    let rel = |a: f64, b: f64| (a - b).abs() / a.abs().max(b.abs()).max(1e-12);
    assert!(rel(loss, v["loss"].as_f64().unwrap()) < 1e-12, "loss {loss} vs {}", v["loss"]);
    let mut worst = 0f64;
    for (key, range) in [("wx", l.wx..l.wh), ("wh", l.wh..l.b), ("b", l.b..l.wo), ("wo", l.wo..l.bo), ("bo", l.bo..l.len)] {
        let theirs: Vec<f64> = v[key].as_array().unwrap().iter().map(|x| x.as_f64().unwrap()).collect();
        assert_eq!(theirs.len(), range.len(), "{key}");
        for (ours, t) in w.grad[range].iter().zip(&theirs) {
            worst = worst.max((ours - t).abs() / t.abs().max(1e-6));
        }
    }
    println!("max relative gradient difference vs PyTorch: {worst:.2e}");
    assert!(worst < 1e-9, "{worst}");
}
