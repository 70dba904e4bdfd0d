//! Subprocess isolation (docs/design.md §6 Isolation, `isolation = "subprocess"`): the runner re-executes
//! itself as `flowlab worker`, writes one JSON [`WorkerInput`] (plugin file, its SHA-256 and
//! the same [`Request`] an in-process cell gets) on the child's stdin, and reads back the
//! plugin's raw response bytes after a marker line on stdout. The plugin's log lines go to
//! the child's stderr, whose tail becomes the cell's `log_tail`.
//!
//! The parent enforces a hard deadline (`timeout_s`: SIGKILL at the limit) and turns every
//! abnormal end (abort, segfault, an allocation failure under `memory_mb`, the OOM killer,
//! a non-protocol exit) into a failed cell naming the signal or exit code, so only that
//! cell fails and the run goes on. Because the child hands back the plugin's own response
//! bytes, parsed by the parent exactly like an in-process response, both modes store
//! byte-identical results.
use crate::exec::CANCEL;
use flowlab_abi::host::{HostServices, LoadedPlugin};
use flowlab_abi::{ErrorKind, PluginError, Request, Response};
use serde::{Deserialize, Serialize};
use std::collections::VecDeque;
use std::io::{Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

/// Marker line the worker prints before the response bytes (anything a plugin printed to
/// stdout before it is ignored).
pub const MARKER: &[u8] = b"\n@@flowlab-worker-response@@\n";

/// Exit code of a worker whose plugin returned an error (the error JSON follows the marker).
pub const EXIT_PLUGIN_ERROR: i32 = 10;
/// Exit code of a worker that could not load its plugin or parse its input.
pub const EXIT_SETUP: i32 = 11;

/// What the parent sends a worker on stdin.
#[derive(Debug, Serialize, Deserialize)]
pub struct WorkerInput {
    /// Plugin library file.
    pub plugin: PathBuf,
    /// Its SHA-256 as loaded by the parent (the worker refuses a different file).
    pub sha256: String,
    /// The cell's request.
    pub request: Request,
}

/// Limits of one subprocess cell.
#[derive(Debug, Clone, Copy, Default)]
pub struct Limits {
    /// Hard wall-clock limit.
    pub timeout: Option<Duration>,
    /// Address-space limit in MiB (`ulimit -v`).
    pub memory_mb: Option<u64>,
}

/// Lines of the child's stderr kept for a failed cell.
pub const STDERR_TAIL: usize = crate::exec::LOG_TAIL;

/// The name of a signal number (Linux numbering).
pub fn signal_name(sig: i32) -> &'static str {
    match sig {
        1 => "SIGHUP",
        2 => "SIGINT",
        3 => "SIGQUIT",
        4 => "SIGILL",
        5 => "SIGTRAP",
        6 => "SIGABRT",
        7 => "SIGBUS",
        8 => "SIGFPE",
        9 => "SIGKILL",
        11 => "SIGSEGV",
        13 => "SIGPIPE",
        15 => "SIGTERM",
        24 => "SIGXCPU",
        25 => "SIGXFSZ",
        _ => "signal",
    }
}

/// A stderr line with its run-dependent parts removed, so two runs store the same bytes:
/// Rust's panic message names the thread's OS id (`thread 'main' (12345) panicked at`).
pub fn normalise_line(l: &str) -> String {
    let mut out = String::with_capacity(l.len());
    let mut rest = l;
    while let Some(i) = rest.find("thread '") {
        let after = &rest[i + "thread '".len()..];
        let Some(q) = after.find('\'') else { break };
        let tail = &after[q + 1..];
        out.push_str(&rest[..i + "thread '".len() + q + 1]);
        let id_len = tail.strip_prefix(" (").and_then(|t| t.find(')').filter(|&j| j > 0 && t[..j].bytes().all(|b| b.is_ascii_digit())).map(|j| j + 3));
        rest = match id_len {
            Some(k) => &tail[k..],
            None => tail,
        };
    }
    out.push_str(rest);
    out
}

