//! The `network` and `evaluate` capabilities: the training loop of the original's
//! `train_rnn.py` (docs/lstm.md, "Model and training") with its evaluation (docs/lstm.md, "Cosine-similarity evaluation") and plots (docs/lstm.md, "Figures"), and `test_rnn.py`.
use crate::metrics::{CosTable, Summary, keys};
use crate::model::{Arch, Head};
use crate::norm::{Norm, read_minmax};
use crate::optim::{OptConfig, Optimizer};
use crate::plots::{self, Sample};
use crate::save::{self, Header, Saved};
use crate::seq::{Batch, Corpus, SeqSpec, make_batch, split};
use crate::settings::{self, NormKind, Scope};
use crate::trainer::{Trainer, persistence_error};
use flowlab_abi::prelude::*;
use rand::seq::SliceRandom;
use rayon::ThreadPool;
use rayon::prelude::*;
use std::path::{Path, PathBuf};

/// Resolves a settings path: absolute, or relative to the dataset's directory.
pub fn resolve(base: &Path, p: &str) -> PathBuf {
    let q = Path::new(p);
    if q.is_absolute() { q.to_path_buf() } else { base.join(q) }
}

fn dataset(req: &Request) -> Result<(PathBuf, PathBuf), PluginError> {
    let d = req.dataset.as_ref().ok_or_else(|| PluginError::config("", format!("`{}` needs a dataset (a feature file in the original line format)", req.capability)))?;
    let p = PathBuf::from(&d.path);
    let base = p.parent().map(Path::to_path_buf).unwrap_or_default();
    Ok((p, base))
}

/// Fixed chunks of the batches of `idx`: batches of `batch` traffics, each cut into pieces
/// of at most `chunk_rows` rows.
pub fn batches(idx: &[usize], batch: usize, chunk_rows: usize) -> Vec<Vec<&[usize]>> {
    idx.chunks(batch.max(1)).map(|b| b.chunks(chunk_rows.max(1)).collect()).collect()
}

fn build(pool: &ThreadPool, c: &Corpus, chunks: &[&[usize]], seq: &SeqSpec, norm: &Norm) -> Result<Vec<Batch>, PluginError> {
    pool.install(|| chunks.par_iter().map(|ix| make_batch(c, ix, seq, norm)).collect())
}

/// Everything one evaluation pass over a traffic set gives.
pub struct EvalOut {
    /// Model cosine rows (sorted by traffic index).
    pub model: CosTable,
    /// Persistence-baseline cosine rows.
    pub persistence: CosTable,
    /// Model MSE under the loss mask.
    pub mse: f64,
    /// Persistence MSE under the loss mask.
    pub persistence_mse: f64,
    /// Prediction/truth series of the requested sample traffics for one feature.
    pub samples: Vec<Sample>,
    /// Per-feature mean squared error over the real packets: model, persistence.
    pub feature_mse: (Vec<f64>, Vec<f64>),
}

