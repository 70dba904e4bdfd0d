//! Outputs (docs/sampler.md, "Outputs and CLI"): the metrics report in the original's text layout and the
//! machine-readable response (accepted flag, generations, every deviation, per-window
//! residuals, convergence series).
use crate::metrics::{Deviation, Metric};
use crate::{SampleRun, SampleSettings};
use flowlab_abi::json::num;
use serde_json::{Map, Value, json};
use std::fmt::Write as _;

/// C++ `ostream << double` default formatting (`%g`, 6 significant digits).
pub fn g6(x: f64) -> String {
    if x == 0.0 || !x.is_finite() {
        return format!("{x}");
    }
    let e = x.abs().log10().floor() as i32;
    if !(-5..6).contains(&e) {
        let s = format!("{:.5e}", x);
        let (m, ex) = s.split_once('e').unwrap_or((&s, "0"));
        let m = m.trim_end_matches('0').trim_end_matches('.');
        let ex: i32 = ex.parse().unwrap_or(0);
        return format!("{m}e{}{:02}", if ex < 0 { '-' } else { '+' }, ex.abs());
    }
    let s = format!("{:.*}", (5 - e).max(0) as usize, x);
    if s.contains('.') { s.trim_end_matches('0').trim_end_matches('.').to_string() } else { s }
}

/// The metrics file as the original writes it (tab-separated, 6 decimals), with a section
/// per declared metric; metrics the original does not have (`ipv6_ipv4`, custom size edges)
/// use the same row layout, and a final `ACCEPTED:` line is added.
pub fn metrics_text(run: &SampleRun, s: &SampleSettings, seed: u64) -> String {
    let m = &run.model;
    let sol = &run.ga.solution;
    let devs = m.deviations(&sol.acc);
    let mut t = String::new();
    let (l, u) = s.range().unwrap_or((0.0, 0.0));
    let _ = writeln!(t, "SAMPLING: {} - {}", g6(l), g6(u));
    let _ = writeln!(t, "GENERATIONS: {}", s.generations);
    let _ = writeln!(t, "POPULATION: {}", s.population);
    let _ = writeln!(t, "MAX DEVIATION: {}", g6(s.deviation));
    let _ = writeln!(t, "SEED: {seed}");
    if let Some(w) = &m.windows {
        let _ = writeln!(t, "AGGREGATION WINDOW SIZE: {}", w.seconds);
    }
    t.push('\n');
    let _ = writeln!(t, "PACKETS: {}", sol.acc.p);
    let _ = writeln!(t, "BYTES: {}", sol.acc.b);
    let _ = writeln!(t, "FITNESS: {:.6}\n", sol.score.fitness);
    let row = |t: &mut String, label: &str, d: &Deviation| {
        let _ = writeln!(t, "{label}{:.6}\t{:.6}\t{:.6}", d.reference, d.value, d.dev);
    };
    let find = |name: &'static str| devs.iter().filter(move |d| d.metric == name);
    let ratios: Vec<_> = [("pkts_bts", "PKTS/BTS\t"), ("bfls_pkts", "FLOWS/PKTS\t"), ("bfls_bts", "FLOWS/BTS\t")].into_iter().filter(|(n, _)| find(n).next().is_some()).collect();
    if !ratios.is_empty() {
        t.push_str("METRIC\t\tORIGINAL\tSOLUTION\tDIFF (%)\n");
        for (n, l) in ratios {
            row(&mut t, l, find(n).next().unwrap());
        }
        t.push('\n');
    }
    let l3: Vec<_> = [("ipv4", "IPv4\t\t"), ("ipv6", "IPv6\t\t"), ("ipv6_ipv4", "IPv6/IPv4\t")].into_iter().filter(|(n, _)| find(n).next().is_some()).collect();
    if !l3.is_empty() {
        t.push_str("L3 PROTO\tORIGINAL\tSOLUTION\tDIFF (%)\n");
        for (n, l) in l3 {
            row(&mut t, l, find(n).next().unwrap());
        }
        t.push('\n');
    }
    for me in &m.metrics {
        match me {
            Metric::Protos(_) => {
                t.push_str("L4 PROTO\tORIGINAL\tSOLUTION\tDIFF (%)\n");
                for d in find("l4_protos") {
                    row(&mut t, &format!("{}\t\t\t", d.key), d);
                }
                t.push('\n');
            }
            Metric::Ports(_) => {
                t.push_str("PORTS\t\tORIGINAL\tSOLUTION\tDIFF (%)\n");
                for d in find("ports") {
                    row(&mut t, &format!("{}\t\t\t", d.key), d);
                }
                t.push('\n');
            }
            Metric::PktSize(e) => {
                t.push_str("AVG PKT SIZE\tORIGINAL\tSOLUTION\tDIFF (%)\n");
                let last = e.len();
                for (k, d) in find("pkt_size").enumerate() {
                    // the original labels the unbounded last bin "(1024, 9000]"
                    let label = if k == last && e.last() == Some(&1024) { "(1024, 9000]\t".to_string() } else { format!("{}\t\t", d.key) };
                    row(&mut t, &label, d);
                }
                t.push('\n');
            }
            Metric::Windows(_) => {
                t.push_str("WINDOWS METRICS\nPKTS/TOTAL\t");
                let w: Vec<String> = find("windows").map(|d| format!("{:.6}", d.dev)).collect();
                t.push_str(&w.join(" "));
                t.push_str("\n\n");
            }
            _ => {}
        }
    }
    if !run.feasibility.feasible() {
        let _ = writeln!(t, "INFEASIBLE: {}", run.feasibility.message(m.limit_pct));
    }
    if let Some(note) = run.feasibility.oversized_note() {
        let _ = writeln!(t, "NOTE: {note}");
    }
    let _ = writeln!(t, "ACCEPTED: {}", if run.ga.accepted { "yes" } else { "no" });
    t
}

