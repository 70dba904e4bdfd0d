//! What the host remembers of a plugin library between calls, so that planning does not load
//! it: its self-description, and which settings objects it has already accepted.
//!
//! `flowlab plan` needs from a plugin only its description (capabilities, settings schemas)
//! and its verdict on each distinct settings object. Loading the library for that — `dlopen`,
//! relocations, the description built — was 3.5 of the 11.2 MB and 1.5 of the 4.0 ms CPU of planning
//! the quickstart manifest (docs/design.md §2, "Planning without loading plugins"). Both answers
//! are functions of the library's bytes (and, for the verdict, of the settings): a plugin's
//! `describe` depends on nothing else, and its `validate` on the settings alone (the contract
//! of [`crate::sdk::Cap::check`]). So they are kept under the library's SHA-256 (itself from
//! the stat-keyed [`crate::hashcache`]) and this host's ABI version, and a library is loaded
//! only when a cell runs, or on a miss.
//!
//! Layout, in the cache directory of [`crate::hashcache`]:
//! - `describe/<sha256>-<abi major>.<abi minor>.json`: `{"abi_minor": N, "describe": {…}}`
//!   with the library's own `describe` answer, written once (temporary file + rename);
//! - `validated`: one line per accepted (plugin, capability, settings), the BLAKE3 of
//!   `<abi tag>\0<sha256>\0<validate request JSON>` in hex, appended (`O_APPEND`, one short
//!   write); compacted to the newest [`MAX_VERDICTS`] when it holds twice as many.
//!
//! Only acceptances are kept: a refusal is asked again, so its message is always the plugin's
//! own. A missing, unreadable or unwritable cache only means loading the library.
use crate::types::Description;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Verdicts kept when the `validated` file is compacted (the newest).
pub const MAX_VERDICTS: usize = 16384;

/// The host ABI a cached answer was given under: a host of another ABI version loads the
/// library again (its table checks may differ).
fn abi_tag() -> String {
    format!("{}.{}", crate::ABI_MAJOR, crate::ABI_MINOR)
}

fn describe_file(dir: &Path, sha256: &str) -> PathBuf {
    dir.join("describe").join(format!("{sha256}-{}.json", abi_tag()))
}

/// A cached description: the ABI minor the library was built with, and its description.
pub struct CachedDescription {
    /// ABI minor of the library.
    pub abi_minor: u32,
    /// Its `describe` answer, parsed by this host.
    pub description: Description,
}

/// The file's layout: the plugin's own `describe` bytes are kept (as a JSON value), so a host
/// that reads more of a description than the one that wrote the entry still sees all of it.
#[derive(serde::Serialize, serde::Deserialize)]
struct Entry {
    abi_minor: u32,
    describe: serde_json::Value,
}

/// The description of the library whose SHA-256 is `sha256`, if this host cached it.
pub fn description(sha256: &str) -> Option<CachedDescription> {
    description_in(&crate::hashcache::cache_dir()?, sha256)
}

/// [`description`] in cache directory `dir`.
pub fn description_in(dir: &Path, sha256: &str) -> Option<CachedDescription> {
    let bytes = std::fs::read(describe_file(dir, sha256)).ok()?;
    // a file of another layout (or torn by a crash before the rename) is a miss
    let e: Entry = serde_json::from_slice(&bytes).ok()?;
    Some(CachedDescription { abi_minor: e.abi_minor, description: serde_json::from_value(e.describe).ok()? })
}

/// Records `describe`, the bytes the library `sha256` answered to `describe`.
pub fn record_description(sha256: &str, abi_minor: u32, describe: &[u8]) {
    if let Some(dir) = crate::hashcache::cache_dir() {
        record_description_in(&dir, sha256, abi_minor, describe);
    }
}

/// [`record_description`] in cache directory `dir`.
pub fn record_description_in(dir: &Path, sha256: &str, abi_minor: u32, describe: &[u8]) {
    let Ok(describe) = serde_json::from_slice(describe) else { return };
    if let Ok(text) = serde_json::to_string(&Entry { abi_minor, describe }) {
        let _ = crate::hashcache::write_atomic(&describe_file(dir, sha256), &text);
    }
}

/// The key of a verdict: BLAKE3 of the ABI tag, the library's SHA-256 and the request.
pub fn verdict_key(sha256: &str, request: &[u8]) -> String {
    let mut h = blake3::Hasher::new();
    h.update(abi_tag().as_bytes());
    h.update(b"\0");
    h.update(sha256.as_bytes());
    h.update(b"\0");
    h.update(request);
    h.finalize().to_hex().to_string()
}

/// The verdicts of one `validated` file as this process knows them: the file's text as read
/// (searched line by line, no set built: a `flowlab` call asks a few questions of a file of up
/// to 2·[`MAX_VERDICTS`] lines, and building a set of them cost 0.7 ms of a 50 ms one-cell
/// fit at 3 400 lines) and the keys it appended since.
struct Verdicts {
    text: String,
    added: Vec<String>,
}

