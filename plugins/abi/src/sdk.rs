//! The typed plugin SDK over the C ABI (docs/design.md §2, "The plugin SDK").
//!
//! A capability is one type implementing [`Cap`]: its static description as associated
//! consts, its settings as a type (`DeserializeOwned + JsonSchema`: the schema shown by
//! `flowlab plugins` and merged into the manifest schema is derived from the type, never
//! written by hand), an optional cross-field [`Cap::check`] and [`Cap::run`]. A plugin is
//! the list of its capabilities, registered once with [`crate::export_plugin!`]; its name and
//! version come from Cargo (`CARGO_CRATE_NAME`, `CARGO_PKG_VERSION`).
//!
//! The [`Registry`] built from that list is the only place that looks a capability up by
//! name. For every request it checks the declared bounds ([`crate::limits::check_bounds`]
//! against the derived schema), parses the settings once ([`crate::parse_settings`]: errors
//! carry the key path), runs `check`, and hands the typed settings to `run` with a [`Ctx`]:
//! the request's seeded streams, the cell's thread pool, cancellation and progress.
//!
//! Nothing here changes the C ABI: a registry implements [`crate::Plugin`], and the export
//! table is the one of ABI v1.
use crate::limits::check_bounds;
use crate::plugin::Host;
use crate::seed::{SeedRng, stream_rng};
use crate::types::{Capability, CapabilityKind, DatasetRef, Description, PluginError, Request, Response, parse_settings};
use serde::de::DeserializeOwned;
pub use serde_json::Value;
use std::marker::PhantomData;
use std::path::Path;
use std::sync::OnceLock;

pub use schemars::JsonSchema;

/// One capability of a plugin: a manifest section (task) or a dataset generator.
///
/// The associated consts are its static description (what `flowlab plugins` shows); the
/// defaults describe a thread-count-invariant task that needs a dataset of any format.
pub trait Cap: 'static {
    /// Name used in manifests: the section name of a task, `capability = "…"` of a dataset.
    const NAME: &'static str;
    /// One-line summary shown by `flowlab plugins`.
    const SUMMARY: &'static str;
    /// Task or dataset generator.
    const KIND: CapabilityKind = CapabilityKind::Task;
    /// Dataset formats the task accepts (empty: any, or none with [`Cap::DATASETLESS`]).
    const ACCEPTS: &'static [&'static str] = &[];
    /// The format of the file a dataset capability writes.
    const PRODUCES: Option<&'static str> = None;
    /// The task runs without a dataset (with [`Cap::ACCEPTS`]: the dataset is optional).
    const DATASETLESS: bool = false;
    /// Results do not depend on the thread budget (the conformance kit checks it).
    const THREAD_COUNT_INVARIANT: bool = true;

    /// The settings, parsed once per call from the request's JSON. Their JSON Schema (draft
    /// 07, [`schema_of`]) is the capability's `settings_schema`; `deny_unknown_fields` makes
    /// a misspelt key an error naming it.
    type Settings: DeserializeOwned + JsonSchema;

    /// Rules across fields that the schema cannot say (a sum bounded, one key needing
    /// another). Runs at validation and before every `run`; the error names the key. A
    /// function of the settings alone (no files, no environment): the host remembers an
    /// acceptance by the library's hash and the settings (docs/design.md §2, "Planning without
    /// loading plugins"); what a file holds is the run's to check.
    fn check(_settings: &Self::Settings) -> Result<(), PluginError> {
        Ok(())
    }

    /// Runs one cell with settings that passed the schema bounds and [`Cap::check`].
    fn run(settings: Self::Settings, ctx: &Ctx<'_>) -> Result<Response, PluginError>;

    /// The capability as `describe` reports it, built from the consts above.
    fn describe() -> Capability {
        Capability {
            name: Self::NAME.into(),
            kind: Self::KIND,
            summary: Self::SUMMARY.into(),
            settings_schema: schema_of::<Self::Settings>(),
            thread_count_invariant: Self::THREAD_COUNT_INVARIANT,
            accepts: Self::ACCEPTS.iter().map(|s| s.to_string()).collect(),
            datasetless: Self::DATASETLESS,
            produces: Self::PRODUCES.map(str::to_string),
        }
    }
}

