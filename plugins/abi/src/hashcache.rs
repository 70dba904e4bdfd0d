//! A cache of files' digests — SHA-256 of plugin libraries and dataset files, BLAKE3 of files
//! named by path settings ([`Digest`]) — keyed by what the file system says about the file.
//!
//! Every `flowlab` call hashes the plugins it loads (the hash goes into each cell's provenance
//! and decides whether a stored cell is stale) and the data its cells read (their identity).
//! Hashing histfit's 20 MB library took 17 of the 24 ms CPU of `flowlab plan` on a one-cell
//! manifest, and hashing a 645 MB flow file half the CPU of a `hist` run; with the cache each is
//! a `stat`.
//!
//! Key: canonical path, device, inode, size, mtime and ctime in nanoseconds. Any write to the
//! file changes mtime and ctime (ctime cannot be set by a user), a replacement by rename changes
//! the inode, so a hit means the bytes hashed before are the bytes on disk. The cache lives in
//! `$FLOWLAB_CACHE_DIR`, else `$XDG_CACHE_HOME/flowlab`, else `$HOME/.cache/flowlab`, per digest
//! in 256 shard files (`stat-sha256/<xx>`, `stat-blake3/<xx>`, `xx` the first byte of the
//! path's BLAKE3 in hex): a line per hashed file (the key, the hash, the path), appended
//! (`O_APPEND`, one short write per line), the last line for a path winning. A process reads
//! the shard of each path it asks about, once; a shard holding more than twice its share of
//! [`MAX_ENTRIES`] is compacted to its newest share (temporary file + rename). One file per
//! digest, as before, was read whole by every `flowlab` call: at 8 000 lines (1.4 MB, just
//! under its compaction) `flowlab plan` of a one-cell manifest took 8.4 ms CPU instead of
//! 2.1 ms. The single files of older hosts (`plugin-sha256`, `file-blake3`) are deleted when
//! a hash is recorded. A missing, unreadable or unwritable cache only means hashing again.
use std::collections::HashMap;
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// Paths kept at most per digest, over all shards (each shard compacted to its newest share).
pub const MAX_ENTRIES: usize = 4096;

/// Shards per digest: the first byte of a path's BLAKE3 names its file.
const SHARDS: usize = 256;

/// Paths a shard keeps when it is compacted (it is compacted at twice as many lines).
const PER_SHARD: usize = MAX_ENTRIES / SHARDS;

/// The digest a cache file holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Digest {
    /// SHA-256: plugin libraries and dataset files, whose hashes are stored in provenance
    /// (`sha256`) and checked by `flowlab replay`.
    Sha256,
    /// BLAKE3: files named by path settings (hist's flow files, mixtures, histograms), whose
    /// hashes only enter cell ids. A cryptographic hash like SHA-256, at a quarter of its CPU
    /// (645 MB: 0.08 s user against 0.36 s with SHA-NI; docs/histfit.md, "hist"), which is
    /// what a first `hist` run over a large flow file spends naming its input.
    Blake3,
}

impl Digest {
    /// The directory of the digest's shards.
    fn cache_name(self) -> &'static str {
        match self {
            Digest::Sha256 => "stat-sha256",
            Digest::Blake3 => "stat-blake3",
        }
    }
    /// The single cache file of older hosts, deleted when a hash is recorded.
    fn legacy_name(self) -> &'static str {
        match self {
            Digest::Sha256 => "plugin-sha256",
            Digest::Blake3 => "file-blake3",
        }
    }
}

