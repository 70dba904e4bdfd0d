//! Binning a user's flow start times into counts per window, as the paper's §VI does
//! (`docs/endhost.md`, "Binning"): non-overlapping windows `[i·b, (i+1)·b)` on the file's time
//! axis; a window is kept only when it lies entirely inside a host-on interval (touching
//! intervals are merged first), so a window where the host was off or disconnected is dropped,
//! and a kept window without flows is a zero. Without a host-on file the host counts as on from
//! the window of the user's first flow to the window of the last.
//!
//! One pass over the time-sorted flows per bin size: O(flows + kept windows).

/// Position of a time outside every kept window.
pub const OUTSIDE: u32 = u32::MAX;

/// The kept windows of one bin size, as runs of consecutive window indices (at most
/// `u32::MAX − 1` windows: 544 years of 4 s windows).
#[derive(Debug, Clone, PartialEq)]
pub struct Windows {
    /// Bin width (s).
    pub b: f64,
    /// Runs `[first, end)` of window indices, ascending and disjoint.
    pub runs: Vec<(i64, i64)>,
    /// Offset of each run's first window in the flat per-window arrays.
    pub base: Vec<usize>,
    /// Total kept windows.
    pub len: usize,
}

impl Windows {
    /// The kept windows of width `b` for host-on intervals `on` (sorted, merged), or the
    /// span of `times_sorted` when `on` is `None`.
    pub fn new(b: f64, on: Option<&[(f64, f64)]>, times_sorted: &[f64]) -> Windows {
        let mut runs = vec![];
        match on {
            Some(iv) => {
                for &(s, e) in iv {
                    let (i0, i1) = ((s / b).ceil() as i64, (e / b).floor() as i64);
                    if i1 > i0 {
                        runs.push((i0, i1));
                    }
                }
            }
            None => {
                if let (Some(f), Some(l)) = (times_sorted.first(), times_sorted.last()) {
                    runs.push(((f / b).floor() as i64, (l / b).floor() as i64 + 1));
                }
            }
        }
        let mut base = Vec::with_capacity(runs.len());
        let mut len = 0;
        for r in &runs {
            base.push(len);
            len += (r.1 - r.0) as usize;
        }
        Windows { b, runs, base, len }
    }

    /// Position of each sorted time in the flat window arrays ([`OUTSIDE`]: outside every
    /// kept window), by one merge pass.
    pub fn positions<'a>(&'a self, times_sorted: &'a [f64]) -> impl Iterator<Item = u32> + 'a {
        let mut r = 0usize;
        times_sorted.iter().map(move |&t| {
            let w = (t / self.b).floor() as i64;
            while r < self.runs.len() && self.runs[r].1 <= w {
                r += 1;
            }
            match self.runs.get(r) {
                Some(&(s, _)) if w >= s => (self.base[r] + (w - s) as usize) as u32,
                _ => OUTSIDE,
            }
        })
    }

    /// Flow count per kept window and the number of flows outside every kept window.
    pub fn counts(&self, times_sorted: &[f64]) -> (Vec<u32>, u64) {
        let mut c = vec![0u32; self.len];
        let mut outside = 0u64;
        for p in self.positions(times_sorted) {
            if p == OUTSIDE {
                outside += 1;
            } else {
                c[p as usize] = c[p as usize].saturating_add(1);
            }
        }
        (c, outside)
    }

    /// Whether each kept window holds at least one of `events_sorted` (an active window).
    pub fn active(&self, events_sorted: &[f64]) -> Vec<bool> {
        let mut a = vec![false; self.len];
        for i in self.positions(events_sorted).filter(|&i| i != OUTSIDE) {
            a[i as usize] = true;
        }
        a
    }
}

/// Sorts flows by start time (stable on ties), keeping each flow's key with it.
pub fn sort_flows(times: &mut Vec<f64>, keys: &mut Vec<u32>) {
    if times.windows(2).all(|w| w[0] <= w[1]) {
        return;
    }
    let mut idx: Vec<u32> = (0..times.len() as u32).collect();
    idx.sort_by(|&a, &b| times[a as usize].total_cmp(&times[b as usize]));
    *times = idx.iter().map(|&i| times[i as usize]).collect();
    *keys = idx.iter().map(|&i| keys[i as usize]).collect();
}

