//! The pages of `flowlab serve` (docs/serve.md): experiments, an experiment's cell table,
//! a cell, a comparison. Reading is done on blocking threads; every page is plain HTML that
//! works without the script (the script adds live updates, compare selection and actions).
use super::ServeState;
use super::chart::{Axes, Series, overlay, overlay_axes, record_series, series_of};
use super::experiments::{self, Listed};
use super::html::{badge, enc, enc_path, esc, kv_table, page};
use super::index::{self, Col, Index, Query};
use super::security::Authed;
use crate::browse::{flatten, local_minute, read_cell, show_value, stored_value, table_num};
use axum::Extension;
use axum::extract::{Path as UrlPath, Query as UrlQuery, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};
use serde_json::Value;
use std::fmt::Write as _;
use std::path::Path;
use std::sync::Arc;

/// Metric columns shown in the cell table at most.
pub const MAX_METRIC_COLUMNS: usize = 8;
/// Cells a comparison shows at most.
pub const MAX_COMPARE: usize = 12;

/// Runs blocking page work off the async threads; a panic becomes a 500, not a dead server.
async fn blocking(f: impl FnOnce() -> Response + Send + 'static) -> Response {
    tokio::task::spawn_blocking(f).await.unwrap_or_else(|e| (StatusCode::INTERNAL_SERVER_ERROR, format!("internal error: {e}\n")).into_response())
}

fn token_for(st: &ServeState, a: Authed) -> Option<String> {
    a.0.then(|| st.token().to_string())
}

