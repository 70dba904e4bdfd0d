//! The interactive-fit page of `flowlab serve` (docs/serve-fit.md): `router(cfg)` is nested
//! at `/fit` by serve.
//!
//! Routes (relative to the mount point): `GET /` the page (HTML with its CSS and JS inlined,
//! nothing fetched from elsewhere); `GET /curves?histogram=&column=` the data curves;
//! `POST /start` (JSON [`StartForm`]) plans the fit and answers its session id, data curves
//! and manifest; `GET /events/{id}` server-sent events, one `state` message per change
//! (coalesced: a slow reader gets the newest mixture, never a backlog), the fit starting when
//! the first reader connects (or after [`START_GRACE`]) so the animation sees it from its
//! first iteration; `POST /stop/{id}`; `POST /save/{id}` (`{"path"}`, under the save root);
//! `POST /manifest` ("as manifest"). Every POST carries the `X-Flowlab-Token` header; serve's
//! middleware checks it, and this router checks it too when [`IfitConfig::token`] is set.
use super::{Event, FAMILIES, Finished, FitSession, FitSpec, SaveWhat, data, resolve_input, save};
use axum::extract::{OriginalUri, Path as UrlPath, Query, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{Html, IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use serde::Deserialize;
use serde_json::{Value, json};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

/// How long a started fit waits for its event stream before it runs anyway.
pub const START_GRACE: Duration = Duration::from_secs(2);
/// Sessions kept (the oldest finished ones are dropped beyond this).
pub const MAX_SESSIONS: usize = 16;
/// Fits running (or about to) at once; another start is refused with 429 until one ends.
/// A page runs one fit at a time, so this is four pages fitting together; each fit uses the
/// server's whole thread budget, so more would only share the cores more thinly.
pub const MAX_RUNNING: usize = 4;
/// A running fit that no event stream has read for this long is stopped (its newest
/// mixture can still be saved): a closed tab must not leave a fit burning the cores.
pub const UNWATCHED: Duration = Duration::from_secs(10);
/// Header that carries the per-start token on actions.
pub const TOKEN_HEADER: &str = "X-Flowlab-Token";

/// What the page may touch.
#[derive(Debug, Clone, Default)]
pub struct IfitConfig {
    /// Histograms are chosen under this directory (`--data-dir`); none: fitting is refused.
    pub data_dir: Option<PathBuf>,
    /// "save" writes only under this directory; none: saving is refused.
    pub save_root: Option<PathBuf>,
    /// serve's per-start token, put into the page's requests (and checked here when set).
    pub token: String,
    /// Thread budget of a fit (0: all cores).
    pub threads: usize,
}

/// The fit form.
#[derive(Debug, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct StartForm {
    /// csv_hist path relative to the data directory.
    pub histogram: String,
    /// Column.
    pub column: String,
    /// Counts by family.
    #[serde(default)]
    pub families: BTreeMap<String, u32>,
    /// Iterations.
    pub iterations: u64,
    /// Fitter.
    pub fitter: String,
    /// `mpw` (absent or null: none).
    #[serde(default)]
    pub mpw: Option<f64>,
    /// Initial mixture as JSON text (used when every count is 0).
    #[serde(default)]
    pub initial: Option<String>,
    /// Stream a mixture after every iteration.
    #[serde(default)]
    pub animate: bool,
}

enum End {
    Done(Box<Finished>),
    Stopped,
    Failed(String),
}

#[derive(Default)]
struct LiveState {
    /// (iteration, of, mixture JSON text) of the newest emitted mixture.
    latest: Option<(u64, u64, String)>,
    progress: (u64, u64),
    emitted: u64,
    end: Option<End>,
}

struct Live {
    spec: FitSpec,
    emit_every: u64,
    session: Mutex<Option<FitSession>>,
    state: Mutex<LiveState>,
    version: tokio::sync::watch::Sender<u64>,
    started: std::sync::atomic::AtomicBool,
    /// Event streams open on this session, and when the last one closed (or the fit was
    /// launched, if none was open then).
    readers: Mutex<(usize, std::time::Instant)>,
}

impl Live {
    fn ended(&self) -> bool {
        lock(&self.state).end.is_some()
    }
    /// Asks the fit to stop (before its launch: marks it stopped).
    fn stop(&self) {
        if !self.started.swap(true, Ordering::SeqCst) {
            finish(self, End::Stopped);
        }
        if let Some(s) = lock(&self.session).as_ref() {
            s.stop();
        }
    }
}

/// One open event stream of a session: counted while it lives.
struct Reader(Arc<Live>);

impl Reader {
    fn new(live: Arc<Live>) -> Reader {
        lock(&live.readers).0 += 1;
        Reader(live)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        let mut r = lock(&self.0.readers);
        r.0 = r.0.saturating_sub(1);
        if r.0 == 0 {
            r.1 = std::time::Instant::now();
        }
    }
}

struct App {
    cfg: IfitConfig,
    sessions: Mutex<Vec<(u64, Arc<Live>)>>,
    next: AtomicU64,
}

type Failure = (StatusCode, Json<Value>);

fn fail(code: StatusCode, msg: impl std::fmt::Display) -> Failure {
    (code, Json(json!({"error": msg.to_string()})))
}

/// A JSON request body whose refusal (not JSON, a wrong type, no `Content-Type`) is answered
/// as every other error of this API, `{"error": …}`, not as axum's plain text.
struct Body<T>(T);

impl<S: Send + Sync, T: serde::de::DeserializeOwned> axum::extract::FromRequest<S> for Body<T> {
    type Rejection = Failure;
    async fn from_request(req: axum::extract::Request, state: &S) -> Result<Self, Failure> {
        match Json::<T>::from_request(req, state).await {
            Ok(Json(v)) => Ok(Body(v)),
            Err(r) => Err(fail(r.status(), r.body_text())),
        }
    }
}

/// A session id in the path, refused as JSON like [`Body`].
struct Id(u64);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Id {
    type Rejection = Failure;
    async fn from_request_parts(parts: &mut axum::http::request::Parts, state: &S) -> Result<Self, Failure> {
        match UrlPath::<u64>::from_request_parts(parts, state).await {
            Ok(UrlPath(id)) => Ok(Id(id)),
            Err(r) => Err(fail(r.status(), format!("{}: a session id is a number", r.body_text()))),
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

/// The router serve nests at `/fit`.
pub fn router(cfg: IfitConfig) -> Router {
    let app = Arc::new(App { cfg, sessions: Mutex::new(Vec::new()), next: AtomicU64::new(1) });
    Router::new()
        .route("/", get(page))
        // the page's style and script are files of the router, not inline: serve's
        // Content-Security-Policy (`style-src 'self'; script-src 'self'`) blocks inline ones
        .route("/page.css", get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], include_str!("page.css")) }))
        .route("/page.js", get(|| async { ([(header::CONTENT_TYPE, "text/javascript; charset=utf-8")], include_str!("page.js")) }))
        .route("/curves", get(curves))
        .route("/start", post(start))
        .route("/events/{id}", get(events))
        .route("/stop/{id}", post(stop))
        .route("/save/{id}", post(save_h))
        .route("/manifest", post(manifest))
        .with_state(app)
}

