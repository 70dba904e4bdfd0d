//! Sequences and batches (docs/lstm.md, "Preprocessing" step 4).
//!
//! For a traffic of `n` packets and sequence length `L`:
//! 1. truncate to `L` packets: `keep_last` keeps packets `n−L … n−1` (Keras
//!    `pad_sequences(truncating='pre')`, the original), `keep_first` keeps `0 … L−1`;
//! 2. post-pad with zero vectors to `L`; `real = min(n, L)`;
//! 3. normalise every step (also the padded ones, as the original does after padding, unless
//!    `normalize_padding = false`);
//! 4. prepend one all-zero packet: input `x_t = s_{t−1}` (`x_0 = 0`), target `y_t = s_t`,
//!    `t = 0 … L−1` (the one-step lag X_t → X_{t+1}).
//!
//! Batches are time-major (`T × rows × F`), the layout the LSTM consumes.
use crate::norm::{Norm, Stats};
use crate::reader::{FeatureFile, Traffic};
use flowlab_abi::PluginError;
use flowlab_abi::limits::try_zeroed;
use rand::seq::SliceRandom;
use std::borrow::Cow;
use std::path::Path;

/// Which packets a long traffic keeps.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Truncate {
    /// The last `L` packets (the original).
    KeepLast,
    /// The first `L` packets.
    KeepFirst,
}

/// Sequence shaping settings.
#[derive(Debug, Clone, Copy)]
pub struct SeqSpec {
    /// Sequence length `L` (steps per sequence).
    pub len: usize,
    /// Truncation rule.
    pub truncate: Truncate,
    /// Normalise padded steps too (the original's order: pad, then normalise).
    pub normalize_padding: bool,
}

/// Traffics of one feature file, parsed on demand from the memory map or held in memory when
/// the file is smaller than the cache limit.
pub struct Corpus {
    file: FeatureFile,
    cache: Option<Vec<Traffic>>,
}

impl Corpus {
    /// Opens `path`; parses everything into memory when the file is at most `cache_bytes`.
    pub fn open(path: &Path, cache_bytes: usize) -> Result<Corpus, PluginError> {
        let file = FeatureFile::open(path)?;
        let cache = if file.byte_len() <= cache_bytes { Some((0..file.len()).map(|i| file.traffic(i)).collect::<Result<Vec<_>, _>>()?) } else { None };
        Ok(Corpus { file, cache })
    }
    /// Number of traffics.
    pub fn len(&self) -> usize {
        self.file.len()
    }
    /// True if empty (never after a successful open).
    pub fn is_empty(&self) -> bool {
        self.file.is_empty()
    }
    /// Features per packet.
    pub fn dim(&self) -> usize {
        self.file.dim()
    }
    /// The underlying file.
    pub fn file(&self) -> &FeatureFile {
        &self.file
    }
    /// Traffic `i`.
    pub fn traffic(&self, i: usize) -> Result<Cow<'_, Traffic>, PluginError> {
        match &self.cache {
            Some(c) => Ok(Cow::Borrowed(&c[i])),
            None => self.file.traffic(i).map(Cow::Owned),
        }
    }
    /// Per-feature statistics over every packet of the traffics `idx`, in that order.
    pub fn stats(&self, idx: &[usize]) -> Result<Stats, PluginError> {
        let mut s = Stats::new(self.dim());
        for &i in idx {
            s.push(&self.traffic(i)?.values);
        }
        Ok(s)
    }
    /// Packet counts of all traffics.
    pub fn packet_counts(&self) -> Result<Vec<usize>, PluginError> {
        (0..self.len()).map(|i| self.traffic(i).map(|t| t.packets)).collect()
    }
}

