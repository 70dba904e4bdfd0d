//! flowlab's one figure system (docs/figures.md): plugins describe a figure as panels of
//! curves, bands and shaded cells ([`draw`]), and the renderer applies the shared style rules
//! once for every plugin — Okabe–Ito colours, text ≥ 9 pt at the natural size, log axes ticked
//! 10^k, integer axes ticked with integers, one legend entry per labelled series beside the
//! axes (never over the data), and a note for whatever is cut at an axis.
//!
//! [`check`] reads any SVG back and tests the rules that can be tested mechanically; the
//! integration tests run it on every SVG the shipped plugins write.
pub mod check;
pub mod draw;
pub mod pgf;

pub use draw::{Band, Cell, Cells, Curve, Figure, Mark, Panel, palette};
pub use plotters::style::RGBColor;

/// Writes `<dir>/<name>.svg` and `<dir>/<name>.png`; returns the file names written.
pub fn write_svg_png(dir: &std::path::Path, f: &Figure) -> Result<Vec<String>, String> {
    std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let svg = format!("{}.svg", f.name);
    let path = dir.join(&svg);
    std::fs::write(&path, draw::svg(f)?).map_err(|e| format!("{}: {e}", path.display()))?;
    let png = format!("{}.png", f.name);
    draw::png(f, &dir.join(&png))?;
    Ok(vec![svg, png])
}

/// Writes `<dir>/<name>.pgf`, the figure as a pgfplots picture for a TeX report; returns the
/// file name.
pub fn write_pgf(dir: &std::path::Path, f: &Figure) -> Result<String, String> {
    let file = format!("{}.pgf", f.name);
    let path = dir.join(&file);
    std::fs::write(&path, pgf::tex(f)).map_err(|e| format!("{}: {e}", path.display()))?;
    Ok(file)
}