/// The draft-07 JSON Schema of a settings type, as `describe` reports it: the root schema
/// with `"type": "object"` (the manifest schema merges it into a table).
pub fn schema_of<T: JsonSchema>() -> Value {
    let g = schemars::generate::SchemaSettings::draft07().into_generator();
    let mut v = serde_json::to_value(g.into_root_schema_for::<T>()).unwrap_or_else(|_| serde_json::json!({}));
    if let Some(o) = v.as_object_mut() {
        o.insert("type".into(), Value::String("object".into()));
    }
    v
}

/// Parses `settings` for capability `C`: the bounds its schema declares, the typed parse,
/// then [`Cap::check`]. The one parse path of validation and run.
pub fn parse<C: Cap>(schema: &Value, settings: &Value) -> Result<C::Settings, PluginError> {
    check_bounds(schema, settings)?;
    let s = parse_settings::<C::Settings>(settings)?;
    C::check(&s)?;
    Ok(s)
}

/// What a cell's code may use besides its settings: the request (dataset, output directory,
/// seeds), the thread pool of the cell's budget, cancellation, progress and logs.
pub struct Ctx<'a> {
    req: &'a Request,
    host: &'a Host<'a>,
    pool: OnceLock<rayon::ThreadPool>,
}

impl<'a> Ctx<'a> {
    /// The context of one request.
    pub fn new(req: &'a Request, host: &'a Host<'a>) -> Self {
        Ctx { req, host, pool: OnceLock::new() }
    }
    /// The whole request (for code that takes one).
    pub fn request(&self) -> &'a Request {
        self.req
    }
    /// The host's services (for code that logs or polls cancellation itself).
    pub fn host(&self) -> &'a Host<'a> {
        self.host
    }
    /// The dataset of the cell, if any.
    pub fn dataset(&self) -> Option<&'a DatasetRef> {
        self.req.dataset.as_ref()
    }
    /// The directory where the cell writes its artifacts.
    pub fn output_dir(&self) -> &'a Path {
        Path::new(&self.req.output_dir)
    }
    /// The cell seed as hex; every stream derives from it ([`crate::seed`]).
    pub fn seed_hex(&self) -> &'a str {
        &self.req.seed_hex
    }
    /// The named random stream `index` of the cell seed (docs/design.md §3 Seeds).
    pub fn stream(&self, name: &str, index: u64) -> SeedRng {
        stream_rng(&self.req.seed_hex, name, index)
    }
    /// The cell's thread budget; never an input to any number.
    pub fn threads(&self) -> usize {
        self.req.threads.max(1)
    }
    /// The cell's local rayon pool of [`Ctx::threads`] threads, built on first use and
    /// shared by every parallel section of the cell (each cdylib has its own rayon, so
    /// plugins never use the global pool; docs/design.md §2, "Thread pools").
    pub fn pool(&self) -> Result<&rayon::ThreadPool, PluginError> {
        if let Some(p) = self.pool.get() {
            return Ok(p);
        }
        let p = crate::plugin::thread_pool(self.threads())?;
        Ok(self.pool.get_or_init(|| p))
    }
    /// Runs `f` inside the cell's pool.
    pub fn install<R: Send>(&self, f: impl FnOnce() -> R + Send) -> Result<R, PluginError> {
        Ok(self.pool()?.install(f))
    }
    /// `Err(cancelled)` when the host asks the cell to stop; poll at iteration boundaries.
    pub fn check_cancel(&self) -> Result<(), PluginError> {
        self.host.check_cancel()
    }
    /// Reports progress of the cell.
    pub fn progress(&self, done: u64, total: u64) {
        self.host.progress(done, total)
    }
    /// Info-level log line (kept in the cell's log tail).
    pub fn info(&self, msg: &str) {
        self.host.info(msg)
    }
    /// Warning-level log line.
    pub fn warn(&self, msg: &str) {
        self.host.warn(msg)
    }
    /// How often the host wants intermediate results (0: nobody listens; [`Host::emit_every`]).
    pub fn emit_every(&self) -> u64 {
        self.host.emit_every()
    }
    /// Sends an intermediate result ([`Host::emit`]).
    pub fn emit(&self, kind: &str, json: &str) {
        self.host.emit(kind, json)
    }
}

