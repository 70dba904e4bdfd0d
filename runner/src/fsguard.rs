//! No writes through symbolic links inside an experiment's results directory: a link planted
//! at `results/<experiment>/report` (or at a cell file, or the artifacts directory) would
//! otherwise send flowlab's writes anywhere the user can write.
use std::path::{Component, Path};

/// Fails when `root` or any existing path between it and `path` (inclusive) is a symbolic
/// link, or when `path` is not below `root`. Components that do not exist yet are fine:
/// flowlab creates them as plain directories and files.
pub fn refuse_symlinks(root: &Path, path: &Path) -> std::io::Result<()> {
    let rest = path.strip_prefix(root).map_err(|_| std::io::Error::other(format!("{} is not inside the results directory {}", path.display(), root.display())))?;
    let mut p = root.to_path_buf();
    let mut next = Some(p.clone());
    let mut parts = rest.components();
    while let Some(cur) = next.take() {
        match std::fs::symlink_metadata(&cur) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(std::io::Error::other(format!("{} is a symbolic link; flowlab does not write through links inside the results directory {} (remove it)", cur.display(), root.display())));
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        }
        match parts.next() {
            Some(Component::Normal(c)) => {
                p.push(c);
                next = Some(p.clone());
            }
            Some(_) => return Err(std::io::Error::other(format!("{}: `.`, `..` or an absolute part below the results directory", path.display()))),
            None => {}
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn links_below_the_root_are_refused() {
        let d = tempfile::tempdir().unwrap();
        let root = d.path().join("exp");
        std::fs::create_dir_all(root.join("artifacts")).unwrap();
        std::os::unix::fs::symlink(d.path(), root.join("report")).unwrap();
        assert!(refuse_symlinks(&root, &root.join("artifacts/x/y.json")).is_ok());
        assert!(refuse_symlinks(&root, &root.join("new/file")).is_ok());
        let e = refuse_symlinks(&root, &root.join("report/a.tex")).unwrap_err().to_string();
        assert!(e.contains("report is a symbolic link"), "{e}");
        assert!(refuse_symlinks(&root, &root.join("../x")).is_err());
        assert!(refuse_symlinks(&root, Path::new("/elsewhere")).is_err());
        std::os::unix::fs::symlink(d.path(), d.path().join("linked")).unwrap();
        assert!(refuse_symlinks(&d.path().join("linked"), &d.path().join("linked/a")).is_err());
    }
}