impl Verdicts {
    fn contains(&self, key: &str) -> bool {
        self.text.split('\n').any(|l| l == key) || self.added.iter().any(|a| a == key)
    }
}

/// The verdicts read by this process, per cache directory.
fn verdicts() -> &'static Mutex<std::collections::HashMap<PathBuf, Verdicts>> {
    static V: OnceLock<Mutex<std::collections::HashMap<PathBuf, Verdicts>>> = OnceLock::new();
    V.get_or_init(Default::default)
}

/// Reads (and compacts when long) a `validated` file.
fn load_verdicts(f: &Path) -> Verdicts {
    let text = std::fs::read_to_string(f).unwrap_or_default();
    if text.bytes().filter(|&b| b == b'\n').count() > 2 * MAX_VERDICTS {
        let lines: Vec<&str> = text.lines().filter(|l| l.len() == 64 && l.bytes().all(|c| c.is_ascii_hexdigit())).collect();
        let keep = lines[lines.len().saturating_sub(MAX_VERDICTS)..].join("\n") + "\n";
        let _ = crate::hashcache::write_atomic(f, &keep);
        return Verdicts { text: keep, added: Vec::new() };
    }
    Verdicts { text, added: Vec::new() }
}

/// Whether `key` ([`verdict_key`]) was accepted before.
pub fn accepted(key: &str) -> bool {
    crate::hashcache::cache_dir().is_some_and(|d| accepted_in(&d, key))
}

/// [`accepted`] in cache directory `dir`.
pub fn accepted_in(dir: &Path, key: &str) -> bool {
    let f = dir.join("validated");
    let mut v = verdicts().lock().unwrap_or_else(|e| e.into_inner());
    v.entry(f.clone()).or_insert_with(|| load_verdicts(&f)).contains(key)
}

/// Records that `key` ([`verdict_key`]) was accepted.
pub fn record_accepted(key: &str) {
    if let Some(d) = crate::hashcache::cache_dir() {
        record_accepted_in(&d, key);
    }
}

/// [`record_accepted`] in cache directory `dir`.
pub fn record_accepted_in(dir: &Path, key: &str) {
    let f = dir.join("validated");
    let appended = std::fs::create_dir_all(dir).is_ok() && std::fs::OpenOptions::new().create(true).append(true).open(&f).is_ok_and(|mut o| o.write_all(format!("{key}\n").as_bytes()).is_ok());
    if appended {
        let mut v = verdicts().lock().unwrap_or_else(|e| e.into_inner());
        v.entry(f.clone()).or_insert_with(|| load_verdicts(&f)).added.push(key.to_string());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn descriptions_and_verdicts_round_trip_per_library_and_settings() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("cache");
        let sha = "ab".repeat(32);
        assert!(description_in(&dir, &sha).is_none());
        let desc = Description::new("probe", "1.2.3");
        record_description_in(&dir, &sha, 7, &serde_json::to_vec(&desc).unwrap());
        let got = description_in(&dir, &sha).expect("recorded");
        assert_eq!((got.abi_minor, got.description.name.as_str(), got.description.version.as_str()), (7, "probe", "1.2.3"));
        assert!(description_in(&dir, &"cd".repeat(32)).is_none(), "another library misses");
        // a torn or foreign file is a miss, not an error
        std::fs::write(describe_file(&dir, &sha), b"{\"abi_minor\": 7, \"descr").unwrap();
        assert!(description_in(&dir, &sha).is_none());

        let k1 = verdict_key(&sha, br#"{"capability":"fit","settings":{"a":1}}"#);
        let k2 = verdict_key(&sha, br#"{"capability":"fit","settings":{"a":2}}"#);
        let k3 = verdict_key(&"cd".repeat(32), br#"{"capability":"fit","settings":{"a":1}}"#);
        assert!(k1 != k2 && k1 != k3);
        assert!(!accepted_in(&dir, &k1));
        record_accepted_in(&dir, &k1);
        assert!(accepted_in(&dir, &k1) && !accepted_in(&dir, &k2) && !accepted_in(&dir, &k3));
        // another process reads it from the file
        verdicts().lock().unwrap().clear();
        assert!(accepted_in(&dir, &k1) && !accepted_in(&dir, &k2));
    }

    #[test]
    fn a_long_verdict_file_is_compacted_to_the_newest() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("validated");
        let keys: Vec<String> = (0..2 * MAX_VERDICTS + 10).map(|i| verdict_key("x", format!("{i}").as_bytes())).collect();
        std::fs::write(&f, keys.join("\n") + "\n").unwrap();
        let set = load_verdicts(&f);
        assert_eq!(set.text.lines().count(), MAX_VERDICTS);
        assert!(set.contains(keys.last().unwrap()) && !set.contains(&keys[0]));
        assert_eq!(std::fs::read_to_string(&f).unwrap().lines().count(), MAX_VERDICTS);
    }
}