/// (value, multiplicity) pairs of the counts: the non-zero ones (the paper's fit), or every
/// count shifted by one (`keep_zeros`: the zero windows enter the likelihood as k = 1), and
/// the number of zero windows.
pub fn count_pairs(counts: &[u32], keep_zeros: bool) -> (Vec<(u64, u64)>, u64) {
    let mut m: std::collections::BTreeMap<u64, u64> = std::collections::BTreeMap::new();
    let mut zeros = 0;
    for &c in counts {
        if c == 0 {
            zeros += 1;
        }
        if keep_zeros {
            *m.entry(c as u64 + 1).or_default() += 1;
        } else if c > 0 {
            *m.entry(c as u64).or_default() += 1;
        }
    }
    (m.into_iter().collect(), zeros)
}

#[cfg(test)]
mod tests {
    use super::*;
    use rand::Rng;

    /// Direct definition: a window is kept iff [i·b, (i+1)·b) ⊂ some interval; count flows
    /// with ⌊t/b⌋ = i.
    fn brute(b: f64, on: &[(f64, f64)], t: &[f64]) -> (Vec<(i64, u32)>, u64) {
        let lo = on.iter().map(|x| (x.0 / b).floor() as i64).min().unwrap() - 1;
        let hi = on.iter().map(|x| (x.1 / b).ceil() as i64).max().unwrap() + 1;
        let mut out = vec![];
        for i in lo..hi {
            let (s, e) = (i as f64 * b, (i + 1) as f64 * b);
            if on.iter().any(|&(a, z)| a <= s && e <= z) {
                out.push((i, t.iter().filter(|&&x| (x / b).floor() as i64 == i).count() as u32));
            }
        }
        let inside: u64 = out.iter().map(|x| x.1 as u64).sum();
        (out, t.len() as u64 - inside)
    }

    #[test]
    fn counts_match_the_definition_on_random_cases() {
        let mut rng = flowlab_abi::seed::rng_from_u64(5, "binning", 0);
        for case in 0..300 {
            // merged, sorted on intervals with random (unaligned) edges
            let mut on = vec![];
            let mut x = rng.random::<f64>() * 50.0;
            for _ in 0..rng.random_range(1..5) {
                let len = rng.random::<f64>() * 80.0 + 0.5;
                on.push((x, x + len));
                x += len + rng.random::<f64>() * 40.0 + 0.01;
            }
            let mut t: Vec<f64> = (0..rng.random_range(0..200)).map(|_| rng.random::<f64>() * (x + 20.0) - 10.0).collect();
            t.sort_by(f64::total_cmp);
            for b in [1.0, 4.0, 7.5, 16.0] {
                let w = Windows::new(b, Some(&on), &t);
                let (c, outside) = w.counts(&t);
                let (want, want_out) = brute(b, &on, &t);
                assert_eq!(c, want.iter().map(|x| x.1).collect::<Vec<_>>(), "case {case} b {b}");
                assert_eq!(outside, want_out, "case {case} b {b}");
                let act = w.active(&t);
                assert_eq!(act, c.iter().map(|&k| k > 0).collect::<Vec<_>>());
            }
        }
    }

    #[test]
    fn span_without_hosts_and_zero_policy() {
        let t = [3.0, 9.5, 9.9, 17.0];
        let w = Windows::new(4.0, None, &t);
        assert_eq!((w.runs.clone(), w.len), (vec![(0, 5)], 5));
        let (c, out) = w.counts(&t);
        assert_eq!((c.clone(), out), (vec![1, 0, 2, 0, 1], 0));
        assert_eq!(count_pairs(&c, false), (vec![(1, 2), (2, 1)], 2));
        assert_eq!(count_pairs(&c, true), (vec![(1, 2), (2, 2), (3, 1)], 2));
        let (mut tt, mut kk) = (vec![3.0, 1.0, 2.0], vec![30, 10, 20]);
        sort_flows(&mut tt, &mut kk);
        assert_eq!((tt, kk), (vec![1.0, 2.0, 3.0], vec![10, 20, 30]));
    }
}