/// A capability with its type erased, for the registry's list.
trait Entry: Send + Sync {
    fn validate(&self, settings: &Value) -> Result<(), PluginError>;
    fn run(&self, req: &Request, host: &Host) -> Result<Response, PluginError>;
}

/// A capability's settings schema, derived on first use: a run needs its own capability's
/// only, and deriving every capability's (what `describe` reports) was 0.6 ms of each cell.
struct Typed<C> {
    schema: OnceLock<Value>,
    cap: PhantomData<fn() -> C>,
}

impl<C: Cap> Typed<C> {
    fn schema(&self) -> &Value {
        self.schema.get_or_init(schema_of::<C::Settings>)
    }
}

impl<C: Cap> Entry for Typed<C> {
    fn validate(&self, settings: &Value) -> Result<(), PluginError> {
        parse::<C>(self.schema(), settings).map(|_| ())
    }
    fn run(&self, req: &Request, host: &Host) -> Result<Response, PluginError> {
        let s = parse::<C>(self.schema(), &req.settings)?;
        C::run(s, &Ctx::new(req, host))
    }
}

/// One entry of [`crate::export_plugin!`]'s capability list.
pub struct Registered {
    name: &'static str,
    describe: fn() -> Capability,
    entry: Box<dyn Entry>,
}

/// Registers capability `C` (what [`crate::export_plugin!`] calls for each listed type).
pub fn register<C: Cap>() -> Registered {
    Registered { name: C::NAME, describe: C::describe, entry: Box::new(Typed::<C> { schema: OnceLock::new(), cap: PhantomData }) }
}

/// A plugin as the list of its capabilities: its description (built when first asked for),
/// and validation and runs dispatched by capability name (the only place a name is matched).
pub struct Registry {
    name: String,
    version: String,
    summary: String,
    formats: Vec<String>,
    internal: bool,
    caps: Vec<Registered>,
    description: OnceLock<Description>,
    wall_time: Option<&'static str>,
}

impl Registry {
    /// A plugin `name` of `version` with `summary`, the dataset `formats` it reads and its
    /// capabilities in the order `describe` lists them.
    pub fn new(name: &str, version: &str, summary: &str, formats: &[&str], caps: Vec<Registered>) -> Self {
        Registry {
            name: name.into(),
            version: version.into(),
            summary: summary.into(),
            formats: formats.iter().map(|s| s.to_string()).collect(),
            internal: false,
            caps,
            description: OnceLock::new(),
            wall_time: None,
        }
    }
    /// Marks the plugin internal (flowlab's own tests; hidden by `flowlab plugins`).
    pub fn internal(mut self, internal: bool) -> Self {
        self.internal = internal;
        self
    }
    /// Records every run's wall time in seconds under `timing.<key>` (run-dependent, stored
    /// apart from the result).
    pub fn wall_time(mut self, key: &'static str) -> Self {
        self.wall_time = Some(key);
        self
    }
    /// The plugin's description.
    pub fn description(&self) -> &Description {
        self.description.get_or_init(|| {
            let mut d = Description::new(&self.name, &self.version);
            d.summary = self.summary.clone();
            d.formats = self.formats.clone();
            d.internal = self.internal;
            d.capabilities = self.caps.iter().map(|c| (c.describe)()).collect();
            d
        })
    }
    fn find(&self, capability: &str) -> Result<&dyn Entry, PluginError> {
        match self.caps.iter().find(|c| c.name == capability) {
            Some(c) => Ok(c.entry.as_ref()),
            None => {
                let names: Vec<&str> = self.caps.iter().map(|c| c.name).collect();
                Err(PluginError::config("", format!("unknown capability `{capability}`; {} provides {}", self.name, names.join(", "))))
            }
        }
    }
    /// Checks `settings` of `capability` (bounds, parse, cross-field rules).
    pub fn validate(&self, capability: &str, settings: &Value) -> Result<(), PluginError> {
        self.find(capability)?.validate(settings)
    }
    /// Runs one cell: the settings parsed and checked once, then the capability's `run`.
    pub fn run(&self, req: &Request, host: &Host) -> Result<Response, PluginError> {
        let e = self.find(&req.capability)?;
        let t0 = std::time::Instant::now();
        let mut r = e.run(req, host)?;
        if let Some(key) = self.wall_time {
            r.timing.insert(key.into(), t0.elapsed().as_secs_f64());
        }
        Ok(r)
    }
}
