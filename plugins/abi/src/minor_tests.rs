//! ABI 1.0 ↔ 1.1 compatibility (docs/design.md §2, "Versioning"): a 1.1 plugin under a host
//! that passes a 1.0 table (no `emit`), a 1.0 plugin reading a 1.1 host's table, and a 1.1
//! plugin whose host listens.
use crate::ffi::{Buf, CancelledFn, HOST_V1_0_SIZE, HOST_V1_1_SIZE, HostV1, LogFn, ProgressFn};
use crate::plugin::{Host, Plugin, request};
use crate::types::{Description, PluginError, Request, Response};
use std::ffi::c_void;
use std::sync::Mutex;

/// `HostV1` exactly as ABI 1.0 declared it (what a 1.0 plugin or host was compiled with).
#[repr(C)]
struct HostV10 {
    abi_major: u32,
    abi_minor: u32,
    struct_size: usize,
    ctx: *mut c_void,
    log: LogFn,
    progress: ProgressFn,
    cancelled: CancelledFn,
}

// the 1.0 table is a prefix of the 1.1 one, field by field
const _: () = {
    use std::mem::{offset_of, size_of};
    assert!(size_of::<HostV10>() == HOST_V1_0_SIZE);
    assert!(offset_of!(HostV10, struct_size) == offset_of!(HostV1, struct_size));
    assert!(offset_of!(HostV10, ctx) == offset_of!(HostV1, ctx));
    assert!(offset_of!(HostV10, log) == offset_of!(HostV1, log));
    assert!(offset_of!(HostV10, progress) == offset_of!(HostV1, progress));
    assert!(offset_of!(HostV10, cancelled) == offset_of!(HostV1, cancelled));
    assert!(HOST_V1_1_SIZE == size_of::<HostV1>());
};

/// What the fake host's callbacks saw.
#[derive(Default)]
struct Seen {
    logs: Vec<String>,
    emits: Vec<(String, String)>,
    progress: Vec<(u64, u64)>,
}

extern "C" fn log(ctx: *mut c_void, _level: u32, msg: *const u8, len: usize) {
    let seen = unsafe { &*(ctx as *const Mutex<Seen>) };
    let m = unsafe { std::slice::from_raw_parts(msg, len) };
    seen.lock().unwrap().logs.push(String::from_utf8_lossy(m).into_owned());
}
extern "C" fn progress(ctx: *mut c_void, done: u64, total: u64) {
    let seen = unsafe { &*(ctx as *const Mutex<Seen>) };
    seen.lock().unwrap().progress.push((done, total));
}
extern "C" fn cancelled(_: *mut c_void) -> bool {
    false
}
extern "C" fn emit(ctx: *mut c_void, kind: *const u8, kind_len: usize, json: *const u8, len: usize) {
    let seen = unsafe { &*(ctx as *const Mutex<Seen>) };
    let (k, j) = unsafe { (std::slice::from_raw_parts(kind, kind_len), std::slice::from_raw_parts(json, len)) };
    seen.lock().unwrap().emits.push((String::from_utf8_lossy(k).into_owned(), String::from_utf8_lossy(j).into_owned()));
}

/// A 1.1 plugin: logs, reports progress, and emits `{"i": i}` every `emit_every` steps of 10.
#[derive(Default)]
struct Emitter;
impl Plugin for Emitter {
    fn describe(&self) -> Description {
        let mut d = Description::new("emitter", "0");
        d.capabilities.push(crate::types::Capability::task("run", "emits", serde_json::json!({"type": "object"})));
        d
    }
    fn run(&self, _req: &Request, host: &Host) -> Result<Response, PluginError> {
        host.info("start");
        let every = host.emit_every();
        for i in 1..=10u64 {
            if every > 0 && i % every == 0 {
                host.emit("step", &format!("{{\"i\":{i}}}"));
            }
            host.progress(i, 10);
        }
        let mut r = Response::default();
        r.data.insert("every".into(), serde_json::json!(every));
        Ok(r)
    }
}

fn run_with(table: *const HostV1) -> Response {
    let req = serde_json::to_vec(&request("run", serde_json::json!({}), "")).unwrap();
    let mut out = Buf::empty();
    let rc = unsafe { crate::glue::run(&Emitter, table, req.as_ptr(), req.len(), &mut out) };
    let bytes = unsafe { std::slice::from_raw_parts(out.ptr, out.len) }.to_vec();
    unsafe { crate::glue::free_buf(out) };
    assert_eq!(rc, crate::code::OK, "{}", String::from_utf8_lossy(&bytes));
    serde_json::from_slice(&bytes).unwrap()
}

