//! The Mersenne Twister generators flow-models draws from, bit for bit (docs/histfit.md,
//! "rng = numpy"):
//! - [`RandomState`]: numpy's legacy `np.random.RandomState(seed)` for an integer seed —
//!   MT19937 seeded by `init_genrand(seed)` (numpy's `_legacy_seeding` takes that path for
//!   an int in [0, 2³²)), `random_sample` = (a>>5, b>>6) → 53-bit double, `uniform`,
//!   and the legacy polar-method `standard_normal` that caches its second value;
//! - [`PyRandom`]: Python's `random.Random(seed)` — the same MT19937, seeded by
//!   `init_by_array` of the 32-bit words of |seed|, `random()` with the same 53-bit formula.
//!
//! The algorithms are frozen in both libraries (numpy keeps RandomState for
//! reproducibility), so these streams match every numpy/Python version.

const N: usize = 624;
const M: usize = 397;
const MATRIX_A: u32 = 0x9908_b0df;
const UPPER: u32 = 0x8000_0000;
const LOWER: u32 = 0x7fff_ffff;

/// MT19937 state (624 words and the read position).
#[derive(Clone)]
pub struct Mt19937 {
    key: [u32; N],
    pos: usize,
}

impl Mt19937 {
    /// `init_genrand(s)`: key[0] = s, key[i] = 1812433253·(key[i−1] ⊕ key[i−1]>>30) + i.
    pub fn init_genrand(seed: u32) -> Mt19937 {
        let mut key = [0u32; N];
        key[0] = seed;
        for i in 1..N {
            key[i] = 1_812_433_253u32.wrapping_mul(key[i - 1] ^ (key[i - 1] >> 30)).wrapping_add(i as u32);
        }
        Mt19937 { key, pos: N }
    }

    /// `init_by_array(init_key)` of the reference implementation (what Python's
    /// `random.seed(int)` and numpy's array seeding call).
    pub fn init_by_array(init_key: &[u32]) -> Mt19937 {
        let mut s = Mt19937::init_genrand(19_650_218);
        let mt = &mut s.key;
        let len = init_key.len().max(1);
        let word = |j: usize| init_key.get(j).copied().unwrap_or(0);
        let (mut i, mut j) = (1usize, 0usize);
        for _ in 0..N.max(len) {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_664_525)).wrapping_add(word(j)).wrapping_add(j as u32);
            i += 1;
            j += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
            if j >= len {
                j = 0;
            }
        }
        for _ in 0..N - 1 {
            mt[i] = (mt[i] ^ (mt[i - 1] ^ (mt[i - 1] >> 30)).wrapping_mul(1_566_083_941)).wrapping_sub(i as u32);
            i += 1;
            if i >= N {
                mt[0] = mt[N - 1];
                i = 1;
            }
        }
        mt[0] = 0x8000_0000;
        s.pos = N;
        s
    }

    fn twist(&mut self) {
        let mt = &mut self.key;
        for k in 0..N {
            let y = (mt[k] & UPPER) | (mt[(k + 1) % N] & LOWER);
            mt[k] = mt[(k + M) % N] ^ (y >> 1) ^ if y & 1 == 1 { MATRIX_A } else { 0 };
        }
        self.pos = 0;
    }

    /// The next tempered 32-bit output.
    #[inline]
    pub fn next_u32(&mut self) -> u32 {
        if self.pos >= N {
            self.twist();
        }
        let mut y = self.key[self.pos];
        self.pos += 1;
        y ^= y >> 11;
        y ^= (y << 7) & 0x9d2c_5680;
        y ^= (y << 15) & 0xefc6_0000;
        y ^ (y >> 18)
    }

    /// A double in [0, 1) from two outputs: (a>>5 · 2²⁶ + b>>6) / 2⁵³ (numpy's
    /// `mt19937_next_double`, Python's `random_random`).
    #[inline]
    pub fn next_f64(&mut self) -> f64 {
        let a = (self.next_u32() >> 5) as f64;
        let b = (self.next_u32() >> 6) as f64;
        (a * 67_108_864.0 + b) / 9_007_199_254_740_992.0
    }
}

