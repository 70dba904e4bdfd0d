//! Behaviour of the `network`/`evaluate` capabilities on generated feature files: thread-count
//! invariance, save → load → identical predictions, retraining continues exactly, errors, plots.
mod common;
use common::*;
use flowlab_abi::ErrorKind;
use serde_json::json;

#[test]
fn identical_results_for_1_and_2_threads() {
    let dir = tempfile::tempdir().unwrap();
    let data = synth_file(dir.path(), 20, 12, 30);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let r1 = run(&req("network", small(3), &data, &a, 1)).unwrap();
    let r2 = run(&req("network", small(3), &data, &b, 2)).unwrap();
    assert_eq!(serde_json::to_string(&r1).unwrap(), serde_json::to_string(&r2).unwrap());
    assert_eq!(std::fs::read(a.join("model.lstm")).unwrap(), std::fs::read(b.join("model.lstm")).unwrap());
    assert_eq!((r1.iterations, r1.evaluations), (3, 3 * 2)); // 14 train traffics / batch 8 = 2 steps per epoch
}

#[test]
fn save_load_gives_identical_predictions() {
    let dir = tempfile::tempdir().unwrap();
    let data = synth_file(dir.path(), 20, 12, 30);
    let out = dir.path().join("t");
    std::fs::create_dir_all(&out).unwrap();
    let trained = run(&req("network", small(2), &data, &out, 1)).unwrap();
    let ev_dir = dir.path().join("e");
    std::fs::create_dir_all(&ev_dir).unwrap();
    let model = out.join("model.lstm");
    let ev = run(&req("evaluate", json!({"model": model.to_str().unwrap(), "plots": false}), &data, &ev_dir, 1)).unwrap();
    // evaluate covers every traffic; the test traffics' per-traffic means must equal the
    // network cell's final test evaluation bit for bit
    let t = &trained.data["final_per_traffic_true"]["test"];
    let all = &ev.data["apply"]["per_traffic_true_mean"];
    let idx = t["traffic"].as_array().unwrap();
    assert!(!idx.is_empty());
    for (k, i) in idx.iter().enumerate() {
        assert_eq!(t["mean"][k], all[i.as_u64().unwrap() as usize], "traffic {i}");
    }
    // the loaded parameters are the saved ones
    let sv = lstm::save::load(&model).unwrap();
    assert_eq!(sv.header.epochs, 2);
    assert_eq!(sv.params.len(), sv.header.arch.layout().len);
    lstm::save::save(&dir.path().join("again.lstm"), &sv).unwrap();
    assert_eq!(std::fs::read(&model).unwrap(), std::fs::read(dir.path().join("again.lstm")).unwrap());
}

#[test]
fn retraining_continues_from_saved_weights_exactly() {
    let dir = tempfile::tempdir().unwrap();
    let data = synth_file(dir.path(), 20, 12, 30);
    let mk = |n: &str| {
        let p = dir.path().join(n);
        std::fs::create_dir_all(&p).unwrap();
        p
    };
    let (full, half, cont) = (mk("full"), mk("half"), mk("cont"));
    let a = run(&req("network", small(4), &data, &full, 1)).unwrap();
    run(&req("network", small(2), &data, &half, 1)).unwrap();
    let mut s = small(2);
    s["init_from"] = json!(half.join("model.lstm").to_str().unwrap());
    // the saved model's settings win; a different test_fraction does not change the split
    s["test_fraction"] = json!(0.5);
    let c = run(&req("network", s, &data, &cont, 1)).unwrap();
    // 2 + 2 epochs from the saved model = 4 epochs in one go, bit for bit
    assert_eq!(std::fs::read(full.join("model.lstm")).unwrap(), std::fs::read(cont.join("model.lstm")).unwrap());
    assert_eq!(a.data["loss"].as_array().unwrap()[2..], c.data["loss"].as_array().unwrap()[..]);
    assert_eq!(a.metrics["test_cos_true_mean"], c.metrics["test_cos_true_mean"]);
    assert_eq!(c.model["continued_from_epoch"], json!(2));
    assert_eq!(c.metrics["epochs"], json!(4));
}

#[test]
fn learns_the_synthetic_pattern_and_beats_persistence() {
    let dir = tempfile::tempdir().unwrap();
    let data = synth_file(dir.path(), 60, 12, 30);
    let mut s = small(12);
    s["batch"] = json!(16);
    s["chunk_rows"] = json!(8);
    let r = run(&req("network", s, &data, dir.path(), 2)).unwrap();
    let loss: Vec<f64> = r.data["loss"].as_array().unwrap().iter().map(|v| f(&v["train"])).collect();
    assert!(loss[..4].windows(2).all(|w| w[1] < w[0]), "training loss must fall over the first epochs: {loss:?}");
    let (m, p) = (f(&r.metrics["test_cos_true_mean"]), f(&r.metrics["persistence_test_cos_true_mean"]));
    println!("synthetic: loss {loss:?}, test cos {m:.4} vs persistence {p:.4}");
    assert!(m > p, "model {m} must beat persistence {p}");
    assert_eq!(r.metrics["beats_persistence"], json!(true));
    // evaluation keys: true, 1, 10, 20 (seq_len 20); evaluated at epochs 2, 4, …, 12
    assert_eq!(r.data["keys"], json!(["true", "1", "10", "20"]));
    assert_eq!(r.data["evals"].as_array().unwrap().len(), 6);
    // per-feature errors are labelled from the feature-info file
    let fe = r.data["feature_errors"].as_array().unwrap();
    assert_eq!(fe.len(), 10);
    for x in fe {
        let (i, label) = (x["index"].as_u64().unwrap(), x["label"].as_str().unwrap());
        let want = match i {
            7 => "Length".to_string(),
            8 => "Interval".to_string(),
            0 => "Come/Leave".to_string(),
            1..=6 => format!("Protocol={}", ["TCP", "SSL2.0", "SSL3.0", "TLS1.0", "TLS1.1", "TLS1.2"][i as usize - 1]),
            _ => format!("Handshake feature {i}"),
        };
        assert_eq!(label, want);
    }
}

