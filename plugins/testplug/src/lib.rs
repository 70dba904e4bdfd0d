//! `testplug`: flowlab's test plugin and the smallest typed-SDK plugin (docs/design.md §2,
//! "The plugin SDK"): `noop` (ABI round-trip benchmark), `synth` (a seeded text dataset),
//! [`probe`] (draws; panics, fails, sleeps on request) and [`lines`] (reads a dataset).
use flowlab_abi::prelude::*;
use rand::Rng;
use serde::Deserialize;
pub mod lines;
pub mod probe;

/// `noop`: no settings, no work.
pub struct Noop;
/// Settings of `noop`: none.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Empty {}
impl Cap for Noop {
    const NAME: &'static str = "noop";
    const SUMMARY: &'static str = "does nothing (ABI round-trip benchmark)";
    const DATASETLESS: bool = true;
    type Settings = Empty;
    fn run(_: Empty, _: &Ctx) -> Result<Response, PluginError> {
        Ok(Response::default())
    }
}

/// `synth`: a text dataset of `rows` seeded numbers.
pub struct Synth;
/// Settings of `synth`.
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SynthSettings {
    /// Lines to write.
    #[serde(default = "probe::one")]
    #[schemars(range(min = 1))]
    pub rows: u32,
}
impl Cap for Synth {
    const NAME: &'static str = "synth";
    const SUMMARY: &'static str = "writes a small text dataset";
    const KIND: CapabilityKind = CapabilityKind::Dataset;
    const PRODUCES: Option<&'static str> = Some("text");
    type Settings = SynthSettings;
    fn run(s: SynthSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        let mut rng = ctx.stream("synth", 0);
        let text: String = (0..s.rows).map(|_| format!("{}\n", rng.random_range(0..1000u32))).collect();
        let path = ctx.output_dir().join("synth.txt");
        std::fs::write(&path, text).map_err(|e| PluginError::run(format!("{}: {e}", path.display())))?;
        Ok(Response { artifacts: vec![Artifact { name: "dataset".into(), path: "synth.txt".into(), kind: "text".into() }], ..Default::default() })
    }
}
flowlab_abi::export_plugin! {
    /// The test plugin.
    pub struct TestPlug;
    summary: "flowlab's test plugin",
    formats: ["text"],
    internal: true,
    capabilities: [probe::Probe, Noop, lines::Lines, Synth],
}
