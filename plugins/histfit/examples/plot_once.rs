//! Draws flow-models' figures of a csv_hist (optionally with a mixture directory and the
//! `plot` settings as JSON, e.g. `'{"pdf_modes": ["comp_stack"], "format": "png"}'`):
//! `plot_once HIST.csv OUTDIR [MIXTURE_DIR|-] [SETTINGS_JSON]` (used by
//! `scripts/plot_vs_flow_models.sh`).
use flowlab_abi::plugin::{call, request};
use serde_json::{Value, json};

fn main() {
    let a: Vec<String> = std::env::args().collect();
    if a.len() < 3 {
        eprintln!("usage: plot_once HIST.csv OUTDIR [MIXTURE_DIR|-] [SETTINGS_JSON]");
        std::process::exit(2);
    }
    let mut settings = match a.get(4) {
        Some(s) => serde_json::from_str::<Value>(s).unwrap_or_else(|e| {
            eprintln!("SETTINGS_JSON: {e}");
            std::process::exit(2)
        }),
        None => json!({}),
    };
    if let Some(d) = a.get(3).filter(|d| *d != "-") {
        settings["mixture_dir"] = json!(d);
    }
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
