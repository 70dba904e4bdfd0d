//! Host side: find, load, verify and call plugins. Libraries are never unloaded (docs/design.md
//! §2 Plugin ABI: `dlclose` with Rust thread-locals is unsound in practice), so loaded tables are
//! `'static`.
use crate::ffi::{Buf, DescribeFn, FreeBufFn, HostV1, PluginV1, RunFn, ValidateFn};
use crate::types::{Description, ErrorKind, PluginError, Request, Response};
use sha2::{Digest, Sha256};
use std::ffi::{CStr, c_void};
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Why a file could not be used as a plugin.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// The file is missing or unreadable.
    #[error("{path}: cannot read plugin file: {source}")]
    Io {
        /// File.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// dlopen failed (not a shared library, truncated, wrong architecture).
    #[error("{path}: not a loadable shared library: {message}")]
    NotLibrary {
        /// File.
        path: PathBuf,
        /// Loader message.
        message: String,
    },
    /// The entry symbol is missing.
    #[error("{path}: not a flowlab plugin (no `flowlab_plugin_v1` symbol); build it with flowlab_abi::export_plugin!")]
    NoEntry {
        /// File.
        path: PathBuf,
    },
    /// The plugin refused the host ABI or its table is malformed.
    #[error("{path}: incompatible plugin ABI: {message}")]
    Abi {
        /// File.
        path: PathBuf,
        /// What does not match.
        message: String,
    },
    /// `describe` failed or returned bad JSON.
    #[error("{path}: describe failed: {message}")]
    Describe {
        /// File.
        path: PathBuf,
        /// Cause.
        message: String,
    },
}

/// A loaded, verified plugin.
#[derive(Debug)]
pub struct LoadedPlugin {
    /// File it came from (canonical).
    pub path: PathBuf,
    /// SHA-256 of the file bytes (hex).
    pub sha256: String,
    /// ABI minor the plugin was built with.
    pub abi_minor: u32,
    /// Its self-description.
    pub description: Description,
    /// The file's stat key when it was hashed: a library opened later must still be those bytes.
    stat_key: String,
    /// The library's checked table, opened at load or, when the description came from
    /// [`crate::plugincache`], at the first call that needs code (an error is kept).
    table: OnceLock<Result<Table, String>>,
}

/// The host's view of a [`PluginV1`] read from a library: the same C layout, but every
/// pointer is nullable, so a NULL in a foreign table is a value the host checks instead of
/// undefined behaviour (a non-nullable `extern fn` field holding NULL is UB the moment it is
/// read). `Option<extern fn>` has the layout of a plain function pointer (NULL = `None`).
#[repr(C)]
struct RawPluginV1 {
    magic: [u8; 8],
    abi_major: u32,
    abi_minor: u32,
    struct_size: usize,
    name: *const std::ffi::c_char,
    version: *const std::ffi::c_char,
    describe: Option<DescribeFn>,
    validate: Option<ValidateFn>,
    run: Option<RunFn>,
    free_buf: Option<FreeBufFn>,
}

// The two views must agree field by field (checked at compile time).
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<RawPluginV1>() == size_of::<PluginV1>());
    assert!(offset_of!(RawPluginV1, struct_size) == offset_of!(PluginV1, struct_size));
    assert!(offset_of!(RawPluginV1, name) == offset_of!(PluginV1, name));
    assert!(offset_of!(RawPluginV1, version) == offset_of!(PluginV1, version));
    assert!(offset_of!(RawPluginV1, describe) == offset_of!(PluginV1, describe));
    assert!(offset_of!(RawPluginV1, validate) == offset_of!(PluginV1, validate));
    assert!(offset_of!(RawPluginV1, run) == offset_of!(PluginV1, run));
    assert!(offset_of!(RawPluginV1, free_buf) == offset_of!(PluginV1, free_buf));
};

