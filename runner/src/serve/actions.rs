//! The actions of `flowlab serve` (POST, token required, runner/src/serve/security.rs):
//! start `flowlab run` on an experiment's manifest, and replay a cell (replay.rs) and show
//! the verdict.
use super::{ServeState, experiments};
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Json, Response};
use serde_json::{Value, json};
use std::collections::HashMap;
use std::sync::Mutex;

/// Runs started from the page, by experiment (reaped when they end).
#[derive(Default)]
pub struct Runs(Mutex<HashMap<String, std::process::Child>>);

/// Name of the log of a run started from the page, in the experiment's results directory.
pub const RUN_LOG: &str = ".flowlab-serve-run.log";

fn answer(status: StatusCode, v: Value) -> Response {
    (status, Json(v)).into_response()
}

/// `POST /e/{exp}/run`: starts `flowlab run MANIFEST --results ROOT [--data-dir D]` in the
/// background (its output in `.flowlab-serve-run.log`); the page then follows it live. One
/// run per experiment at a time, also against runs started elsewhere (a live progress file).
pub async fn start_run(State(st): State<ServeState>, UrlPath(exp): UrlPath<String>) -> Response {
    tokio::task::spawn_blocking(move || {
        let Some(manifest) = experiments::manifest_of(&st, &exp) else {
            return answer(StatusCode::NOT_FOUND, json!({"error": format!("no manifest known for experiment `{exp}`")}));
        };
        let dir = st.results_root().join(&exp);
        let mut runs = st.0.runs.0.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(c) = runs.get_mut(&exp) {
            if matches!(c.try_wait(), Ok(None)) {
                return answer(StatusCode::CONFLICT, json!({"error": "a run of this experiment started here is still working"}));
            }
            runs.remove(&exp);
        }
        if crate::live::read(&dir).is_some_and(|p| p["finished"] == false && crate::live::writer_alive(&p)) {
            return answer(StatusCode::CONFLICT, json!({"error": "a run of this experiment is working (started elsewhere)"}));
        }
        if let Err(e) = std::fs::create_dir_all(&dir) {
            return answer(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": format!("{}: {e}", dir.display())}));
        }
        let log = dir.join(RUN_LOG);
        let out = match std::fs::File::create(&log) {
            Ok(f) => f,
            Err(e) => return answer(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": format!("{}: {e}", log.display())})),
        };
        let mut cmd = std::process::Command::new(&st.0.flowlab_exe);
        cmd.arg("run").arg(&manifest).arg("--results").arg(st.results_root()).arg("--no-env");
        if let Some(d) = st.data_root() {
            cmd.arg("--data-dir").arg(d);
        }
        let err = out.try_clone();
        cmd.stdin(std::process::Stdio::null()).stdout(out);
        if let Ok(e) = err {
            cmd.stderr(e);
        }
        match cmd.spawn() {
            Ok(child) => {
                let pid = child.id();
                runs.insert(exp.clone(), child);
                answer(
                    StatusCode::ACCEPTED,
                    json!({"started": pid, "manifest": manifest.display().to_string(), "log": log.display().to_string(), "message": format!("started flowlab run (pid {pid})")}),
                )
            }
            Err(e) => answer(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": format!("cannot start {}: {e}", st.0.flowlab_exe.display())})),
        }
    })
    .await
    .unwrap_or_else(|e| answer(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": e.to_string()})))
}

/// `POST /e/{exp}/c/{cell}/replay`: `flowlab replay` in-process; the verdict as JSON.
pub async fn replay(State(st): State<ServeState>, UrlPath((exp, id)): UrlPath<(String, String)>) -> Response {
    tokio::task::spawn_blocking(move || {
        // the full id, or a unique prefix of one (as the cell page takes it)
        let path = match super::pages::resolve_cell(&st, &exp, &id) {
            Ok((_, path)) => path,
            Err(why) => return answer(StatusCode::NOT_FOUND, json!({"error": why})),
        };
        let t0 = std::time::Instant::now();
        let opts = crate::replay::ReplayOptions { threads: 1, data_dir: st.data_root().map(|p| p.to_path_buf()), ..Default::default() };
        match crate::replay::replay(&path, &opts) {
            Ok(r) => answer(
                StatusCode::OK,
                json!({
                    "cell_id": r.cell_id,
                    "equal": r.equal,
                    "verdict": if r.equal { "equal" } else { "differs" },
                    "first_difference": r.first_difference.map(|(at, a, b)| json!({"at": at, "stored": a, "replayed": b})),
                    "warnings": r.warnings,
                    "artifact_differences": r.artifact_differences,
                    "artifacts_compared": r.artifacts_compared,
                    "seconds": t0.elapsed().as_secs_f64(),
                }),
            ),
            Err(e) => answer(StatusCode::UNPROCESSABLE_ENTITY, json!({"error": e})),
        }
    })
    .await
    .unwrap_or_else(|e| answer(StatusCode::INTERNAL_SERVER_ERROR, json!({"error": e.to_string()})))
}