/// The cache directory: `$FLOWLAB_CACHE_DIR`, else `$XDG_CACHE_HOME/flowlab`, else
/// `$HOME/.cache/flowlab` (also where [`crate::plugincache`] keeps its files).
pub fn cache_dir() -> Option<PathBuf> {
    std::env::var_os("FLOWLAB_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("flowlab")))
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/flowlab")))
}

/// The shard of `path` for `digest` in cache directory `dir`.
fn shard_file(dir: &Path, digest: Digest, path: &str) -> PathBuf {
    let b = blake3::hash(path.as_bytes()).as_bytes()[0];
    dir.join(digest.cache_name()).join(format!("{b:02x}"))
}

/// The key of a file: `dev ino size mtime_ns ctime_ns`.
pub fn stat_key(m: &std::fs::Metadata) -> String {
    let ns = |s: i64, n: i64| (s as i128) * 1_000_000_000 + n as i128;
    format!("{} {} {} {} {}", m.dev(), m.ino(), m.size(), ns(m.mtime(), m.mtime_nsec()), ns(m.ctime(), m.ctime_nsec()))
}

/// The cache as read by this process: path → (key, hash), keyed by cache file.
type Loaded = HashMap<PathBuf, HashMap<String, (String, String)>>;

fn loaded() -> &'static Mutex<Loaded> {
    static L: OnceLock<Mutex<Loaded>> = OnceLock::new();
    L.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Reads (and compacts when long) a cache file: path → (key, hash), the last line winning.
fn load(f: &Path) -> HashMap<String, (String, String)> {
    let text = std::fs::read_to_string(f).unwrap_or_default();
    let mut m = HashMap::new();
    let mut order = Vec::new();
    let mut lines = 0;
    for line in text.lines() {
        lines += 1;
        // `<key: 5 fields> <sha256> <path>`; the path may hold spaces, so it is the rest
        let mut it = line.splitn(7, ' ');
        let fields: Vec<&str> = it.by_ref().take(6).collect();
        if let (6, Some(p)) = (fields.len(), it.next())
            && fields[5].len() == 64
        {
            order.push(p.to_string());
            m.insert(p.to_string(), (fields[..5].join(" "), fields[5].to_string()));
        }
    }
    if lines > 2 * PER_SHARD {
        let mut seen = std::collections::HashSet::new();
        let mut keep: Vec<String> = Vec::new();
        for p in order.iter().rev() {
            if keep.len() < PER_SHARD && seen.insert(p) {
                let (k, h) = &m[p];
                keep.push(format!("{k} {h} {p}"));
            }
        }
        keep.reverse();
        m.retain(|p, _| seen.contains(p));
        let _ = write_atomic(f, &(keep.join("\n") + "\n"));
    }
    m
}

/// SHA-256 (hex) of the file at `path`, from the cache when its key matches, else computed by
/// `hash` and recorded.
pub fn sha256(path: &Path, hash: impl FnOnce(&Path) -> std::io::Result<String>) -> std::io::Result<String> {
    cached(Digest::Sha256, path, hash)
}

/// `digest` (hex) of the file at `path`, from the cache when its key matches, else computed by
/// `hash` and recorded.
pub fn cached(digest: Digest, path: &Path, hash: impl FnOnce(&Path) -> std::io::Result<String>) -> std::io::Result<String> {
    let meta = std::fs::metadata(path)?;
    let k = stat_key(&meta);
    let p = path.to_string_lossy().into_owned();
    let dir = cache_dir();
    let file = dir.as_deref().map(|d| shard_file(d, digest, &p));
    if let Some(f) = &file {
        let mut l = loaded().lock().unwrap_or_else(|e| e.into_inner());
        let m = l.entry(f.clone()).or_insert_with(|| load(f));
        if let Some((key, h)) = m.get(&p)
            && *key == k
        {
            return Ok(h.clone());
        }
    }
    let h = hash(path)?;
    // the stat must not have moved while hashing (else the hash may be of other bytes), and the
    // file's mtime and ctime must be older than the file-system clock's tick: timestamps come
    // from a coarse clock, so a same-size rewrite within one tick keeps the key (git's "racy
    // clean" rule)
    let now = std::time::SystemTime::now();
    let age = |s: i64| now.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64 - s).unwrap_or(0);
    let settled = age(meta.mtime()) >= 2 && age(meta.ctime()) >= 2;
    if settled
        && std::fs::metadata(path).map(|m| stat_key(&m)).ok().as_deref() == Some(&k)
        && let Some(f) = file
        && !p.contains('\n')
    {
        let line = format!("{k} {h} {p}\n");
        if let Some(d) = &dir {
            let _ = std::fs::remove_file(d.join(digest.legacy_name()));
        }
        let appended = f
            .parent()
            .map(std::fs::create_dir_all)
            .transpose()
            .ok()
            .and_then(|_| std::fs::OpenOptions::new().create(true).append(true).open(&f).ok())
            .is_some_and(|mut o| o.write_all(line.as_bytes()).is_ok());
        if appended {
            let mut l = loaded().lock().unwrap_or_else(|e| e.into_inner());
            l.entry(f).or_default().insert(p, (k, h.clone()));
        }
    }
    Ok(h)
}