/// The checked functions of a loaded table: every one was non-NULL at load.
#[derive(Clone, Copy)]
struct Table {
    describe: DescribeFn,
    validate: ValidateFn,
    run: RunFn,
    free_buf: FreeBufFn,
}

impl std::fmt::Debug for Table {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Table").finish_non_exhaustive()
    }
}

/// Checks a table the entry point returned (null = the plugin refused the host): magic, ABI
/// major, declared size, then every pointer, before any function of it is called.
///
/// # Safety
/// `table` is null or points at readable memory of at least the first three fields; the
/// rest is read only when `struct_size` says it is there.
unsafe fn check_table(table: *const RawPluginV1, path: &Path) -> Result<(u32, String, Table), LoadError> {
    let abi = |message: String| LoadError::Abi { path: path.into(), message };
    // SAFETY: see the function's contract.
    let t = unsafe { table.as_ref() }.ok_or_else(|| abi(format!("the plugin refused host ABI {}.{}", crate::ABI_MAJOR, crate::ABI_MINOR)))?;
    if t.magic != crate::MAGIC {
        return Err(abi("bad magic bytes".into()));
    }
    if t.abi_major != crate::ABI_MAJOR {
        return Err(abi(format!("plugin ABI major {} but host ABI major {}; rebuild the plugin against flowlab-abi {}", t.abi_major, crate::ABI_MAJOR, crate::ABI_MAJOR)));
    }
    if t.struct_size < std::mem::size_of::<PluginV1>() {
        return Err(abi(format!("plugin table is {} bytes, expected at least {}", t.struct_size, std::mem::size_of::<PluginV1>())));
    }
    let null = |field: &str| abi(format!("the plugin table's `{field}` is NULL"));
    if t.name.is_null() {
        return Err(null("name"));
    }
    if t.version.is_null() {
        return Err(null("version"));
    }
    let table = Table {
        describe: t.describe.ok_or_else(|| null("describe"))?,
        validate: t.validate.ok_or_else(|| null("validate"))?,
        run: t.run.ok_or_else(|| null("run"))?,
        free_buf: t.free_buf.ok_or_else(|| null("free_buf"))?,
    };
    // SAFETY: non-null, and the ABI requires a static NUL-terminated string.
    let name = unsafe { CStr::from_ptr(t.name) }.to_string_lossy().into_owned();
    Ok((t.abi_minor, name, table))
}

// SAFETY: the table is immutable static data of a library that is never unloaded, and the
// plugin's functions are required to be thread-safe (`Plugin: Send + Sync`).
unsafe impl Sync for LoadedPlugin {}
unsafe impl Send for LoadedPlugin {}

/// Services the host offers a running cell.
pub trait HostServices: Sync {
    /// A log line from the plugin.
    fn log(&self, _level: u32, _msg: &str) {}
    /// Progress of the cell.
    fn progress(&self, _done: u64, _total: u64) {}
    /// Whether the cell should stop.
    fn cancelled(&self) -> bool {
        false
    }
    /// How often the plugin should emit intermediate results (ABI 1.1): every this many
    /// iterations, 0 (the default) for never. Read once per `run`.
    fn emit_every(&self) -> u64 {
        0
    }
    /// An intermediate result (ABI 1.1): `kind` and one JSON document, borrowed for the call.
    fn emit(&self, _kind: &str, _json: &str) {}
}

/// A no-op host.
pub struct NullHost;
impl HostServices for NullHost {}

extern "C" fn log_tramp(ctx: *mut c_void, level: u32, msg: *const u8, len: usize) {
    let _ = std::panic::catch_unwind(|| {
        // SAFETY: ctx is the `&&dyn HostServices` set up in `LoadedPlugin::run`.
        let h = unsafe { &*(ctx as *const &dyn HostServices) };
        let bytes = if msg.is_null() { &[][..] } else { unsafe { std::slice::from_raw_parts(msg, len) } };
        h.log(level, &String::from_utf8_lossy(bytes));
    });
}
extern "C" fn progress_tramp(ctx: *mut c_void, done: u64, total: u64) {
    let _ = std::panic::catch_unwind(|| {
        let h = unsafe { &*(ctx as *const &dyn HostServices) };
        h.progress(done, total);
    });
}
extern "C" fn cancelled_tramp(ctx: *mut c_void) -> bool {
    std::panic::catch_unwind(|| {
        let h = unsafe { &*(ctx as *const &dyn HostServices) };
        h.cancelled()
    })
    .unwrap_or(true)
}

