//! Files of the results and data roots (`/files/results/<path>`, `/files/data/<path>`):
//! artifacts, figures, reports. Only files under the root, after canonicalisation, are
//! served (docs/serve.md, "Security"): the path is taken undecoded from the request line,
//! decoded once, and refused when a segment is empty, `.` or `..`, when it is absolute, holds
//! a backslash or a NUL, or still holds a `%` after decoding (a double encoding); then the
//! canonical file must lie inside the canonical root, which refuses symbolic links out of it.
use super::ServeState;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderValue, StatusCode, Uri, header};
use axum::response::{IntoResponse, Response};
use std::path::{Path, PathBuf};

/// Decodes `%XX` escapes (no `+` rule: paths, not forms); `None` when an escape is malformed
/// or the bytes are not UTF-8.
pub fn percent_decode(s: &str) -> Option<String> {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%' {
            let hex = b.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(std::str::from_utf8(hex).ok()?, 16).ok()?);
            i += 3;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// Why a path was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Refused {
    /// The path is malformed or tries to leave the root.
    Traversal(&'static str),
    /// No such file under the root.
    NotFound,
}

/// The file that `raw` (the undecoded path below the root) names inside `root` (canonical).
pub fn resolve(root: &Path, raw: &str) -> Result<PathBuf, Refused> {
    let decoded = percent_decode(raw).ok_or(Refused::Traversal("malformed percent-encoding"))?;
    if decoded.contains('%') {
        return Err(Refused::Traversal("encoded twice"));
    }
    if decoded.contains(['\\', '\0']) {
        return Err(Refused::Traversal("backslash or NUL in the path"));
    }
    if decoded.starts_with('/') || Path::new(&decoded).is_absolute() {
        return Err(Refused::Traversal("absolute path"));
    }
    if decoded.split('/').any(|s| s.is_empty() || s == "." || s == "..") {
        return Err(Refused::Traversal("empty, `.` or `..` segment"));
    }
    let full = root.join(&decoded).canonicalize().map_err(|_| Refused::NotFound)?;
    if !full.starts_with(root) {
        return Err(Refused::Traversal("outside the root (symbolic link)"));
    }
    if !full.is_file() {
        return Err(Refused::NotFound);
    }
    Ok(full)
}

/// Content type by extension: figures and PDFs as themselves, text formats as plain text
/// (never HTML: a result file must not run as a page of this site), the rest as bytes.
pub fn content_type(p: &Path) -> &'static str {
    match p.extension().and_then(|e| e.to_str()).map(str::to_ascii_lowercase).as_deref() {
        Some("png") => "image/png",
        Some("svg") => "image/svg+xml",
        Some("jpg" | "jpeg") => "image/jpeg",
        Some("pdf") => "application/pdf",
        Some("json" | "jsonl" | "csv" | "txt" | "tex" | "pgf" | "mode" | "log" | "toml" | "md" | "dat" | "sbatch") => "text/plain; charset=utf-8",
        _ => "application/octet-stream",
    }
}

/// An image format's rank: SVG first (it scales), then PNG, then JPEG; `None`: not an image.
fn image_rank(p: &str) -> Option<usize> {
    let l = p.to_ascii_lowercase();
    [".svg", ".png", ".jpg", ".jpeg"].iter().position(|e| l.ends_with(e))
}

/// The figures among `paths`, one per figure: a plot written as `cdf.svg` and `cdf.png` is
/// the same figure twice, and only its best format ([`image_rank`]) is shown. The result
/// keeps `paths`' order (of each figure's first file).
pub fn figures<'a>(paths: impl IntoIterator<Item = &'a str>) -> Vec<&'a str> {
    let mut out: Vec<&str> = Vec::new();
    for p in paths {
        let Some(rank) = image_rank(p) else { continue };
        let stem = |q: &'a str| q.rsplit_once('.').map_or(q, |(s, _)| s);
        match out.iter_mut().find(|q| stem(q) == stem(p)) {
            Some(q) if image_rank(q).is_some_and(|r| r > rank) => *q = p,
            Some(_) => {}
            None => out.push(p),
        }
    }
    out
}

#[cfg(test)]
mod figure_tests {
    use super::figures;

    #[test]
    fn one_format_per_figure_svg_first() {
        assert_eq!(figures(["a.json", "cdf.png", "cdf.svg", "pdf.png", "x/cdf.png", "pdf.jpg", "cdf.pgf"]), vec!["cdf.svg", "pdf.png", "x/cdf.png"]);
        assert_eq!(figures(["b.JPEG", "b.PNG"]), vec!["b.PNG"]);
        assert!(figures(["notes.txt"]).is_empty());
    }
}

/// `GET /files/{results|data}/<path>`.
pub async fn serve(State(st): State<ServeState>, uri: Uri) -> Response {
    let path = uri.path();
    let (root, raw) = if let Some(r) = path.strip_prefix("/files/results/") {
        (Some(st.results_root()), r)
    } else if let Some(r) = path.strip_prefix("/files/data/") {
        (st.data_root(), r)
    } else {
        (None, "")
    };
    let Some(root) = root else {
        return (StatusCode::NOT_FOUND, "no such root (results, data)\n").into_response();
    };
    let file = match resolve(root, raw) {
        Ok(f) => f,
        Err(Refused::Traversal(why)) => return (StatusCode::BAD_REQUEST, format!("refused: {why}\n")).into_response(),
        Err(Refused::NotFound) => return (StatusCode::NOT_FOUND, "no such file\n").into_response(),
    };
    let f = match std::fs::File::open(&file) {
        Ok(f) => f,
        Err(e) => return (StatusCode::INTERNAL_SERVER_ERROR, format!("{}: {e}\n", file.display())).into_response(),
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    // streamed in 64 KiB pieces: a large dataset is never held whole in memory
    let stream = futures_util::stream::unfold(f, |mut f| async move {
        use std::io::Read;
        let mut buf = vec![0u8; 1 << 16];
        match f.read(&mut buf) {
            Ok(0) => None,
            Ok(n) => {
                buf.truncate(n);
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(buf)), f))
            }
            Err(e) => Some((Err(e), f)),
        }
    });
    let mut resp = Body::from_stream(stream).into_response();
    let h = resp.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type(&file)));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    // a served file runs nothing on this origin (an SVG may hold a script)
    let csp = if content_type(&file) == "application/pdf" { "default-src 'none'; object-src 'self'" } else { "sandbox; default-src 'none'; img-src 'self' data:; style-src 'unsafe-inline'" };
    h.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(csp));
    resp
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn decoding() {
        assert_eq!(percent_decode("a%2Fb%2e").as_deref(), Some("a/b."));
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%2"), None);
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn traversal_refused_before_the_filesystem() {
        let root = std::env::temp_dir().canonicalize().unwrap();
        for raw in ["..", "a/../b", "%2e%2e/x", "%2E%2E%2Fx", "%252e%252e/x", "/etc/passwd", "%2Fetc%2Fpasswd", "a//b", "./a", "a\\..\\b", "a%5C..%5Cb", "a%00b", "%c0%ae%c0%ae/x"] {
            assert!(matches!(resolve(&root, raw), Err(Refused::Traversal(_))), "{raw}");
        }
    }
}