/// The token check of an action: the header, or `?token=` as serve's guard accepts it.
fn check_token(app: &App, h: &HeaderMap, uri: &axum::http::Uri) -> Result<(), Failure> {
    let t = app.cfg.token.as_str();
    if t.is_empty() || h.get(TOKEN_HEADER).and_then(|v| v.to_str().ok()) == Some(t) || crate::serve::security::query_token(uri.query()).as_deref() == Some(t) {
        Ok(())
    } else {
        Err(fail(StatusCode::FORBIDDEN, format!("missing or wrong {TOKEN_HEADER}: actions need the token printed when serve started")))
    }
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;").replace('\'', "&#39;")
}

/// csv_hist files under the data directory (a bounded walk; files whose header has `bin_lo`).
fn histograms(root: &std::path::Path) -> Vec<String> {
    let mut out = vec![];
    let mut stack = vec![(root.to_path_buf(), 0usize)];
    let mut seen = 0usize;
    while let Some((d, depth)) = stack.pop() {
        let Ok(rd) = std::fs::read_dir(&d) else { continue };
        let mut entries: Vec<_> = rd.filter_map(|e| e.ok()).collect();
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            seen += 1;
            if seen > 5000 || out.len() >= 500 {
                return out;
            }
            let p = e.path();
            let Ok(ft) = e.file_type() else { continue };
            if ft.is_dir() && depth < 6 {
                stack.push((p, depth + 1));
            } else if ft.is_file() && p.extension().is_some_and(|x| x == "csv") {
                let head = std::fs::File::open(&p).ok().and_then(|f| {
                    use std::io::{BufRead, Read};
                    let mut l = String::new();
                    std::io::BufReader::new(f).take(4096).read_line(&mut l).ok().map(|_| l)
                });
                if head.is_some_and(|h| h.split(',').any(|c| c.trim() == "bin_lo"))
                    && let Ok(rel) = p.strip_prefix(root)
                {
                    out.push(rel.to_string_lossy().into_owned());
                }
            }
        }
    }
    out.sort();
    out
}