/// Forward pass over `idx`, cosine tables of model and persistence, and sample series.
#[allow(clippy::too_many_arguments)]
pub fn evaluate(
    pool: &ThreadPool,
    tr: &mut Trainer,
    c: &Corpus,
    idx: &[usize],
    seq: &SeqSpec,
    norm: &Norm,
    batch: usize,
    chunk_rows: usize,
    sample: &[usize],
    feature: usize,
    host: &Host,
) -> Result<EvalOut, PluginError> {
    let (mut model, mut pers) = (CosTable::default(), CosTable::default());
    let (mut s, mut n, mut ps, mut pn) = (0.0, 0.0, 0.0, 0.0);
    let mut samples = Vec::new();
    let o = tr.arch.output;
    let (mut fm, mut fp, mut real) = (vec![0f64; o], vec![0f64; o], 0f64);
    for chunks in batches(idx, batch, chunk_rows) {
        host.check_cancel()?;
        let bs = build(pool, c, &chunks, seq, norm)?;
        let (preds, a, b) = pool.install(|| tr.predict(&bs));
        s += a;
        n += b;
        for (b, pred) in bs.iter().zip(&preds) {
            model.push(pred, &b.y, b.rows, b.steps, o, &b.lens, &b.idx);
            pers.push(&b.x, &b.y, b.rows, b.steps, b.dim, &b.lens, &b.idx);
            for (k, &mk) in b.mask.iter().enumerate() {
                if mk != 0.0 {
                    real += 1.0;
                    let (pr, y, x) = (&pred[k * o..(k + 1) * o], &b.y[k * o..(k + 1) * o], &b.x[k * o..(k + 1) * o]);
                    for j in 0..o {
                        fm[j] += ((pr[j] - y[j]) as f64).powi(2);
                        fp[j] += ((x[j] - y[j]) as f64).powi(2);
                    }
                }
            }
            let (x, y) = persistence_error(b, tr.mask);
            ps += x;
            pn += y;
            for (r, i) in b.idx.iter().enumerate() {
                if sample.contains(i) {
                    let at = |v: &[f32], t: usize| v[(t * b.rows + r) * o + feature] as f64;
                    samples.push(Sample { traffic: *i, real: b.lens[r], pred: (0..b.steps).map(|t| at(pred, t)).collect(), truth: (0..b.steps).map(|t| at(&b.y, t)).collect() });
                }
            }
        }
    }
    samples.sort_by_key(|s| sample.iter().position(|x| *x == s.traffic));
    let div = |a: f64, b: f64| if b > 0.0 { a / (b * o as f64) } else { f64::NAN };
    let per = |v: Vec<f64>| v.into_iter().map(|x| if real > 0.0 { x / real } else { f64::NAN }).collect();
    Ok(EvalOut { model: model.sorted(), persistence: pers.sorted(), mse: div(s, n), persistence_mse: div(ps, pn), samples, feature_mse: (per(fm), per(fp)) })
}

/// One evaluated epoch.
pub struct EvalRow {
    /// Epoch number.
    pub epoch: u64,
    /// Train summary.
    pub train: Summary,
    /// Test summary.
    pub test: Summary,
}

fn labels(base: &Path, fi: &Option<String>, dim: usize) -> Result<Option<Vec<String>>, PluginError> {
    fi.as_ref().map(|f| crate::reader::read_feature_info(&resolve(base, f), dim)).transpose()
}

fn stem(p: &str) -> String {
    Path::new(p).file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| p.to_string())
}

fn per_traffic_json(t: &CosTable, key: &str) -> Value {
    let (m, _) = t.per_traffic(key);
    json!({"traffic": t.idx, "mean": m.iter().map(|x| num(*x)).collect::<Vec<_>>()})
}

/// Applies a model to a whole file (the original's `test_rnn.py`): cosine distribution,
/// persistence baseline and MSE, as JSON, plus the distribution plot when `plot_dir` is set.
#[allow(clippy::too_many_arguments)]
fn apply_file(
    pool: &ThreadPool,
    tr: &mut Trainer,
    path: &Path,
    name: &str,
    seq: &SeqSpec,
    norm: &Norm,
    batch: usize,
    chunk_rows: usize,
    cache: usize,
    plot_dir: Option<&Path>,
    host: &Host,
    arts: &mut Vec<Artifact>,
) -> Result<(Value, f64), PluginError> {
    let c = Corpus::open(path, cache)?;
    if c.dim() != tr.arch.input {
        return Err(PluginError::data(format!("{}: {} features per packet, the model expects {}", path.display(), c.dim(), tr.arch.input)));
    }
    let idx: Vec<usize> = (0..c.len()).collect();
    let e = evaluate(pool, tr, &c, &idx, seq, norm, batch, chunk_rows, &[], 0, host)?;
    let ks = keys(seq.len);
    let (sm, sp) = (e.model.summary(&ks), e.persistence.summary(&ks));
    let (per, _) = e.model.per_traffic("true");
    let mean_true = sm.mean_of("true");
    if let Some(d) = plot_dir {
        arts.extend(plots::distribution(d, &format!("dist_true_{name}"), &format!("true-packet cosine, {name}"), &per));
    }
    Ok((
        json!({"file": name, "traffics": c.len(), "model": sm.to_json(), "persistence": sp.to_json(), "mse": num(e.mse), "persistence_mse": num(e.persistence_mse),
               "per_traffic_true_mean": per.iter().map(|x| num(*x)).collect::<Vec<_>>()}),
        mean_true,
    ))
}

