//! `lines`: counts a text dataset's lines; can append to the file while it runs (an edit
//! during the run, for the runner's dataset-guard tests).
use flowlab_abi::prelude::*;
use serde::Deserialize;

/// The capability.
pub struct Lines;

/// Settings of `lines`.
#[derive(Deserialize, JsonSchema, Default)]
#[serde(deny_unknown_fields)]
pub struct LinesSettings {
    /// Append a line to the dataset file after reading it (an edit during the run).
    #[serde(default)]
    pub append: bool,
    /// Sleep this long after writing the artifact (polls cancel).
    #[serde(default)]
    #[schemars(range(max = 3_600_000))]
    pub sleep_ms: u64,
}

impl Cap for Lines {
    const NAME: &'static str = "lines";
    const SUMMARY: &'static str = "counts a text dataset's lines; can append to it while running";
    const ACCEPTS: &'static [&'static str] = &["text"];
    type Settings = LinesSettings;

    fn run(s: LinesSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        let ds = ctx.dataset().ok_or_else(|| PluginError::data("`lines` needs a dataset"))?;
        let text = std::fs::read_to_string(&ds.path).map_err(|e| PluginError::data(format!("{}: {e}", ds.path)))?;
        if s.append {
            use std::io::Write;
            let mut f = std::fs::OpenOptions::new().append(true).open(&ds.path).map_err(|e| PluginError::run(format!("{}: {e}", ds.path)))?;
            writeln!(f, "appended").map_err(|e| PluginError::run(e.to_string()))?;
        }
        let out = ctx.output_dir().join("count.txt");
        std::fs::write(&out, format!("{}\n", text.lines().count())).map_err(|e| PluginError::run(format!("{}: {e}", out.display())))?;
        crate::probe::sleep_polling(ctx, s.sleep_ms)?;
        let mut r = Response { artifacts: vec![Artifact { name: "count".into(), path: "count.txt".into(), kind: "text".into() }], ..Default::default() };
        r.metrics.insert("lines".into(), json!(text.lines().count()));
        Ok(r)
    }
}