async fn page(State(app): State<Arc<App>>, OriginalUri(uri): OriginalUri) -> Html<String> {
    // where the router is mounted (`/fit` under serve): the page's own files are below it
    let base = uri.path().trim_end_matches('/').to_string();
    let root = app.cfg.data_dir.clone();
    let hists = tokio::task::spawn_blocking(move || root.map(|r| histograms(&r)).unwrap_or_default()).await.unwrap_or_default();
    let default = hists.iter().position(|h| h.ends_with("histograms/all/length.csv")).unwrap_or(0);
    let options: String = hists.iter().enumerate().map(|(i, h)| format!("<option value=\"{0}\"{1}>{0}</option>", esc(h), if i == default { " selected" } else { "" })).collect();
    let families: String = FAMILIES
        .iter()
        .map(|(f, l)| {
            let v = match *f {
                "uniform" => 6,
                "lognorm" => 4,
                _ => 0,
            };
            format!("<label class=\"fam\" title=\"{f}\"><span>{l}</span><input type=\"number\" min=\"0\" max=\"100\" name=\"fam-{f}\" data-family=\"{f}\" value=\"{v}\"></label>")
        })
        .collect();
    // the site's bar, as on every page of serve
    let nav = crate::serve::html::site_bar(&[]);
    let html = include_str!("page.html")
        .replace("{{NAV}}", &nav)
        .replace("{{BASE}}", &esc(&base))
        .replace("{{TOKEN}}", &esc(&app.cfg.token))
        .replace("{{HISTOGRAMS}}", &options)
        .replace("{{FAMILIES}}", &families)
        .replace("{{DATA_DIR}}", &esc(&app.cfg.data_dir.as_ref().map(|d| d.display().to_string()).unwrap_or_else(|| "(none: start serve with --data-dir)".into())))
        .replace("{{SAVE_ROOT}}", &esc(&app.cfg.save_root.as_ref().map(|d| d.display().to_string()).unwrap_or_else(|| "(none: saving is off)".into())));
    Html(html)
}

#[derive(Deserialize)]
struct CurvesQuery {
    histogram: String,
    column: String,
}

fn input(app: &App, p: &str) -> Result<PathBuf, Failure> {
    let root = app.cfg.data_dir.as_ref().ok_or_else(|| fail(StatusCode::BAD_REQUEST, "serve was started without a data directory (--data-dir)"))?;
    resolve_input(p, root).map_err(|e| fail(StatusCode::BAD_REQUEST, e))
}

async fn curves(State(app): State<Arc<App>>, Query(q): Query<CurvesQuery>) -> Result<Json<data::Curves>, Failure> {
    let path = input(&app, &q.histogram)?;
    tokio::task::spawn_blocking(move || data::curves(&path, &q.column)).await.map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e))?.map(Json).map_err(|e| fail(StatusCode::BAD_REQUEST, e))
}

fn spec_of(app: &App, f: &StartForm) -> Result<FitSpec, Failure> {
    let initial = match f.initial.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
        Some(t) if f.families.values().all(|&n| n == 0) => {
            let v = serde_json::from_str::<Value>(t).map_err(|e| fail(StatusCode::BAD_REQUEST, format!("initial: not JSON: {e}")))?;
            // histfit reads a string `initial` as a file path: the page takes inline mixtures only
            if !(v.is_array() || v.is_object()) {
                return Err(fail(StatusCode::BAD_REQUEST, "initial: give the mixture inline, as `[[w, family, [args]], …]` or `{\"sum\", \"mix\"}`"));
            }
            Some(v)
        }
        _ => None,
    };
    let spec = FitSpec { histogram: input(app, &f.histogram)?, column: f.column.clone(), families: f.families.clone(), iterations: f.iterations, fitter: f.fitter.clone(), mpw: f.mpw, initial };
    spec.check().map_err(|e| fail(StatusCode::BAD_REQUEST, e))?;
    Ok(spec)
}

/// [`spec_of`], then the plugin's own checks ([`FitSpec::validate`]), off the runtime.
async fn checked_spec(app: &App, f: &StartForm) -> Result<FitSpec, Failure> {
    let spec = spec_of(app, f)?;
    let (s, dir) = (spec.clone(), app.cfg.data_dir.clone());
    tokio::task::spawn_blocking(move || s.validate(dir.as_deref())).await.map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e))?.map_err(|e| fail(StatusCode::BAD_REQUEST, e))?;
    Ok(spec)
}