extern "C" fn emit_tramp(ctx: *mut c_void, kind: *const u8, kind_len: usize, json: *const u8, len: usize) {
    let _ = std::panic::catch_unwind(|| {
        let h = unsafe { &*(ctx as *const &dyn HostServices) };
        let bytes = |p: *const u8, n: usize| if p.is_null() { &[][..] } else { unsafe { std::slice::from_raw_parts(p, n) } };
        h.emit(&String::from_utf8_lossy(bytes(kind, kind_len)), &String::from_utf8_lossy(bytes(json, len)));
    });
}

/// The host table of one `run` call over `ctx` (a `*const &dyn HostServices`): every 1.1
/// field set, `emit_every` as the services ask.
fn host_table(ctx: *mut c_void, emit_every: u64) -> HostV1 {
    HostV1 {
        abi_major: crate::ABI_MAJOR,
        abi_minor: crate::ABI_MINOR,
        struct_size: std::mem::size_of::<HostV1>(),
        ctx,
        log: log_tramp,
        progress: progress_tramp,
        cancelled: cancelled_tramp,
        emit: Some(emit_tramp),
        emit_every,
    }
}

fn registry() -> &'static Mutex<Vec<&'static LoadedPlugin>> {
    static R: OnceLock<Mutex<Vec<&'static LoadedPlugin>>> = OnceLock::new();
    R.get_or_init(|| Mutex::new(Vec::new()))
}

/// Feeds a file's bytes to `f`, `chunk` bytes per read at most.
fn read_chunks(path: &Path, chunk: usize, mut f: impl FnMut(&[u8])) -> std::io::Result<()> {
    use std::io::Read;
    let mut file = std::fs::File::open(path)?;
    let mut buf = vec![0u8; chunk];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(());
        }
        f(&buf[..n]);
    }
}

/// BLAKE3 of a file (hex): the digest of files named by path settings
/// (`crate::hashcache::Digest::Blake3`).
pub fn file_blake3(path: &Path) -> std::io::Result<String> {
    let mut h = blake3::Hasher::new();
    // 128 KiB reads: BLAKE3 hashes the 1 KiB chunks of one `update` in parallel SIMD lanes
    // (16 with AVX-512), and the chunk stays in L2 between the kernel's copy and the hash
    // (645 MB: 0.19–0.21 s CPU against 0.20–0.26 s with 1 MiB reads; docs/histfit-benchmarks.md)
    read_chunks(path, 1 << 17, |b| {
        h.update(b);
    })?;
    Ok(h.finalize().to_hex().to_string())
}

/// SHA-256 of a file (hex).
pub fn file_sha256(path: &Path) -> std::io::Result<String> {
    let mut h = Sha256::new();
    read_chunks(path, 1 << 16, |b| h.update(b))?;
    Ok(hex::encode(h.finalize()))
}

