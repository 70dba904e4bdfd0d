//! The safe side a plugin author implements.
use crate::ffi::HostV1;
use crate::types::{Description, PluginError, Request, Response};
use serde_json::Value;

/// A flowlab plugin. One required computation ([`Plugin::run`]) plus its self-description;
/// [`Plugin::validate`] is a defaulted hook (argmin `Solver` style).
///
/// Implementations must be deterministic: the same request gives the same response bytes for
/// any `threads` value (reduce floating point in fixed chunks, in order).
pub trait Plugin: Send + Sync + 'static {
    /// Name, version, capabilities and their settings schemas.
    fn describe(&self) -> Description;

    /// Checks `settings` for `capability` without running anything. The default parses
    /// nothing and accepts any settings of a known capability.
    fn validate(&self, capability: &str, _settings: &Value) -> Result<(), PluginError> {
        if self.describe().capability(capability).is_some() { Ok(()) } else { Err(PluginError::config("", format!("unknown capability `{capability}`"))) }
    }

    /// Runs one cell.
    fn run(&self, req: &Request, host: &Host) -> Result<Response, PluginError>;

    /// What the ABI's `run` calls: [`Plugin::validate`], then [`Plugin::run`]. A plugin of
    /// the typed SDK ([`crate::sdk`]) overrides it to parse the settings once.
    fn handle(&self, req: &Request, host: &Host) -> Result<Response, PluginError> {
        self.validate(&req.capability, &req.settings)?;
        self.run(req, host)
    }
}

/// The host's services as seen from inside a plugin. [`Host::detached`] gives a no-op host
/// for calling a plugin directly through its `rlib` (unit tests, criterion benches).
///
/// It holds a raw pointer, not a reference: a 1.0 host's table is shorter than this crate's
/// [`HostV1`], so only the fields its `struct_size` covers are ever read (through the
/// pointer, never through a `&HostV1` that would claim the whole struct).
#[derive(Clone, Copy)]
pub struct Host<'a> {
    raw: *const HostV1,
    _table: std::marker::PhantomData<&'a HostV1>,
}

/// Log levels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u32)]
pub enum Level {
    /// Error.
    Error = 0,
    /// Warning.
    Warn = 1,
    /// Information.
    Info = 2,
    /// Debug detail.
    Debug = 3,
}

// SAFETY: the host table is read-only for the duration of the call, and the ABI requires the
// host's callbacks to be callable from any thread (flowlab's host implements them over a
// `Sync` `HostServices`), so a plugin may log, report progress and poll cancellation from
// its worker threads.
unsafe impl Send for Host<'_> {}
unsafe impl Sync for Host<'_> {}