/// The `network` capability: train (or continue training) and evaluate.
pub fn run_network(s: settings::Network, req: &Request, host: &Host, pool: &ThreadPool) -> Result<Response, PluginError> {
    let (path, base) = dataset(req)?;
    let cache = s.cache_mb.saturating_mul(1 << 20);
    let corpus = Corpus::open(&path, cache)?;
    let dim = corpus.dim();
    let n = corpus.len();
    // `plot_feature` only chooses what the prediction plots draw: without plots it is unused
    let shown = s.plot_feature < dim;
    if s.plots && !shown {
        return Err(PluginError::config("plot_feature", format!("`plot_feature` = {} but the data has {dim} features", s.plot_feature)));
    }
    let names = labels(&base, &s.feature_info, dim)?;
    let saved = s.init_from.as_ref().map(|p| save::load(&resolve(&base, p))).transpose()?;
    let sha = req.dataset.as_ref().map(|d| d.sha256.clone()).unwrap_or_default();

    // split: reuse the saved one when continuing on the same file
    let (train, test) = match &saved {
        Some(sv) if sv.header.traffics == n && (sv.header.dataset_sha256.is_empty() || sha.is_empty() || sv.header.dataset_sha256 == sha) => (sv.header.train.clone(), sv.header.test.clone()),
        _ => split(n, s.test_fraction, &mut stream_rng(&req.seed_hex, "split", 0)),
    };
    if train.is_empty() {
        return Err(PluginError::config("test_fraction", format!("no training traffic left ({n} traffics, test_fraction {})", s.test_fraction)));
    }

    // model, normalisation, optimiser: from the saved model, or fresh
    let (arch, seq, norm, params, opt, mask, start) = match saved {
        Some(sv) => {
            let h = sv.header;
            if h.arch.input != dim {
                return Err(PluginError::data(format!("{}: {dim} features per packet, the saved model expects {}", path.display(), h.arch.input)));
            }
            let seq = SeqSpec { len: h.seq_len, truncate: h.truncate, normalize_padding: h.normalize_padding };
            (h.arch, seq, h.norm, sv.params, sv.opt, h.loss_mask, h.epochs)
        }
        None => {
            let hidden = s.hidden.unwrap_or(dim);
            if s.head == Head::None && hidden != dim {
                return Err(PluginError::config(
                    "hidden",
                    format!("`hidden` = {hidden} needs `head = \"linear\"`: without a head the output is h itself and must have the {dim} features of the data"),
                ));
            }
            let arch = Arch { input: dim, hidden, output: dim, head: s.head, out_act: s.output_activation, rec_act: s.recurrent_activation };
            let seq = SeqSpec { len: s.seq_len, truncate: s.truncate, normalize_padding: s.normalize_padding };
            let norm = match (&s.minmax_file, s.normalize) {
                (Some(f), _) => read_minmax(&resolve(&base, f), dim)?,
                (None, NormKind::L2) => Norm::L2,
                (None, NormKind::None) => Norm::None,
                (None, k) => {
                    let mut scope: Vec<usize> = match s.normalize_scope {
                        Scope::WholeFile => (0..n).collect(),
                        Scope::TrainOnly => train.clone(),
                    };
                    scope.sort_unstable();
                    corpus.stats(&scope)?.fit(k.name())
                }
            };
            let params = arch.init(s.init, &mut stream_rng(&req.seed_hex, "init", 0));
            let cfg = OptConfig { kind: s.optimizer, lr: s.lr, rho: s.rho, beta1: s.beta1, beta2: s.beta2, eps: s.eps };
            let opt = Optimizer::new(cfg, params.len());
            (arch, seq, norm, params, opt, s.loss_mask, 0)
        }
    };
    if norm.zeroes_everything() {
        host.warn(&format!(
            "every one of the {dim} features is constant over the traffics `{}` normalisation was fitted on: it maps every packet to the zero vector, so the model has nothing to learn and every cosine similarity is 0 (a zero vector's, by definition)",
            norm.name()
        ));
    }
    let mut tr = Trainer::new(arch, params, opt, mask);

    // sample traffics for the prediction plots (seeded)
    let pick = |set: &[usize], i: u64| {
        let mut v = set.to_vec();
        v.shuffle(&mut stream_rng(&req.seed_hex, "plot-sample", i));
        v.truncate(s.plot_traffics);
        v
    };
    let (sample_train, sample_test) = if shown { (pick(&train, 0), pick(&test, 1)) } else { (vec![], vec![]) };
    let ks = keys(seq.len);
    let out_dir = PathBuf::from(&req.output_dir);
    let plot_dir = s.plots.then_some(out_dir.as_path());
    let mut arts = Vec::new();

    let mut loss_rows: Vec<(u64, f64, f64)> = Vec::new();
    let mut evals: Vec<EvalRow> = Vec::new();
    let mut last: Option<(EvalOut, EvalOut)> = None;
    let mut grads = 0u64;
    let mut order = train.clone();
    let total = s.epochs;
    for e in start + 1..=start + s.epochs {
        if s.shuffle {
            order = train.clone();
            order.shuffle(&mut stream_rng(&req.seed_hex, "shuffle", e));
        }
        let (mut lsum, mut rows) = (0.0, 0usize);
        for chunks in batches(&order, s.batch, s.chunk_rows) {
            host.check_cancel()?;
            let bs = build(pool, &corpus, &chunks, &seq, &norm)?;
            let r: usize = bs.iter().map(|b| b.rows).sum();
            lsum += pool.install(|| tr.step(&bs)) * r as f64;
            rows += r;
            grads += 1;
        }
        let train_loss = lsum / rows as f64;
        let is_eval = (e - start) % s.eval_every == 0 || e == start + s.epochs;
        let te = evaluate(pool, &mut tr, &corpus, &test, &seq, &norm, s.batch, s.chunk_rows, &sample_test, s.plot_feature, host)?;
        loss_rows.push((e, train_loss, te.mse));
        if is_eval {
            let tre = evaluate(pool, &mut tr, &corpus, &train, &seq, &norm, s.batch, s.chunk_rows, &sample_train, s.plot_feature, host)?;
            evals.push(EvalRow { epoch: e, train: tre.model.summary(&ks), test: te.model.summary(&ks) });
            if let Some(d) = plot_dir {
                let label = names.as_ref().map(|v| v[s.plot_feature].clone()).unwrap_or_else(|| format!("feature {}", s.plot_feature));
                arts.extend(plots::predictions(d, e, &label, &tre.samples, &te.samples));
            }
            last = Some((tre, te));
        }
        host.progress(e - start, total);
    }

    // baseline and final tables (also when epochs = 0: evaluate the initial/saved model)
    let (tre, te) = match last {
        Some(x) => x,
        None => {
            (evaluate(pool, &mut tr, &corpus, &train, &seq, &norm, s.batch, s.chunk_rows, &[], 0, host)?, evaluate(pool, &mut tr, &corpus, &test, &seq, &norm, s.batch, s.chunk_rows, &[], 0, host)?)
        }
    };
    let (ptr, pte) = (tre.persistence.summary(&ks), te.persistence.summary(&ks));
    let (ftr, fte) = (tre.model.summary(&ks), te.model.summary(&ks));

    let mut r = Response::default();
    // model file
    if s.save_model {
        let header = Header {
            format: 1,
            arch,
            seq_len: seq.len,
            truncate: seq.truncate,
            normalize_padding: seq.normalize_padding,
            norm: norm.clone(),
            loss_mask: mask,
            opt: tr.opt.cfg,
            opt_step: tr.opt.step,
            epochs: start + s.epochs,
            traffics: n,
            dataset_sha256: sha,
            train: train.clone(),
            test: test.clone(),
            n_params: 0,
            n_m: 0,
            n_v: 0,
        };
        save::save(&out_dir.join("model.lstm"), &Saved { header, params: tr.params.clone(), opt: tr.opt.clone() })?;
        arts.push(Artifact { name: "model".into(), path: "model.lstm".into(), kind: "lstm_model".into() });
    }
    if let Some(t) = norm.minmax_text() {
        let p = out_dir.join("minmax.csv");
        std::fs::write(&p, t).map_err(|e| PluginError::run(format!("{}: {e}", p.display())))?;
        arts.push(Artifact { name: "minmax".into(), path: "minmax.csv".into(), kind: "minmax".into() });
    }
    // apply to other files (test_rnn.py)
    let mut applied = Vec::new();
    for f in &s.apply_to {
        let name = stem(f);
        let (v, mean_true) = apply_file(pool, &mut tr, &resolve(&base, f), &name, &seq, &norm, s.batch, s.chunk_rows, cache, plot_dir, host, &mut arts)?;
        r.metrics.insert(format!("apply_{name}_cos_true_mean"), num(mean_true));
        applied.push(v);
    }
    if let Some(d) = plot_dir {
        arts.extend(plots::loss(d, &loss_rows));
        let (ptrain, _) = tre.model.per_traffic("true");
        let (ptest, _) = te.model.per_traffic("true");
        arts.extend(plots::distribution(d, "dist_true_test", "true-packet cosine, test set", &ptest));
        for k in &ks {
            let (a, _) = tre.model.per_traffic(k);
            let (b, _) = te.model.per_traffic(k);
            arts.extend(plots::acc_dist(d, k, &evals, &a, &b));
        }
        let _ = ptrain;
    }

    let m = &mut r.metrics;
    let last_loss = loss_rows.last().copied().unwrap_or((start, f64::NAN, te.mse));
    m.insert("train_loss".into(), num(last_loss.1));
    m.insert("val_loss".into(), num(last_loss.2));
    m.insert("test_mse".into(), num(te.mse));
    m.insert("persistence_test_mse".into(), num(te.persistence_mse));
    for (set, f, p) in [("train", &ftr, &ptr), ("test", &fte, &pte)] {
        m.insert(format!("{set}_cos_true_mean"), num(f.mean_of("true")));
        m.insert(format!("{set}_cos_true_median"), num(f.median_of("true")));
        m.insert(format!("{set}_cos_first_mean"), num(f.mean_of("1")));
        m.insert(format!("persistence_{set}_cos_true_mean"), num(p.mean_of("true")));
        m.insert(format!("persistence_{set}_cos_true_median"), num(p.median_of("true")));
    }
    m.insert("beats_persistence".into(), json!(fte.mean_of("true") > pte.mean_of("true")));
    m.insert("epochs".into(), json!(start + s.epochs));
    m.insert("params".into(), json!(arch.layout().len));
    m.insert("traffics_train".into(), json!(train.len()));
    m.insert("traffics_test".into(), json!(test.len()));
    m.insert("feature_dim".into(), json!(dim));

    let d = &mut r.data;
    d.insert("keys".into(), json!(ks));
    d.insert("loss".into(), Value::Array(loss_rows.iter().map(|(e, a, b)| json!({"epoch": e, "train": num(*a), "val": num(*b)})).collect()));
    let loss_at = |e: u64| loss_rows.iter().find(|r| r.0 == e).map(|r| (r.1, r.2)).unwrap_or((f64::NAN, f64::NAN));
    d.insert(
        "evals".into(),
        Value::Array(
            evals.iter().map(|v| json!({"epoch": v.epoch, "train_loss": num(loss_at(v.epoch).0), "val_loss": num(loss_at(v.epoch).1), "train": v.train.to_json(), "test": v.test.to_json()})).collect(),
        ),
    );
    let label = |k: &str| match k {
        "true" => "true packets".to_string(),
        "1" => "packet 1".to_string(),
        n => format!("first {n}"),
    };
    d.insert(
        "cos_table".into(),
        Value::Array(
            ks.iter()
                .map(|k| {
                    json!({"key": k, "label": label(k),
        "train_mean": num(ftr.mean_of(k)), "train_median": num(ftr.median_of(k)), "test_mean": num(fte.mean_of(k)), "test_median": num(fte.median_of(k)),
        "persistence_test_mean": num(pte.mean_of(k)), "persistence_test_median": num(pte.median_of(k))})
                })
                .collect(),
        ),
    );
    d.insert("final".into(), json!({"train": ftr.to_json(), "test": fte.to_json()}));
    d.insert("persistence".into(), json!({"train": ptr.to_json(), "test": pte.to_json(), "test_mse": num(te.persistence_mse)}));
    d.insert("final_per_traffic_true".into(), json!({"train": per_traffic_json(&tre.model, "true"), "test": per_traffic_json(&te.model, "true")}));
    d.insert("first_packet".into(), Value::Array(evals.iter().map(|v| json!({"epoch": v.epoch, "train_mean": num(v.train.mean_of("1")), "train_median": num(v.train.median_of("1")), "test_mean": num(v.test.mean_of("1")), "test_median": num(v.test.median_of("1"))})).collect()));
    d.insert("apply".into(), Value::Array(applied));
    // the features the model predicts worst on the test set (real packets), named by the
    // feature-info file when given
    let (fm, fp) = &te.feature_mse;
    let mut order: Vec<usize> = (0..fm.len()).collect();
    order.sort_by(|&i, &j| fm[j].total_cmp(&fm[i]).then(i.cmp(&j)));
    let name = |j: usize| names.as_ref().map(|v| v[j].clone()).unwrap_or_else(|| format!("feature {j}"));
    d.insert("feature_errors".into(), Value::Array(order.iter().take(10).map(|&j| json!({"index": j, "label": name(j), "mse": num(fm[j]), "persistence_mse": num(fp[j])})).collect()));
    d.insert("split".into(), json!({"train": train.len(), "test": test.len(), "test_traffics": test}));
    d.insert("normalization".into(), json!(norm.name()));
    if let Some(l) = names.as_ref().filter(|_| shown) {
        d.insert("plot_feature_label".into(), json!(l[s.plot_feature]));
    }
    r.model = json!({"arch": arch, "seq_len": seq.len, "truncate": seq.truncate, "normalize": norm.name(), "loss_mask": mask, "optimizer": tr.opt.cfg, "epochs": start + s.epochs, "continued_from_epoch": start, "params": arch.layout().len});
    r.iterations = s.epochs;
    r.evaluations = grads;
    r.termination = Termination::MaxIters;
    r.artifacts = arts;
    Ok(r)
}