/// Checks that an ELF64 file holds every loadable segment and its section table before it is
/// handed to `dlopen`: the dynamic loader maps a truncated library and then dies of SIGBUS
/// touching the missing pages, which would take the whole run down. Files that are not
/// ELF64 are left for `dlopen` to reject with its own message.
///
/// Reads only the ELF header and the program headers (a few KiB): reading the whole library
/// (20 MB for histfit) cost more CPU and memory than the rest of `flowlab plan` together.
pub fn check_library_file(path: &Path) -> Result<(), String> {
    use std::io::{Read, Seek, SeekFrom};
    let mut f = std::fs::File::open(path).map_err(|e| format!("cannot read: {e}"))?;
    let len = f.metadata().map_err(|e| format!("cannot read: {e}"))?.len();
    let mut h = [0u8; 64];
    if len < 64 || f.read_exact(&mut h).is_err() || &h[..4] != b"\x7fELF" || h[4] != 2 || h[5] != 1 {
        return Ok(());
    }
    let u16_at = |b: &[u8], o: usize| u16::from_le_bytes([b[o], b[o + 1]]) as u64;
    let u64_at = |b: &[u8], o: usize| -> u64 { b.get(o..o + 8).map(|s| u64::from_le_bytes(s.try_into().expect("8 bytes"))).unwrap_or(u64::MAX) };
    let (phoff, shoff) = (u64_at(&h, 0x20), u64_at(&h, 0x28));
    let (phentsize, phnum, shentsize, shnum) = (u16_at(&h, 0x36), u16_at(&h, 0x38), u16_at(&h, 0x3A), u16_at(&h, 0x3C));
    let truncated = |what: String| Err(format!("truncated file ({len} bytes): {what}"));
    if phoff.saturating_add(phentsize.saturating_mul(phnum)) > len {
        return truncated(format!("the program headers end at byte {}", phoff.saturating_add(phentsize * phnum)));
    }
    if shnum > 0 && shoff.saturating_add(shentsize.saturating_mul(shnum)) > len {
        return truncated(format!("the section headers end at byte {}", shoff.saturating_add(shentsize * shnum)));
    }
    // the program headers, at most 65 535 × 65 535 bytes by the header's u16 fields, within `len`
    let mut ph = vec![0u8; (phentsize * phnum) as usize];
    f.seek(SeekFrom::Start(phoff)).and_then(|_| f.read_exact(&mut ph)).map_err(|e| format!("cannot read the program headers: {e}"))?;
    for i in 0..phnum {
        let o = (i * phentsize) as usize;
        if o + 40 > ph.len() {
            break;
        }
        let p_type = u32::from_le_bytes([ph[o], ph[o + 1], ph[o + 2], ph[o + 3]]);
        let (off, filesz) = (u64_at(&ph, o + 8), u64_at(&ph, o + 32));
        if p_type == 1 && off.saturating_add(filesz) > len {
            return truncated(format!("segment {i} ends at byte {}", off.saturating_add(filesz)));
        }
    }
    Ok(())
}