/// The line of a crashed worker's stderr that says why: the last one that is not a note,
/// a backtrace frame or an omission marker (an allocation failure's "memory allocation of
/// … failed", a panic's "panicked at …").
fn cause_line(tail: &[String]) -> Option<&str> {
    let is_noise = |l: &str| {
        let t = l.trim_start();
        t.is_empty()
            || t.starts_with("note:")
            || t.starts_with("stack backtrace:")
            || t.starts_with("at ")
            || t.starts_with('…')
            || t.split_once(':').is_some_and(|(n, _)| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
    };
    tail.iter().rev().map(|s| s.as_str()).find(|l| !is_noise(l))
}

/// The first `n / 4` and the last lines of stderr, `n` in all (a crash message is often
/// followed by a long backtrace, so the head matters as much as the tail).
fn tail_lines(bytes: &[u8], n: usize) -> Vec<String> {
    let text = String::from_utf8_lossy(bytes);
    let head_n = n / 4;
    let mut head = Vec::new();
    let mut q: VecDeque<String> = VecDeque::new();
    let mut total = 0usize;
    for l in text.lines() {
        total += 1;
        if head.len() < head_n {
            head.push(l.to_string());
            continue;
        }
        if q.len() == n - head_n - 1 {
            q.pop_front();
        }
        q.push_back(l.to_string());
    }
    let omitted = total - head.len() - q.len();
    if omitted > 0 {
        head.push(format!("… {omitted} lines omitted …"));
    }
    head.extend(q);
    // only the kept lines are normalised: a worker may print far more than it keeps
    head.iter().map(|l| normalise_line(l)).collect()
}

/// The command that starts a worker: this executable (`flowlab worker`), wrapped in
/// `sh -c 'ulimit -v …; exec …'` when a memory limit is set.
fn worker_command(exe: &Path, limits: &Limits) -> Command {
    match limits.memory_mb {
        Some(mb) => {
            let mut c = Command::new("/bin/sh");
            c.arg("-c").arg(format!("ulimit -v {} && exec \"$0\" worker", mb.saturating_mul(1024))).arg(exe);
            c
        }
        None => {
            let mut c = Command::new(exe);
            c.arg("worker");
            c
        }
    }
}

/// Runs one cell in a child worker. Returns the result (as an in-process call would) and the
/// child's stderr tail (the plugin's log lines plus whatever the crash printed).
pub fn run_in_subprocess(plugin: &LoadedPlugin, req: &Request, limits: &Limits) -> (Result<Response, PluginError>, Vec<String>) {
    let fail = |m: String| (Err(PluginError::run(m)), Vec::new());
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => return fail(format!("subprocess isolation: cannot find the flowlab executable: {e}")),
    };
    let input = WorkerInput { plugin: plugin.path.clone(), sha256: plugin.sha256.clone(), request: req.clone() };
    let bytes = match serde_json::to_vec(&input) {
        Ok(b) => b,
        Err(e) => return fail(format!("subprocess isolation: cannot encode the request: {e}")),
    };
    let mut cmd = worker_command(&exe, limits);
    // a backtrace in the stored stderr tail would differ between runs and builds
    cmd.env("RUST_BACKTRACE", "0").env("RUST_LIB_BACKTRACE", "0");
    cmd.stdin(Stdio::piped()).stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return fail(format!("subprocess isolation: cannot start `{} worker`: {e}", exe.display())),
    };
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || {
        let _ = stdin.write_all(&bytes);
        // dropping stdin closes it: the worker reads to EOF
    });
    let mut out_pipe = child.stdout.take().expect("piped stdout");
    let mut err_pipe = child.stderr.take().expect("piped stderr");
    let out_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = out_pipe.read_to_end(&mut v);
        v
    });
    let err_reader = std::thread::spawn(move || {
        let mut v = Vec::new();
        let _ = err_pipe.read_to_end(&mut v);
        v
    });
    let t0 = Instant::now();
    let mut timed_out = false;
    let mut cancelled = false;
    let status = loop {
        match child.try_wait() {
            Ok(Some(s)) => break Ok(s),
            Ok(None) => {}
            Err(e) => break Err(e),
        }
        if limits.timeout.is_some_and(|t| t0.elapsed() >= t) {
            timed_out = true;
        } else if CANCEL.load(Ordering::Relaxed) {
            cancelled = true;
        }
        if timed_out || cancelled {
            let _ = child.kill();
            break child.wait();
        }
        std::thread::sleep(Duration::from_millis(5));
    };
    let _ = writer.join();
    let out = out_reader.join().unwrap_or_default();
    let err = err_reader.join().unwrap_or_default();
    let tail = tail_lines(&err, STDERR_TAIL);
    let status = match status {
        Ok(s) => s,
        Err(e) => return (Err(PluginError::run(format!("subprocess isolation: waiting for the worker failed: {e}"))), tail),
    };
    // Ctrl-C in a terminal also reaches the worker (same process group) and may end it before
    // the runner's own handler (a separate thread) has set CANCEL: give that a moment
    use std::os::unix::process::ExitStatusExt;
    if !cancelled && status.signal() == Some(2) {
        let t = Instant::now();
        while !CANCEL.load(Ordering::Relaxed) && t.elapsed() < Duration::from_millis(500) {
            std::thread::sleep(Duration::from_millis(5));
        }
    }
    if cancelled || (CANCEL.load(Ordering::Relaxed) && !status.success()) {
        return (Err(PluginError { kind: ErrorKind::Cancelled, message: "cancelled (the worker was stopped)".into(), path: None }), tail);
    }
    if timed_out {
        let t = limits.timeout.unwrap_or_default().as_secs_f64();
        return (Err(PluginError::run(format!("hard timeout: the worker was killed (SIGKILL) after timeout_s = {t} s"))), tail);
    }
    let payload = find_payload(&out);
    let last = cause_line(&tail).map(|l| format!("; stderr: {l}")).unwrap_or_default();
    match (status.code(), status.signal()) {
        (Some(0), _) => match payload {
            Some(p) => match serde_json::from_slice::<Response>(p) {
                Ok(r) => (Ok(r), tail),
                Err(e) => (Err(PluginError::run(format!("plugin `{}` returned a malformed response: {e}", plugin.name()))), tail),
            },
            None => (Err(PluginError::run("the worker exited without a response".to_string())), tail),
        },
        (Some(EXIT_PLUGIN_ERROR), _) => match payload.and_then(|p| serde_json::from_slice::<PluginError>(p).ok()) {
            Some(e) => (Err(e), tail),
            None => (Err(PluginError::run(format!("the worker reported an error it could not encode{last}"))), tail),
        },
        (Some(code), _) => {
            let what = if code == EXIT_SETUP { "could not set up the cell" } else { "exited abnormally" };
            (Err(PluginError::run(format!("worker process {what} (exit code {code}){last}{}", memory_hint(limits)))), tail)
        }
        (None, Some(sig)) => {
            let hint = match sig {
                6 => " (abort)",
                9 => " (killed: the kernel's OOM killer or an outside kill)",
                11 => " (segmentation fault)",
                _ => "",
            };
            let mem = if matches!(sig, 6 | 7 | 11) { memory_hint(limits) } else { String::new() };
            (Err(PluginError::run(format!("worker process killed by signal {sig} ({}){hint}{last}{mem}", signal_name(sig)))), tail)
        }
        (None, None) => (Err(PluginError::run(format!("worker process ended with status {status}{last}"))), tail),
    }
}