/// The `evaluate` capability: a saved model applied to the request's dataset.
pub fn run_evaluate(s: settings::Evaluate, req: &Request, host: &Host, pool: &ThreadPool) -> Result<Response, PluginError> {
    if s.batch == 0 || s.chunk_rows == 0 {
        return Err(PluginError::config(if s.batch == 0 { "batch" } else { "chunk_rows" }, "must be at least 1"));
    }
    let (path, base) = dataset(req)?;
    let sv = save::load(&resolve(&base, &s.model))?;
    let h = &sv.header;
    let dim = h.arch.input;
    let _ = labels(&base, &s.feature_info, dim)?;
    let seq = SeqSpec { len: h.seq_len, truncate: h.truncate, normalize_padding: h.normalize_padding };
    let mut tr = Trainer::new(h.arch, sv.params.clone(), sv.opt.clone(), h.loss_mask);
    let out_dir = PathBuf::from(&req.output_dir);
    let mut arts = Vec::new();
    let name = stem(&path.to_string_lossy());
    let (v, mean_true) = apply_file(pool, &mut tr, &path, &name, &seq, &h.norm, s.batch, s.chunk_rows, s.cache_mb.saturating_mul(1 << 20), s.plots.then_some(out_dir.as_path()), host, &mut arts)?;
    let mut r = Response::default();
    r.metrics.insert("cos_true_mean".into(), num(mean_true));
    r.metrics.insert("cos_true_median".into(), v["model"]["median"]["true"].clone());
    r.metrics.insert("persistence_cos_true_mean".into(), v["persistence"]["mean"]["true"].clone());
    r.metrics.insert("mse".into(), v["mse"].clone());
    r.metrics.insert("traffics".into(), v["traffics"].clone());
    r.data.insert("apply".into(), v);
    r.model = json!({"arch": h.arch, "epochs": h.epochs});
    r.iterations = 1;
    r.evaluations = 1;
    r.termination = Termination::NotIterative;
    r.artifacts = arts;
    Ok(r)
}