impl LoadedPlugin {
    /// Loads (once per canonical path; never unloads) and verifies a plugin file. The library
    /// itself is opened only when a call needs its code: a description this host cached for
    /// the same bytes ([`crate::plugincache`]) is taken from the cache.
    pub fn load(path: &Path) -> Result<&'static LoadedPlugin, LoadError> {
        let canon = path.canonicalize().map_err(|e| LoadError::Io { path: path.into(), source: e })?;
        let io = |e: std::io::Error| LoadError::Io { path: canon.clone(), source: e };
        let stat_key = crate::hashcache::stat_key(&std::fs::metadata(&canon).map_err(io)?);
        let sha256 = crate::hashcache::sha256(&canon, file_sha256).map_err(io)?;
        let mut reg = registry().lock().unwrap_or_else(|e| e.into_inner());
        if let Some(p) = reg.iter().find(|p| p.path == canon) {
            return Ok(p);
        }
        let p = match crate::plugincache::description(&sha256) {
            Some(c) => LoadedPlugin { path: canon, sha256, abi_minor: c.abi_minor, description: c.description, stat_key, table: OnceLock::new() },
            None => {
                let (abi_minor, name, table) = open(&canon)?;
                let mut tmp = LoadedPlugin { path: canon.clone(), sha256, abi_minor, description: Description::new("", ""), stat_key, table: OnceLock::from(Ok(table)) };
                let d = tmp.call_json(|t, out| unsafe { (t.describe)(out) }).map_err(|e| LoadError::Describe { path: canon.clone(), message: e.message })?;
                tmp.description = serde_json::from_slice(&d).map_err(|e| LoadError::Describe { path: canon.clone(), message: e.to_string() })?;
                if name != tmp.description.name {
                    return Err(LoadError::Describe { path: canon, message: format!("table name `{name}` differs from described name `{}`", tmp.description.name) });
                }
                crate::plugincache::record_description(&tmp.sha256, abi_minor, &d);
                tmp
            }
        };
        let leaked: &'static LoadedPlugin = Box::leak(Box::new(p));
        reg.push(leaked);
        Ok(leaked)
    }

    /// The checked table, opening the library on first use: its file must still have the stat
    /// key it had when it was hashed, and declare the cached name and ABI minor.
    fn table(&self) -> Result<&Table, PluginError> {
        let t = self.table.get_or_init(|| {
            let now = std::fs::metadata(&self.path).map(|m| crate::hashcache::stat_key(&m)).map_err(|e| format!("{}: {e}", self.path.display()))?;
            if now != self.stat_key {
                return Err(format!("{}: the plugin file changed after it was read (rebuilt during the run?); run again", self.path.display()));
            }
            let (minor, name, table) = open(&self.path).map_err(|e| e.to_string())?;
            if name != self.description.name || minor != self.abi_minor {
                return Err(format!("{}: the library declares `{name}` ABI minor {minor}, its cached description `{}` ABI minor {}", self.path.display(), self.description.name, self.abi_minor));
            }
            Ok(table)
        });
        t.as_ref().map_err(|m| PluginError::run(format!("plugin `{}` cannot be loaded: {m}", self.description.name)))
    }

    /// Plugin name.
    pub fn name(&self) -> &str {
        &self.description.name
    }
    /// Plugin version.
    pub fn version(&self) -> &str {
        &self.description.version
    }

    fn call_json(&self, f: impl FnOnce(&Table, *mut Buf) -> i32) -> Result<Vec<u8>, PluginError> {
        let table = self.table()?;
        let mut out = Buf::empty();
        let rc = f(table, &mut out);
        let bytes = if out.ptr.is_null() { Vec::new() } else { unsafe { std::slice::from_raw_parts(out.ptr, out.len) }.to_vec() };
        unsafe { (table.free_buf)(out) };
        if rc == crate::code::OK {
            Ok(bytes)
        } else {
            Err(serde_json::from_slice::<PluginError>(&bytes).unwrap_or_else(|_| PluginError {
                kind: if rc == crate::code::ERR_PANIC { ErrorKind::Panic } else { ErrorKind::Run },
                message: format!("plugin returned code {rc}: {}", String::from_utf8_lossy(&bytes)),
                path: None,
            }))
        }
    }

    /// Asks the plugin to check settings for a capability. An acceptance of the same request
    /// by the same library bytes is remembered ([`crate::plugincache`]), and then the library
    /// is not asked (nor opened) again.
    pub fn validate(&self, capability: &str, settings: &serde_json::Value) -> Result<(), PluginError> {
        let req = serde_json::to_vec(&serde_json::json!({"capability": capability, "settings": settings})).map_err(|e| PluginError::run(e.to_string()))?;
        let key = crate::plugincache::verdict_key(&self.sha256, &req);
        if crate::plugincache::accepted(&key) {
            return Ok(());
        }
        self.call_json(|t, out| unsafe { (t.validate)(req.as_ptr(), req.len(), out) })?;
        crate::plugincache::record_accepted(&key);
        Ok(())
    }

    /// Runs one cell through the ABI.
    pub fn run(&self, req: &Request, services: &dyn HostServices) -> Result<Response, PluginError> {
        let bytes = self.run_raw(&serde_json::to_vec(req).map_err(|e| PluginError::run(e.to_string()))?, services)?;
        serde_json::from_slice(&bytes).map_err(|e| PluginError::run(format!("plugin `{}` returned a malformed response: {e}", self.name())))
    }

    /// Runs one cell with a raw JSON request and returns the raw JSON response bytes.
    pub fn run_raw(&self, req: &[u8], services: &dyn HostServices) -> Result<Vec<u8>, PluginError> {
        let ctx: &dyn HostServices = services;
        let hostv = host_table(&ctx as *const &dyn HostServices as *mut c_void, services.emit_every());
        self.call_json(|t, out| unsafe { (t.run)(&hostv, req.as_ptr(), req.len(), out) })
    }
}