/// What a worker that died or could not start under `memory_mb` most likely ran into: the
/// limit is on its whole address space (`ulimit -v`: the executable, the plugin and its shared
/// libraries, every thread's stack), so a small one fails the dynamic loader ("failed to map
/// segment") or the first allocation (an abort, or a segfault where a stack cannot grow).
fn memory_hint(limits: &Limits) -> String {
    match limits.memory_mb {
        Some(mb) => format!(
            " — the worker ran under memory_mb = {mb}, a limit on its whole address space (the executable, the plugin's libraries and thread stacks count too): raise [run] memory_mb (or the task's) if this cell needs more"
        ),
        None => String::new(),
    }
}

fn find_payload(out: &[u8]) -> Option<&[u8]> {
    out.windows(MARKER.len()).rposition(|w| w == MARKER).map(|i| &out[i + MARKER.len()..])
}

/// Host services of a worker: log lines to stderr (the parent keeps the tail).
struct WorkerHost;
impl HostServices for WorkerHost {
    fn log(&self, level: u32, msg: &str) {
        let lvl = ["error", "warn", "info", "debug"].get(level as usize).copied().unwrap_or("log");
        let mut e = std::io::stderr().lock();
        for line in msg.lines() {
            let _ = writeln!(e, "[{lvl}] {line}");
        }
    }
    fn cancelled(&self) -> bool {
        CANCEL.load(Ordering::Relaxed)
    }
}