#[test]
fn errors_name_the_key_or_the_line() {
    let dir = tempfile::tempdir().unwrap();
    let data = synth_file(dir.path(), 10, 12, 20);
    let mut s = small(1);
    s["head"] = json!("none");
    let e = run(&req("network", s, &data, dir.path(), 1)).unwrap_err();
    assert_eq!((e.kind, e.path.as_deref()), (ErrorKind::Config, Some("hidden")), "{e:?}");
    // plot_feature only chooses what the plots draw: ignored without them
    let mut s = small(1);
    s["plot_feature"] = json!(12);
    s["plots"] = json!(true);
    assert_eq!(run(&req("network", s.clone(), &data, dir.path(), 1)).unwrap_err().path.as_deref(), Some("plot_feature"));
    s["plots"] = json!(false);
    let off = dir.path().join("off");
    std::fs::create_dir_all(&off).unwrap();
    let r = run(&req("network", s, &data, &off, 1)).unwrap();
    let same = dir.path().join("same");
    std::fs::create_dir_all(&same).unwrap();
    let r7 = run(&req("network", small(1), &data, &same, 1)).unwrap();
    assert_eq!((&r.metrics, &r.model), (&r7.metrics, &r7.model), "an unused plot_feature changes nothing");
    let e = run(&req("network", json!({"batch": 0}), &data, dir.path(), 1)).unwrap_err();
    assert_eq!(e.path.as_deref(), Some("batch"));
    // a broken line 3
    let mut text = std::fs::read_to_string(&data).unwrap();
    let lines: Vec<&str> = text.lines().collect();
    let broken = format!("{}\n{}\n[1.0, 2.0], \n", lines[0], lines[1]);
    text = broken;
    let bad = dir.path().join("bad.csv");
    std::fs::write(&bad, text).unwrap();
    let e = run(&req("network", small(1), &bad, dir.path(), 1)).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Data);
    assert!(e.message.contains("bad.csv:3: packet 1 has 2 values, expected 12"), "{}", e.message);
    let e = run(&req("evaluate", json!({"model": "nope.lstm"}), &data, dir.path(), 1)).unwrap_err();
    assert!(e.message.contains("nope.lstm"), "{}", e.message);
}

#[test]
fn normalisations_scopes_masks_and_plots() {
    let dir = tempfile::tempdir().unwrap();
    let data = synth_file(dir.path(), 12, 10, 30);
    for (norm, scope, mask) in [("l2", "whole_file", "none"), ("standardize", "train_only", "real_packets"), ("minmax", "whole_file", "real_packets")] {
        let mut s = small(1);
        s["normalize"] = json!(norm);
        s["normalize_scope"] = json!(scope);
        s["loss_mask"] = json!(mask);
        s["truncate"] = json!("keep_first");
        let r = run(&req("network", s, &data, dir.path(), 1)).unwrap();
        assert!(f(&r.metrics["train_loss"]).is_finite(), "{norm}");
        assert_eq!(r.data["normalization"], json!(norm));
    }
    // minmax file written in the original format and readable back
    let mm = lstm::norm::read_minmax(&dir.path().join("minmax.csv"), 10).unwrap();
    assert_eq!(mm.name(), "minmax");
    let mut s = small(2);
    s["plots"] = json!(true);
    s["plot_traffics"] = json!(2);
    s["apply_to"] = json!(["features.csv"]);
    let r = run(&req("network", s, &data, dir.path(), 1)).unwrap();
    for f in ["loss.svg", "loss.png", "pred_epoch2.svg", "acc_dist_true.png", "acc_dist_1.svg", "acc_dist_20.svg", "dist_true_features.svg"] {
        assert!(dir.path().join(f).is_file(), "{f} missing");
        assert!(r.artifacts.iter().any(|a| a.path == f), "{f} not listed");
    }
    assert!(r.metrics.contains_key("apply_features_cos_true_mean"));
}

#[test]
fn streaming_from_the_memory_map_equals_the_in_memory_cache() {
    let dir = tempfile::tempdir().unwrap();
    let data = synth_file(dir.path(), 16, 10, 25);
    let (a, b) = (dir.path().join("a"), dir.path().join("b"));
    std::fs::create_dir_all(&a).unwrap();
    std::fs::create_dir_all(&b).unwrap();
    let cached = run(&req("network", small(2), &data, &a, 1)).unwrap();
    let mut s = small(2);
    s["cache_mb"] = json!(0); // parse every batch from the mapped file
    let streamed = run(&req("network", s, &data, &b, 1)).unwrap();
    assert_eq!(serde_json::to_string(&cached.data).unwrap(), serde_json::to_string(&streamed.data).unwrap());
    assert_eq!(cached.metrics, streamed.metrics);
}