/// Opens a plugin library and checks its table: the ELF check first (a truncated library
/// would die of SIGBUS in the loader, not fail), then `dlopen`, the entry symbol and
/// [`check_table`]. Returns the ABI minor, the table's name and the table.
fn open(canon: &Path) -> Result<(u32, String, Table), LoadError> {
    check_library_file(canon).map_err(|message| LoadError::NotLibrary { path: canon.into(), message })?;
    // SAFETY: loading runs the library's initialisers; flowlab plugins are trusted code
    // chosen by the user (like SQLite extensions).
    let lib = unsafe { libloading::Library::new(canon) }.map_err(|e| LoadError::NotLibrary { path: canon.into(), message: e.to_string() })?;
    let lib: &'static libloading::Library = Box::leak(Box::new(lib));
    // read through the host's nullable view of the table (same layout, see RawPluginV1)
    type RawEntryFn = unsafe extern "C" fn(host: *const HostV1) -> *const RawPluginV1;
    let entry: libloading::Symbol<RawEntryFn> = unsafe { lib.get(crate::ENTRY_SYMBOL) }.map_err(|_| LoadError::NoEntry { path: canon.into() })?;
    let hostv = null_host_table();
    // SAFETY: the entry returns null or a pointer to its static table (ffi.rs contract).
    unsafe { check_table(entry(&hostv), canon) }
}

fn null_host_table() -> HostV1 {
    extern "C" fn log(_: *mut c_void, _: u32, _: *const u8, _: usize) {}
    extern "C" fn progress(_: *mut c_void, _: u64, _: u64) {}
    extern "C" fn cancelled(_: *mut c_void) -> bool {
        false
    }
    HostV1 { abi_major: crate::ABI_MAJOR, abi_minor: crate::ABI_MINOR, struct_size: std::mem::size_of::<HostV1>(), ctx: std::ptr::null_mut(), log, progress, cancelled, emit: None, emit_every: 0 }
}

/// File name of a plugin library on this platform (`libhistfit.so`).
pub fn library_file_name(name: &str) -> String {
    format!("{}{}{}", std::env::consts::DLL_PREFIX, name.replace('-', "_"), std::env::consts::DLL_SUFFIX)
}

/// Directories searched for plugins, in order: `$FLOWLAB_PLUGIN_PATH` (path list), beside the
/// executable and its `deps/`, and for an executable in `target/<profile>/deps` (tests) its
/// parent. Never the current directory: a `target/` of an untrusted checkout must not get
/// its code loaded by `flowlab plugins` or a misspelt plugin name.
pub fn search_dirs() -> Vec<PathBuf> {
    let mut dirs = Vec::new();
    if let Some(p) = std::env::var_os("FLOWLAB_PLUGIN_PATH") {
        dirs.extend(std::env::split_paths(&p).filter(|d| !d.as_os_str().is_empty()));
    }
    if let Ok(exe) = std::env::current_exe()
        && let Some(dir) = exe.parent()
    {
        dirs.push(dir.to_path_buf());
        if dir.file_name().is_some_and(|n| n == "deps") {
            if let Some(up) = dir.parent() {
                dirs.push(up.to_path_buf());
            }
        } else {
            dirs.push(dir.join("deps"));
        }
    }
    let mut seen = std::collections::BTreeSet::new();
    dirs.retain(|d| seen.insert(d.clone()));
    dirs
}

