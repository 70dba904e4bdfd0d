//! `ft-profile-sampler-rs`: a thin CLI over the `sampler` library, flag-compatible with the
//! original `ft-profile-sampler` (docs/sampler.md, "Outputs and CLI"): `-u -l -i -o -m -d -s -g -p -t -r -w -c -q`, plus
//! `--fitness readme|windows`, `--search hybrid|ga`, `--parents N`, `--init random|stratified`,
//! `--local-search N`, `--repair STEPS`, `--stall GENS`, `--restarts N`, `--balance STEPS`, `--json FILE` (machine-readable result).
//! Exit status: 0 when the sample is acceptable, 3 when it is not, 1 on errors.
//!
//! `ft-profile-sampler-rs --generate ROWS [-s SEED] -o FILE` writes a synthetic profile,
//! byte-identical to `make_profile.py --rows ROWS --seed SEED`.
use flowlab_abi::Host;
use sampler::{SampleSettings, profile, report};
use serde_json::json;
use std::path::PathBuf;

fn usage() -> ! {
    eprintln!(
        "usage: ft-profile-sampler-rs -i PROFILE -o SAMPLE -m METRICS -l MIN -u MAX [-d DEV] [-s SEED] [-g GENS] [-p POP] [-t PORT_LIMIT] [-r PROTO_LIMIT] [-w WINDOW_S] [-c THREADS] [-q] [--fitness readme|windows] [--parents N] [--search hybrid|ga] [--init random|stratified] [--local-search N] [--repair STEPS] [--stall GENS] [--restarts N] [--balance STEPS] [--json FILE]"
    );
    std::process::exit(1)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let mut s = json!({});
    let (mut input, mut output, mut metrics, mut json_out) = (None, None, None, None);
    let (mut seed, mut threads, mut quiet) = (0u64, 1usize, false);
    let mut generate_rows: Option<usize> = None;
    let mut i = 0;
    let val = |i: &mut usize| -> String {
        *i += 1;
        args.get(*i).cloned().unwrap_or_else(|| usage())
    };
    let num = |v: String| -> serde_json::Value { serde_json::from_str(&v).unwrap_or_else(|_| usage()) };
    while i < args.len() {
        let a = args[i].clone();
        match a.as_str() {
            "-i" | "--input" => input = Some(PathBuf::from(val(&mut i))),
            "-o" | "--output" => output = Some(PathBuf::from(val(&mut i))),
            "-m" | "--metrics" => metrics = Some(PathBuf::from(val(&mut i))),
            "--json" => json_out = Some(PathBuf::from(val(&mut i))),
            "-l" | "--min-sampling" => s["min_sampling"] = num(val(&mut i)),
            "-u" | "--max-sampling" => s["max_sampling"] = num(val(&mut i)),
            "-d" | "--deviation" => s["deviation"] = num(val(&mut i)),
            "-g" | "--generations" => s["generations"] = num(val(&mut i)),
            "-p" | "--population" => s["population"] = num(val(&mut i)),
            "-t" | "--port-limit" => s["port_limit"] = num(val(&mut i)),
            "-r" | "--proto-limit" => s["proto_limit"] = num(val(&mut i)),
            "-w" | "--window-length" => s["window_s"] = num(val(&mut i)),
            "--parents" => s["parents"] = num(val(&mut i)),
            "--local-search" => s["local_search"] = num(val(&mut i)),
            "--fitness" => s["fitness"] = json!(val(&mut i)),
            "--init" => s["init"] = json!(val(&mut i)),
            "--search" => s["search"] = json!(val(&mut i)),
            "--repair" => s["repair"] = num(val(&mut i)),
            "--stall" => s["stall"] = num(val(&mut i)),
            "--restarts" => s["restarts"] = num(val(&mut i)),
            "--balance" => s["balance"] = num(val(&mut i)),
            "-s" | "--seed" => seed = val(&mut i).parse().unwrap_or_else(|_| usage()),
            "-c" | "--workers-count" => threads = val(&mut i).parse().unwrap_or_else(|_| usage()),
            "-q" | "--quiet" => quiet = true,
            "--generate" => generate_rows = Some(val(&mut i).parse().unwrap_or_else(|_| usage())),
            _ => usage(),
        }
        i += 1;
    }
    let fail = |m: String| -> ! {
        eprintln!("error: {m}");
        std::process::exit(1)
    };
    if let Some(rows) = generate_rows {
        let Some(o) = output else { usage() };
        let recs = sampler::generate::generate(&sampler::generate::GenOptions { rows, seed, ..Default::default() });
        let f = std::fs::File::create(&o).unwrap_or_else(|e| fail(format!("{}: {e}", o.display())));
        sampler::generate::write(&recs, f).unwrap_or_else(|e| fail(format!("{}: {e}", o.display())));
        return;
    }
    let (Some(input), Some(metrics)) = (input, metrics) else { usage() };
    let st: SampleSettings = flowlab_abi::parse_settings(&s).unwrap_or_else(|e| fail(format!("{} {}", e.path.unwrap_or_default(), e.message)));
    sampler::check_sample(&st).unwrap_or_else(|e| fail(e.message));
    let t = std::time::Instant::now();
    let prof = profile::read_path(&input).unwrap_or_else(|e| fail(e.to_string()));
    if !quiet {
        eprintln!("loaded {} biflows in {:.2} s", prof.len(), t.elapsed().as_secs_f64());
    }
    let model = sampler::build_model(&prof, &st).unwrap_or_else(|e| fail(format!("{}: {}", e.path.unwrap_or_default(), e.message)));
    let seed_hex = sampler::seed_hex(seed);
    let pool = sampler::pool(threads).unwrap_or_else(|e| fail(e.message));
    let run = sampler::sample(model, &st, &seed_hex, &Host::detached(), &pool).unwrap_or_else(|e| fail(e.message));
    if !quiet {
        for (g, (b, m)) in run.ga.best.iter().zip(&run.ga.mean).enumerate().skip(1) {
            eprintln!("Generation: {}, best solution: {b}, average solution: {m}", g - 1);
        }
        if !run.feasibility.feasible() {
            eprintln!("{}", run.feasibility.message(run.model.limit_pct));
        }
        eprintln!(
            "accepted: {} after {} generations and {} repair steps ({}), fitness {:.6}, {:.2} s",
            run.ga.accepted,
            run.ga.generations,
            run.repair.steps,
            run.termination(),
            run.ga.solution.score.fitness,
            t.elapsed().as_secs_f64()
        );
    }
    if let Some(o) = output {
        let f = std::fs::File::create(&o).unwrap_or_else(|e| fail(format!("{}: {e}", o.display())));
        prof.write_csv(std::io::BufWriter::new(f), |i| run.ga.solution.has(i)).unwrap_or_else(|e| fail(format!("{}: {e}", o.display())));
    }
    std::fs::write(&metrics, report::metrics_text(&run, &st, seed)).unwrap_or_else(|e| fail(format!("{}: {e}", metrics.display())));
    if let Some(j) = json_out {
        let r = report::response(&run, &st);
        std::fs::write(&j, serde_json::to_vec_pretty(&json!({"metrics": r.metrics, "data": r.data})).unwrap()).unwrap_or_else(|e| fail(format!("{}: {e}", j.display())));
    }
    std::process::exit(if run.ga.accepted { 0 } else { 3 })
}
