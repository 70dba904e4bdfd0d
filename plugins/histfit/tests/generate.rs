//! `generate`: csv_flow format, seeding, and a 10^6-flow sample against the model CDF.
mod common;
use flowlab_abi::plugin::call;
use histfit::HistFit;
use histfit::sampling::{FlowGen, Model};
use serde_json::json;

/// 10^6 flow lengths from the tutorial model: the KS distance between the sample and the
/// model's discrete CDF P(V ≤ v) = F(v) (V = floor(X) + 1) is below the 1 % critical value
/// 1.63/√n.
#[test]
fn million_flows_follow_the_model_cdf() {
    let m = Model::tutorial();
    let n = 1_000_000usize;
    let mut g = FlowGen::new(&m, "5eed");
    let mut v: Vec<u64> = (0..n).map(|_| g.next_value()).collect();
    v.sort_unstable();
    let mut ks: f64 = 0.0;
    let mut i = 0;
    while i < n {
        let x = v[i];
        let mut j = i;
        while j < n && v[j] == x {
            j += 1;
        }
        let fe = j as f64 / n as f64;
        let fm = m.flows.cdf(x as f64);
        let below = i as f64 / n as f64;
        let fm_below = m.flows.cdf((x - 1) as f64);
        ks = ks.max((fe - fm).abs()).max((below - fm_below).abs());
        i = j;
    }
    eprintln!("KS of 10^6 generated lengths vs the model: {ks:.2e} (1 % critical value {:.2e})", 1.63 / (n as f64).sqrt());
    assert!(ks < 1.63 / (n as f64).sqrt(), "KS {ks}");
}

#[test]
fn csv_flow_output_and_sources() {
    let out = tempfile::tempdir().unwrap();
    let r = call(&HistFit, &common::request("generate", json!({"flows": 50}), None, out.path())).unwrap();
    let text = std::fs::read_to_string(out.path().join("flows.csv")).unwrap();
    assert_eq!(text.lines().count(), 50);
    for line in text.lines() {
        let f: Vec<&str> = line.split(", ").collect();
        assert_eq!(f.len(), 21, "{line}");
        assert!(f.iter().enumerate().all(|(i, v)| i == 18 || i == 19 || *v == "0"));
        let (p, o): (u64, u64) = (f[18].parse().unwrap(), f[19].parse().unwrap());
        assert!(p >= 1 && o >= 64 * p && o <= 1522 * p);
    }
    assert_eq!(r.metrics["flows"], json!(50));
    // from a csv_hist: replay (flows = 0) gives every flow of the histogram
    let h = common::fixture("small_length.csv");
    let r = call(&HistFit, &common::request("generate", json!({"flows": 0, "histogram": h}), None, out.path())).unwrap();
    let hist = histfit::hist::Hist::read(&h).unwrap();
    assert_eq!(r.metrics["flows"].as_u64().unwrap() as u128, hist.total("flows_sum").unwrap());
    assert_eq!(r.metrics["packets"].as_f64().unwrap() as u128, hist.total("packets_sum").unwrap());
    let r = call(&HistFit, &common::request("generate", json!({"flows": 100, "histogram": h}), None, out.path())).unwrap();
    assert_eq!(r.metrics["flows"], json!(100));
    // a replay of more flows than a cell may write is refused before anything is written
    let big = out.path().join("big.csv");
    std::fs::write(&big, "bin_lo,bin_hi,flows_sum,packets_sum,octets_sum\n1,2,100000001,100000001,6400000064\n").unwrap();
    let e = call(&HistFit, &common::request("generate", json!({"flows": 0, "histogram": big}), None, out.path())).unwrap_err();
    assert!(e.path.as_deref() == Some("flows") && e.message.contains("100000001 flows"), "{e:?}");
    // a mixture directory (flow-models' model layout)
    let dir = tempfile::tempdir().unwrap();
    for (y, t) in [("flows", histfit::sampling::TUTORIAL_FLOWS), ("packets", histfit::sampling::TUTORIAL_PACKETS), ("octets", histfit::sampling::TUTORIAL_OCTETS)] {
        std::fs::write(dir.path().join(format!("{y}.json")), t).unwrap();
    }
    let a = call(&HistFit, &common::request("generate", json!({"flows": 30, "mixture_dir": dir.path()}), None, out.path())).unwrap();
    let b = call(&HistFit, &common::request("generate", json!({"flows": 30}), None, out.path())).unwrap();
    assert_eq!(a.data["head"], b.data["head"], "the directory holds the tutorial model");
    let e = call(&HistFit, &common::request("generate", json!({"flows": 3, "x": "size"}), None, out.path())).unwrap_err();
    assert_eq!(e.path.as_deref(), Some("x"));
}

#[test]
fn plot_writes_the_seven_figures() {
    let out = tempfile::tempdir().unwrap();
    let h = common::fixture("small_length.csv");
    let dir = tempfile::tempdir().unwrap();
    for (y, t) in [("flows", histfit::sampling::TUTORIAL_FLOWS), ("packets", histfit::sampling::TUTORIAL_PACKETS), ("octets", histfit::sampling::TUTORIAL_OCTETS)] {
        std::fs::write(dir.path().join(format!("{y}.json")), t).unwrap();
    }
    let r = call(&HistFit, &common::request("plot", json!({"mixture_dir": dir.path()}), Some(&h), out.path())).unwrap();
    for f in ["cdf", "pdf-flows", "pdf-packets", "pdf-octets", "avg-packets", "avg-octets", "avg-packet_size"] {
        for ext in ["svg", "png"] {
            assert!(r.artifacts.iter().any(|a| a.path == format!("{f}.{ext}")), "{f}.{ext}");
            assert!(std::fs::metadata(out.path().join(format!("{f}.{ext}"))).unwrap().len() > 1000);
        }
    }
}