/// `flowlab worker`: reads a [`WorkerInput`] on stdin, runs the cell, writes the marker and
/// the raw response (exit 0) or the plugin error (exit [`EXIT_PLUGIN_ERROR`]) on stdout.
pub fn worker_main() -> i32 {
    let mut input = Vec::new();
    if let Err(e) = std::io::stdin().read_to_end(&mut input) {
        crate::note!("flowlab worker: cannot read stdin: {e}");
        return EXIT_SETUP;
    }
    let w: WorkerInput = match serde_json::from_slice(&input) {
        Ok(w) => w,
        Err(e) => {
            crate::note!("flowlab worker: bad input on stdin: {e} (the worker is started by `flowlab run` with isolation = \"subprocess\")");
            return EXIT_SETUP;
        }
    };
    let p = match LoadedPlugin::load(&w.plugin) {
        Ok(p) => p,
        Err(e) => {
            crate::note!("flowlab worker: {e}");
            return EXIT_SETUP;
        }
    };
    if p.sha256 != w.sha256 {
        crate::note!("flowlab worker: {} changed since the run started (sha256 {} instead of {})", w.plugin.display(), p.sha256, w.sha256);
        return EXIT_SETUP;
    }
    let req = match serde_json::to_vec(&w.request) {
        Ok(r) => r,
        Err(e) => {
            crate::note!("flowlab worker: {e}");
            return EXIT_SETUP;
        }
    };
    let (code, bytes) = match p.run_raw(&req, &WorkerHost) {
        Ok(b) => (0, b),
        Err(e) => (EXIT_PLUGIN_ERROR, serde_json::to_vec(&e).unwrap_or_default()),
    };
    let mut o = std::io::stdout().lock();
    if o.write_all(MARKER).and_then(|_| o.write_all(&bytes)).and_then(|_| o.flush()).is_err() {
        return EXIT_SETUP;
    }
    code
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn thread_ids_are_removed() {
        assert_eq!(normalise_line("thread '<unnamed>' (48213) panicked at src/lib.rs:3:5:"), "thread '<unnamed>' panicked at src/lib.rs:3:5:");
        assert_eq!(normalise_line("thread 'main' (1) panicked; thread 'x' (22) too"), "thread 'main' panicked; thread 'x' too");
        for keep in ["thread 'a' (not an id)", "thread 'b' ()", "no thread here", "thread 'unterminated", "thread 'c' (12"] {
            assert_eq!(normalise_line(keep), keep);
        }
    }

    #[test]
    fn the_cause_is_not_a_note() {
        let t = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(
            cause_line(&t(&["[info] probe value 5", "memory allocation of 4294967296 bytes failed", "note: Some details are omitted, run with `RUST_BACKTRACE=full` for a verbose backtrace."])),
            Some("memory allocation of 4294967296 bytes failed")
        );
        assert_eq!(
            cause_line(&t(&["thread 'main' panicked at a.rs:1:1:", "boom", "stack backtrace:", "   0: std::panicking::begin", "             at /rustc/x.rs:5", "note: run with"])),
            Some("boom")
        );
        assert_eq!(cause_line(&t(&["note: only notes"])), None);
    }
}