async fn manifest(State(app): State<Arc<App>>, h: HeaderMap, uri: axum::http::Uri, Body(f): Body<StartForm>) -> Result<Json<Value>, Failure> {
    check_token(&app, &h, &uri)?;
    let spec = checked_spec(&app, &f).await?;
    let text = spec.manifest(app.cfg.data_dir.as_deref()).map_err(|e| fail(StatusCode::BAD_REQUEST, e))?;
    Ok(Json(json!({"manifest": text})))
}

async fn start(State(app): State<Arc<App>>, h: HeaderMap, uri: axum::http::Uri, Body(f): Body<StartForm>) -> Result<Json<Value>, Failure> {
    check_token(&app, &h, &uri)?;
    let running = lock(&app.sessions).iter().filter(|(_, l)| !l.ended()).count();
    if running >= MAX_RUNNING {
        return Err(fail(StatusCode::TOO_MANY_REQUESTS, format!("{running} fits are running already (at most {MAX_RUNNING} at once): stop one, or wait for one to finish")));
    }
    let spec = checked_spec(&app, &f).await?;
    let text = spec.manifest(app.cfg.data_dir.as_deref()).map_err(|e| fail(StatusCode::BAD_REQUEST, e))?;
    let (p, col) = (spec.histogram.clone(), spec.column.clone());
    let c = tokio::task::spawn_blocking(move || data::curves(&p, &col)).await.map_err(|e| fail(StatusCode::INTERNAL_SERVER_ERROR, e))?.map_err(|e| fail(StatusCode::BAD_REQUEST, e))?;
    let (version, _) = tokio::sync::watch::channel(0u64);
    let live = Arc::new(Live {
        spec,
        emit_every: if f.animate { 1 } else { 0 },
        session: Mutex::new(None),
        state: Mutex::new(LiveState::default()),
        version,
        started: Default::default(),
        readers: Mutex::new((0, std::time::Instant::now())),
    });
    let id = app.next.fetch_add(1, Ordering::Relaxed);
    {
        let mut s = lock(&app.sessions);
        s.push((id, live.clone()));
        while s.len() > MAX_SESSIONS {
            match s.iter().position(|(_, l)| lock(&l.state).end.is_some()) {
                Some(i) => drop(s.remove(i)),
                None => break,
            }
        }
    }
    // the fit runs when its event stream connects, or after the grace period without one
    let (a2, l2) = (app.clone(), live.clone());
    tokio::spawn(async move {
        tokio::time::sleep(START_GRACE).await;
        launch(&a2, &l2).await;
    });
    Ok(Json(json!({"session": id, "curves": c, "manifest": text, "animate": f.animate})))
}

/// Starts the session's fit once; its events go to the live state.
async fn launch(app: &Arc<App>, live: &Arc<Live>) {
    if live.started.swap(true, Ordering::SeqCst) {
        return;
    }
    let (cfg, l) = (app.cfg.clone(), live.clone());
    let res = tokio::task::spawn_blocking(move || {
        let threads = if cfg.threads == 0 { std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1) } else { cfg.threads };
        FitSession::start(l.spec.clone(), cfg.data_dir.as_deref(), l.emit_every, threads)
    })
    .await;
    let rx = match res {
        Ok(Ok((s, rx))) => {
            *lock(&live.session) = Some(s);
            rx
        }
        Ok(Err(e)) => return finish(live, End::Failed(super::page_message(&e))),
        Err(e) => return finish(live, End::Failed(e.to_string())),
    };
    lock(&live.readers).1 = std::time::Instant::now();
    let w = live.clone();
    tokio::spawn(async move {
        // stops the fit once no event stream has read it for UNWATCHED
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if w.ended() {
                break;
            }
            let (open, since) = *lock(&w.readers);
            if open == 0 && since.elapsed() >= UNWATCHED {
                w.stop();
                break;
            }
        }
    });
    let l = live.clone();
    // a plain thread drains the channel: it blocks on `recv`, not on the runtime
    std::thread::spawn(move || {
        while let Ok(ev) = rx.recv() {
            let end = {
                let mut st = lock(&l.state);
                match ev {
                    Event::Mixture { iteration, of, mixture_json } => {
                        st.emitted += 1;
                        st.latest = Some((iteration, of, mixture_json));
                        None
                    }
                    Event::Progress { done, total } => {
                        st.progress = (done, total);
                        None
                    }
                    Event::Done(f) => Some(End::Done(f)),
                    Event::Stopped => Some(End::Stopped),
                    Event::Failed(m) => Some(End::Failed(m)),
                }
            };
            match end {
                Some(e) => {
                    finish(&l, e);
                    break;
                }
                None => l.version.send_modify(|v| *v += 1),
            }
        }
    });
}

