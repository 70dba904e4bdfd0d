//! A one-line command's manifest errors, told in the flags the user typed.
//!
//! A one-liner runs a manifest it wrote itself (`<experiment>.toml` beside the current
//! directory, never saved unless `--print-manifest` is given), so an error at
//! `fit-all-length.toml:16` names a file that does not exist and a setting (`iterations`) the
//! user never wrote. Each setting the one-liner writes comes from one flag (the table below,
//! which mirrors `OneLine::manifest` in runner/src/oneline/mod.rs); an error at such a setting
//! is re-told as `flowlab fit: error: \`-i\` = 0 is below the minimum …`. An error the table
//! cannot place keeps its message and says how to see the manifest.
use crate::error::{Error, ManifestError, ManifestErrors, Origin};
use std::path::Path;

/// (setting as the manifest writes it, the flag or argument it comes from), per command.
fn table(command: &str) -> &'static [(&'static str, &'static str)] {
    match command {
        "fit" => &[
            ("path", "FILE"),
            ("column", "-y"),
            ("iterations", "-i"),
            ("families.uniform", "-U"),
            ("families.genpareto", "-P"),
            ("families.lognorm", "-L"),
            ("families", "-U/-P/-L"),
            ("mpw", "--mpw"),
            ("initial", "--initial"),
        ],
        "summary" => &[("path", "FILE"), ("x", "-x")],
        "plot" => &[("path", "HISTOGRAM"), ("mixture_dir", "MIXTURE"), ("x", "-x"), ("format", "--format"), ("pdf_modes", "-P"), ("cdf_modes", "-C")],
        "generate" => &[("flows", "-s"), ("seed", "--seed"), ("x", "-x"), ("histogram", "FILE"), ("mixture_dir", "FILE"), ("out_format", "-o")],
        "hist" => &[
            ("inputs", "IN_FILES"),
            ("in_format", "-i"),
            ("x", "-x"),
            ("bin_exp", "-b"),
            ("skip_in", "--skip-in"),
            ("count_in", "--count-in"),
            ("skip_out", "--skip-out"),
            ("count_out", "--count-out"),
            ("filter", "--filter-expr"),
            ("columns", "-c"),
        ],
        _ => &[],
    }
}

/// Re-tells the manifest errors of `command`'s generated manifest `manifest` in its flags;
/// every other error is returned as it is.
pub fn retell(command: &str, manifest: &Path, e: Error) -> Error {
    match e {
        Error::Manifest(ManifestErrors(v)) => Error::Manifest(ManifestErrors(v.into_iter().map(|m| retell_one(command, manifest, m)).collect())),
        other => other,
    }
}

fn retell_one(command: &str, manifest: &Path, e: ManifestError) -> ManifestError {
    let snippet = match &e.origin {
        Origin::File { path, snippet, .. } if path == manifest => snippet.clone(),
        Origin::FileOnly(path) if path == manifest => String::new(),
        _ => return e,
    };
    let message = strip_section(&e.message);
    let origin = Origin::Command(format!("flowlab {command}"));
    let help_flags = format!("`flowlab {command} --help` lists the options");
    // the most specific setting the message or the line names
    let line_key = snippet.split('=').next().map(str::trim).unwrap_or("");
    let found = table(command).iter().find(|(k, _)| message.contains(&format!("`{k}`")) || message.starts_with(&format!("{k} = "))).or_else(|| table(command).iter().find(|(k, _)| *k == line_key));
    match found {
        Some((key, flag)) => {
            let mut m = message.replace(&format!("`{key}`"), &format!("`{flag}`"));
            if let Some(rest) = m.strip_prefix(&format!("{key} = ")) {
                m = format!("`{flag}` = {rest}");
            }
            // a relative path of a one-liner is relative to the current directory (the
            // manifest's directory is the current one), which the manifest's help does not say
            let m = m.replace(" (relative paths are relative to the manifest's directory; use {data}/… for the data directory)", "");
            let help = match e.help {
                Some(h) if !h.contains("flowlab plugins") && !h.contains("manifest's directory") => format!("{h}\n  help: {help_flags}"),
                _ => help_flags,
            };
            ManifestError::new(origin, m).help(help)
        }
        None => {
            let at = if snippet.is_empty() { String::new() } else { format!(" (at `{}` of its manifest)", snippet.trim()) };
            ManifestError::new(origin, format!("{message}{at}")).help(format!("{help_flags}; `flowlab {command} … --print-manifest` prints the manifest this command runs"))
        }
    }
}

/// The message without its leading `task \`fit\`: ` or `dataset \`input\`: ` (a one-liner
/// has one task and one dataset, which the user did not name).
fn strip_section(m: &str) -> String {
    for p in ["task `", "dataset `"] {
        if let Some(rest) = m.strip_prefix(p)
            && let Some(i) = rest.find("`: ")
        {
            return rest[i + 3..].to_string();
        }
    }
    m.to_string()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::PathBuf;

    fn at(path: &str, snippet: &str, message: &str, help: &str) -> Error {
        let origin = Origin::File { path: PathBuf::from(path), line: 16, col: 1, snippet: snippet.into() };
        Error::Manifest(ManifestErrors(vec![ManifestError::new(origin, message).help(help)]))
    }

    #[test]
    fn settings_are_told_as_the_flags_they_came_from() {
        let m = "/w/fit-all-length.toml";
        let e = retell("fit", Path::new(m), at(m, "iterations = 0", "task `fit`: `iterations` = 0 is below the minimum: allowed [1, 1000000]", "`flowlab plugins histfit fit` explains every setting"));
        assert_eq!(e.to_string(), "flowlab fit: error: `-i` = 0 is below the minimum: allowed [1, 1000000]\n  help: `flowlab fit --help` lists the options");
        let e = retell("fit", Path::new(m), at(m, "families = { uniform = 6, lognorm = 400 }", "task `fit`: `families.lognorm` = 400 is above the maximum: allowed [0, 100]", "x"));
        assert!(e.to_string().starts_with("flowlab fit: error: `-L` = 400 is above"), "{e}");
        let g = "/w/generate-all-length.toml";
        let e = retell(
            "generate",
            Path::new(g),
            at(g, "flows = 0", "task `generate`: flows = 0 replays every flow of h.csv: 9 flows; give `flows` to draw that many", "`flowlab plugins histfit generate` explains every setting"),
        );
        assert!(e.to_string().starts_with("flowlab generate: error: `-s` = 0 replays every flow of h.csv: 9 flows; give `-s` to draw"), "{e}");
        let e = retell("fit", Path::new(m), at(m, "path = \"nope.csv\"", "dataset `input`: no such file or directory: /w/nope.csv", "relative paths are relative to the manifest's directory"));
        assert_eq!(e.to_string(), "flowlab fit: error: no such file or directory: /w/nope.csv\n  help: `flowlab fit --help` lists the options");
    }

    #[test]
    fn errors_elsewhere_or_unplaced_keep_their_message() {
        let m = "/w/fit-all-length.toml";
        let other = at("/w/other.toml", "x = 1", "task `fit`: boom", "h");
        assert_eq!(retell("fit", Path::new(m), other).to_string(), at("/w/other.toml", "x = 1", "task `fit`: boom", "h").to_string());
        let e = retell("fit", Path::new(m), at(m, "plots = false", "task `fit`: strange", "h"));
        assert!(e.to_string().starts_with("flowlab fit: error: strange (at `plots = false` of its manifest)\n  help: `flowlab fit --help` lists the options; `flowlab fit … --print-manifest`"), "{e}");
        assert!(matches!(retell("fit", Path::new(m), Error::Other("x".into())), Error::Other(_)));
    }
}