/// Writes `text` to `f` through a temporary file and a rename (readers see the old or the new
/// file whole).
pub(crate) fn write_atomic(f: &Path, text: &str) -> std::io::Result<()> {
    let dir = f.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let name = f.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    let tmp = dir.join(format!(".{name}.{}", std::process::id()));
    let mut o = std::fs::File::create(&tmp)?;
    o.write_all(text.as_bytes())?;
    drop(o);
    std::fs::rename(&tmp, f).inspect_err(|_| {
        let _ = std::fs::remove_file(&tmp);
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_hit_needs_the_same_stat_and_a_rewrite_misses() {
        let d = tempfile::tempdir().unwrap();
        // SAFETY of set_var: this test is the only one in the crate that reads the variable
        unsafe { std::env::set_var("FLOWLAB_CACHE_DIR", d.path().join("cache")) };
        let f = d.path().join("lib with space.so");
        std::fs::write(&f, b"one").unwrap();
        let old = std::time::SystemTime::now() - std::time::Duration::from_secs(60);
        std::fs::File::options().write(true).open(&f).unwrap().set_modified(old).unwrap();
        std::thread::sleep(std::time::Duration::from_millis(2100)); // past the racy window of the ctime
        let calls = std::cell::Cell::new(0);
        let hash = |p: &Path| {
            calls.set(calls.get() + 1);
            crate::host::file_sha256(p)
        };
        let cache = d.path().join("cache");
        std::fs::create_dir_all(&cache).unwrap();
        std::fs::write(cache.join("plugin-sha256"), "an older host's single file\n").unwrap();
        let a = sha256(&f, hash).unwrap();
        assert_eq!(sha256(&f, hash).unwrap(), a);
        assert_eq!(calls.get(), 1, "second call is a hit");
        // recorded in the path's shard, the older single file gone; another process hits it
        let shard = shard_file(&cache, Digest::Sha256, &f.to_string_lossy());
        assert!(std::fs::read_to_string(&shard).unwrap().ends_with(&format!(" {a} {}\n", f.display())));
        assert!(!cache.join("plugin-sha256").exists());
        loaded().lock().unwrap().clear();
        assert_eq!(sha256(&f, hash).unwrap(), a);
        assert_eq!(calls.get(), 1, "a new process reads the shard");
        // same size, even with the old mtime restored: the ctime moved (and is now too recent to cache)
        std::fs::write(&f, b"two").unwrap();
        std::fs::File::options().write(true).open(&f).unwrap().set_modified(old).unwrap();
        let b = sha256(&f, hash).unwrap();
        assert_ne!(a, b);
        assert_eq!(b, crate::host::file_sha256(&f).unwrap());
        assert_eq!(calls.get(), 2, "a rewrite misses");
        // a file younger than the clock tick is hashed every time, never cached
        let g = d.path().join("fresh.so");
        std::fs::write(&g, b"x").unwrap();
        sha256(&g, hash).unwrap();
        sha256(&g, hash).unwrap();
        assert_eq!(calls.get(), 4);
    }

    #[test]
    fn paths_spread_over_the_shards_and_a_long_shard_keeps_its_newest() {
        let d = tempfile::tempdir().unwrap();
        let paths: Vec<String> = (0..2000).map(|i| format!("/data/run {i}/flows.csv")).collect();
        let shards: std::collections::HashSet<PathBuf> = paths.iter().map(|p| shard_file(d.path(), Digest::Blake3, p)).collect();
        assert!(shards.len() > 240, "{} of {SHARDS} shards used by 2000 paths", shards.len());
        assert!(shard_file(d.path(), Digest::Sha256, &paths[0]).starts_with(d.path().join("stat-sha256")));
        // a shard of 3·PER_SHARD paths (one written twice) is compacted to its newest PER_SHARD
        let f = d.path().join("shard");
        let key = "1 2 3 4 5";
        let mut text: String = (0..3 * PER_SHARD).map(|i| format!("{key} {} /p/{i}\n", "a".repeat(64))).collect();
        text.push_str(&format!("{key} {} /p/0\n", "b".repeat(64)));
        std::fs::write(&f, text).unwrap();
        let m = load(&f);
        assert_eq!(m.len(), PER_SHARD);
        assert_eq!(m["/p/0"].1, "b".repeat(64), "the last line for a path wins and is the newest");
        assert!(m.contains_key(&format!("/p/{}", 3 * PER_SHARD - 1)) && !m.contains_key("/p/1"));
        assert_eq!(std::fs::read_to_string(&f).unwrap().lines().count(), PER_SHARD);
    }
}
