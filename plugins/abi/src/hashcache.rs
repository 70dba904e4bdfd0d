//! A cache of plugin files' SHA-256, keyed by what the file system says about the file.
//!
//! Every `flowlab` call hashes the plugins it loads (the hash goes into each cell's provenance
//! and decides whether a stored cell is stale). Hashing histfit's 20 MB library took 17 of the
//! 24 ms CPU of `flowlab plan` on a one-cell manifest; with the cache it is a `stat`.
//!
//! Key: canonical path, device, inode, size, mtime and ctime in nanoseconds. Any write to the
//! file changes mtime and ctime (ctime cannot be set by a user), a replacement by rename changes
//! the inode, so a hit means the bytes hashed before are the bytes on disk. The cache lives in
//! `$FLOWLAB_CACHE_DIR`, else `$XDG_CACHE_HOME/flowlab`, else `$HOME/.cache/flowlab`, as one
//! text file `plugin-sha256` (a line per file: the key, the hash, the path), rewritten atomically
//! (temporary file + rename) and capped at [`MAX_ENTRIES`] lines; a missing, unreadable or
//! unwritable cache only means hashing again.
use std::io::Write as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

/// Lines kept in the cache file (the newest).
pub const MAX_ENTRIES: usize = 256;

/// The cache file, if a cache directory can be named.
fn cache_file() -> Option<PathBuf> {
    let dir = std::env::var_os("FLOWLAB_CACHE_DIR")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("XDG_CACHE_HOME").map(|d| PathBuf::from(d).join("flowlab")))
        .or_else(|| std::env::var_os("HOME").map(|d| PathBuf::from(d).join(".cache/flowlab")))?;
    Some(dir.join("plugin-sha256"))
}

/// The key of a file: `dev ino size mtime_ns ctime_ns`.
fn key(m: &std::fs::Metadata) -> String {
    let ns = |s: i64, n: i64| (s as i128) * 1_000_000_000 + n as i128;
    format!("{} {} {} {} {}", m.dev(), m.ino(), m.size(), ns(m.mtime(), m.mtime_nsec()), ns(m.ctime(), m.ctime_nsec()))
}

/// SHA-256 (hex) of the file at canonical path `path`, from the cache when its key matches,
/// else computed by `hash` and recorded.
pub fn sha256(path: &Path, hash: impl FnOnce(&Path) -> std::io::Result<String>) -> std::io::Result<String> {
    let meta = std::fs::metadata(path)?;
    let k = key(&meta);
    let file = cache_file();
    let text = file.as_ref().and_then(|f| std::fs::read_to_string(f).ok()).unwrap_or_default();
    let p = path.to_string_lossy();
    for line in text.lines() {
        // `<key: 5 fields> <sha256> <path>`; the path may hold spaces, so it is the rest
        let mut it = line.splitn(7, ' ');
        let fields: Vec<&str> = it.by_ref().take(6).collect();
        if fields.len() == 6 && it.next() == Some(&*p) && fields[..5].join(" ") == k && fields[5].len() == 64 {
            return Ok(fields[5].to_string());
        }
    }
    let h = hash(path)?;
    // the stat must not have moved while hashing (else the hash may be of other bytes), and the
    // file's mtime and ctime must be older than the file-system clock's tick: timestamps come from a coarse clock,
    // so a same-size rewrite within one tick keeps the key (git's "racy clean" rule)
    let now = std::time::SystemTime::now();
    let age = |s: i64| now.duration_since(std::time::UNIX_EPOCH).map(|d| d.as_secs() as i64 - s).unwrap_or(0);
    let settled = age(meta.mtime()) >= 2 && age(meta.ctime()) >= 2;
    if settled
        && std::fs::metadata(path).map(|m| key(&m)).ok().as_deref() == Some(&k)
        && let Some(f) = file
        && !p.contains('\n')
    {
        let mut lines: Vec<&str> = text.lines().filter(|l| !l.ends_with(&format!(" {p}"))).collect();
        let new = format!("{k} {h} {p}");
        lines.push(&new);
        let keep = &lines[lines.len().saturating_sub(MAX_ENTRIES)..];
        let _ = write_atomic(&f, &(keep.join("\n") + "\n"));
    }
    Ok(h)
}

fn write_atomic(f: &Path, text: &str) -> std::io::Result<()> {
    let dir = f.parent().unwrap_or(Path::new("."));
    std::fs::create_dir_all(dir)?;
    let tmp = dir.join(format!(".plugin-sha256.{}", std::process::id()));
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
        let a = sha256(&f, hash).unwrap();
        assert_eq!(sha256(&f, hash).unwrap(), a);
        assert_eq!(calls.get(), 1, "second call is a hit");
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
}