/// The response: metrics (scalars), data (deviations, residuals, convergence).
pub fn response(run: &SampleRun, s: &SampleSettings) -> flowlab_abi::Response {
    let m = &run.model;
    let g = &run.ga;
    let sol = &g.solution;
    let devs = m.deviations(&sol.acc);
    let lim = m.limit_pct;
    let mut r = flowlab_abi::Response::default();
    let mt = &mut r.metrics;
    mt.insert("accepted".into(), json!(g.accepted));
    mt.insert("generations".into(), json!(g.generations));
    mt.insert("accepted_generation".into(), json!(g.accepted_generation));
    mt.insert("fitness".into(), num(sol.score.fitness));
    mt.insert("fitness_raw".into(), num(sol.score.raw));
    mt.insert("worst_deviation".into(), num(sol.score.worst));
    mt.insert("deviations_over_limit".into(), json!(devs.iter().filter(|d| d.dev > lim).count()));
    let glob: Vec<&Deviation> = devs.iter().filter(|d| d.metric != "windows").collect();
    mt.insert("worst_global_deviation".into(), num(glob.iter().map(|d| d.dev).fold(0.0, f64::max)));
    let win: Vec<f64> = devs.iter().filter(|d| d.metric == "windows").map(|d| d.dev).collect();
    if !win.is_empty() {
        mt.insert("windows".into(), json!(win.len()));
        mt.insert("windows_over_limit".into(), json!(win.iter().filter(|&&d| d > lim).count()));
        mt.insert("windows_mean_deviation".into(), num(win.iter().sum::<f64>() / win.len() as f64));
        mt.insert("windows_max_deviation".into(), num(win.iter().cloned().fold(0.0, f64::max)));
    }
    mt.insert("sample_size".into(), json!(sol.ones));
    mt.insert("biflows".into(), json!(m.len()));
    mt.insert("sample_fraction".into(), num(sol.ones as f64 / m.len() as f64));
    mt.insert("packets".into(), json!(sol.acc.p));
    mt.insert("bytes".into(), json!(sol.acc.b));
    mt.insert("evaluations".into(), json!(g.evaluations));
    mt.insert("init_candidates".into(), json!(g.init_candidates));
    mt.insert("init_fallback".into(), json!(g.init_fallback));
    mt.insert("local_proposals".into(), json!(run.local.proposals));
    mt.insert("local_swaps".into(), json!(run.local.accepted_swaps));
    mt.insert("repair_steps".into(), json!(run.repair.steps));
    mt.insert("repair_proposals".into(), json!(run.repair.proposals));
    mt.insert("repair_moves".into(), json!(run.repair.kept));
    mt.insert("repair_rounds".into(), json!(run.repair.rounds));
    mt.insert("balance_steps".into(), json!(run.balance.steps));
    mt.insert("balance_moves".into(), json!(run.balance.moves));
    mt.insert("repair_kicks".into(), json!(run.repair.kicks));
    mt.insert("ga_stalled".into(), json!(g.stalled));
    mt.insert("feasible".into(), json!(run.feasibility.feasible()));
    mt.insert("achievable_deviation".into(), num(run.feasibility.achievable_pct / 100.0));
    mt.insert("start_size".into(), json!(run.feasibility.count_n));

    for d in &glob {
        let k = if d.key.is_empty() { format!("dev.{}", d.metric) } else { format!("dev.{}.{}", d.metric, d.key) };
        mt.insert(k, num(d.dev));
    }
    let dl: Vec<Value> = devs.iter().map(|d| json!({"metric": d.metric, "key": d.key, "reference": num(d.reference), "value": num(d.value), "deviation": num(d.dev), "ok": d.dev <= lim})).collect();
    r.data.insert("deviations".into(), Value::Array(dl));
    if !win.is_empty() {
        // signed residuals in percent: (sample share − reference share)·100/reference
        let signed: Vec<Value> = devs.iter().filter(|d| d.metric == "windows").map(|d| num(if d.reference > 0.0 { (d.value - d.reference) * 100.0 / d.reference } else { 0.0 })).collect();
        r.data.insert("window_residuals".into(), Value::Array(signed));
    }
    let mut conv = Map::new();
    conv.insert("generation".into(), json!((0..g.best.len()).collect::<Vec<_>>()));
    conv.insert("best".into(), Value::Array(g.best.iter().map(|&x| num(x)).collect()));
    conv.insert("mean".into(), Value::Array(g.mean.iter().map(|&x| num(x)).collect()));
    r.data.insert("convergence".into(), Value::Object(conv));
    r.data.insert(
        "search".into(),
        json!(match s.search {
            crate::Search::Hybrid => "hybrid",
            crate::Search::Ga => "ga",
        }),
    );
    r.data.insert("gene_bounds".into(), json!([run.bounds.0, run.bounds.1]));
    if !run.feasibility.oversized.is_empty() {
        let list: Vec<Value> = run.feasibility.oversized.iter().take(20).map(|&(i, p)| json!({"line": i + 1, "packets": p})).collect();
        r.data.insert("oversized".into(), json!({"packet_cap": num(run.feasibility.packet_cap), "count": run.feasibility.oversized.len(), "largest": list}));
    }
    if !run.feasibility.feasible() {
        let obs: Vec<Value> = run.feasibility.obstacles.iter().map(|o| json!({"metric": o.metric, "key": o.key, "biflows": o.biflows, "best_deviation": num(o.best_deviation)})).collect();
        r.data.insert("infeasible".into(), json!({"message": run.feasibility.message(m.limit_pct), "obstacles": obs}));
    }
    let (l, u) = s.range().unwrap_or((0.0, 0.0));
    r.data.insert("sampling".into(), json!([l, u]));
    r.data.insert(
        "fitness_variant".into(),
        json!(match s.fitness {
            crate::metrics::Variant::Readme => "readme",
            crate::metrics::Variant::Windows => "windows",
        }),
    );
    r.model = json!({"sample_size": sol.ones, "accepted": g.accepted, "fitness": num(sol.score.fitness)});
    r.iterations = g.generations as u64;
    r.evaluations = g.evaluations;
    r.termination = match run.termination() {
        "target_reached" => flowlab_abi::Termination::TargetReached,
        "infeasible" => flowlab_abi::Termination::Other("infeasible".into()),
        _ => flowlab_abi::Termination::MaxIters,
    };
    r
}

#[cfg(test)]
mod tests {
    #[test]
    fn g6_matches_cpp_ostream() {
        assert_eq!(super::g6(0.09000000000000001), "0.09");
        assert_eq!(super::g6(0.005), "0.005");
        assert_eq!(super::g6(0.11), "0.11");
        assert_eq!(super::g6(1.0), "1");
        assert_eq!(super::g6(1234567.0), "1.23457e+06");
        assert_eq!(super::g6(0.000001), "1e-06");
    }
}
