//! `flowlab serve` (docs/serve.md): a local web application over the results root, from the
//! binary alone — the experiments, an experiment's cell table, a cell, a comparison of cells,
//! live progress of a running experiment, and the actions "run" and "replay".
//!
//! Modules: [`security`] (token, request guard), [`files`] (files of the results and data
//! roots), [`index`] (the in-memory cell table), [`experiments`] (what is found: manifests and
//! result directories), [`pages`] (HTML), [`live`] (server-sent events), [`actions`] (run,
//! replay), [`html`] (escaping, page frame).
pub mod actions;
pub mod chart;
pub mod experiments;
pub mod files;
pub mod fits;
pub mod html;
pub mod index;
pub mod live;
pub mod pages;
pub mod security;

use axum::Router;
use axum::extract::OriginalUri;
use axum::routing::{get, post};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// Default port of `flowlab serve` (`--bind 127.0.0.1:0` takes a free one).
pub const DEFAULT_PORT: u16 = 8737;

/// What `flowlab serve` was started with.
#[derive(Debug, Clone)]
pub struct ServeConfig {
    /// Results root (`results/<experiment>/`).
    pub results: PathBuf,
    /// Directory of manifests (`*.toml`), when given or found.
    pub experiments: Option<PathBuf>,
    /// Data directory (`{data}` in manifests; served under `/files/data/`).
    pub data_dir: Option<PathBuf>,
    /// Address to listen on.
    pub bind: SocketAddr,
    /// The interactive fit's "save" writes only under this directory (`--save-dir`, default
    /// the current directory); none: saving is refused.
    pub save_dir: Option<PathBuf>,
    /// The `flowlab` executable that "run" starts (this binary).
    pub flowlab_exe: PathBuf,
}

/// The shared state of the server (cheap to clone).
#[derive(Clone)]
pub struct ServeState(Arc<Inner>);

struct Inner {
    results: PathBuf,
    experiments: Option<PathBuf>,
    data_dir: Option<PathBuf>,
    save_dir: Option<PathBuf>,
    token: String,
    loopback: bool,
    flowlab_exe: PathBuf,
    index: index::Cache,
    plans: experiments::PlanCache,
    runs: actions::Runs,
}

/// A start-up failure of `flowlab serve` (a clear message, exit 2).
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    /// A directory given on the command line is not usable.
    #[error("{path}: {message}")]
    Dir {
        /// The directory.
        path: PathBuf,
        /// What is wrong.
        message: String,
    },
    /// The address cannot be bound.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        /// The address.
        addr: SocketAddr,
        /// The reason.
        source: std::io::Error,
    },
    /// Anything else (the runtime, the token source).
    #[error("{0}")]
    Other(String),
}

fn canonical_dir(p: &Path, what: &str) -> Result<PathBuf, ServeError> {
    let c = p.canonicalize().map_err(|e| ServeError::Dir { path: p.to_path_buf(), message: format!("{what}: {e}") })?;
    if !c.is_dir() {
        return Err(ServeError::Dir { path: p.to_path_buf(), message: format!("{what} is not a directory") });
    }
    Ok(c)
}

impl ServeState {
    /// The state for `cfg`, with a new random token. The results root is created when
    /// missing (an empty list is a fine first page).
    pub fn new(cfg: &ServeConfig) -> Result<ServeState, ServeError> {
        std::fs::create_dir_all(&cfg.results).map_err(|e| ServeError::Dir { path: cfg.results.clone(), message: format!("results root: {e}") })?;
        let results = canonical_dir(&cfg.results, "results root")?;
        let experiments = cfg.experiments.as_deref().map(|p| canonical_dir(p, "experiments directory")).transpose()?;
        let data_dir = cfg.data_dir.as_deref().map(|p| canonical_dir(p, "data directory")).transpose()?;
        let save_dir = cfg.save_dir.as_deref().map(|p| canonical_dir(p, "save directory")).transpose()?;
        let token = security::new_token().map_err(|e| ServeError::Other(format!("no random token: /dev/urandom: {e}")))?;
        Ok(ServeState(Arc::new(Inner {
            results,
            experiments,
            data_dir,
            save_dir,
            token,
            loopback: cfg.bind.ip().is_loopback(),
            flowlab_exe: cfg.flowlab_exe.clone(),
            index: Default::default(),
            plans: Default::default(),
            runs: Default::default(),
        })))
    }
    /// The token of this start.
    pub fn token(&self) -> &str {
        &self.0.token
    }
    /// Whether the server listens on a loopback address only.
    pub fn loopback(&self) -> bool {
        self.0.loopback
    }
    /// The canonical results root.
    pub fn results_root(&self) -> &Path {
        &self.0.results
    }
    /// The canonical data directory, if given.
    pub fn data_root(&self) -> Option<&Path> {
        self.0.data_dir.as_deref()
    }
    /// The canonical manifests directory, if given.
    pub fn experiments_dir(&self) -> Option<&Path> {
        self.0.experiments.as_deref()
    }
    fn index(&self) -> &index::Cache {
        &self.0.index
    }
}