/// A 404 page with a way back.
fn not_found(what: &str, token: Option<&str>) -> Response {
    let body = format!(r#"<h1>Not found</h1><p>{}</p><p><a href="/">All experiments</a></p>"#, esc(what));
    (StatusCode::NOT_FOUND, Html(page("Not found", &[], &body, token))).into_response()
}

/// Any address no route serves: a page that says so (it was an empty 404).
pub async fn no_route(uri: axum::http::Uri) -> Response {
    not_found(&format!("Nothing is served at `{}`.", uri.path()), None)
}

fn exp_href(name: &str) -> String {
    format!("/e/{}", enc(name))
}

fn cell_href(exp: &str, id: &str) -> String {
    format!("/e/{}/c/{}", enc(exp), enc(id))
}

fn file_href(rel: &str) -> String {
    format!("/files/results/{}", enc_path(rel))
}

fn num_td(x: usize) -> String {
    format!(r#"<td class="num">{x}</td>"#)
}

// ---------------------------------------------------------------- experiments

fn experiments_row(l: &Listed, root: &Path) -> String {
    let name = if l.dir.is_some() { format!(r#"<a href="{}">{}</a>"#, exp_href(&l.name), esc(&l.name)) } else { format!("{} <span class=\"muted\">(not run)</span>", esc(&l.name)) };
    let running = if l.running { format!(" {}", badge("running")) } else { String::new() };
    let mut r = format!("<tr><td>{name}{running}</td>");
    match &l.planned {
        Some(Ok(p)) => {
            r.push_str(&num_td(p.cells));
            let _ = write!(
                r,
                r#"<td class="num ok">{}</td><td class="num {}">{}</td><td class="num {}">{}</td><td class="num {}">{}</td>"#,
                p.done,
                if p.failed > 0 { "bad" } else { "" },
                p.failed,
                if p.stale > 0 { "warn" } else { "" },
                p.stale,
                if p.missing > 0 { "muted" } else { "" },
                p.missing
            );
        }
        Some(Err(e)) => {
            let _ = write!(r, r#"<td colspan="5" class="bad small" title="{}">cannot plan: {}</td>"#, esc(e), esc(&e.lines().next().unwrap_or("").chars().take(90).collect::<String>()));
        }
        None => {
            let (ok, failed) = l.stored;
            let _ = write!(
                r,
                r#"<td class="num">{}</td><td class="num ok">{ok}</td><td class="num {}">{failed}</td><td class="num muted">–</td><td class="num muted">–</td>"#,
                ok + failed,
                if failed > 0 { "bad" } else { "" }
            );
        }
    }
    let _ = write!(
        r,
        "<td>{}</td><td class=\"num\">{}</td>",
        l.last_run.map(local_minute).unwrap_or_else(|| "–".into()),
        if l.dir.is_some() { format!("{} s", table_num((l.wall_s * 100.0).round() / 100.0)) } else { "–".into() }
    );
    let reports: Vec<String> =
        l.reports.iter().map(|rel| format!(r#"<a href="{}">{}</a>"#, file_href(rel), esc(Path::new(rel).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default().as_str()))).collect();
    let _ = write!(r, "<td>{}</td>", if reports.is_empty() { "<span class=\"muted\">–</span>".into() } else { reports.join(" ") });
    let m = l.manifest.as_deref().map(|m| m.strip_prefix(root.parent().unwrap_or(root)).unwrap_or(m).display().to_string()).unwrap_or_else(|| "–".into());
    let _ = write!(r, r#"<td class="small mono">{}</td></tr>"#, esc(&m));
    r
}

/// `GET /`: every experiment with its counts.
pub async fn experiments(State(st): State<ServeState>, Extension(a): Extension<Authed>) -> Response {
    blocking(move || {
        let list = experiments::list(&st);
        let token = token_for(&st, a);
        let mut body = format!(r#"<h1>Experiments</h1><p class="sub">Results in <span class="mono">{}</span>{}</p>"#, esc(&st.results_root().display().to_string()), st.experiments_dir().map(|d| format!(r#" · manifests in <span class="mono">{}</span>"#, esc(&d.display().to_string()))).unwrap_or_default());
        if list.is_empty() {
            body.push_str(r#"<p class="empty">No experiments yet. Run one with <code>flowlab run MANIFEST</code>; it appears here.</p>"#);
        } else {
            body.push_str(r#"<table class="grid"><thead><tr><th>Experiment</th><th class="num">Cells</th><th class="num">Done</th><th class="num">Failed</th><th class="num">Stale</th><th class="num">Missing</th><th>Last run</th><th class="num">Wall</th><th>Report</th><th>Manifest</th></tr></thead><tbody>"#);
            for l in &list {
                body.push_str(&experiments_row(l, st.results_root()));
            }
            body.push_str("</tbody></table>");
            body.push_str(r#"<p class="note">Done, stale and missing come from planning the manifest as <code>flowlab status</code> does; without a manifest the counts are of stored cells.</p>"#);
        }
        Html(page("Experiments", &[("Experiments".into(), String::new())], &body, token.as_deref())).into_response()
    })
    .await
}

// ---------------------------------------------------------------- experiment

/// The query string of `q` with some fields replaced (for sort, page links).
fn qs(q: &Query, sort: Option<(&str, &str)>, page: Option<usize>) -> String {
    let (s, d) = sort.unwrap_or((&q.sort, &q.dir));
    let mut v = Vec::new();
    for (k, x) in [("q", q.q.as_str()), ("status", q.status.as_str()), ("sort", s), ("dir", d)] {
        if !x.is_empty() {
            v.push(format!("{k}={}", enc(x)));
        }
    }
    if q.per.is_some() {
        v.push(format!("per={}", q.per()));
    }
    if let Some(p) = page.or(q.page).filter(|p| *p > 1) {
        v.push(format!("page={p}"));
    }
    if v.is_empty() { String::new() } else { format!("?{}", v.join("&")) }
}

/// A sweep key's setting without its task (`ga.rate` → `rate`).
fn short_key(k: &str) -> &str {
    k.split_once('.').map(|(_, s)| s).unwrap_or(k)
}

/// A column's header: a sweep key by its setting alone, unless another sweep column has the
/// same setting (two tasks sweeping `rate`), then in full (`ga.rate`, `better.rate`).
fn col_title(c: &Col, cols: &[Col]) -> String {
    match c {
        Col::Id => "Cell".into(),
        Col::Task => "Task".into(),
        Col::Dataset => "Dataset".into(),
        Col::Point(k) => {
            let short = short_key(k);
            let clash = cols.iter().any(|o| matches!(o, Col::Point(j) if j != k && short_key(j) == short));
            if clash { k.clone() } else { short.to_string() }
        }
        Col::Rep => "Rep".into(),
        Col::Status => "Status".into(),
        Col::Termination => "Termination".into(),
        Col::Iterations => "Iter.".into(),
        Col::Wall => "Wall s".into(),
        Col::Metric(k) => k.clone(),
    }
}

fn numeric(c: &Col) -> bool {
    matches!(c, Col::Rep | Col::Iterations | Col::Wall | Col::Metric(_) | Col::Point(_))
}

/// The cell table with its pager (what `/e/{exp}/rows` returns for live refreshes).
/// `partial = Some(n)`: `ix` holds only the rows of this page, of `n` cells in all.
fn table(exp: &str, ix: &Index, q: &Query, partial: Option<usize>) -> String {
    let cols = index::columns(ix, MAX_METRIC_COLUMNS);
    let (rows, n) = match partial {
        Some(n) => ((0..ix.rows.len()).collect(), n),
        None => index::select(ix, q),
    };
    let base = exp_href(exp);
    let mut t =
        format!(r#"<div id="cells" data-total="{n}"><div class="scroll"><table class="grid cells"><thead><tr><th class="sel"><input type="checkbox" id="selall" title="select this page"></th>"#);
    for c in &cols {
        let key = c.key();
        let (dir, arrow) = if q.sort == key || (q.sort.is_empty() && *c == Col::Id) { if q.dir == "desc" { ("asc", " ▼") } else { ("desc", " ▲") } } else { ("asc", "") };
        let kind = match c {
            Col::Point(_) => " point",
            Col::Metric(_) => " metric",
            _ => "",
        };
        let _ = write!(
            t,
            r#"<th class="{}{kind}"{}><a href="{base}{}" data-sort="{}">{}{arrow}</a></th>"#,
            if numeric(c) { "num" } else { "" },
            match c {
                Col::Point(k) => format!(r#" title="sweep: {}""#, esc(k)),
                _ => String::new(),
            },
            esc(&qs(q, Some((&key, dir)), Some(1))),
            esc(&key),
            esc(&col_title(c, &cols))
        );
    }
    t.push_str("</tr></thead><tbody>");
    for &i in &rows {
        let r = &ix.rows[i];
        let _ = write!(
            t,
            r#"<tr data-id="{id}" class="{cls}"><td class="sel"><input type="checkbox" class="pick" value="{id}"></td>"#,
            id = esc(&r.id),
            cls = if &*r.status == "ok" { "" } else { "failed" }
        );
        for c in &cols {
            let v = c.value(ix, r);
            match c {
                Col::Id => {
                    let _ = write!(t, r#"<td class="mono"><a href="{}">{}</a></td>"#, cell_href(exp, &r.id), esc(&r.id[..r.id.len().min(12)]));
                }
                Col::Status => {
                    let err =
                        if r.error.is_empty() { String::new() } else { format!(r#"<div class="err small" title="{}">{}</div>"#, esc(&r.error), esc(&r.error.chars().take(80).collect::<String>())) };
                    let _ = write!(t, "<td>{}{err}</td>", badge(&r.status));
                }
                // a run time to a tenth of a millisecond (the record keeps every digit)
                Col::Wall => {
                    let shown = match v {
                        index::Scalar::Num(x) => format!("{x:.4}"),
                        other => other.show(),
                    };
                    let _ = write!(t, r#"<td class="num">{}</td>"#, esc(&shown));
                }
                _ => {
                    let _ = write!(t, r#"<td class="{}">{}</td>"#, if numeric(c) { "num" } else { "" }, esc(&v.show()));
                }
            }
        }
        t.push_str("</tr>");
    }
    if rows.is_empty() {
        let _ = write!(t, r#"<tr><td colspan="{}" class="empty">No cells match.</td></tr>"#, cols.len() + 1);
    }
    t.push_str("</tbody></table></div>");
    // pager
    let per = q.per();
    let pages = n.div_ceil(per).max(1);
    let cur = q.page.unwrap_or(1).clamp(1, pages);
    let from = if n == 0 { 0 } else { (cur - 1) * per + 1 };
    let _ = write!(t, r#"<nav class="pager"><span>{from}–{} of {n} cells</span>"#, (cur * per).min(n));
    let link = |p: usize, label: &str, on: bool| if on { format!(r#"<a href="{base}{}">{label}</a>"#, esc(&qs(q, None, Some(p)))) } else { format!(r#"<span class="off">{label}</span>"#) };
    t.push_str(&link(1, "« first", cur > 1));
    t.push_str(&link(cur.saturating_sub(1).max(1), "‹ prev", cur > 1));
    let _ = write!(t, "<span>page {cur} of {pages}</span>");
    t.push_str(&link((cur + 1).min(pages), "next ›", cur < pages));
    t.push_str(&link(pages, "last »", cur < pages));
    t.push_str("</nav></div>");
    t
}

/// `GET /e/{exp}`: summary, live panel, filters, the cell table.
pub async fn experiment(State(st): State<ServeState>, UrlPath(exp): UrlPath<String>, UrlQuery(q): UrlQuery<Query>, Extension(a): Extension<Authed>) -> Response {
    blocking(move || {
        let token = token_for(&st, a);
        let dir = experiments::dir_of(&st, &exp);
        let manifest = experiments::manifest_of(&st, &exp);
        if dir.is_none() && manifest.is_none() {
            return not_found(&format!("No experiment `{exp}` under {}.", st.results_root().display()), token.as_deref());
        }
        let mut body = format!(r#"<div class="head"><h1>{}</h1>"#, esc(&exp));
        if let (Some(m), Some(_)) = (&manifest, &token) {
            let _ = write!(
                body,
                r#"<button class="action" data-post="{}/run" data-result="runmsg" title="flowlab run {}">Run</button><span id="runmsg" class="small"></span>"#,
                exp_href(&exp),
                esc(&m.display().to_string())
            );
        }
        body.push_str("</div>");
        let _ = write!(
            body,
            r#"<p class="sub">{}{}</p>"#,
            manifest.as_ref().map(|m| format!(r#"manifest <span class="mono">{}</span>"#, esc(&m.display().to_string()))).unwrap_or_default(),
            dir.as_ref().map(|d| format!(r#" · results <span class="mono">{}</span>"#, esc(&d.display().to_string()))).unwrap_or_default()
        );
        let Some(dir) = dir else {
            body.push_str(r#"<p class="empty">Not run yet.</p>"#);
            return Html(page(&exp, &[("Experiments".into(), "/".into()), (exp.clone(), String::new())], &body, token.as_deref())).into_response();
        };
        // a large experiment whose index is still being built: the first pages in id order
        // are read directly (a few files), the counts follow by live update
        let default_order = q.q.is_empty() && q.status.is_empty() && (q.sort.is_empty() || q.sort == "id") && q.dir != "desc";
        let html = if default_order && !st.index().ready(&dir) {
            let per = q.per();
            let (ix, n) = index::first_rows(&dir, (q.page.unwrap_or(1).max(1) - 1) * per, per);
            let (s2, d2) = (st.clone(), dir.clone());
            std::thread::spawn(move || s2.index().with(&d2, |_| ()));
            experiment_body(&st, &exp, &dir, &q, &ix, Some(n))
        } else {
            st.index().with(&dir, |ix| experiment_body(&st, &exp, &dir, &q, ix, None))
        };
        body.push_str(&html);
        Html(page(&exp, &[("Experiments".into(), "/".into()), (exp.clone(), String::new())], &body, token.as_deref())).into_response()
    })
    .await
}

/// The experiment page below its title: counts, live panel, filters, table, compare bar.
fn experiment_body(st: &ServeState, exp: &str, dir: &Path, q: &Query, ix: &Index, partial: Option<usize>) -> String {
    let (ok, failed) = ix.counts();
    let (cells, ok, failed) = match partial {
        Some(n) => (n.to_string(), "…".to_string(), "…".to_string()),
        None => (ix.rows.len().to_string(), ok.to_string(), failed.to_string()),
    };
    let mut h = String::from(r#"<div class="chips">"#);
    let _ = write!(
        h,
        r#"<span class="chip"><b id="n-cells">{cells}</b> cells</span><span class="chip ok"><b id="n-ok">{ok}</b> ok</span><span class="chip bad"><b id="n-failed">{failed}</b> failed</span>"#
    );
    if !ix.corrupt.is_empty() {
        let _ = write!(h, r#"<span class="chip warn" title="{}"><b>{}</b> unreadable files</span>"#, esc(&ix.corrupt.join("\n")), ix.corrupt.len());
    }
    if partial.is_none() {
        let _ = write!(
            h,
            r#"<span class="chip">last run {}</span><span class="chip">wall {} s</span>"#,
            ix.last_run.map(local_minute).unwrap_or_else(|| "–".into()),
            table_num((ix.wall_s() * 100.0).round() / 100.0)
        );
    }
    for rel in experiments::reports(st.results_root(), dir) {
        let _ = write!(h, r#"<a class="chip link" href="{}">{}</a>"#, file_href(&rel), esc(Path::new(&rel).file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default().as_str()));
    }
    h.push_str("</div>");
    // live panel: filled by the script from /events while a run works
    let _ = write!(
        h,
        r#"<section id="live" class="live" data-events="{}/events" data-rows="{}/rows{}" hidden><div class="liveh"><span class="dot"></span><b>Running</b> <span id="live-text"></span></div><progress id="live-bar" max="1" value="0"></progress><ul id="live-cells" class="small mono"></ul></section>"#,
        exp_href(exp),
        exp_href(exp),
        esc(&qs(q, None, None))
    );
    // filters
    let _ = write!(
        h,
        r#"<form class="filters" method="get" action="{}"><input type="search" name="q" value="{}" placeholder="filter: words or key=value (e.g. value=3 failed)" aria-label="filter"><select name="status" aria-label="status"><option value="">all statuses</option>"#,
        exp_href(exp),
        esc(&q.q)
    );
    for s in ["ok", "failed"] {
        let _ = write!(h, r#"<option value="{s}"{}>{s}</option>"#, if q.status == s { " selected" } else { "" });
    }
    h.push_str(r#"</select><select name="per" aria-label="rows per page">"#);
    for p in [25, 50, 100, 250, 500] {
        let _ = write!(h, r#"<option value="{p}"{}>{p} per page</option>"#, if q.per() == p { " selected" } else { "" });
    }
    let _ = write!(h, r#"</select><input type="hidden" name="sort" value="{}"><input type="hidden" name="dir" value="{}"><button type="submit">Filter</button></form>"#, esc(&q.sort), esc(&q.dir));
    h.push_str(&table(exp, ix, q, partial));
    // compare bar
    let _ = write!(h, r#"<div class="comparebar"><button id="compare" data-base="{}/compare" disabled>Compare selected</button>"#, exp_href(exp));
    let axes = ix.point_keys.sorted();
    if !axes.is_empty() {
        h.push_str(r#"<span class="small">or along a sweep axis (cells matching the filter):</span>"#);
        for (_, k) in axes {
            let _ = write!(h, r#"<a class="chip link" href="{}/compare?axis={}&amp;q={}&amp;status={}">{}</a>"#, exp_href(exp), enc(k), enc(&q.q), enc(&q.status), esc(k));
        }
    }
    h.push_str("</div>");
    h
}

/// `GET /e/{exp}/rows`: the table alone (live refresh keeps sort, filter and page).
pub async fn rows(State(st): State<ServeState>, UrlPath(exp): UrlPath<String>, UrlQuery(q): UrlQuery<Query>) -> Response {
    blocking(move || match experiments::dir_of(&st, &exp) {
        Some(dir) => Html(st.index().with(&dir, |ix| table(&exp, ix, &q, None))).into_response(),
        None => (StatusCode::NOT_FOUND, "no such experiment\n").into_response(),
    })
    .await
}

// ---------------------------------------------------------------- cell

/// Whether `id` can be a cell id (hex and letters, no path characters).
pub fn valid_id(id: &str) -> bool {
    !id.is_empty() && id.len() <= 128 && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

/// The cell file of `exp`/`id`, when both are valid and it exists.
pub fn cell_file(st: &ServeState, exp: &str, id: &str) -> Option<std::path::PathBuf> {
    let p = experiments::dir_of(st, exp)?.join(format!("{id}.json"));
    (valid_id(id) && p.is_file()).then_some(p)
}

/// The cell `id` names in `exp`, as its full id and file: `id` itself, or the one cell it is
/// a prefix of (the 12 characters the tables and `flowlab ls` show); else why not (`no cell
/// …`). The cell page and replay both take a cell this way.
pub(super) fn resolve_cell(st: &ServeState, exp: &str, id: &str) -> Result<(String, std::path::PathBuf), String> {
    if let Some(p) = cell_file(st, exp, id) {
        return Ok((id.to_string(), p));
    }
    let ids = cells_with_prefix(st, exp, id);
    match ids.as_slice() {
        [one] => cell_file(st, exp, one).map(|p| (one.clone(), p)).ok_or_else(|| format!("no cell `{id}` in experiment `{exp}`")),
        [] => Err(format!("no cell `{id}` in experiment `{exp}`")),
        more => Err(format!("no cell `{id}` in experiment `{exp}`: {} cells start with `{id}`; give more characters", more.len())),
    }
}

/// The ids of `exp`'s cells that start with `prefix` (at least 4 characters; none when the
/// prefix or the experiment is not valid).
fn cells_with_prefix(st: &ServeState, exp: &str, prefix: &str) -> Vec<String> {
    let Some(dir) = experiments::dir_of(st, exp).filter(|_| valid_id(prefix) && prefix.len() >= 4) else { return vec![] };
    let files = crate::browse::cells_in(&dir, prefix).unwrap_or_default();
    files.iter().filter_map(|f| f.file_stem()?.to_str().filter(|id| valid_id(id)).map(str::to_string)).collect()
}

fn flat_rows(v: &Value) -> Vec<(String, String)> {
    flatten(v).into_iter().filter(|(k, _)| !k.is_empty()).map(|(k, x)| (k, esc(&show_value(&x)))).collect()
}

/// A value for a narrow table cell: an array of more than four values as its length and
/// range (`28 values, −18900.3 … −18826.6`; every value is in the raw record), else
/// [`show_value`].
fn compact_value(v: &Value) -> String {
    match v.as_array() {
        Some(a) if a.len() <= 4 && a.iter().all(Value::is_number) => format!("[{}]", a.iter().map(show_value).collect::<Vec<_>>().join(", ")),
        Some(a) if a.len() > 4 => {
            let nums: Vec<f64> = a.iter().filter_map(Value::as_f64).collect();
            if nums.len() == a.len() {
                let (lo, hi) = nums.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(l, h), &x| (l.min(x), h.max(x)));
                format!("{} values, {} … {}", a.len(), show_value(&serde_json::json!(lo)), show_value(&serde_json::json!(hi)))
            } else {
                format!("{} values", a.len())
            }
        }
        _ => show_value(v),
    }
}

/// Most candidates shown as columns of [`candidates_table`].
const MAX_CANDIDATE_COLUMNS: usize = 12;

/// A response's `candidates` side by side: one column per candidate (headed by its `model`
/// or `name`, else its index), one row per flattened key any of them has.
fn candidates_table(cands: &[Value], selected: Option<usize>) -> String {
    if cands.is_empty() {
        return r#"<p class="muted">(none)</p>"#.into();
    }
    let flat: Vec<_> = cands.iter().take(MAX_CANDIDATE_COLUMNS).map(crate::browse::flatten).collect();
    let mut keys: Vec<&String> = flat.iter().flat_map(|f| f.keys()).filter(|k| !k.is_empty()).collect();
    keys.sort();
    keys.dedup();
    let mut t = String::from(r#"<div class="scroll"><table class="grid kv"><thead><tr><th></th>"#);
    for (i, f) in flat.iter().enumerate() {
        let head = f.get("model").or_else(|| f.get("name")).map(show_value).unwrap_or_else(|| i.to_string());
        let mark = if selected == Some(i) { r#" <span class="chip ok">selected</span>"# } else { "" };
        let _ = write!(t, "<th>{}{mark}</th>", esc(&head));
    }
    t.push_str("</tr></thead><tbody>");
    for k in keys {
        let _ = write!(t, "<tr><th>{}</th>", esc(k));
        for f in &flat {
            let _ = write!(t, "<td>{}</td>", f.get(k).map(|v| esc(&compact_value(v))).unwrap_or_default());
        }
        t.push_str("</tr>");
    }
    t.push_str("</tbody></table></div>");
    if cands.len() > MAX_CANDIDATE_COLUMNS {
        let _ = write!(t, r#"<p class="muted">the first {MAX_CANDIDATE_COLUMNS} of {} candidates (all in the raw record)</p>"#, cands.len());
    }
    t
}

/// The axes of `data.<key>`'s chart and the shift of its x values: an objective trace
/// (`trace`) against iterate + 1 on a log axis (most change happens in the first iterates;
/// iterate 0 is the start), any other array against its index.
fn series_axes(key: &str) -> (Axes, f64) {
    if key == "trace" { (Axes { xlabel: "iterate + 1 (log)".into(), xlog: true, ..Default::default() }, 1.0) } else { (Axes { xlabel: "index".into(), ..Default::default() }, 0.0) }
}

/// `pts` with every x moved by `dx`.
fn shifted(pts: &[(f64, f64)], dx: f64) -> Vec<(f64, f64)> {
    pts.iter().map(|&(x, y)| (x + dx, y)).collect()
}

/// A figure of a page: the image, linked to the file at full size, and its caption.
fn figure(href: &str, caption: &str) -> String {
    format!(r#"<figure class="fig"><a href="{href}" title="open at full size"><img src="{href}" alt="{0}" loading="lazy"></a><figcaption>{0}</figcaption></figure>"#, esc(caption))
}

/// The `data` section of a response: a chart per numeric series, and the other top-level
/// values that read on one line (not tables, at most 200 characters) as a table; everything
/// is in the raw record.
fn data_charts(rec: &Value) -> String {
    let (mut charts, mut rows) = (String::new(), Vec::new());
    if let Some(m) = rec["response"]["data"].as_object() {
        for (k, v) in m {
            if let Some(pts) = series_of(v) {
                let (ax, dx) = series_axes(k);
                charts.push_str(&overlay_axes(
                    &format!("data.{k}"),
                    &ax,
                    &[Series { label: stored_value(&rec["cell_id"]).chars().take(12).collect(), points: shifted(&pts, dx), color: 0, dots: false }],
                ));
            } else if let Some((x, fields)) = record_series(v) {
                let series: Vec<Series> = fields.into_iter().enumerate().map(|(i, (name, points))| Series { label: name, points, color: i, dots: false }).collect();
                charts.push_str(&overlay(&format!("data.{k}"), x, &series));
            } else if !v.is_null() && !v.is_object() {
                let text = compact_value(v);
                if text.chars().count() <= 200 {
                    rows.push((k.clone(), esc(&text)));
                }
            }
        }
    }
    let mut out = String::new();
    if !rows.is_empty() {
        out.push_str(&kv_table(&rows));
    }
    if !charts.is_empty() {
        let _ = write!(out, r#"<div class="figs">{charts}</div>"#);
    }
    out
}

/// The artifacts of a record: figures inline, other files as links.
fn artifacts(exp: &str, rec: &Value) -> String {
    let id = stored_value(&rec["cell_id"]);
    let arts = rec["response"]["artifacts"].as_array().cloned().unwrap_or_default();
    if arts.is_empty() {
        return r#"<p class="muted">(none)</p>"#.into();
    }
    let mut figs = String::new();
    let mut list = String::from(r#"<table class="grid"><thead><tr><th>Name</th><th>Kind</th><th>File</th></tr></thead><tbody>"#);
    for a in &arts {
        let path = a["path"].as_str().unwrap_or("");
        let rel = format!("{exp}/artifacts/{id}/{path}");
        let _ = write!(list, r#"<tr><td>{}</td><td>{}</td><td><a class="mono" href="{}">{}</a></td></tr>"#, esc(&stored_value(&a["name"])), esc(&stored_value(&a["kind"])), file_href(&rel), esc(path));
    }
    // each figure once, in its best format, linked to the file at full size
    for path in super::files::figures(arts.iter().filter_map(|a| a["path"].as_str())) {
        figs.push_str(&figure(&file_href(&format!("{exp}/artifacts/{id}/{path}")), path));
    }
    list.push_str("</tbody></table>");
    if figs.is_empty() { list } else { format!(r#"<div class="figs">{figs}</div>{list}"#) }
}

/// `GET /e/{exp}/c/{cell}`: the whole record, artifacts, and the replay action.
pub async fn cell(State(st): State<ServeState>, UrlPath((exp, id)): UrlPath<(String, String)>, Extension(a): Extension<Authed>) -> Response {
    blocking(move || {
        let token = token_for(&st, a);
        let path = match resolve_cell(&st, &exp, &id) {
            Ok((full, path)) if full == id => path,
            // a prefix of one cell: there
            Ok((full, _)) => return axum::response::Redirect::to(&cell_href(&exp, &full)).into_response(),
            Err(why) => return not_found(&format!("{}.", why.replacen("no cell", "No cell", 1)), token.as_deref()),
        };
        let c = match read_cell(&path) {
            Ok(c) => c,
            Err(e) => {
                return (StatusCode::INTERNAL_SERVER_ERROR, Html(page("Unreadable cell", &[], &format!(r#"<h1>Unreadable cell</h1><p class="err">{}</p>"#, esc(&e)), token.as_deref())))
                    .into_response();
            }
        };
        let r = &c.record;
        let s = |k: &str| stored_value(&r[k]);
        let status = s("status");
        let mut b = format!(r#"<div class="head"><h1 class="mono">{}</h1>{}"#, esc(&id), badge(&status));
        if token.is_some() {
            let _ =
                write!(b, r#"<button class="action" data-post="{}/replay" data-result="verdict" title="flowlab replay: rerun the cell and compare the bytes">Replay</button>"#, cell_href(&exp, &id));
        }
        let _ = write!(b, r#"<a class="chip link" href="{}">raw record</a></div><div id="verdict" class="verdict" hidden></div>"#, file_href(&format!("{exp}/{id}.json")));
        let resp = &r["response"];
        let ident = vec![
            ("task".into(), esc(&format!("{} ({})", s("task"), s("kind")))),
            ("plugin".into(), esc(&format!("{} / {}", s("plugin"), s("capability")))),
            ("dataset".into(), esc(&crate::browse::dataset_id(r))),
            ("replicate".into(), esc(&s("replicate"))),
            ("seed".into(), format!(r#"<span class="mono">{}</span>"#, esc(&s("seed")))),
            ("iterations".into(), esc(&stored_value(&resp["iterations"]))),
            ("termination".into(), esc(&index::termination(&resp["termination"]))),
            ("wall".into(), format!("{} s", esc(&show_value(&r["timing"]["wall_s"])))),
        ];
        let _ = write!(b, r#"<div class="cols"><section><h2>Cell</h2>{}</section>"#, kv_table(&ident));
        let _ = write!(b, r#"<section><h2>Sweep point</h2>{}<h2>Metrics</h2>{}</section></div>"#, kv_table(&flat_rows(&r["point"])), kv_table(&flat_rows(&resp["metrics"])));
        if status != "ok" {
            let err = if r["error"].is_object() {
                format!(
                    "[{}] {}{}",
                    stored_value(&r["error"]["kind"]),
                    stored_value(&r["error"]["message"]),
                    r["error"]["path"].as_str().filter(|p| !p.is_empty()).map(|p| format!(" (at {p})")).unwrap_or_default()
                )
            } else {
                s("error")
            };
            let tail: Vec<String> = r["log_tail"].as_array().into_iter().flatten().map(stored_value).collect();
            let _ = write!(
                b,
                r#"<section class="errbox"><h2>Error</h2><p class="err">{}</p><h3>Log tail</h3><pre class="log">{}</pre></section>"#,
                esc(&err),
                if tail.is_empty() { "(empty)".into() } else { esc(&tail.join("\n")) }
            );
        }
        // what the plugin selected and the candidates it compared (endhost's P / EP / EEP
        // with θ̂, SEs and BIC; histfit's mixture; a sampler's sample), side by side
        let cands = resp["candidates"].as_array().map(Vec::as_slice).unwrap_or_default();
        if !resp["model"].is_null() || !cands.is_empty() {
            // a model that names one of the candidates (`model.candidate`) marks its column
            // instead of repeating it
            let selected = cands.iter().position(|c| *c == resp["model"]["candidate"]);
            let repeated = |k: &str| selected.is_some() && k.starts_with("candidate.");
            let rows: Vec<(String, String)> = crate::browse::flatten(&resp["model"]).into_iter().filter(|(k, _)| !k.is_empty() && !repeated(k)).map(|(k, v)| (k, esc(&compact_value(&v)))).collect();
            if cands.is_empty() {
                let _ = write!(b, "<section><h2>Model</h2>{}</section>", kv_table(&rows));
            } else {
                let _ = write!(b, r#"<div class="cols"><section><h2>Model</h2>{}</section>"#, kv_table(&rows));
                let _ = write!(b, "<section><h2>Candidates</h2>{}</section></div>", candidates_table(cands, selected));
            }
        }
        let _ = write!(b, "<section><h2>Artifacts</h2>{}</section>", artifacts(&exp, r));
        let data = data_charts(r);
        if !data.is_empty() {
            let _ = write!(b, r#"<section><h2>Data</h2>{data}</section>"#);
        }
        let _ = write!(
            b,
            r#"<div class="cols"><section><h2>Settings</h2>{}</section><section><h2>Provenance</h2>{}</section></div>"#,
            kv_table(&flat_rows(&r["settings"])),
            kv_table(&flat_rows(&r["provenance"]))
        );
        Html(page(&id, &[("Experiments".into(), "/".into()), (exp.clone(), exp_href(&exp)), (id.chars().take(12).collect(), String::new())], &b, token.as_deref())).into_response()
    })
    .await
}

// ---------------------------------------------------------------- compare

/// `?cells=a,b,c` or `?axis=<sweep key>` (with the table's filter).
#[derive(Debug, Default, serde::Deserialize)]
pub struct CompareQuery {
    /// Cell ids, comma-separated.
    #[serde(default)]
    pub cells: String,
    /// A sweep key: one cell per value of it among the cells matching `q` and `status`.
    #[serde(default)]
    pub axis: String,
    /// The table's filter.
    #[serde(default)]
    pub q: String,
    /// The table's status filter.
    #[serde(default)]
    pub status: String,
}

/// The ids a comparison shows: the given ones, or one per value of the axis (the first by
/// id among those matching the filter), in the axis' order.
/// What cells compared along an axis share: task, dataset, replicate and the other swept
/// settings (by key index, sorted).
type Group = (Arc<str>, Arc<str>, u64, Vec<(u32, index::Scalar)>);

/// The ids shown (at most [`MAX_COMPARE`]) and how many were asked for (cells given, or
/// values of the axis), so that the page can say what it left out.
fn compare_ids(ix: &Index, cq: &CompareQuery) -> (Vec<String>, usize) {
    if cq.axis.is_empty() {
        let given: Vec<String> = cq.cells.split(',').map(str::trim).filter(|s| valid_id(s)).map(str::to_string).collect();
        let n = given.len();
        return (given.into_iter().take(MAX_COMPARE).collect(), n);
    }
    let q = Query { q: cq.q.clone(), status: cq.status.clone(), sort: format!("p:{}", cq.axis), ..Default::default() };
    let all = index::filtered(ix, &q);
    let col = Col::Point(cq.axis.clone());
    // ceteris paribus: only cells that agree with the first one on everything but the axis
    // (task, dataset, replicate, every other swept setting), so a column differs by the axis
    // value alone
    let axis = ix.point_keys.get(&cq.axis);
    let rest = |r: &index::Row| -> Group {
        let mut p: Vec<_> = r.point.iter().filter(|(k, _)| Some(*k) != axis).cloned().collect();
        p.sort_by_key(|(k, _)| *k);
        (r.task.clone(), r.dataset.clone(), r.replicate, p)
    };
    let mut reference = None;
    let mut seen: Vec<index::Scalar> = Vec::new();
    let mut ids = Vec::new();
    for i in all {
        let v = col.value(ix, &ix.rows[i]);
        if v == index::Scalar::None {
            continue;
        }
        let here = rest(&ix.rows[i]);
        if *reference.get_or_insert_with(|| here.clone()) != here {
            continue;
        }
        if !seen.contains(&v) {
            seen.push(v);
            if ids.len() < MAX_COMPARE {
                ids.push(ix.rows[i].id.to_string());
            }
        }
    }
    (ids, seen.len())
}

/// A section of the comparison: its title and what it takes from a record.
type Section = (&'static str, fn(&Value) -> Value);

/// `GET /e/{exp}/compare`: settings and metrics side by side (differing rows marked),
/// overlaid charts of the cells' numeric data, figures side by side.
pub async fn compare(State(st): State<ServeState>, UrlPath(exp): UrlPath<String>, UrlQuery(cq): UrlQuery<CompareQuery>, Extension(a): Extension<Authed>) -> Response {
    blocking(move || {
        let token = token_for(&st, a);
        let Some(dir) = experiments::dir_of(&st, &exp) else { return not_found(&format!("No experiment `{exp}`."), token.as_deref()) };
        let (ids, asked) = st.index().with(&dir, |ix| compare_ids(ix, &cq));
        let cells: Vec<crate::browse::Cell> = ids.iter().filter_map(|id| cell_file(&st, &exp, id)).filter_map(|p| read_cell(&p).ok()).collect();
        let crumbs = [("Experiments".into(), "/".into()), (exp.clone(), exp_href(&exp)), ("compare".into(), String::new())];
        let title = if cq.axis.is_empty() { "Compare cells".to_string() } else { format!("Compare along {}", cq.axis) };
        let mut b = format!("<h1>{}</h1>", esc(&title));
        if let Some(c) = cells.first().filter(|_| !cq.axis.is_empty()) {
            let r = &c.record;
            let mut held: Vec<String> = vec![format!("task {}", stored_value(&r["task"])), format!("dataset {}", crate::browse::dataset_id(r)), format!("replicate {}", stored_value(&r["replicate"]))];
            held.extend(crate::browse::flatten(&r["point"]).into_iter().filter(|(k, _)| !k.is_empty() && *k != cq.axis).map(|(k, v)| format!("{k} = {}", show_value(&v))));
            let _ = write!(b, r#"<p class="muted">Held fixed (as in the first matching cell): {}. The filter picks another group.</p>"#, esc(&held.join(", ")));
        }
        if asked > ids.len() {
            let what = if cq.axis.is_empty() { "selected cells" } else { "values of the axis" };
            let _ = write!(b, r#"<p class="note">Showing the first {} of {asked} {what}: at most {MAX_COMPARE} are compared side by side. Narrow the selection or the filter to see the others.</p>"#, ids.len());
        }
        if cells.len() < 2 {
            b.push_str(r#"<p class="empty">Pick at least two cells on the experiment page (the checkboxes), or a sweep axis with at least two values among the filtered cells.</p>"#);
            return Html(page(&title, &crumbs, &b, token.as_deref())).into_response();
        }
        let label = |c: &crate::browse::Cell| -> String {
            let r = &c.record;
            let pt = r["point"].as_object().map(crate::exec::point_words).unwrap_or_default();
            format!("{} · rep {}{}", stored_value(&r["cell_id"]).chars().take(8).collect::<String>(), stored_value(&r["replicate"]), if pt.is_empty() { String::new() } else { format!(" · {pt}") })
        };
        // the table: sections flattened, one column per cell
        let _ = write!(b, r#"<label class="small"><input type="checkbox" id="onlydiff"> only rows that differ</label><div class="scroll"><table class="grid compare" id="cmp"><thead><tr><th></th>"#);
        for (i, c) in cells.iter().enumerate() {
            let _ = write!(b, r#"<th><span class="swatch" data-c="{}"></span><a class="mono" href="{}">{}</a></th>"#, i % super::chart::PALETTE.len(), cell_href(&exp, &stored_value(&c.record["cell_id"])), esc(&label(c)));
        }
        b.push_str("</tr></thead><tbody>");
        let sections: [Section; 4] = [
            ("cell", |r| serde_json::json!({"task": r["task"], "dataset": crate::browse::dataset_id(r), "replicate": r["replicate"], "status": r["status"], "iterations": r["response"]["iterations"], "termination": index::termination(&r["response"]["termination"]), "wall_s": r["timing"]["wall_s"]})),
            ("sweep point", |r| r["point"].clone()),
            ("metrics", |r| r["response"]["metrics"].clone()),
            ("settings", |r| r["settings"].clone()),
        ];
        let mut ndiff = 0;
        for (title, get) in sections {
            let flat: Vec<std::collections::BTreeMap<String, Value>> = cells.iter().map(|c| flatten(&get(&c.record))).collect();
            let keys: std::collections::BTreeSet<&String> = flat.iter().flat_map(|m| m.keys()).filter(|k| !k.is_empty()).collect();
            if keys.is_empty() {
                continue;
            }
            let _ = write!(b, r#"<tr class="section"><th colspan="{}">{}</th></tr>"#, cells.len() + 1, esc(title));
            for k in keys {
                let vals: Vec<Option<&Value>> = flat.iter().map(|m| m.get(k)).collect();
                // wall time always differs; it is shown, not marked
                let differ = k != "wall_s" && vals.windows(2).any(|w| w[0] != w[1]);
                if differ {
                    ndiff += 1;
                }
                let nums: Vec<f64> = vals.iter().filter_map(|v| v.and_then(Value::as_f64)).collect();
                let (lo, hi) = nums.iter().fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), x| (a.min(*x), b.max(*x)));
                let _ = write!(b, r#"<tr class="{}"><th class="mono small">{}</th>"#, if differ { "differs" } else { "same" }, esc(k));
                for v in &vals {
                    let x = v.and_then(Value::as_f64);
                    let mark = if differ && nums.len() > 1 && lo < hi { if x == Some(lo) { " lo" } else if x == Some(hi) { " hi" } else { "" } } else { "" };
                    let _ = write!(b, r#"<td class="{}{mark}">{}</td>"#, if x.is_some() { "num" } else { "" }, v.map(|v| esc(&show_value(v))).unwrap_or_else(|| r#"<span class="muted">(absent)</span>"#.into()));
                }
                b.push_str("</tr>");
            }
        }
        b.push_str("</tbody></table></div>");
        let _ = write!(b, r#"<p class="note">{ndiff} rows differ (marked); among numbers the lowest is <span class="lo">underlined blue</span>, the highest <span class="hi">underlined red</span>.</p>"#);
        // overlaid charts: each numeric array of `response.data` that any cell has
        let keys: std::collections::BTreeSet<String> = cells.iter().flat_map(|c| c.record["response"]["data"].as_object().map(|m| m.iter().filter(|(_, v)| series_of(v).is_some()).map(|(k, _)| k.clone()).collect::<Vec<_>>()).unwrap_or_default()).collect();
        if !keys.is_empty() {
            b.push_str(r#"<h2>Overlaid data</h2><div class="figs">"#);
            for k in keys {
                let series: Vec<Series> = cells.iter().enumerate().filter_map(|(i, c)| series_of(&c.record["response"]["data"][&k]).map(|p| Series { label: label(c), points: p, color: i, dots: false })).collect();
                let (ax, dx) = series_axes(&k);
                let shown: Vec<Series> = series.iter().map(|se| Series { label: se.label.clone(), points: shifted(&se.points, dx), color: se.color, dots: false }).collect();
                b.push_str(&overlay_axes(&format!("data.{k}"), &ax, &shown));
                // an objective trace also against time: a fitter benchmark compares fitters
                // per second, not per iteration (iterates spread evenly over the cell's wall
                // time, as the fit-benchmark report does)
                if k == "trace" {
                    let timed: Vec<Series> = series.iter().filter_map(|se| {
                        let wall = cells[se.color].record["timing"]["wall_s"].as_f64().filter(|w| *w > 0.0)?;
                        let per = wall / se.points.len() as f64;
                        Some(Series { label: se.label.clone(), points: se.points.iter().enumerate().map(|(j, p)| ((j + 1) as f64 * per, p.1)).collect(), color: se.color, dots: false })
                    }).collect();
                    if !timed.is_empty() {
                        let ax = Axes { xlabel: "time [s] (the cell's wall time spread evenly over its iterates; log)".into(), xlog: true, ..Default::default() };
                        b.push_str(&overlay_axes("data.trace against time", &ax, &timed));
                    }
                }
            }
            b.push_str("</div>");
        }
        // arrays of records (an lstm cell's loss per epoch): one chart per field, a line per cell
        let mut per_field: std::collections::BTreeMap<(String, String), (&str, Vec<Series>)> = Default::default();
        for (i, c) in cells.iter().enumerate() {
            for (k, v) in c.record["response"]["data"].as_object().into_iter().flatten() {
                if let Some((x, fields)) = record_series(v) {
                    for (f, points) in fields {
                        per_field.entry((k.clone(), f)).or_insert_with(|| (x, Vec::new())).1.push(Series { label: label(c), points, color: i, dots: false });
                    }
                }
            }
        }
        if !per_field.is_empty() {
            b.push_str(r#"<h2>Overlaid records</h2><div class="figs">"#);
            for ((k, f), (x, series)) in per_field {
                b.push_str(&overlay(&format!("data.{k}: {f}"), x, &series));
            }
            b.push_str("</div>");
        }
        b.push_str(&super::fits::section(&dir, st.data_root(), &cells, &label));
        // figures side by side, by artifact name
        let mut figs: std::collections::BTreeMap<String, Vec<(String, String)>> = Default::default();
        for c in &cells {
            let id = stored_value(&c.record["cell_id"]);
            for p in super::files::figures(c.record["response"]["artifacts"].as_array().into_iter().flatten().filter_map(|a| a["path"].as_str())) {
                figs.entry(p.rsplit_once('.').map_or(p, |(s, _)| s).to_string()).or_default().push((label(c), file_href(&format!("{exp}/artifacts/{id}/{p}"))));
            }
        }
        for (name, list) in figs {
            let _ = write!(b, r#"<h2>Figure {}</h2><div class="figs">"#, esc(&name));
            for (l, href) in list {
                b.push_str(&figure(&href, &l));
            }
            b.push_str("</div>");
        }
        Html(page(&title, &crumbs, &b, token.as_deref())).into_response()
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn candidates_side_by_side_with_the_selected_one_marked_and_long_arrays_summarised() {
        let c = |m: &str, ll: f64| serde_json::json!({"model": m, "loglik": ll, "params": {"alpha": 2.0}, "restart_logliks": [ll, -3.0, -4.0, -5.0, -6.0]});
        let t = candidates_table(&[c("P", -2.5), c("EP", -1.5)], Some(1));
        assert!(t.contains("<th>P</th>") && t.contains(r#"<th>EP <span class="chip ok">selected</span></th>"#), "{t}");
        assert!(t.contains("<tr><th>params.alpha</th><td>2</td><td>2</td></tr>"), "{t}");
        assert!(t.contains("<td>5 values, -6 … -2.5</td><td>5 values, -6 … -1.5</td>"), "{t}");
        assert_eq!(compact_value(&serde_json::json!([1, 2.25])), "[1, 2.25]");
        assert_eq!(compact_value(&serde_json::json!([-43989.16339751759])), "[-43989.2]");
        assert!(candidates_table(&[], None).contains("(none)"));
    }

    #[test]
    fn sweep_headers_are_short_unless_two_tasks_sweep_the_same_setting() {
        let cols = vec![Col::Id, Col::Point("ga.rate".into()), Col::Point("better.rate".into()), Col::Point("better.fitness".into()), Col::Point("seed".into())];
        let titles: Vec<String> = cols.iter().map(|c| col_title(c, &cols)).collect();
        assert_eq!(titles, ["Cell", "ga.rate", "better.rate", "fitness", "seed"]);
    }
}
