//! Draws flow-models' seven figures of a csv_hist (optionally with a mixture directory):
//! `plot_once HIST.csv OUTDIR [MIXTURE_DIR]`.
use flowlab_abi::plugin::{call, request};
use serde_json::json;

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 3 {
        eprintln!("usage: plot_once HIST.csv OUTDIR [MIXTURE_DIR]");
        std::process::exit(2);
    }
    let settings = match a.get(3) {
        Some(d) => json!({"mixture_dir": d}),
        None => json!({}),
    };
    let mut req = request("plot", settings, &a[2]);
    req.dataset = Some(flowlab_abi::DatasetRef { id: "h".into(), path: a[1].clone(), format: "csv_hist".into(), sha256: String::new(), options: Default::default() });
    match call(&histfit::HistFit, &req) {
        Ok(r) => r.artifacts.iter().for_each(|x| println!("{}", x.path)),
        Err(e) => {
            eprintln!("{e}");
            std::process::exit(1);
        }
    }
}
