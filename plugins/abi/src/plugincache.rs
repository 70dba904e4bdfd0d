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
//! - `verdicts/<xx>`: one line per accepted (plugin, capability, settings), the BLAKE3 of
//!   `<abi tag>\0<sha256>\0<validate request JSON>` in hex, appended (`O_APPEND`, one short
//!   write) to the shard named by the key's first two hex digits; a shard is compacted to its
//!   newest [`MAX_VERDICTS`]/256 when it holds twice as many. A question reads one shard (at
//!   most 2·64 lines), not every verdict: one file of them all was read whole by every
//!   `flowlab` call, 412 KB (0.5 ms and 100 page faults of a 50 ms one-cell fit) after a few
//!   weeks of use, up to 2 MB at its cap. A `validated` file left by an older host (that one
//!   file) is deleted when a verdict is recorded.
//!
//! Only acceptances are kept: a refusal is asked again, so its message is always the plugin's
//! own. A missing, unreadable or unwritable cache only means loading the library.
use crate::types::Description;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Verdicts kept at most, over all shards (each shard compacted to its newest share).
pub const MAX_VERDICTS: usize = 16384;

/// Shards of the verdicts: the first two hex digits of a key name its file.
const SHARDS: usize = 256;

/// Verdicts a shard keeps when it is compacted (it is compacted at twice as many lines).
const PER_SHARD: usize = MAX_VERDICTS / SHARDS;

/// The shard file of `key` in cache directory `dir`.
fn shard_file(dir: &Path, key: &str) -> PathBuf {
    let prefix = key.get(..2).filter(|p| p.bytes().all(|c| c.is_ascii_hexdigit())).unwrap_or("xx");
    dir.join("verdicts").join(prefix.to_ascii_lowercase())
}

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

/// The verdicts of one shard as this process knows them: the file's text as read (searched
/// line by line: a `flowlab` call asks a few questions of a shard) and the keys it appended
/// since.
struct Verdicts {
    text: String,
    added: Vec<String>,
}

impl Verdicts {
    fn contains(&self, key: &str) -> bool {
        self.text.split('\n').any(|l| l == key) || self.added.iter().any(|a| a == key)
    }
}

/// The verdicts read by this process, per shard file.
fn verdicts() -> &'static Mutex<std::collections::HashMap<PathBuf, Verdicts>> {
    static V: OnceLock<Mutex<std::collections::HashMap<PathBuf, Verdicts>>> = OnceLock::new();
    V.get_or_init(Default::default)
}

/// Reads (and compacts when long) a shard.
fn load_verdicts(f: &Path) -> Verdicts {
    let text = std::fs::read_to_string(f).unwrap_or_default();
    if text.bytes().filter(|&b| b == b'\n').count() > 2 * PER_SHARD {
        let lines: Vec<&str> = text.lines().filter(|l| l.len() == 64 && l.bytes().all(|c| c.is_ascii_hexdigit())).collect();
        let keep = lines[lines.len().saturating_sub(PER_SHARD)..].join("\n") + "\n";
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
    let f = shard_file(dir, key);
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
    let f = shard_file(dir, key);
    // the single verdict file of older hosts is never read again
    let _ = std::fs::remove_file(dir.join("validated"));
    let appended = f.parent().is_some_and(|p| std::fs::create_dir_all(p).is_ok())
        && std::fs::OpenOptions::new().create(true).append(true).open(&f).is_ok_and(|mut o| o.write_all(format!("{key}\n").as_bytes()).is_ok());
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
    fn a_long_verdict_shard_is_compacted_to_the_newest() {
        let d = tempfile::tempdir().unwrap();
        let f = d.path().join("shard");
        let keys: Vec<String> = (0..2 * PER_SHARD + 10).map(|i| verdict_key("x", format!("{i}").as_bytes())).collect();
        std::fs::write(&f, keys.join("\n") + "\n").unwrap();
        let set = load_verdicts(&f);
        assert_eq!(set.text.lines().count(), PER_SHARD);
        assert!(set.contains(keys.last().unwrap()) && !set.contains(&keys[0]));
        assert_eq!(std::fs::read_to_string(&f).unwrap().lines().count(), PER_SHARD);
    }

    #[test]
    fn verdicts_are_sharded_by_key_prefix_and_the_old_single_file_goes() {
        let d = tempfile::tempdir().unwrap();
        let dir = d.path().join("cache");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join("validated"), "00\n").unwrap();
        let keys: Vec<String> = (0..600).map(|i| verdict_key("s", format!("{i}").as_bytes())).collect();
        for k in &keys {
            record_accepted_in(&dir, k);
        }
        assert!(!dir.join("validated").exists());
        // each key sits in the shard of its first two digits, and only there
        for k in keys.iter().take(50) {
            let text = std::fs::read_to_string(shard_file(&dir, k)).unwrap();
            assert!(text.lines().any(|l| l == k) && shard_file(&dir, k).ends_with(&k[..2]));
        }
        let shards = std::fs::read_dir(dir.join("verdicts")).unwrap().count();
        assert!(shards > 200 && shards <= SHARDS, "{shards} shards for 600 keys");
        verdicts().lock().unwrap().clear();
        assert!(keys.iter().all(|k| accepted_in(&dir, k)));
        assert!(!accepted_in(&dir, &verdict_key("s", b"other")) && !accepted_in(&dir, "not hex"));
    }
}
