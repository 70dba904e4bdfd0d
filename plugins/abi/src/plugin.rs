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
        if self.describe().capability(capability).is_some() {
            Ok(())
        } else {
            Err(PluginError::config("", format!("unknown capability `{capability}`")))
        }
    }

    /// Runs one cell.
    fn run(&self, req: &Request, host: &Host) -> Result<Response, PluginError>;
}

/// The host's services as seen from inside a plugin. [`Host::detached`] gives a no-op host
/// for calling a plugin directly through its `rlib` (unit tests, criterion benches).
#[derive(Clone, Copy)]
pub struct Host<'a> {
    raw: Option<&'a HostV1>,
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
        Host { raw: None }
    }
    /// Wraps the C table (glue code only).
    pub(crate) fn from_raw(raw: Option<&'a HostV1>) -> Self {
        Host { raw }
    }
    /// Sends a log line to the host (kept in the cell's log tail).
    pub fn log(&self, level: Level, msg: &str) {
        if let Some(h) = self.raw {
            (h.log)(h.ctx, level as u32, msg.as_ptr(), msg.len());
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
        if let Some(h) = self.raw {
            (h.progress)(h.ctx, done, total);
        }
    }
    /// True when the host asks the cell to stop; poll at iteration boundaries.
    pub fn cancelled(&self) -> bool {
        self.raw.map(|h| (h.cancelled)(h.ctx)).unwrap_or(false)
    }
    /// `Err(cancelled)` when the host asks to stop, for `?` at iteration boundaries.
    pub fn check_cancel(&self) -> Result<(), PluginError> {
        if self.cancelled() { Err(PluginError::cancelled()) } else { Ok(()) }
    }
}

/// Runs `f` inside a local rayon pool of `threads` threads (each cdylib has its own rayon, so
/// plugins never use the global pool; docs/design.md §2, "Thread pools").
pub fn with_threads<R: Send>(threads: usize, f: impl FnOnce() -> R + Send) -> Result<R, PluginError> {
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(threads.max(1))
        .build()
        .map_err(|e| PluginError::run(format!("cannot build a thread pool of {threads}: {e}")))?;
    Ok(pool.install(f))
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
    p.validate(&req.capability, &req.settings)?;
    p.run(req, &Host::detached())
}

pub(crate) fn host_from_ptr<'a>(host: *const HostV1) -> Host<'a> {
    // SAFETY: the host guarantees the table outlives the call; we only read fields present
    // in the host's struct_size.
    let raw = unsafe { host.as_ref() }.filter(|h| h.abi_major == crate::ABI_MAJOR && h.struct_size >= std::mem::size_of::<HostV1>());
    Host::from_raw(raw)
}
