//! Live updates of an experiment page (docs/serve.md, "Live"): `GET /e/{exp}/events` is a
//! stream of server-sent events. Every [`POLL`] the server reads the run's progress file
//! (runner/src/live.rs, written by `flowlab run`) and the cell counts of the index; when
//! anything changed it sends a `state` event (JSON) with the counts, the run's progress, the
//! running cells and an estimate of the time left.
use super::{ServeState, experiments};
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::sse::{Event, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use serde_json::{Value, json};
use std::path::PathBuf;
use std::time::{Duration, SystemTime};

/// How often the server looks for changes.
pub const POLL: Duration = Duration::from_millis(400);

fn now_s() -> f64 {
    SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// The estimate of the time left: the mean time of the cells this run ran (cached ones cost
/// nothing) times the cells left, divided among the cells running at once. `None` before a
/// cell finished.
pub fn eta_s(p: &Value, now: f64) -> Option<f64> {
    let ran = p["ok"].as_f64()? + p["failed"].as_f64()?;
    let left = p["total"].as_f64()? - p["done"].as_f64()?;
    let elapsed = now - p["started"].as_f64()?;
    let parallel = p["running"].as_array().map(|a| a.len()).unwrap_or(1).max(1) as f64;
    (ran > 0.0 && elapsed > 0.0).then(|| (elapsed * parallel / ran) * left / parallel)
}

/// The state sent to the page.
pub fn state(st: &ServeState, dir: &std::path::Path) -> Value {
    let (cells, (ok, failed)) = st.index().with(dir, |ix| (ix.rows.len(), ix.counts()));
    let now = now_s();
    let progress = crate::live::read(dir).map(|mut p| {
        let alive = crate::live::writer_alive(&p);
        let running = p["finished"] == false && alive;
        let eta = eta_s(&p, now);
        if let Some(o) = p.as_object_mut() {
            o.insert("active".into(), json!(running));
            o.insert("eta_s".into(), json!(eta));
            // a finished run's time is up to its last write, a running one's up to now
            let end = if running { now } else { o.get("updated").and_then(Value::as_f64).unwrap_or(now) };
            o.insert("elapsed_s".into(), json!(end - o.get("started").and_then(Value::as_f64).unwrap_or(end)));
            o.remove("updated");
        }
        p
    });
    json!({"cells": cells, "ok": ok, "failed": failed, "progress": progress})
}

/// `GET /e/{exp}/events`.
pub async fn events(State(st): State<ServeState>, UrlPath(exp): UrlPath<String>) -> Response {
    let Some(dir) = experiments::dir_of(&st, &exp) else {
        return (StatusCode::NOT_FOUND, "no such experiment\n").into_response();
    };
    let stream = futures_util::stream::unfold((st, dir, String::new(), true), |(st, dir, last, first): (ServeState, PathBuf, String, bool)| async move {
        let mut first = first;
        loop {
            if !first {
                tokio::time::sleep(POLL).await;
            }
            first = false;
            let (s2, d2) = (st.clone(), dir.clone());
            let v = tokio::task::spawn_blocking(move || state(&s2, &d2)).await.unwrap_or(Value::Null);
            // the elapsed time changes every poll; only a change of anything else is news,
            // plus a heartbeat while a run is active (the eta and elapsed time move on)
            let mut key = v.clone();
            if let Some(p) = key["progress"].as_object_mut() {
                p.remove("elapsed_s");
                p.remove("eta_s");
            }
            let key = key.to_string();
            let active = v["progress"]["active"] == true;
            if key != last || active {
                let ev = Event::default().event("state").data(v.to_string());
                return Some((Ok::<Event, std::convert::Infallible>(ev), (st, dir, key, false)));
            }
        }
    });
    Sse::new(stream).keep_alive(KeepAlive::default()).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn eta_from_the_cells_run() {
        // 4 cells ran in 8 s, two at a time: 4 s each on a lane, 6 left -> 3 per lane -> 12 s
        let p = json!({"ok": 3, "failed": 1, "total": 12, "done": 6, "started": 100.0, "running": [{}, {}]});
        assert_eq!(eta_s(&p, 108.0), Some(12.0));
        assert_eq!(eta_s(&json!({"ok": 0, "failed": 0, "total": 3, "done": 2, "started": 1.0, "running": []}), 5.0), None);
    }
}
