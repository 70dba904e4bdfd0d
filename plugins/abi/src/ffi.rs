//! The C-level tables. Only these structs are the ABI; everything else is convenience.
//!
//! Minor versions only append fields; a reader checks `struct_size` before touching a field
//! that a newer minor added (the Win32 `cbSize` rule).
use std::ffi::{c_char, c_void};

/// A byte buffer owned by the side that allocated it and freed only through that side's
/// `free_buf` (SQLite's `sqlite3_free` rule).
#[repr(C)]
#[derive(Debug)]
pub struct Buf {
    /// Start of the bytes (null for an empty buffer).
    pub ptr: *mut u8,
    /// Number of valid bytes.
    pub len: usize,
    /// Allocated capacity (needed to rebuild the `Vec` when freeing).
    pub cap: usize,
}

impl Buf {
    /// An empty buffer.
    pub const fn empty() -> Self {
        Buf { ptr: std::ptr::null_mut(), len: 0, cap: 0 }
    }
    /// Hands a `Vec` over to the other side; it must come back through `free_buf`.
    pub fn from_vec(v: Vec<u8>) -> Self {
        let mut v = std::mem::ManuallyDrop::new(v);
        Buf { ptr: v.as_mut_ptr(), len: v.len(), cap: v.capacity() }
    }
    /// Rebuilds and drops a buffer made by [`Buf::from_vec`] *in this same binary*.
    ///
    /// # Safety
    /// `self` must come from `Buf::from_vec` of this binary and not have been freed.
    pub unsafe fn free_in_place(self) {
        if !self.ptr.is_null() {
            drop(unsafe { Vec::from_raw_parts(self.ptr, self.len, self.cap) });
        }
    }
}

/// Log callback: `level` 0=error 1=warn 2=info 3=debug; `msg` is UTF-8, not NUL-terminated.
pub type LogFn = extern "C" fn(ctx: *mut c_void, level: u32, msg: *const u8, len: usize);
/// Progress callback: `done` of `total` units of the current cell.
pub type ProgressFn = extern "C" fn(ctx: *mut c_void, done: u64, total: u64);
/// Cancellation poll: true when the host wants the cell to stop (Ctrl-C, soft timeout).
pub type CancelledFn = extern "C" fn(ctx: *mut c_void) -> bool;
/// Intermediate result (ABI 1.1): `kind` names what it is (UTF-8, e.g. `"mixture"`), `json`
/// holds one UTF-8 JSON document; neither is NUL-terminated and both are borrowed for the call
/// only (the host copies what it keeps). A plugin emits only while [`HostV1::emit_every`] > 0.
pub type EmitFn = extern "C" fn(ctx: *mut c_void, kind: *const u8, kind_len: usize, json: *const u8, len: usize);

/// Services the host lends the plugin for one call. The callbacks are thread-safe: a plugin
/// may call them from any of its threads while the call lasts.
///
/// Fields up to `cancelled` are ABI 1.0 ([`HOST_V1_0_SIZE`] bytes); `emit` and `emit_every`
/// were appended in 1.1. A 1.1 plugin given a 1.0 host's smaller table reads neither (its
/// `emit` is then a no-op); a 1.0 plugin never looks past `cancelled`.
#[repr(C)]
pub struct HostV1 {
    /// Host's ABI major.
    pub abi_major: u32,
    /// Host's ABI minor.
    pub abi_minor: u32,
    /// `size_of::<HostV1>()` as the host compiled it.
    pub struct_size: usize,
    /// Opaque host context passed back to every callback.
    pub ctx: *mut c_void,
    /// See [`LogFn`].
    pub log: LogFn,
    /// See [`ProgressFn`].
    pub progress: ProgressFn,
    /// See [`CancelledFn`].
    pub cancelled: CancelledFn,
    /// ABI 1.1: see [`EmitFn`]; `None` (NULL) when the host takes no intermediate results.
    pub emit: Option<EmitFn>,
    /// ABI 1.1: the host asks for an intermediate result every this many iterations of the
    /// plugin's loop (0 = nobody listens: emit nothing and compute nothing for it).
    pub emit_every: u64,
}

/// Size of an ABI 1.0 [`HostV1`] (the fields up to `cancelled`): the smallest table a plugin
/// accepts.
pub const HOST_V1_0_SIZE: usize = std::mem::offset_of!(HostV1, emit);
/// Smallest `struct_size` of a table that has `emit` and `emit_every` (ABI 1.1).
pub const HOST_V1_1_SIZE: usize = std::mem::offset_of!(HostV1, emit_every) + std::mem::size_of::<u64>();

/// `describe(out)`: writes the JSON [`crate::Description`] into `out`.
pub type DescribeFn = unsafe extern "C" fn(out: *mut Buf) -> i32;
/// `validate(req, len, out)`: checks `{"capability", "settings"}`; on error writes a JSON
/// [`crate::PluginError`] into `out`.
pub type ValidateFn = unsafe extern "C" fn(req: *const u8, len: usize, out: *mut Buf) -> i32;
/// `run(host, req, len, out)`: runs one cell ([`crate::Request`] in, [`crate::Response`] or
/// [`crate::PluginError`] out).
pub type RunFn = unsafe extern "C" fn(host: *const HostV1, req: *const u8, len: usize, out: *mut Buf) -> i32;
/// `free_buf(buf)`: frees a buffer the plugin allocated.
pub type FreeBufFn = unsafe extern "C" fn(buf: Buf);

/// The plugin's static table (GstPluginDesc style).
#[repr(C)]
pub struct PluginV1 {
    /// Must equal [`crate::MAGIC`].
    pub magic: [u8; 8],
    /// Plugin's ABI major (must equal the host's).
    pub abi_major: u32,
    /// Plugin's ABI minor.
    pub abi_minor: u32,
    /// `size_of::<PluginV1>()` as the plugin compiled it.
    pub struct_size: usize,
    /// Static NUL-terminated plugin name.
    pub name: *const c_char,
    /// Static NUL-terminated plugin version.
    pub version: *const c_char,
    /// See [`DescribeFn`].
    pub describe: DescribeFn,
    /// See [`ValidateFn`].
    pub validate: ValidateFn,
    /// See [`RunFn`].
    pub run: RunFn,
    /// See [`FreeBufFn`].
    pub free_buf: FreeBufFn,
}

/// Wrapper that lets a plugin keep its table in a `static` (raw pointers are not `Sync`,
/// but these point at immutable static strings).
#[repr(transparent)]
pub struct StaticTable(pub PluginV1);
// SAFETY: the table is immutable and its pointers reference 'static NUL-terminated strings.
unsafe impl Sync for StaticTable {}

/// Signature of the one exported symbol. Returns null if the plugin refuses the host's ABI.
pub type EntryFn = unsafe extern "C" fn(host: *const HostV1) -> *const PluginV1;
