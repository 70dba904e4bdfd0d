//! # flowlab plugin ABI (v1)
//!
//! A flowlab plugin is a `cdylib` that exports exactly one C symbol,
//! [`ENTRY_SYMBOL`] (`flowlab_plugin_v1`). Nothing Rust-shaped crosses the boundary: only the
//! `#[repr(C)]` tables of [`ffi`] and byte buffers holding UTF-8 JSON (see
//! docs/design.md §2 Plugin ABI).
//!
//! Plugin authors use the typed SDK ([`sdk`]): one type per capability implementing
//! [`sdk::Cap`] (settings type with a derived JSON Schema, optional cross-field `check`,
//! `run` with a [`sdk::Ctx`]), listed once in [`export_plugin!`]; they write no `unsafe`.
//! README's "Writing a plugin" shows a whole plugin and is compiled as a doctest of this
//! crate. The untyped [`Plugin`] trait underneath stays available. The host side (feature
//! `host`) loads, verifies and calls plugins ([`host`]).
//!
//! ## Versions
//!
//! 1.1 (current) appended two fields to [`ffi::HostV1`]: `emit`, a callback for intermediate
//! results, and `emit_every`, how often the host wants one (0: never). A plugin asks
//! [`Host::emit_every`] once per loop and calls [`Host::emit`]`(kind, json)` every that many
//! iterations; a host implements `HostServices::emit_every` / `HostServices::emit`. Both
//! directions stay compatible: a 1.0 plugin under a 1.1 host reads only the 1.0 prefix of the
//! table, and a 1.1 plugin under a 1.0 host sees `emit_every() == 0` (the table's
//! `struct_size` has no room for the new fields, so they are never read) and `emit` does
//! nothing (docs/design.md §2, "Intermediate results").
#![warn(missing_docs)]

pub mod ffi;
pub mod glue;
pub mod json;
pub mod limits;
pub mod plugin;
pub mod sdk;
pub mod seed;
pub mod types;

#[cfg(test)]
mod minor_tests;
#[cfg(test)]
mod sdk_tests;

/// README.md's code blocks, compiled and run by `cargo test --doc` (its "Writing a plugin"
/// example must keep building against this crate).
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;

#[cfg(feature = "host")]
pub mod hashcache;
#[cfg(feature = "host")]
pub mod host;
#[cfg(feature = "host")]
pub mod plugincache;

pub use plugin::{Host, Plugin};
pub use types::*;

/// ABI major version: a bump changes the entry symbol name.
pub const ABI_MAJOR: u32 = 1;
/// ABI minor version: a bump only appends fields to the tables. 1.1 appended
/// [`ffi::HostV1::emit`] and [`ffi::HostV1::emit_every`] (intermediate results, see
/// [`Host::emit`]); plugins of 1.0 still load, and 1.1 plugins run under a 1.0 host with
/// `emit` a no-op.
pub const ABI_MINOR: u32 = 1;
/// Magic bytes at the start of [`ffi::PluginV1`].
pub const MAGIC: [u8; 8] = *b"FLOWLAB\0";
/// Name of the one exported entry symbol (NUL-terminated for `dlsym`).
pub const ENTRY_SYMBOL: &[u8] = b"flowlab_plugin_v1\0";

/// Return codes of the C functions.
pub mod code {
    /// Success; the output buffer holds the JSON answer.
    pub const OK: i32 = 0;
    /// Bad settings or request; the output buffer holds a JSON [`crate::PluginError`].
    pub const ERR_CONFIG: i32 = 1;
    /// The run failed; JSON [`crate::PluginError`].
    pub const ERR_RUN: i32 = 2;
    /// The plugin panicked; JSON [`crate::PluginError`] with the panic message.
    pub const ERR_PANIC: i32 = 3;
    /// The host asked to cancel and the plugin stopped.
    pub const ERR_CANCELLED: i32 = 4;
}

/// Everything a plugin author needs.
pub mod prelude {
    pub use crate::json::{Real, num};
    pub use crate::sdk::{Cap, Ctx, JsonSchema};
    pub use crate::seed::{SeedRng, stream_rng};
    pub use crate::types::*;
    pub use crate::{Host, Plugin};
    pub use serde_json::{Value, json};
}
