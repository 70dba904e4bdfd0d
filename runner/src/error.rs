//! Typed errors of the runner, one enum per layer, each carrying the place it is about.
use std::fmt;
use std::path::PathBuf;

/// Where in the configuration a problem is: a file position, an environment variable or a
/// command-line flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// `file:line:col` (1-based).
    File {
        /// Manifest file.
        path: PathBuf,
        /// Line, 1-based.
        line: usize,
        /// Column (characters), 1-based.
        col: usize,
        /// The source line, for a snippet.
        snippet: String,
    },
    /// An environment variable (`FLOWLAB_EXPERIMENT__SEED`).
    Env(String),
    /// A `--set key=value` flag.
    Flag(String),
    /// A `--sweep key=v1,v2,…` flag.
    Sweep(String),
    /// Only the file is known.
    FileOnly(PathBuf),
    /// A command's flags (a one-line command's generated manifest: runner/src/oneline/flags.rs).
    Command(String),
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Origin::File { path, line, col, .. } => write!(f, "{}:{line}:{col}", path.display()),
            Origin::Env(v) => write!(f, "environment variable {v}"),
            Origin::Flag(s) => write!(f, "--set {s}"),
            Origin::Sweep(s) => write!(f, "--sweep {s}"),
            Origin::FileOnly(p) => write!(f, "{}", p.display()),
            Origin::Command(c) => write!(f, "{c}"),
        }
    }
}

impl Origin {
    /// Computes line and column of byte `offset` in `text`.
    pub fn at(path: &std::path::Path, text: &str, offset: usize) -> Origin {
        let offset = offset.min(text.len());
        let before = &text[..offset];
        let line = before.matches('\n').count() + 1;
        let line_start = before.rfind('\n').map(|i| i + 1).unwrap_or(0);
        let col = text[line_start..offset].chars().count() + 1;
        let snippet = text[line_start..].lines().next().unwrap_or("").to_string();
        Origin::File { path: path.to_path_buf(), line, col, snippet }
    }
}

/// A manifest problem: where, what, and how to fix it.
#[derive(Debug, Clone)]
pub struct ManifestError {
    /// Place.
    pub origin: Origin,
    /// What is wrong.
    pub message: String,
    /// How to fix it.
    pub help: Option<String>,
}

impl ManifestError {
    /// New error.
    pub fn new(origin: Origin, message: impl Into<String>) -> Self {
        ManifestError { origin, message: message.into(), help: None }
    }
    /// Adds a fix hint.
    pub fn help(mut self, h: impl Into<String>) -> Self {
        self.help = Some(h.into());
        self
    }
}

impl fmt::Display for ManifestError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}: error: {}", self.origin, self.message)?;
        if let Origin::File { line, col, snippet, .. } = &self.origin {
            let pad = line.to_string().len();
            write!(f, "\n{:pad$} |\n{line} | {snippet}\n{:pad$} | {}^", "", "", " ".repeat(col.saturating_sub(1)))?;
        }
        if let Some(h) = &self.help {
            write!(f, "\n  help: {h}")?;
        }
        Ok(())
    }
}

impl std::error::Error for ManifestError {}

/// Several manifest errors reported together.
#[derive(Debug, Clone)]
pub struct ManifestErrors(pub Vec<ManifestError>);

impl fmt::Display for ManifestErrors {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (i, e) in self.0.iter().enumerate() {
            if i > 0 {
                writeln!(f)?;
            }
            write!(f, "{e}")?;
        }
        Ok(())
    }
}
impl std::error::Error for ManifestErrors {}

/// Errors of the result store.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// File system problem.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// A stored file does not parse.
    #[error("{path}: corrupt result file: {message}")]
    Corrupt {
        /// Path.
        path: PathBuf,
        /// Parser message.
        message: String,
    },
}

/// Errors of report rendering.
#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    /// Template problem (parse or render), with tera's cause chain.
    #[error("template {template}: {message}")]
    Template {
        /// Template path.
        template: String,
        /// Full message.
        message: String,
    },
    /// File system problem.
    #[error("{path}: {source}")]
    Io {
        /// Path.
        path: PathBuf,
        /// Cause.
        source: std::io::Error,
    },
    /// pdflatex failed.
    #[error("pdflatex failed on {path}: {message}")]
    Latex {
        /// The .tex file.
        path: PathBuf,
        /// Log tail.
        message: String,
    },
    /// No stored results to render.
    #[error("{0}")]
    NoResults(String),
}

/// Top-level error of a command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Manifest problems.
    #[error("{0}")]
    Manifest(#[from] ManifestErrors),
    /// Store problems.
    #[error(transparent)]
    Store(#[from] StoreError),
    /// Report problems.
    #[error(transparent)]
    Report(#[from] ReportError),
    /// Plugin loading problems.
    #[error(transparent)]
    Load(#[from] flowlab_abi::host::LoadError),
    /// Writing to standard output failed (a closed pipe, a full disk).
    #[error("cannot write to standard output: {0}")]
    Stdout(std::io::Error),
    /// A command line that cannot be carried out as given (exit 2, like a manifest error).
    #[error("{0}")]
    Usage(String),
    /// Anything else, with context.
    #[error("{0}")]
    Other(String),
}

impl Error {
    /// What to do about an error whose message alone does not say it: the file-system
    /// refusals of a results directory (read-only, not a directory, full), which otherwise reach
    /// the user as a bare OS message.
    pub fn help(&self) -> Option<&'static str> {
        use std::io::ErrorKind as K;
        let (Error::Store(StoreError::Io { source, .. }) | Error::Report(ReportError::Io { source, .. })) = self else { return None };
        match source.kind() {
            K::ReadOnlyFilesystem | K::PermissionDenied => Some("results are written there: give a writable results root with --results DIR (or FLOWLAB_RESULTS)"),
            K::NotADirectory => Some("a part of that path is a file where a directory is needed: give another results root with --results DIR (or FLOWLAB_RESULTS)"),
            K::StorageFull | K::QuotaExceeded => Some("the disk is full: free space or give another results root with --results DIR; nothing stored before was removed"),
            _ => None,
        }
    }
}

impl From<ManifestError> for Error {
    fn from(e: ManifestError) -> Self {
        Error::Manifest(ManifestErrors(vec![e]))
    }
}