/// The shaped sequence `s_0 … s_{L−1}` (`L × F`) of one traffic and its real length.
pub fn shape(t: &Traffic, dim: usize, spec: &SeqSpec, norm: &Norm) -> (Vec<f32>, usize) {
    let l = spec.len;
    let n = t.packets;
    let keep = n.min(l);
    let from = match spec.truncate {
        Truncate::KeepLast => n - keep,
        Truncate::KeepFirst => 0,
    };
    let mut s = vec![0f32; l * dim];
    s[..keep * dim].copy_from_slice(&t.values[from * dim..(from + keep) * dim]);
    let upto = if spec.normalize_padding { l } else { keep };
    for p in s[..upto * dim].chunks_mut(dim) {
        norm.apply(p);
    }
    (s, keep)
}

/// A batch (or a fixed chunk of one): time-major inputs, targets and mask.
#[derive(Debug, Clone, Default)]
pub struct Batch {
    /// Rows (traffics).
    pub rows: usize,
    /// Steps.
    pub steps: usize,
    /// Features.
    pub dim: usize,
    /// Inputs `T × rows × F`.
    pub x: Vec<f32>,
    /// Targets `T × rows × F`.
    pub y: Vec<f32>,
    /// Real-packet mask `T × rows` (1 for `t < real`).
    pub mask: Vec<f32>,
    /// Real length per row.
    pub lens: Vec<usize>,
    /// Traffic index per row.
    pub idx: Vec<usize>,
}

/// Builds the batch of traffics `idx`.
pub fn make_batch(c: &Corpus, idx: &[usize], spec: &SeqSpec, norm: &Norm) -> Result<Batch, PluginError> {
    let (rows, steps, dim) = (idx.len(), spec.len, c.dim());
    // dim comes from the data file: sized fallibly
    let in_file = |e: PluginError| PluginError::data(format!("{}: {}", c.file().path().display(), e.message));
    let x = try_zeroed(&[steps, rows, dim], "a batch of steps × traffics × features").map_err(in_file)?;
    let y = try_zeroed(&[steps, rows, dim], "a batch of steps × traffics × features").map_err(in_file)?;
    let mut b = Batch { rows, steps, dim, x, y, mask: vec![0.0; steps * rows], lens: vec![0; rows], idx: idx.to_vec() };
    for (r, &i) in idx.iter().enumerate() {
        let (s, real) = shape(&*c.traffic(i)?, dim, spec, norm);
        b.lens[r] = real;
        for t in 0..steps {
            let o = (t * rows + r) * dim;
            b.y[o..o + dim].copy_from_slice(&s[t * dim..(t + 1) * dim]);
            if t > 0 {
                b.x[o..o + dim].copy_from_slice(&s[(t - 1) * dim..t * dim]);
            }
            if t < real {
                b.mask[t * rows + r] = 1.0;
            }
        }
    }
    Ok(b)
}