fn finish(live: &Live, e: End) {
    lock(&live.state).end = Some(e);
    live.version.send_modify(|v| *v += 1);
}

fn find(app: &App, id: u64) -> Result<Arc<Live>, Failure> {
    lock(&app.sessions).iter().find(|(i, _)| *i == id).map(|(_, l)| l.clone()).ok_or_else(|| fail(StatusCode::NOT_FOUND, format!("no fit session {id} (sessions end when serve restarts)")))
}

/// The state message: the newest mixture when it changed since `sent`, progress, and the
/// outcome once there is one.
fn state_json(st: &LiveState, sent: &mut Option<u64>) -> (Value, bool) {
    let mut v = json!({"progress": {"done": st.progress.0, "total": st.progress.1}, "emitted": st.emitted});
    if let Some((it, of, text)) = &st.latest
        && *sent != Some(*it)
    {
        v["mixture"] = json!({"iteration": it, "of": of, "json": text});
        *sent = Some(*it);
    }
    let done = st.end.is_some();
    match &st.end {
        Some(End::Done(f)) => {
            v["status"] = json!("done");
            // a fit that converged before its cap is done all the same (em-binned: 48 of 50)
            if st.progress.1 > 0 {
                v["progress"]["done"] = json!(st.progress.1);
            }
            v["result"] = json!({"json": f.mixture_json, "iterations": f.iterations, "termination": f.termination, "objective": f.objective, "wall_s": f.wall_s});
        }
        Some(End::Stopped) => v["status"] = json!("stopped"),
        Some(End::Failed(m)) => {
            v["status"] = json!("failed");
            v["error"] = json!(m);
        }
        None => v["status"] = json!("running"),
    }
    (v, done)
}

async fn events(State(app): State<Arc<App>>, Id(id): Id) -> Result<Response, Failure> {
    let live = find(&app, id)?;
    let rx = live.version.subscribe();
    let reader = Reader::new(live.clone());
    launch(&app, &live).await;
    struct S {
        _reader: Reader,
        live: Arc<Live>,
        rx: tokio::sync::watch::Receiver<u64>,
        sent: Option<u64>,
        over: bool,
        first: bool,
    }
    let s = S { _reader: reader, live, rx, sent: None, over: false, first: true };
    let stream = futures_util::stream::unfold(s, |mut s| async move {
        if s.over {
            return None;
        }
        if !s.first && s.rx.changed().await.is_err() {
            return None;
        }
        s.first = false;
        s.rx.borrow_and_update();
        let (v, done) = state_json(&lock(&s.live.state), &mut s.sent);
        s.over = done;
        Some((Ok::<_, std::convert::Infallible>(SseEvent::default().event("state").data(v.to_string())), s))
    });
    Ok(Sse::new(stream).keep_alive(KeepAlive::default()).into_response())
}

async fn stop(State(app): State<Arc<App>>, h: HeaderMap, uri: axum::http::Uri, Id(id): Id) -> Result<Json<Value>, Failure> {
    check_token(&app, &h, &uri)?;
    let live = find(&app, id)?;
    live.stop();
    Ok(Json(json!({"stopping": id})))
}

#[derive(Deserialize)]
struct SaveForm {
    path: String,
}

async fn save_h(State(app): State<Arc<App>>, h: HeaderMap, uri: axum::http::Uri, Id(id): Id, Body(f): Body<SaveForm>) -> Result<Json<Value>, Failure> {
    check_token(&app, &h, &uri)?;
    let live = find(&app, id)?;
    let root = app.cfg.save_root.clone().ok_or_else(|| fail(StatusCode::BAD_REQUEST, "serve was started without a directory to save in"))?;
    let column = live.spec.column.clone();
    let written = {
        let st = lock(&live.state);
        match (&st.end, &st.latest) {
            (Some(End::Done(fin)), _) => save(&root, &f.path, &column, SaveWhat::Finished(fin)),
            (Some(End::Stopped), Some((_, _, text))) => save(&root, &f.path, &column, SaveWhat::Partial(text)),
            (Some(End::Failed(m)), _) => return Err(fail(StatusCode::CONFLICT, format!("the fit failed, nothing to save: {m}"))),
            _ => return Err(fail(StatusCode::CONFLICT, "the fit has not finished (or was stopped before any mixture was streamed)")),
        }
    }
    .map_err(|e| fail(StatusCode::BAD_REQUEST, e))?;
    Ok(Json(json!({"saved": written.iter().map(|p| p.display().to_string()).collect::<Vec<_>>()})))
}
