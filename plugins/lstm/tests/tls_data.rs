//! On the real TLS sample files (no license: read from the data dir, never committed; skipped
//! without it unless `FLOWLAB_REQUIRE_DATA=1`, as in CI). The two training runs take about 7 s
//! together in a release build (the README's test command) and minutes in debug.
mod common;
use common::*;
use serde_json::json;

fn tls(settings: serde_json::Value) -> Option<flowlab_abi::Response> {
    let d = data_dir()?;
    let data = d.join("lstm/tls_normal_sample_2019-03-16_part2.csv");
    let out = tempfile::tempdir().unwrap();
    Some(run(&req("network", settings, &data, out.path(), 2)).unwrap())
}

fn report(r: &flowlab_abi::Response) -> Vec<f64> {
    let loss: Vec<f64> = r.data["loss"].as_array().unwrap().iter().map(|v| f(&v["train"])).collect();
    println!("train loss {:?}", &loss[..loss.len().min(12)]);
    for k in [
        "train_loss",
        "val_loss",
        "test_cos_true_mean",
        "persistence_test_cos_true_mean",
        "test_cos_true_median",
        "persistence_test_cos_true_median",
        "test_cos_first_mean",
        "apply_tls_malware_2019-06-22_cos_true_mean",
    ] {
        if let Some(v) = r.metrics.get(k) {
            println!("{k} = {v}");
        }
    }
    loss
}

/// The original preset (LSTM(146) + ReLU, hard-sigmoid gates, Keras init, RMSprop 1e-3, MSE over
/// all steps, min-max over the whole file, keep_last 100) with the README's 30 % test split.
#[test]
fn original_preset_beats_persistence_and_loss_falls() {
    let Some(r) = tls(json!({"epochs": 60, "eval_every": 10, "plots": false, "feature_info": "feature_info_146.csv",
                              "apply_to": ["tls_malware_2019-06-22.csv"]}))
    else {
        return;
    };
    let loss = report(&r);
    assert!(loss[..6].windows(2).all(|w| w[1] < w[0]), "training loss must fall monotonically over the first 6 epochs: {loss:?}");
    let (m, p) = (f(&r.metrics["test_cos_true_mean"]), f(&r.metrics["persistence_test_cos_true_mean"]));
    assert!(m > p, "model {m} must beat persistence {p} on the test set");
}

/// The sanity-run configuration (docs/lstm.md, "Sanity run": logistic gates, Adam 1e-3).
#[test]
fn adam_sigmoid_variant_beats_persistence() {
    let Some(r) = tls(json!({"epochs": 30, "eval_every": 10, "plots": false, "optimizer": "adam", "recurrent_activation": "sigmoid"})) else { return };
    let loss = report(&r);
    assert!(loss[..10].windows(2).all(|w| w[1] < w[0]), "{loss:?}");
    assert!(f(&r.metrics["test_cos_true_mean"]) > f(&r.metrics["persistence_test_cos_true_mean"]));
}

/// Quick enough for debug builds: the reader and normalisation on the real files.
#[test]
fn real_files_read_and_minmax_matches_the_original_file() {
    let Some(d) = data_dir() else { return };
    let ff = lstm::reader::FeatureFile::open(&d.join("lstm/tls_normal_sample_2019-03-16_part2.csv")).unwrap();
    assert_eq!((ff.len(), ff.dim()), (136, 146));
    let packets: usize = (0..ff.len()).map(|i| ff.traffic(i).unwrap().packets).sum();
    assert_eq!(packets, 4958);
    let labels = lstm::reader::read_feature_info(&d.join("lstm/feature_info_146.csv"), 146).unwrap();
    assert_eq!(labels.len(), 146);
    // our min/max pass over the malware file equals the original's min-max file
    let c = lstm::seq::Corpus::open(&d.join("lstm/tls_malware_2019-06-22.csv"), usize::MAX).unwrap();
    assert_eq!((c.len(), c.packet_counts().unwrap().iter().sum::<usize>()), (14, 2789));
    let ours = c.stats(&(0..c.len()).collect::<Vec<_>>()).unwrap().fit("minmax");
    let theirs = lstm::norm::read_minmax(&d.join("lstm/tls_malware_2019-06-22_minmax.csv"), 146).unwrap();
    // values are read as f32 (the model's type), so equal to f32 precision
    let (lstm::norm::Norm::Minmax { min: a, max: b }, lstm::norm::Norm::Minmax { min: c, max: e }) = (ours, theirs) else { panic!("not minmax") };
    for (x, y) in a.iter().chain(&b).zip(c.iter().chain(&e)) {
        assert!((x - y).abs() <= 1e-7 * y.abs().max(1.0), "{x} vs {y}");
    }
}
