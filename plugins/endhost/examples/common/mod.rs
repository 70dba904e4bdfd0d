//! Shared by the examples that time fits.
use std::time::Instant;

/// CPU time of this thread in seconds (Linux `/proc/thread-self/schedstat`, first field in ns;
/// falls back to wall time elsewhere), so a loaded machine does not inflate the figures, like
/// the reference's `time.process_time`.
pub fn cpu_now(wall: &Instant) -> f64 {
    std::fs::read_to_string("/proc/thread-self/schedstat")
        .ok()
        .and_then(|s| s.split_whitespace().next().and_then(|v| v.parse::<f64>().ok()))
        .map(|ns| ns * 1e-9)
        .unwrap_or_else(|| wall.elapsed().as_secs_f64())
}