/// Finds the library file of plugin `name`: the first match in `$FLOWLAB_PLUGIN_PATH`,
/// else the most recently built match beside the executable (so a fresh
/// `target/<profile>/deps` build from `cargo test` wins over an older uplifted copy).
pub fn find_plugin_file(name: &str) -> Option<PathBuf> {
    let file = library_file_name(name);
    let explicit: Vec<PathBuf> = std::env::var_os("FLOWLAB_PLUGIN_PATH").map(|p| std::env::split_paths(&p).collect()).unwrap_or_default();
    if let Some(p) = explicit.iter().map(|d| d.join(&file)).find(|p| p.is_file()) {
        return Some(p);
    }
    let mut best: Option<(PathBuf, Option<std::time::SystemTime>)> = None;
    for p in search_dirs().into_iter().filter(|d| !explicit.contains(d)).map(|d| d.join(&file)).filter(|p| p.is_file()) {
        let t = std::fs::metadata(&p).and_then(|m| m.modified()).ok();
        if best.as_ref().is_none_or(|(_, bt)| t > *bt) {
            best = Some((p, t));
        }
    }
    best.map(|(p, _)| p)
}

/// The plugin names the [`candidate_files`] would provide, from their file names alone
/// (`libhistfit.so` → `histfit`), without loading anything: for "did you mean" hints.
pub fn candidate_names() -> Vec<String> {
    let (pre, suf) = (std::env::consts::DLL_PREFIX, std::env::consts::DLL_SUFFIX);
    candidate_files().iter().filter_map(|f| f.file_name()?.to_str()?.strip_prefix(pre)?.strip_suffix(suf).map(str::to_string)).collect()
}

/// Every file in the search dirs that looks like a flowlab plugin library, one per file name
/// (the first directory wins).
pub fn candidate_files() -> Vec<PathBuf> {
    let mut seen = std::collections::BTreeSet::new();
    let mut out = Vec::new();
    for d in search_dirs() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        let mut files: Vec<PathBuf> = rd.filter_map(|e| e.ok().map(|e| e.path())).collect();
        files.sort();
        for f in files {
            let Some(n) = f.file_name().and_then(|n| n.to_str()) else { continue };
            // cargo's hashed artifacts (`libserde_derive-1a2b.so`) are never plugins
            if n.starts_with(std::env::consts::DLL_PREFIX) && n.ends_with(std::env::consts::DLL_SUFFIX) && !n.contains('-') && seen.insert(n.to_string()) {
                out.push(f);
            }
        }
    }
    out
}

/// The host's private pieces, for the ABI compatibility tests (`minor_tests.rs`).
#[cfg(test)]
pub(crate) mod tests_support {
    use super::*;
    /// The table `run` passes.
    pub fn table(ctx: *mut c_void, emit_every: u64) -> HostV1 {
        host_table(ctx, emit_every)
    }
    /// Whether the loader accepts a plugin table that declares ABI minor `minor` (and the
    /// 1.0 table size).
    pub fn accepts_minor(minor: u32) -> bool {
        unsafe extern "C" fn describe(_: *mut Buf) -> i32 {
            0
        }
        unsafe extern "C" fn validate(_: *const u8, _: usize, _: *mut Buf) -> i32 {
            0
        }
        unsafe extern "C" fn run(_: *const HostV1, _: *const u8, _: usize, _: *mut Buf) -> i32 {
            0
        }
        unsafe extern "C" fn free_buf(_: Buf) {}
        let t = RawPluginV1 {
            magic: crate::MAGIC,
            abi_major: crate::ABI_MAJOR,
            abi_minor: minor,
            struct_size: std::mem::size_of::<PluginV1>(),
            name: c"old".as_ptr(),
            version: c"0".as_ptr(),
            describe: Some(describe),
            validate: Some(validate),
            run: Some(run),
            free_buf: Some(free_buf),
        };
        matches!(unsafe { check_table(&t, Path::new("old.so")) }, Ok((m, _, _)) if m == minor)
    }
}
