//! Writes a figure as SVG, PNG or PDF (flow-models' `--format`).
//!
//! The PDF is the SVG converted to vector PDF by `svg2pdf` (through `usvg`, text with the
//! system's sans-serif font embedded as a subset), so the three formats show the same drawing
//! (docs/histfit.md, "Plot modes").
use super::draw::{self, Figure};
use flowlab_abi::{Artifact, PluginError, Request};
use std::path::Path;

/// File format of `plot`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Format {
    /// PNG, 150 dpi.
    Png,
    /// SVG (natural size in inches).
    Svg,
    /// Vector PDF.
    Pdf,
}

impl Format {
    /// The file extension.
    pub fn ext(self) -> &'static str {
        match self {
            Format::Png => "png",
            Format::Svg => "svg",
            Format::Pdf => "pdf",
        }
    }
}

/// Families tried, in order, for the SVG's `sans-serif` (fontdb's own default, Arial, is often
/// missing on Linux, and text without a font would vanish from the PDF).
const SANS: [&str; 6] = ["DejaVu Sans", "Liberation Sans", "Arial", "Helvetica", "Noto Sans", "FreeSans"];

/// The system fonts, loaded once per process, with `sans-serif` mapped to an installed family.
fn fontdb() -> Result<std::sync::Arc<svg2pdf::usvg::fontdb::Database>, String> {
    static DB: std::sync::OnceLock<Result<std::sync::Arc<svg2pdf::usvg::fontdb::Database>, String>> = std::sync::OnceLock::new();
    DB.get_or_init(|| {
        let mut db = svg2pdf::usvg::fontdb::Database::new();
        db.load_system_fonts();
        let families: Vec<String> = db.faces().flat_map(|f| f.families.iter().map(|(n, _)| n.clone())).collect();
        let pick = SANS.iter().map(|s| s.to_string()).find(|s| families.contains(s)).or_else(|| families.first().cloned());
        match pick {
            Some(f) => {
                db.set_sans_serif_family(f);
                Ok(std::sync::Arc::new(db))
            }
            None => Err("PDF output needs a system font (none found by fontconfig's directories); use format = \"svg\" or \"png\"".into()),
        }
    })
    .clone()
}

/// An SVG document as PDF bytes.
pub fn svg_to_pdf(svg: &str) -> Result<Vec<u8>, String> {
    let opt = svg2pdf::usvg::Options { fontdb: fontdb()?, ..Default::default() };
    // usvg reads the SVG's size in inches (8 in for a panel) as pixels at 96 dpi; the page
    // must take them at 96 dpi too (its default, 72, made a pixel a point: a 10.7 in page)
    let page = svg2pdf::PageOptions { dpi: 96.0 };
    let tree = svg2pdf::usvg::Tree::from_str(svg, &opt).map_err(|e| format!("SVG for the PDF: {e}"))?;
    let pdf = svg2pdf::to_pdf(&tree, svg2pdf::ConversionOptions::default(), page).map_err(|e| format!("PDF conversion: {e}"))?;
    Ok(sort_resource_entries(pdf))
}

/// svg2pdf writes the entries of a resource dictionary (`/xo3 21 0 R` lines between `<<` and
/// `>>`) in hash-map order, which changes from run to run; sorting the lines of each such
/// block makes the file byte-identical across runs without moving any byte offset (the block
/// keeps its length, so the xref table stays valid).
fn sort_resource_entries(pdf: Vec<u8>) -> Vec<u8> {
    let is_ref = |l: &[u8]| {
        let t: Vec<&[u8]> = l.split(|&b| b == b' ').filter(|w| !w.is_empty()).collect();
        t.len() == 4 && t[0].first() == Some(&b'/') && t[1].iter().all(u8::is_ascii_digit) && t[2] == b"0" && t[3] == b"R"
    };
    let mut lines: Vec<&[u8]> = pdf.split(|&b| b == b'\n').collect();
    let mut i = 0;
    while i < lines.len() {
        if lines[i].ends_with(b"<<") {
            let start = i + 1;
            let mut end = start;
            while end < lines.len() && is_ref(lines[end]) {
                end += 1;
            }
            if end > start + 1 && end < lines.len() && lines[end].trim_ascii() == b">>" {
                lines[start..end].sort();
            }
            i = end.max(i + 1);
        } else {
            i += 1;
        }
    }
    lines.join(&b'\n')
}

/// Writes `<name>.<ext>` in `format`, or SVG and PNG both when `format` is absent.
pub fn write(req: &Request, f: &Figure, format: Option<Format>) -> Result<Vec<Artifact>, PluginError> {
    let dir = Path::new(&req.output_dir);
    std::fs::create_dir_all(dir).map_err(|e| PluginError::run(format!("{}: {e}", dir.display())))?;
    let formats = match format {
        Some(x) => vec![x],
        None => vec![Format::Svg, Format::Png],
    };
    let err = |e: String| PluginError::run(format!("plot {}: {e}", f.name));
    let mut out = vec![];
    for x in formats {
        let file = format!("{}.{}", f.name, x.ext());
        let path = dir.join(&file);
        let io = |e: std::io::Error| PluginError::run(format!("{}: {e}", path.display()));
        match x {
            Format::Png => draw::png(f, &path).map_err(err)?,
            Format::Svg => std::fs::write(&path, draw::svg(f).map_err(err)?).map_err(io)?,
            Format::Pdf => std::fs::write(&path, svg_to_pdf(&draw::svg(f).map_err(err)?).map_err(err)?).map_err(io)?,
        }
        out.push(Artifact { name: file.clone(), path: file, kind: x.ext().into() });
    }
    Ok(out)
}