/// Seeded train/test split: a permutation of `0…n−1` from `rng`; the first
/// `⌈(1−f)·n⌉` go to train, the rest to test (the original's `split_train_test`), keeping at
/// least one traffic on each side when `n ≥ 2` and `0 < f < 1`.
pub fn split(n: usize, test_fraction: f64, rng: &mut impl rand::Rng) -> (Vec<usize>, Vec<usize>) {
    let mut p: Vec<usize> = (0..n).collect();
    p.shuffle(rng);
    let mut train = ((1.0 - test_fraction) * n as f64).ceil() as usize;
    if n >= 2 && test_fraction > 0.0 && test_fraction < 1.0 {
        train = train.clamp(1, n - 1);
    }
    let train = train.min(n);
    let test = p.split_off(train);
    (p, test)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn traffic(n: usize, dim: usize) -> Traffic {
        Traffic { values: (0..n * dim).map(|k| (k / dim + 1) as f32).collect(), packets: n }
    }

    #[test]
    fn truncation_padding_and_lag() {
        let spec = SeqSpec { len: 4, truncate: Truncate::KeepLast, normalize_padding: true };
        // 6 packets valued 1..6, keep_last → 3,4,5,6
        let (s, real) = shape(&traffic(6, 2), 2, &spec, &Norm::None);
        assert_eq!((s, real), (vec![3.0, 3.0, 4.0, 4.0, 5.0, 5.0, 6.0, 6.0], 4));
        let first = SeqSpec { truncate: Truncate::KeepFirst, ..spec };
        assert_eq!(shape(&traffic(6, 2), 2, &first, &Norm::None).0, vec![1.0, 1.0, 2.0, 2.0, 3.0, 3.0, 4.0, 4.0]);
        // 2 packets → post-padded with zeros
        let (s, real) = shape(&traffic(2, 2), 2, &spec, &Norm::None);
        assert_eq!((s, real), (vec![1.0, 1.0, 2.0, 2.0, 0.0, 0.0, 0.0, 0.0], 2));
        // padding normalised (minmax maps 0 to -min/(max-min)) unless switched off
        let mm = Norm::Minmax { min: vec![1.0, 1.0], max: vec![3.0, 3.0] };
        assert_eq!(shape(&traffic(2, 2), 2, &spec, &mm).0, vec![0.0, 0.0, 0.5, 0.5, -0.5, -0.5, -0.5, -0.5]);
        let raw = SeqSpec { normalize_padding: false, ..spec };
        assert_eq!(shape(&traffic(2, 2), 2, &raw, &mm).0, vec![0.0, 0.0, 0.5, 0.5, 0.0, 0.0, 0.0, 0.0]);
    }

    #[test]
    fn batch_layout_lag_and_mask() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("f.csv");
        let mut text = String::new();
        crate::reader::write_traffic_line(&mut text, &[1.0, 10.0, 2.0, 20.0, 3.0, 30.0], 2);
        crate::reader::write_traffic_line(&mut text, &[7.0, 70.0], 2);
        std::fs::write(&p, text).unwrap();
        let c = Corpus::open(&p, usize::MAX).unwrap();
        let spec = SeqSpec { len: 4, truncate: Truncate::KeepLast, normalize_padding: true };
        let b = make_batch(&c, &[0, 1], &spec, &Norm::None).unwrap();
        assert_eq!((b.rows, b.steps, b.dim), (2, 4, 2));
        assert_eq!(b.x.len(), 4 * 2 * 2);
        // x_t = s_{t-1} with a zero first input; y_t = s_t; time-major
        let x = |t: usize, r: usize| b.x[(t * 2 + r) * 2];
        let y = |t: usize, r: usize| b.y[(t * 2 + r) * 2];
        assert_eq!([x(0, 0), x(1, 0), x(2, 0), x(3, 0)], [0.0, 1.0, 2.0, 3.0]);
        assert_eq!([y(0, 0), y(1, 0), y(2, 0), y(3, 0)], [1.0, 2.0, 3.0, 0.0]);
        assert_eq!([x(0, 1), x(1, 1), y(0, 1), y(1, 1)], [0.0, 7.0, 7.0, 0.0]);
        assert_eq!(b.mask, vec![1.0, 1.0, 1.0, 0.0, 1.0, 0.0, 0.0, 0.0]);
        assert_eq!(b.lens, vec![3, 1]);
        let s = c.stats(&[0, 1]).unwrap();
        assert_eq!(s.count(), 4);
    }

    #[test]
    fn split_is_seeded_and_sized() {
        let mut r1 = flowlab_abi::seed::stream_rng("aa", "split", 0);
        let mut r2 = flowlab_abi::seed::stream_rng("aa", "split", 0);
        let (tr, te) = split(10, 0.3, &mut r1);
        assert_eq!((tr.len(), te.len()), (7, 3));
        assert_eq!((tr.clone(), te.clone()), split(10, 0.3, &mut r2));
        let mut all: Vec<usize> = tr.into_iter().chain(te).collect();
        all.sort();
        assert_eq!(all, (0..10).collect::<Vec<_>>());
        let (tr, te) = split(136, 0.05, &mut r1);
        assert_eq!((tr.len(), te.len()), (130, 6)); // ceil(0.95·136) = 130
    }
}
