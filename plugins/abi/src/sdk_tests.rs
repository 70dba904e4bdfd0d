//! The typed SDK's contract: one parse per call, the derived schema's bounds enforced,
//! `check` at validation and before `run`, typed settings and the context handed over, and
//! the registry as the only place a capability name is matched.
use crate::plugin::{Host, Plugin, call, request};
use crate::sdk::{Cap, Ctx, JsonSchema};
use crate::{CapabilityKind, ErrorKind, PluginError, Response};
use serde::{Deserialize, Deserializer};
use serde_json::json;
use std::cell::Cell;

thread_local! {
    /// Parses of `n` on this thread (tests run in parallel; the parse runs on the caller's).
    static PARSES: Cell<usize> = const { Cell::new(0) };
}

fn counted<'de, D: Deserializer<'de>>(d: D) -> Result<u32, D::Error> {
    PARSES.with(|p| p.set(p.get() + 1));
    u32::deserialize(d)
}

fn parses() -> usize {
    PARSES.with(Cell::get)
}

#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct DrawSettings {
    /// Numbers to draw.
    #[serde(deserialize_with = "counted")]
    #[schemars(range(min = 1, max = 50))]
    n: u32,
    /// Largest mean accepted.
    #[serde(default = "one")]
    below: f64,
}
fn one() -> f64 {
    1.0
}

struct Draw;
impl Cap for Draw {
    const NAME: &'static str = "draw";
    const SUMMARY: &'static str = "draws n numbers";
    const DATASETLESS: bool = true;
    type Settings = DrawSettings;
    fn check(s: &DrawSettings) -> Result<(), PluginError> {
        if s.n > 10 && s.below < 0.5 { Err(PluginError::config("below", "`below` < 0.5 needs n ≤ 10")) } else { Ok(()) }
    }
    fn run(s: DrawSettings, ctx: &Ctx) -> Result<Response, PluginError> {
        use rand_core::RngCore;
        let mut rng = ctx.stream("draw", 0);
        let xs: Vec<u64> = ctx.install(|| (0..s.n).map(|_| rng.next_u64() >> 11).collect())?;
        let mut r = Response::default();
        r.metrics.insert("n".into(), json!(xs.len()));
        r.metrics.insert("threads".into(), json!(ctx.pool()?.current_num_threads()));
        r.data.insert("xs".into(), json!(xs));
        Ok(r)
    }
}

struct Make;
impl Cap for Make {
    const NAME: &'static str = "make";
    const SUMMARY: &'static str = "writes nothing";
    const KIND: CapabilityKind = CapabilityKind::Dataset;
    const PRODUCES: Option<&'static str> = Some("text");
    type Settings = Empty;
    fn run(_: Empty, ctx: &Ctx) -> Result<Response, PluginError> {
        ctx.check_cancel()?;
        Ok(Response::default())
    }
}
#[derive(Deserialize, JsonSchema)]
#[serde(deny_unknown_fields)]
struct Empty {}

crate::export_plugin! {
    /// A plugin of two capabilities.
    pub struct Two;
    summary: "two capabilities",
    formats: ["text"],
    wall_time: "wall",
    capabilities: [Draw, Make],
}

#[test]
fn description_comes_from_the_list_and_cargo() {
    let d = Two.describe();
    assert_eq!(d.name, env!("CARGO_CRATE_NAME"));
    assert_eq!(d.version, env!("CARGO_PKG_VERSION"));
    assert_eq!(d.summary, "two capabilities");
    assert_eq!(d.formats, ["text"]);
    let names: Vec<&str> = d.capabilities.iter().map(|c| c.name.as_str()).collect();
    assert_eq!(names, ["draw", "make"]);
    let draw = &d.capabilities[0];
    assert!(draw.datasetless && draw.thread_count_invariant && draw.kind == CapabilityKind::Task);
    let s = &draw.settings_schema;
    assert_eq!(s["type"], "object");
    assert_eq!(s["additionalProperties"], false);
    assert_eq!(s["properties"]["n"]["maximum"], 50);
    assert_eq!(s["properties"]["n"]["description"], "Numbers to draw.");
    assert_eq!(s["properties"]["below"]["default"], 1.0);
    assert_eq!(d.capabilities[1].produces.as_deref(), Some("text"));
    assert_eq!(d.capabilities[1].kind, CapabilityKind::Dataset);
}

#[test]
fn settings_are_parsed_once_per_run_and_once_per_validation() {
    let req = request("draw", json!({"n": 5}), "/nonexistent");
    let before = parses();
    let r = call(&Two, &req).unwrap();
    assert_eq!(parses() - before, 1, "one parse for a run");
    assert_eq!(r.metrics["n"], json!(5));
    assert!(r.timing.contains_key("wall"));
    let before = parses();
    Two.validate("draw", &json!({"n": 5})).unwrap();
    assert_eq!(parses() - before, 1, "one parse for a validation");
}

#[test]
fn bounds_types_and_cross_field_rules_are_config_errors_naming_the_key() {
    for (settings, key, says) in [
        (json!({"n": 51}), "n", "50]"),
        (json!({"n": 0}), "n", "[1, 50]"),
        (json!({"n": "five"}), "n", "invalid type"),
        (json!({"n": 3, "nn": 1}), "nn", "unknown field"),
        (json!({"n": 11, "below": 0.25}), "below", "needs n ≤ 10"),
    ] {
        for e in [Two.validate("draw", &settings).unwrap_err(), call(&Two, &request("draw", settings.clone(), "/x")).unwrap_err()] {
            assert_eq!(e.kind, ErrorKind::Config, "{settings}: {e:?}");
            assert_eq!(e.path.as_deref(), Some(key), "{settings}: {e:?}");
            assert!(e.message.contains(says), "{settings}: {}", e.message);
        }
    }
    assert!(Two.validate("draw", &json!({"n": 11, "below": 0.75})).is_ok());
}

#[test]
fn unknown_capability_lists_the_registered_ones() {
    let e = Two.validate("drew", &json!({})).unwrap_err();
    assert_eq!(e.kind, ErrorKind::Config);
    assert!(e.message.contains("unknown capability `drew`") && e.message.ends_with("provides draw, make"), "{}", e.message);
    assert_eq!(call(&Two, &request("drew", json!({}), "/x")).unwrap_err().message, e.message);
}

#[test]
fn streams_are_the_seeds_and_the_pool_is_the_budget_and_results_ignore_it() {
    let mut req = request("draw", json!({"n": 8}), "/x");
    let mut out = Vec::new();
    for threads in [1, 3] {
        req.threads = threads;
        let r = Two.run(&req, &Host::detached()).unwrap();
        assert_eq!(r.metrics["threads"], json!(threads));
        out.push(r.data["xs"].clone());
    }
    assert_eq!(out[0], out[1]);
    let mut rng = crate::seed::stream_rng(&req.seed_hex, "draw", 0);
    let first = rand_core::RngCore::next_u64(&mut rng) >> 11;
    assert_eq!(out[0][0], json!(first));
}
