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

/// The system fonts, loaded once per process.
fn fontdb() -> std::sync::Arc<svg2pdf::usvg::fontdb::Database> {
    static DB: std::sync::OnceLock<std::sync::Arc<svg2pdf::usvg::fontdb::Database>> = std::sync::OnceLock::new();
    DB.get_or_init(|| {
        let mut db = svg2pdf::usvg::fontdb::Database::new();
        db.load_system_fonts();
        std::sync::Arc::new(db)
    })
    .clone()
}

/// An SVG document as PDF bytes.
pub fn svg_to_pdf(svg: &str) -> Result<Vec<u8>, String> {
    let opt = svg2pdf::usvg::Options { fontdb: fontdb(), ..Default::default() };
    let tree = svg2pdf::usvg::Tree::from_str(svg, &opt).map_err(|e| format!("SVG for the PDF: {e}"))?;
    svg2pdf::to_pdf(&tree, svg2pdf::ConversionOptions::default(), svg2pdf::PageOptions::default()).map_err(|e| format!("PDF conversion: {e}"))
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