/// A 1.1 plugin run by a 1.0 host: the host's table ends at `cancelled` (its `struct_size`
/// says so); logs and progress still arrive, `emit_every` is 0 and nothing past the table is
/// read (the table sits at the end of a buffer of exactly its size, so a read past it would be
/// out of bounds, which Miri or ASan would flag).
#[test]
fn a_new_plugin_under_an_old_host_runs_without_emit() {
    let seen = Mutex::new(Seen::default());
    let old = Box::new(HostV10 { abi_major: crate::ABI_MAJOR, abi_minor: 0, struct_size: std::mem::size_of::<HostV10>(), ctx: &seen as *const _ as *mut c_void, log, progress, cancelled });
    let r = run_with(&*old as *const HostV10 as *const HostV1);
    assert_eq!(r.data["every"], 0);
    let s = seen.into_inner().unwrap();
    assert_eq!(s.logs, vec!["start".to_string()]);
    assert_eq!(s.progress.len(), 10);
    assert!(s.emits.is_empty());
}

/// A 1.1 host that listens receives every emitted result, in order; one that passes
/// `emit_every = 0` or a NULL `emit` receives none and the plugin sees 0.
#[test]
fn a_new_host_gets_emits_only_when_it_asks() {
    for (every, f, want) in [(3u64, Some(emit as crate::ffi::EmitFn), vec![3, 6, 9]), (1, Some(emit), (1..=10).collect()), (0, Some(emit), vec![]), (4, None, vec![])] {
        let seen = Mutex::new(Seen::default());
        let t = HostV1 {
            abi_major: crate::ABI_MAJOR,
            abi_minor: crate::ABI_MINOR,
            struct_size: std::mem::size_of::<HostV1>(),
            ctx: &seen as *const _ as *mut c_void,
            log,
            progress,
            cancelled,
            emit: f,
            emit_every: every,
        };
        let r = run_with(&t);
        assert_eq!(r.data["every"], if f.is_some() { every } else { 0 });
        let s = seen.into_inner().unwrap();
        let got: Vec<u64> = s
            .emits
            .iter()
            .map(|(k, j)| {
                assert_eq!(k, "step");
                serde_json::from_str::<serde_json::Value>(j).unwrap()["i"].as_u64().unwrap()
            })
            .collect();
        assert_eq!(got, want, "emit_every {every}");
        assert_eq!(s.logs, vec!["start".to_string()]);
    }
}

/// A table shorter than 1.0's is refused as a whole (the plugin runs detached), not read.
#[test]
fn a_truncated_host_table_is_not_read() {
    let seen = Mutex::new(Seen::default());
    let t = HostV1 { abi_major: crate::ABI_MAJOR, abi_minor: 1, struct_size: HOST_V1_0_SIZE - 1, ctx: &seen as *const _ as *mut c_void, log, progress, cancelled, emit: Some(emit), emit_every: 1 };
    let r = run_with(&t);
    assert_eq!(r.data["every"], 0);
    assert!(seen.into_inner().unwrap().logs.is_empty());
}

/// A 1.0 plugin under the 1.1 host: the table the host builds passes the 1.0 plugin's check
/// (`struct_size ≥ size_of::<its HostV1>()`, equal major), and calling its callbacks through
/// the 1.0 view reaches the host's services. The host loads a 1.0 plugin table (its minor is
/// reported, nothing is required of it).
#[cfg(feature = "host")]
#[test]
fn an_old_plugin_under_the_new_host() {
    use crate::host::HostServices;
    struct Services(Mutex<Seen>);
    impl HostServices for Services {
        fn log(&self, _level: u32, msg: &str) {
            self.0.lock().unwrap().logs.push(msg.into());
        }
        fn progress(&self, done: u64, total: u64) {
            self.0.lock().unwrap().progress.push((done, total));
        }
        fn emit_every(&self) -> u64 {
            2
        }
    }
    let sv = Services(Mutex::new(Seen::default()));
    let ctx: &dyn HostServices = &sv;
    let t = crate::host::tests_support::table(&ctx as *const &dyn HostServices as *mut c_void, sv.emit_every());
    let old = unsafe { &*(&t as *const HostV1 as *const HostV10) };
    assert_eq!(old.abi_major, crate::ABI_MAJOR);
    assert!(old.struct_size >= std::mem::size_of::<HostV10>());
    (old.log)(old.ctx, 2, "hello".as_ptr(), 5);
    (old.progress)(old.ctx, 1, 2);
    assert!(!(old.cancelled)(old.ctx));
    let s = sv.0.into_inner().unwrap();
    assert_eq!(s.logs, vec!["hello".to_string()]);
    assert_eq!(s.progress, vec![(1, 2)]);
    assert!(crate::host::tests_support::accepts_minor(0));
}