/// numpy's legacy `RandomState(seed)` for an integer seed.
#[derive(Clone)]
pub struct RandomState {
    mt: Mt19937,
    gauss: Option<f64>,
}

impl RandomState {
    /// `np.random.RandomState(seed)`, seed in [0, 2³²).
    pub fn new(seed: u32) -> RandomState {
        RandomState { mt: Mt19937::init_genrand(seed), gauss: None }
    }

    /// `random_sample()`: a double in [0, 1).
    #[inline]
    pub fn random_sample(&mut self) -> f64 {
        self.mt.next_f64()
    }

    /// `uniform(low, high)` = low + (high − low)·random_sample().
    #[inline]
    pub fn uniform(&mut self, low: f64, high: f64) -> f64 {
        low + (high - low) * self.random_sample()
    }

    /// `standard_normal()` of RandomState (`legacy_gauss`): Marsaglia's polar method on
    /// x₁, x₂ = 2u − 1 until 0 < r² = x₁² + x₂² < 1, f = √(−2 ln r² / r²); returns f·x₂ and
    /// keeps f·x₁ for the next call.
    #[inline]
    pub fn standard_normal(&mut self) -> f64 {
        if let Some(g) = self.gauss.take() {
            return g;
        }
        loop {
            let x1 = 2.0 * self.random_sample() - 1.0;
            let x2 = 2.0 * self.random_sample() - 1.0;
            let r2 = x1 * x1 + x2 * x2;
            if r2 < 1.0 && r2 != 0.0 {
                let f = (-2.0 * r2.ln() / r2).sqrt();
                self.gauss = Some(f * x1);
                return f * x2;
            }
        }
    }
}

/// Python's `random.Random(seed)` for an integer seed.
#[derive(Clone)]
pub struct PyRandom {
    mt: Mt19937,
}

impl PyRandom {
    /// `random.Random(seed)`: `init_by_array` of the little-endian 32-bit words of |seed|
    /// (one word 0 for seed 0).
    pub fn new(seed: i64) -> PyRandom {
        let n = seed.unsigned_abs();
        let key: Vec<u32> = if n >> 32 == 0 { vec![n as u32] } else { vec![n as u32, (n >> 32) as u32] };
        PyRandom { mt: Mt19937::init_by_array(&key) }
    }

    /// `random()`: a double in [0, 1).
    #[inline]
    pub fn random(&mut self) -> f64 {
        self.mt.next_f64()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The reference implementation's published check (mt19937ar.out: `init_by_array
    /// {0x123, 0x234, 0x345, 0x456}`, first outputs) and the C++ standard's 10000th output
    /// of `std::mt19937` seeded with 5489 (4123659995).
    #[test]
    fn reference_vectors() {
        let mut m = Mt19937::init_by_array(&[0x123, 0x234, 0x345, 0x456]);
        let first: Vec<u32> = (0..5).map(|_| m.next_u32()).collect();
        assert_eq!(first, [1067595299, 955945823, 477289528, 4107218783, 4228976476]);
        let mut d = Mt19937::init_genrand(5489);
        let v = (0..10_000).map(|_| d.next_u32()).last().unwrap();
        assert_eq!(v, 4_123_659_995);
    }

    /// numpy: `np.random.RandomState(0).random_sample(3)` and `.standard_normal(3)`;
    /// Python: `random.Random(0).random()`, `random.Random(42).random()`.
    #[test]
    fn known_numpy_and_python_values() {
        let mut r = RandomState::new(0);
        let u: Vec<f64> = (0..3).map(|_| r.random_sample()).collect();
        assert_eq!(u, [0.5488135039273248, 0.7151893663724195, 0.6027633760716439]);
        let mut r = RandomState::new(0);
        let z: Vec<f64> = (0..3).map(|_| r.standard_normal()).collect();
        assert_eq!(z, [1.764052345967664, 0.4001572083672233, 0.9787379841057392]);
        assert_eq!(PyRandom::new(0).random(), 0.8444218515250481);
        assert_eq!(PyRandom::new(42).random(), 0.6394267984578837);
    }
}
