//! The dataset guard: the hash stored with a cell is the hash of the bytes the cell read.
//!
//! A file dataset is hashed once, when the plan is built; a cell then reads the file on its
//! own. If the file is edited in between (or while the cell reads it), storing the result
//! under the plan-time hash would file it under bytes it never saw, and every later run
//! would call it cached. So every hash is taken between two file-system stamps (device,
//! inode, size, mtime and ctime in nanoseconds), and after each cell the dataset is checked
//! again: an unchanged stamp means unchanged bytes (ctime cannot be set by a user); a
//! changed stamp means the file is hashed again, and a different hash fails the cell with
//! "dataset changed during the run" (docs/scale-out.md, guarantees). Directories have no
//! stamp that covers their files' contents, so they are hashed again after every cell. The
//! file system's clock is coarse (a few ms on Linux): an edit that keeps the size within the
//! same tick as the hash is the one change a stamp can miss.
use flowlab_abi::hashcache::Digest;
use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::{Mutex, OnceLock};

/// What the file system says about a file's identity and last change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Stamp {
    dev: u64,
    ino: u64,
    size: u64,
    mtime_ns: i128,
    ctime_ns: i128,
}

/// The stamp of a regular file; `None` for a directory (or anything else).
pub fn stamp(path: &Path) -> std::io::Result<Option<Stamp>> {
    let m = std::fs::metadata(path)?;
    if !m.is_file() {
        return Ok(None);
    }
    Ok(Some(Stamp {
        dev: m.dev(),
        ino: m.ino(),
        size: m.size(),
        mtime_ns: m.mtime() as i128 * 1_000_000_000 + m.mtime_nsec() as i128,
        ctime_ns: m.ctime() as i128 * 1_000_000_000 + m.ctime_nsec() as i128,
    }))
}

/// Hashes known to belong to a stamp: (path, digest) → (stamp, hash).
type Known = HashMap<(PathBuf, Digest), (Stamp, String)>;

fn known() -> &'static Mutex<Known> {
    static K: OnceLock<Mutex<Known>> = OnceLock::new();
    K.get_or_init(|| Mutex::new(HashMap::new()))
}

/// Hashes a dataset (file or directory, [`crate::tree_hash::content_hash`]) and remembers the
/// stamp the hash belongs to. A file that changes while it is hashed is an error: its hash
/// would describe no version of it.
pub fn hash_dataset(path: &Path) -> std::io::Result<String> {
    hash_content(path, Digest::Sha256)
}

/// [`hash_dataset`] with the digest chosen: BLAKE3 for the files path settings name
/// (runner/src/paths.rs), whose hashes only enter cell ids.
pub fn hash_content(path: &Path, digest: Digest) -> std::io::Result<String> {
    let before = stamp(path)?;
    // a file already hashed at this stamp is not read again (a generated dataset is looked
    // up by every cell that reads it)
    if let Some(b) = before
        && let Some((st, sha)) = known().lock().unwrap_or_else(|e| e.into_inner()).get(&(path.to_path_buf(), digest))
        && *st == b
    {
        return Ok(sha.clone());
    }
    let sha = crate::tree_hash::content_digest(path, digest)?;
    let after = stamp(path)?;
    match (before, after) {
        (Some(b), Some(a)) if a == b => {
            known().lock().unwrap_or_else(|e| e.into_inner()).insert((path.to_path_buf(), digest), (a, sha.clone()));
        }
        (Some(_), _) => return Err(std::io::Error::other("the file changed while it was being hashed")),
        _ => {}
    }
    Ok(sha)
}

/// Checks after a cell that `path` still holds the bytes hashed as `sha256`. `Err` says what
/// changed; the caller fails the cell with it.
pub fn verify(id: &str, path: &Path, sha256: &str) -> Result<(), String> {
    let now = stamp(path).map_err(|e| format!("dataset `{id}` changed during the run: {} can no longer be read ({e}); rerun to use its current contents", path.display()))?;
    if let Some(s) = now {
        let k = known().lock().unwrap_or_else(|e| e.into_inner());
        if k.get(&(path.to_path_buf(), Digest::Sha256)).is_some_and(|(st, h)| *st == s && h == sha256) {
            return Ok(());
        }
    }
    let cur = hash_dataset(path).map_err(|e| format!("dataset `{id}` changed during the run: {}: {e}; rerun to use its current contents", path.display()))?;
    if cur == sha256 {
        return Ok(());
    }
    Err(format!(
        "dataset `{id}` changed during the run: {} had SHA-256 {}… when the run started and has {}… now, so this result would be filed under bytes the cell may not have read; rerun to use its current contents",
        path.display(),
        &sha256[..sha256.len().min(12)],
        &cur[..cur.len().min(12)]
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_edit_is_caught_and_a_touch_is_not_a_change() {
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("h.csv");
        std::fs::write(&p, "a,b\n1,2\n").unwrap();
        let sha = hash_dataset(&p).unwrap();
        assert_eq!(verify("h", &p, &sha), Ok(()));
        // same bytes, new stamp: hashed again, still fine
        std::fs::write(&p, "a,b\n1,2\n").unwrap();
        assert_eq!(verify("h", &p, &sha), Ok(()));
        // same size, other bytes
        std::fs::write(&p, "a,b\n1,3\n").unwrap();
        let e = verify("h", &p, &sha).unwrap_err();
        assert!(e.contains("dataset `h` changed during the run"), "{e}");
        std::fs::remove_file(&p).unwrap();
        assert!(verify("h", &p, &sha).unwrap_err().contains("can no longer be read"));
    }

    #[test]
    fn directories_are_hashed_again() {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("x"), "1").unwrap();
        let sha = hash_dataset(d.path()).unwrap();
        assert_eq!(verify("d", d.path(), &sha), Ok(()));
        std::fs::write(d.path().join("x"), "2").unwrap();
        assert!(verify("d", d.path(), &sha).is_err());
    }
}