impl<'a> Host<'a> {
    /// A host that drops logs and progress and never cancels.
    pub fn detached() -> Host<'static> {
        Host { raw: std::ptr::null(), _table: std::marker::PhantomData }
    }
    /// Wraps the C table (glue code only): null, or a table of the right major whose
    /// `struct_size` is at least [`crate::ffi::HOST_V1_0_SIZE`].
    pub(crate) fn from_raw(raw: *const HostV1) -> Self {
        Host { raw, _table: std::marker::PhantomData }
    }
    /// The 1.0 fields (context and the three callbacks), present in every table.
    fn v10(&self) -> Option<(*mut std::ffi::c_void, crate::ffi::LogFn, crate::ffi::ProgressFn, crate::ffi::CancelledFn)> {
        let p = self.raw;
        if p.is_null() {
            return None;
        }
        // SAFETY: `from_raw`'s contract: these fields lie within the first HOST_V1_0_SIZE bytes.
        unsafe { Some(((*p).ctx, (*p).log, (*p).progress, (*p).cancelled)) }
    }
    /// The 1.1 fields (`emit`, `emit_every`) when the table has them.
    fn v11(&self) -> Option<(Option<crate::ffi::EmitFn>, u64)> {
        let p = self.raw;
        // SAFETY: non-null; `struct_size` is a 1.0 field; the 1.1 fields are read only when
        // the host's table is long enough to hold them.
        unsafe {
            if p.is_null() || (*p).struct_size < crate::ffi::HOST_V1_1_SIZE {
                return None;
            }
            Some(((*p).emit, (*p).emit_every))
        }
    }
    /// Sends a log line to the host (kept in the cell's log tail).
    pub fn log(&self, level: Level, msg: &str) {
        if let Some((ctx, log, _, _)) = self.v10() {
            log(ctx, level as u32, msg.as_ptr(), msg.len());
        }
    }
    /// Info-level log.
    pub fn info(&self, msg: &str) {
        self.log(Level::Info, msg)
    }
    /// Warning-level log.
    pub fn warn(&self, msg: &str) {
        self.log(Level::Warn, msg)
    }
    /// Reports progress of the current cell.
    pub fn progress(&self, done: u64, total: u64) {
        if let Some((ctx, _, progress, _)) = self.v10() {
            progress(ctx, done, total);
        }
    }
    /// True when the host asks the cell to stop; poll at iteration boundaries.
    pub fn cancelled(&self) -> bool {
        self.v10().map(|(ctx, _, _, cancelled)| cancelled(ctx)).unwrap_or(false)
    }
    /// How often the host wants intermediate results: every `n` iterations of the plugin's
    /// loop, or 0 when nobody listens (a detached host, a host that did not ask, or a 1.0
    /// host whose table has no `emit`). A plugin builds an intermediate result only when this
    /// is > 0, so a batch cell pays one comparison per iteration.
    pub fn emit_every(&self) -> u64 {
        match self.v11() {
            Some((Some(_), every)) => every,
            _ => 0,
        }
    }
    /// Sends an intermediate result (`kind`, one JSON document) to the host (ABI 1.1). A
    /// no-op when [`Host::emit_every`] is 0, in particular under a 1.0 host.
    pub fn emit(&self, kind: &str, json: &str) {
        if let (Some((Some(emit), every)), Some((ctx, ..))) = (self.v11(), self.v10())
            && every > 0
        {
            emit(ctx, kind.as_ptr(), kind.len(), json.as_ptr(), json.len());
        }
    }
    /// `Err(cancelled)` when the host asks to stop, for `?` at iteration boundaries.
    pub fn check_cancel(&self) -> Result<(), PluginError> {
        if self.cancelled() { Err(PluginError::cancelled()) } else { Ok(()) }
    }
}

/// Runs `f` inside a local rayon pool of `threads` threads (each cdylib has its own rayon, so
/// plugins never use the global pool; docs/design.md §2, "Thread pools").
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R, PluginError> {
    Ok(thread_pool(threads)?.install(f))
}

/// A local rayon pool of `threads` threads (at least one): the one pool builder of every
/// plugin ([`crate::sdk::Ctx::pool`], [`with_threads`], standalone tools).
pub fn thread_pool(threads: usize) -> Result<rayon::ThreadPool, PluginError> {
    rayon::ThreadPoolBuilder::new().num_threads(threads.max(1)).build().map_err(|e| PluginError::run(format!("cannot build a thread pool of {threads}: {e}")))
}

/// Convenience for tests and benches: a request for `capability` with `settings`.
pub fn request(capability: &str, settings: Value, output_dir: &str) -> Request {
    Request {
        cell_id: "test".into(),
        capability: capability.into(),
        seed: 1,
        seed_hex: "0000000000000001".into(),
        threads: 1,
        dataset: None,
        settings,
        output_dir: output_dir.into(),
        replicate: 0,
        experiment: Default::default(),
    }
}

/// Calls a plugin in-process through its Rust API (no ABI), as the host would.
pub fn call<P: Plugin>(p: &P, req: &Request) -> Result<Response, PluginError> {
    p.handle(req, &Host::detached())
}

pub(crate) fn host_from_ptr<'a>(host: *const HostV1) -> Host<'a> {
    // SAFETY: the host guarantees the table outlives the call. A 1.0 host's table is shorter
    // than `HostV1`: only fields within its `struct_size` are read (`Host::v10`, `Host::v11`);
    // `abi_major` and `struct_size` are in every version.
    let ok = !host.is_null() && unsafe { (*host).abi_major == crate::ABI_MAJOR && (*host).struct_size >= crate::ffi::HOST_V1_0_SIZE };
    Host::from_raw(if ok { host } else { std::ptr::null() })
}
