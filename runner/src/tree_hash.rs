//! The one directory hasher: a bounded walk of a directory's regular files and the SHA-256
//! of their sorted names and contents. A dataset's identity (its content hash, part of every
//! cell id), the hashes of path settings (runner/src/paths.rs) and a replay's artifact
//! comparison (runner/src/replay.rs) are all made here, so they cannot drift apart.
use flowlab_abi::hashcache::Digest as FileDigest;
use sha2::{Digest, Sha256};
use std::path::{Path, PathBuf};

/// Most files and directories a dataset directory walk visits (README: datasets).
pub const TREE_MAX_ENTRIES: usize = 100_000;
/// Deepest directory nesting a dataset directory walk enters (README: datasets).
pub const TREE_MAX_DEPTH: usize = 32;

/// A directory that cannot be hashed safely: the message names the file or the limit.
fn refused(msg: String) -> std::io::Error {
    std::io::Error::new(std::io::ErrorKind::InvalidInput, msg)
}

/// What a file type is, for errors about files that are neither regular files nor directories.
fn type_name(t: std::fs::FileType) -> &'static str {
    use std::os::unix::fs::FileTypeExt;
    if t.is_fifo() {
        "a FIFO"
    } else if t.is_socket() {
        "a socket"
    } else if t.is_block_device() || t.is_char_device() {
        "a device"
    } else if t.is_symlink() {
        "a symbolic link"
    } else if t.is_dir() {
        "a directory"
    } else {
        "not a regular file"
    }
}

/// The regular files below directory `root`, as (path relative to `root`, path to read),
/// sorted by relative path. The walk never follows a symbolic link into a directory: a link
/// is taken (as the file it points to) only when it resolves to a regular file inside `root`;
/// links to directories, links out of the tree, broken links, FIFOs, sockets and devices are
/// refused with an error naming them, and the walk stops with an error past
/// [`TREE_MAX_ENTRIES`] entries or [`TREE_MAX_DEPTH`] levels, so a link loop, a FIFO or a
/// `path = "/"` cannot hang planning (README: datasets).
pub fn tree_files(root: &Path) -> std::io::Result<Vec<(PathBuf, PathBuf)>> {
    let canon_root = root.canonicalize()?;
    let mut out = Vec::new();
    let mut entries = 0usize;
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    while let Some((dir, depth)) = stack.pop() {
        let at_dir = |e: std::io::Error| std::io::Error::new(e.kind(), format!("{}: {e}", dir.display()));
        let mut list = Vec::new();
        for e in std::fs::read_dir(&dir).map_err(at_dir)? {
            list.push(e.map_err(at_dir)?);
            if list.len() > TREE_MAX_ENTRIES {
                break;
            }
        }
        // by name, so that the first problem reported does not depend on the directory order
        list.sort_by_key(|e| e.file_name());
        for e in list {
            entries += 1;
            if entries > TREE_MAX_ENTRIES {
                return Err(refused(format!("{}: more than {TREE_MAX_ENTRIES} files and directories below it (the walk limit); point the dataset at a smaller directory", root.display())));
            }
            let p = e.path();
            let t = e.file_type()?;
            if t.is_dir() {
                if depth + 1 > TREE_MAX_DEPTH {
                    return Err(refused(format!("{}: nested more than {TREE_MAX_DEPTH} directories deep (the walk limit)", p.display())));
                }
                stack.push((p, depth + 1));
                continue;
            }
            if t.is_symlink() {
                let target = p.canonicalize().map_err(|err| refused(format!("{}: symbolic link that does not resolve: {err}", p.display())))?;
                let tt = std::fs::metadata(&target)?.file_type();
                if !tt.is_file() {
                    return Err(refused(format!("{}: symbolic link to {} ({}); a dataset directory may link only to regular files inside it", p.display(), target.display(), type_name(tt))));
                }
                if !target.starts_with(&canon_root) {
                    return Err(refused(format!(
                        "{}: symbolic link to {}, outside the dataset directory {}; copy the file in or point the dataset at a directory that holds it",
                        p.display(),
                        target.display(),
                        canon_root.display()
                    )));
                }
            } else if !t.is_file() {
                return Err(refused(format!("{}: {}, not a regular file; a dataset directory may hold only regular files and directories", p.display(), type_name(t))));
            }
            let rel = p.strip_prefix(root).unwrap_or(&p).to_path_buf();
            out.push((rel, p));
        }
    }
    // component-wise order of the relative paths, as the directory hash has always used
    out.sort();
    Ok(out)
}

/// SHA-256 of a file, or of a directory (sorted relative paths and contents of the regular
/// files found by [`tree_files`]). Checks the file type first, so a FIFO is never opened.
pub fn content_hash(path: &Path) -> std::io::Result<String> {
    content_digest(path, FileDigest::Sha256)
}

/// [`content_hash`] with the files' digest chosen (`FileDigest::Blake3` for path settings,
/// runner/src/paths.rs); a directory's list of names and file digests is SHA-256 either way.
pub fn content_digest(path: &Path, digest: FileDigest) -> std::io::Result<String> {
    let t = std::fs::metadata(path)?.file_type();
    // every file's hash goes through the stat-keyed cache (plugins/abi/src/hashcache.rs): a
    // rerun on unchanged data reads no data file just to name it
    let file_hash = |p: &Path| {
        let f = match digest {
            FileDigest::Sha256 => flowlab_abi::host::file_sha256,
            FileDigest::Blake3 => flowlab_abi::host::file_blake3,
        };
        flowlab_abi::hashcache::cached(digest, p, f)
    };
    if t.is_file() {
        return file_hash(path);
    }
    if !t.is_dir() {
        return Err(refused(format!("{}: {}, not a regular file or directory", path.display(), type_name(t))));
    }
    let mut h = Sha256::new();
    for (rel, file_digest) in tree_digests(path, file_hash)? {
        h.update(rel.as_bytes());
        h.update([0]);
        h.update(file_digest.as_bytes());
    }
    Ok(hex::encode(h.finalize()))
}

/// Every regular file below `root` ([`tree_files`]: bounded walk, no symlinked directories,
/// no FIFOs) as (relative path with `/` separators, `hash` of its content), in the walk's
/// order. The one directory hasher: a dataset directory's digest ([`content_digest`]) and a
/// replay's artifact comparison (runner/src/replay.rs) are both made from it.
pub fn tree_digests(root: &Path, hash: impl Fn(&Path) -> std::io::Result<String>) -> std::io::Result<Vec<(String, String)>> {
    tree_files(root)?.into_iter().map(|(rel, file)| Ok((rel.to_string_lossy().replace('\\', "/"), hash(&file)?))).collect()
}
