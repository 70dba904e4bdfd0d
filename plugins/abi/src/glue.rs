//! The unsafe glue behind [`crate::export_plugin!`]: every exported body runs under
//! `catch_unwind`, and a panic becomes an `ERR_PANIC` answer with its message.
use crate::code;
use crate::ffi::{Buf, HostV1};
use crate::plugin::{Plugin, host_from_ptr};
use crate::types::{ErrorKind, PluginError, Request};
use serde::Deserialize;
use std::panic::{AssertUnwindSafe, catch_unwind};

fn panic_message(e: Box<dyn std::any::Any + Send>) -> String {
    if let Some(s) = e.downcast_ref::<&str>() {
        s.to_string()
    } else if let Some(s) = e.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-string payload".into()
    }
}

fn write_out(out: *mut Buf, bytes: Vec<u8>) {
    if !out.is_null() {
        // SAFETY: the host passes a valid, writable Buf.
        unsafe { *out = Buf::from_vec(bytes) };
    }
}

fn error_bytes(e: &PluginError) -> Vec<u8> {
    serde_json::to_vec(e).unwrap_or_else(|_| br#"{"kind":"run","message":"unserialisable error"}"#.to_vec())
}

fn guarded(out: *mut Buf, f: impl FnOnce() -> Result<Vec<u8>, PluginError>) -> i32 {
    match catch_unwind(AssertUnwindSafe(f)) {
        Ok(Ok(bytes)) => {
            write_out(out, bytes);
            code::OK
        }
        Ok(Err(e)) => {
            write_out(out, error_bytes(&e));
            e.code()
        }
        Err(p) => {
            let e = PluginError { kind: ErrorKind::Panic, message: format!("plugin panicked: {}", panic_message(p)), path: None };
            write_out(out, error_bytes(&e));
            code::ERR_PANIC
        }
    }
}

fn input<'a>(ptr: *const u8, len: usize) -> &'a [u8] {
    if ptr.is_null() || len == 0 {
        &[]
    } else {
        // SAFETY: the host passes `len` readable bytes that outlive the call.
        unsafe { std::slice::from_raw_parts(ptr, len) }
    }
}

/// Body of `describe`.
///
/// # Safety
/// Pointers must be valid as the C ABI describes (`out` writable; `req` readable for `len`
/// bytes; `host` null or a live [`HostV1`]).
pub unsafe fn describe<P: Plugin>(p: &P, out: *mut Buf) -> i32 {
    guarded(out, || serde_json::to_vec(&p.describe()).map_err(|e| PluginError::run(e.to_string())))
}

#[derive(Deserialize)]
struct ValidateReq {
    capability: String,
    #[serde(default)]
    settings: serde_json::Value,
}

/// Body of `validate`.
///
/// # Safety
/// Pointers must be valid as the C ABI describes (`out` writable; `req` readable for `len`
/// bytes; `host` null or a live [`HostV1`]).
pub unsafe fn validate<P: Plugin>(p: &P, req: *const u8, len: usize, out: *mut Buf) -> i32 {
    guarded(out, || {
        let r: ValidateReq = serde_json::from_slice(input(req, len)).map_err(|e| PluginError::config("", format!("malformed validate request: {e}")))?;
        p.validate(&r.capability, &r.settings)?;
        Ok(b"{}".to_vec())
    })
}

/// Body of `run`.
///
/// # Safety
/// Pointers must be valid as the C ABI describes (`out` writable; `req` readable for `len`
/// bytes; `host` null or a live [`HostV1`]).
pub unsafe fn run<P: Plugin>(p: &P, host: *const HostV1, req: *const u8, len: usize, out: *mut Buf) -> i32 {
    guarded(out, || {
        let r: Request = serde_json::from_slice(input(req, len)).map_err(|e| PluginError::config("", format!("malformed run request: {e}")))?;
        let h = host_from_ptr(host);
        let resp = p.handle(&r, &h)?;
        serde_json::to_vec(&resp).map_err(|e| PluginError::run(format!("cannot encode the response: {e}")))
    })
}

/// Body of `free_buf`.
///
/// # Safety
/// `buf` must have been produced by this plugin's glue and not freed before.
pub unsafe fn free_buf(buf: Buf) {
    let _ = catch_unwind(AssertUnwindSafe(|| unsafe { buf.free_in_place() }));
}

/// Whether the plugin accepts the host's ABI.
///
/// # Safety
/// `host` is null or points at a live [`HostV1`].
pub unsafe fn accepts(host: *const HostV1) -> bool {
    // SAFETY: null-checked; the first two fields exist in every version.
    match unsafe { host.as_ref() } {
        Some(h) => h.abi_major == crate::ABI_MAJOR,
        None => true, // describe-only loading (e.g. `flowlab plugins`) passes no host
    }
}

/// Exports a flowlab cdylib plugin. Two forms:
///
/// * the typed SDK ([`crate::sdk`]): a unit struct (the plugin, implementing [`Plugin`] for
///   in-process calls), its summary, the dataset formats it reads, optionally `internal` and
///   the `wall_time` key, and its capabilities, each a type implementing [`crate::sdk::Cap`].
///   Name and version come from Cargo (`CARGO_CRATE_NAME`, `CARGO_PKG_VERSION`):
///
///   ```ignore
///   flowlab_abi::export_plugin! {
///       /// The plugin.
///       pub struct Hello;
///       summary: "says hello",
///       formats: [],
///       capabilities: [Greet],
///   }
///   ```
/// * a hand-written [`Plugin`] type (which must implement `Default`) and its name:
///   `flowlab_abi::export_plugin!(MyPlugin, "myplugin");`
#[macro_export]
macro_rules! export_plugin {
    (@table $ty:ty, $($name:tt)+) => {
        #[doc(hidden)]
        pub mod __flowlab_export {
            use super::*;
            static INSTANCE: ::std::sync::OnceLock<$ty> = ::std::sync::OnceLock::new();
            fn instance() -> &'static $ty {
                INSTANCE.get_or_init(<$ty as ::core::default::Default>::default)
            }
            unsafe extern "C" fn describe(out: *mut $crate::ffi::Buf) -> i32 {
                unsafe { $crate::glue::describe(instance(), out) }
            }
            unsafe extern "C" fn validate(req: *const u8, len: usize, out: *mut $crate::ffi::Buf) -> i32 {
                unsafe { $crate::glue::validate(instance(), req, len, out) }
            }
            unsafe extern "C" fn run(host: *const $crate::ffi::HostV1, req: *const u8, len: usize, out: *mut $crate::ffi::Buf) -> i32 {
                unsafe { $crate::glue::run(instance(), host, req, len, out) }
            }
            unsafe extern "C" fn free_buf(buf: $crate::ffi::Buf) {
                unsafe { $crate::glue::free_buf(buf) }
            }
            static TABLE: $crate::ffi::StaticTable = $crate::ffi::StaticTable($crate::ffi::PluginV1 {
                magic: $crate::MAGIC,
                abi_major: $crate::ABI_MAJOR,
                abi_minor: $crate::ABI_MINOR,
                struct_size: ::core::mem::size_of::<$crate::ffi::PluginV1>(),
                name: concat!($($name)+, "\0").as_ptr() as *const ::std::ffi::c_char,
                version: concat!(env!("CARGO_PKG_VERSION"), "\0").as_ptr() as *const ::std::ffi::c_char,
                describe,
                validate,
                run,
                free_buf,
            });
            /// The one exported entry symbol.
            #[unsafe(no_mangle)]
            pub unsafe extern "C" fn flowlab_plugin_v1(host: *const $crate::ffi::HostV1) -> *const $crate::ffi::PluginV1 {
                if unsafe { $crate::glue::accepts(host) } { &TABLE.0 } else { ::core::ptr::null() }
            }
        }
    };
    (
        $(#[$meta:meta])*
        $vis:vis struct $ty:ident;
        summary: $summary:expr,
        formats: [$($format:expr),* $(,)?],
        $(internal: $internal:expr,)?
        $(wall_time: $wall:expr,)?
        capabilities: [$($cap:ty),+ $(,)?] $(,)?
    ) => {
        $(#[$meta])*
        #[derive(Debug, Default, Clone, Copy)]
        $vis struct $ty;
        impl $ty {
            /// The plugin's capabilities, registered once.
            pub fn registry() -> &'static $crate::sdk::Registry {
                static REGISTRY: ::std::sync::OnceLock<$crate::sdk::Registry> = ::std::sync::OnceLock::new();
                REGISTRY.get_or_init(|| {
                    let r = $crate::sdk::Registry::new(
                        env!("CARGO_CRATE_NAME"),
                        env!("CARGO_PKG_VERSION"),
                        $summary,
                        &[$($format),*],
                        vec![$($crate::sdk::register::<$cap>()),+],
                    );
                    $(let r = r.internal($internal);)?
                    $(let r = r.wall_time($wall);)?
                    r
                })
            }
        }
        impl $crate::Plugin for $ty {
            fn describe(&self) -> $crate::Description {
                Self::registry().description().clone()
            }
            fn validate(&self, capability: &str, settings: &$crate::sdk::Value) -> ::core::result::Result<(), $crate::PluginError> {
                Self::registry().validate(capability, settings)
            }
            fn run(&self, req: &$crate::Request, host: &$crate::Host) -> ::core::result::Result<$crate::Response, $crate::PluginError> {
                Self::registry().run(req, host)
            }
            fn handle(&self, req: &$crate::Request, host: &$crate::Host) -> ::core::result::Result<$crate::Response, $crate::PluginError> {
                Self::registry().run(req, host)
            }
        }
        $crate::export_plugin!(@table $ty, env!("CARGO_CRATE_NAME"));
    };
    ($ty:ty, $name:literal) => {
        $crate::export_plugin!(@table $ty, $name);
    };
}