/// The routes of the application, unguarded. Nest further pages (the interactive fit) on
/// this router, then pass it to [`secure`]: `secure(st.clone(), routes(st).nest(...))`.
pub fn routes(st: ServeState) -> Router {
    Router::new()
        .route("/", get(pages::experiments))
        .route("/e/{exp}", get(pages::experiment))
        .route("/e/{exp}/rows", get(pages::rows))
        .route("/e/{exp}/compare", get(pages::compare))
        .route("/e/{exp}/events", get(live::events))
        .route("/e/{exp}/run", post(actions::start_run))
        .route("/e/{exp}/c/{cell}", get(pages::cell))
        .route("/e/{exp}/c/{cell}/replay", post(actions::replay))
        .route("/files/{*path}", get(files::serve))
        .route("/static/app.css", get(|| async { ([(axum::http::header::CONTENT_TYPE, "text/css; charset=utf-8")], html::CSS) }))
        .route("/static/app.js", get(|| async { ([(axum::http::header::CONTENT_TYPE, "text/javascript; charset=utf-8")], html::JS) }))
        .fallback(pages::no_route)
        .with_state(st)
}

/// `router` behind the guard of [`security::guard`] (one layer over every route, nested
/// ones included).
pub fn secure(st: ServeState, router: Router) -> Router {
    router.layer(axum::middleware::from_fn_with_state(st, security::guard))
}

/// The whole application: [`routes`] and the interactive fit (`/fit`, runner/src/ifit/)
/// behind [`secure`], so the token guard covers the fit's actions too.
pub fn app(st: ServeState) -> Router {
    let fit = crate::ifit::web::router(crate::ifit::web::IfitConfig { data_dir: st.0.data_dir.clone(), save_root: st.0.save_dir.clone(), token: st.0.token.clone(), threads: 0 });
    // `/fit/` (a typed or bookmarked address with the slash) is the page at `/fit`
    let slash = |OriginalUri(u): OriginalUri| async move { axum::response::Redirect::permanent(&format!("/fit{}", u.query().map(|q| format!("?{q}")).unwrap_or_default())) };
    secure(st.clone(), routes(st).route("/fit/", get(slash)).nest("/fit", fit))
}

/// The URL to print: the address, and the token as a query parameter.
pub fn url(addr: SocketAddr, token: &str) -> String {
    let host = if addr.ip().is_unspecified() {
        "127.0.0.1".to_string()
    } else if addr.is_ipv6() {
        format!("[{}]", addr.ip())
    } else {
        addr.ip().to_string()
    };
    format!("http://{host}:{}/?token={token}", addr.port())
}

/// Runs the server until Ctrl-C. `announce` gets the URL once the socket listens (the
/// binary prints it).
pub fn run(cfg: &ServeConfig, announce: impl FnOnce(&str)) -> Result<(), ServeError> {
    let st = ServeState::new(cfg)?;
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(|e| ServeError::Other(format!("cannot start the runtime: {e}")))?;
    rt.block_on(async move {
        let listener = tokio::net::TcpListener::bind(cfg.bind).await.map_err(|e| ServeError::Bind { addr: cfg.bind, source: e })?;
        let addr = listener.local_addr().map_err(|e| ServeError::Bind { addr: cfg.bind, source: e })?;
        announce(&url(addr, st.token()));
        // the index of every experiment is built in the background, so the first visit
        // finds it ready
        let warm = st.clone();
        tokio::task::spawn_blocking(move || experiments::warm(&warm));
        let app = app(st.clone());
        // Ctrl-C or SIGTERM: stop accepting, finish the answers under way (a run started
        // from the page goes on: it is resumable and its own process)
        let shutdown = async {
            #[cfg(unix)]
            {
                let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
                let t = async {
                    match term.as_mut() {
                        Some(s) => {
                            s.recv().await;
                        }
                        None => std::future::pending::<()>().await,
                    }
                };
                tokio::select! { _ = tokio::signal::ctrl_c() => {}, _ = t => {} }
            }
            #[cfg(not(unix))]
            let _ = tokio::signal::ctrl_c().await;
        };
        axum::serve(listener, app).with_graceful_shutdown(shutdown).await.map_err(|e| ServeError::Other(format!("server: {e}")))?;
        Ok(())
    })
}
