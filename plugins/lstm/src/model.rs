//! A 1-layer LSTM with explicit BPTT over `matrixmultiply` (docs/lstm.md, "Model and training" and "Implementation choices").
//!
//! Gate order in the packed weights is Keras' and PyTorch's: input `i`, forget `f`, cell `g`,
//! output `o`. With `x_t ∈ ℝ^F`, `h_t, c_t ∈ ℝ^H`, `z_t = x_t·W_x + h_{t−1}·W_h + b ∈ ℝ^{4H}`:
//!
//! ```text
//! i = σ_r(z_i)  f = σ_r(z_f)  g = tanh(z_g)  o = σ_r(z_o)
//! c_t = f ⊙ c_{t−1} + i ⊙ g     h_t = o ⊙ tanh(c_t)      h_{−1} = c_{−1} = 0
//! ŷ_t = act(h_t)               (head = none, output size = H; the original)
//! ŷ_t = act(h_t·W_o + b_o)     (head = linear)
//! ```
//!
//! `σ_r` is the logistic sigmoid or Keras 2's `hard_sigmoid` `clip(0.2x + 0.5, 0, 1)` (derivative
//! 0.2 inside (−2.5, 2.5), else 0). The loss is the MSE `Σ m_{b,t} ‖ŷ_{b,t} − y_{b,t}‖² / (N·O)`
//! with `m` the mask (all ones for `loss_mask = none`, the original) and `N = Σ m`.
//!
//! Layout: time-major buffers (`T × rows × ·`), one input GEMM for all steps, one recurrent
//! GEMM per step forwards and backwards, and the weight gradients as three GEMMs over all
//! `T·rows` rows. A batch is cut into fixed row chunks (independent of the thread count); each
//! chunk runs the whole recurrence on its own and the chunk gradients are summed in chunk order,
//! so results are bit-identical for any number of threads.
use crate::scalar::Scalar;
use rand::Rng;
use rand_distr_free::normal;
use serde::{Deserialize, Serialize};

/// Output head.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Head {
    /// `ŷ = act(h)`: output size = hidden size (the original).
    None,
    /// `ŷ = act(h·W_o + b_o)`.
    Linear,
}

/// Output activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum OutAct {
    /// `max(0, x)` (the original).
    Relu,
    /// `x`.
    Identity,
    /// Logistic sigmoid.
    Sigmoid,
    /// tanh.
    Tanh,
}

/// Recurrent (gate) activation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum RecAct {
    /// Logistic sigmoid (PyTorch, modern Keras).
    Sigmoid,
    /// Keras 2 `hard_sigmoid`: `clip(0.2x + 0.5, 0, 1)` (the original).
    HardSigmoidKeras2,
}

/// Weight initialisation.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Init {
    /// Keras 2: glorot-uniform kernel, orthogonal recurrent kernel, zero bias with forget bias 1
    /// (`unit_forget_bias`), glorot-uniform head (the original).
    Keras,
    /// PyTorch: every weight and bias `U(−1/√H, 1/√H)` (one bias vector instead of two).
    PytorchUniform,
}

/// Shape and functions of the network.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Arch {
    /// Features per input step `F`.
    pub input: usize,
    /// Hidden units `H`.
    pub hidden: usize,
    /// Output size `O` (= `F`, the predicted next packet).
    pub output: usize,
    /// Output head.
    pub head: Head,
    /// Output activation.
    pub out_act: OutAct,
    /// Gate activation.
    pub rec_act: RecAct,
}

/// Offsets of the parameter blocks in the flat parameter vector.
#[derive(Debug, Clone, Copy)]
pub struct Layout {
    /// `W_x`: `F × 4H`.
    pub wx: usize,
    /// `W_h`: `H × 4H`.
    pub wh: usize,
    /// `b`: `4H`.
    pub b: usize,
    /// `W_o`: `H × O` (head only).
    pub wo: usize,
    /// `b_o`: `O` (head only).
    pub bo: usize,
    /// Total.
    pub len: usize,
}

impl Arch {
    /// Parameter layout. Without head: `4(F·H + H·H + H)` (171 112 for F = H = 146).
    pub fn layout(&self) -> Layout {
        let (f, h, o) = (self.input, self.hidden, self.output);
        let wx = 0;
        let wh = wx + f * 4 * h;
        let b = wh + h * 4 * h;
        let wo = b + 4 * h;
        let bo = wo + if self.head == Head::Linear { h * o } else { 0 };
        let len = bo + if self.head == Head::Linear { o } else { 0 };
        Layout { wx, wh, b, wo, bo, len }
    }

    /// Initial parameters (formulas at [`Init`]).
    pub fn init(&self, init: Init, rng: &mut impl Rng) -> Vec<f32> {
        let (f, h, o) = (self.input, self.hidden, self.output);
        let l = self.layout();
        let mut p = vec![0f32; l.len];
        let uni = |p: &mut [f32], lim: f64, rng: &mut dyn FnMut() -> f64| {
            for v in p {
                *v = ((2.0 * rng() - 1.0) * lim) as f32;
            }
        };
        let mut u = || rng.random::<f64>();
        match init {
            Init::Keras => {
                uni(&mut p[l.wx..l.wh], (6.0 / (f + 4 * h) as f64).sqrt(), &mut u);
                let q = orthogonal(h, 4 * h, &mut u);
                for (d, s) in p[l.wh..l.b].iter_mut().zip(&q) {
                    *d = *s as f32;
                }
                for v in &mut p[l.b + h..l.b + 2 * h] {
                    *v = 1.0;
                }
                if self.head == Head::Linear {
                    uni(&mut p[l.wo..l.bo], (6.0 / (h + o) as f64).sqrt(), &mut u);
                }
            }
            Init::PytorchUniform => {
                let lim = 1.0 / (h as f64).sqrt();
                uni(&mut p[..], lim, &mut u);
            }
        }
        p
    }
}

/// Keras' `Orthogonal` for a `rows × cols` kernel with `rows ≤ cols`: orthonormal rows from a
/// standard-normal matrix (Gram–Schmidt in f64, twice for stability; Keras takes the SVD
/// factor, which has the same distribution).
fn orthogonal(rows: usize, cols: usize, u: &mut dyn FnMut() -> f64) -> Vec<f64> {
    let mut a: Vec<f64> = (0..rows * cols).map(|_| normal(u)).collect();
    for r in 0..rows.min(cols) {
        for _pass in 0..2 {
            for q in 0..r {
                let d: f64 = (0..cols).map(|j| a[r * cols + j] * a[q * cols + j]).sum();
                for j in 0..cols {
                    a[r * cols + j] -= d * a[q * cols + j];
                }
            }
        }
        let n = (0..cols).map(|j| a[r * cols + j].powi(2)).sum::<f64>().sqrt();
        for j in 0..cols {
            a[r * cols + j] /= n;
        }
    }
    a
}

/// Small helpers that stand in for a distributions crate (keeps the build light).
mod rand_distr_free {
    /// A standard-normal draw by Box–Muller from two uniforms in (0, 1].
    pub fn normal(u: &mut dyn FnMut() -> f64) -> f64 {
        let a = 1.0 - u();
        let b = u();
        (-2.0 * a.ln()).sqrt() * (std::f64::consts::TAU * b).cos()
    }
}

/// Buffers of one row chunk, allocated once and reused across batches.
#[derive(Debug, Default, Clone)]
pub struct Work<T> {
    rows: usize,
    steps: usize,
    /// Gates `T × rows × 4H` (activated i, f, g, o; overwritten by `dz` in backward).
    gates: Vec<T>,
    /// Cell states `(T+1) × rows × H`, slot 0 = c_{−1} = 0.
    c: Vec<T>,
    /// Hidden states `(T+1) × rows × H`, slot 0 = h_{−1} = 0.
    h: Vec<T>,
    /// tanh(c_t), `T × rows × H`.
    tc: Vec<T>,
    /// Outputs ŷ, `T × rows × O`.
    pub y: Vec<T>,
    /// Output-side gradient `T × rows × H` (dL/dh_t from the outputs).
    dh_out: Vec<T>,
    /// dL/dŷ (then dL/d(pre-activation)), `T × rows × O`.
    dy: Vec<T>,
    dh_next: Vec<T>,
    dc_next: Vec<T>,
    /// W_h packed for the per-step forward GEMM, and W_hᵀ for the backward one.
    pk_f: kernels::gemm::Packed,
    pk_b: kernels::gemm::Packed,
    /// Parameter gradient of this chunk.
    pub grad: Vec<T>,
}

impl<T: Scalar> Work<T> {
    fn ensure(&mut self, a: &Arch, rows: usize, steps: usize) {
        if self.rows == rows && self.steps == steps && self.grad.len() == a.layout().len {
            return;
        }
        let (h, o) = (a.hidden, a.output);
        let z = T::ZERO;
        *self = Work {
            rows,
            steps,
            gates: vec![z; steps * rows * 4 * h],
            c: vec![z; (steps + 1) * rows * h],
            h: vec![z; (steps + 1) * rows * h],
            tc: vec![z; steps * rows * h],
            y: vec![z; steps * rows * o],
            dh_out: vec![z; steps * rows * h],
            dy: vec![z; steps * rows * o],
            dh_next: vec![z; rows * h],
            dc_next: vec![z; rows * h],
            pk_f: Default::default(),
            pk_b: Default::default(),
            grad: vec![z; a.layout().len],
        };
    }
}

#[inline(always)]
fn rec<T: Scalar>(a: RecAct, x: T) -> T {
    match a {
        RecAct::Sigmoid => x.sigmoid(),
        RecAct::HardSigmoidKeras2 => {
            let v = T::from_f64(0.2) * x + T::from_f64(0.5);
            if v < T::ZERO {
                T::ZERO
            } else if v > T::ONE {
                T::ONE
            } else {
                v
            }
        }
    }
}

/// Derivative of the gate function from its value `s`.
#[inline(always)]
fn rec_d<T: Scalar>(a: RecAct, s: T) -> T {
    match a {
        RecAct::Sigmoid => s * (T::ONE - s),
        RecAct::HardSigmoidKeras2 => {
            if s > T::ZERO && s < T::ONE {
                T::from_f64(0.2)
            } else {
                T::ZERO
            }
        }
    }
}

#[inline(always)]
fn out<T: Scalar>(a: OutAct, x: T) -> T {
    match a {
        OutAct::Relu => {
            if x > T::ZERO {
                x
            } else {
                T::ZERO
            }
        }
        OutAct::Identity => x,
        OutAct::Sigmoid => x.sigmoid(),
        OutAct::Tanh => x.tanh(),
    }
}

/// Derivative of the output activation from its value `y`.
#[inline(always)]
fn out_d<T: Scalar>(a: OutAct, y: T) -> T {
    match a {
        OutAct::Relu => {
            if y > T::ZERO {
                T::ONE
            } else {
                T::ZERO
            }
        }
        OutAct::Identity => T::ONE,
        OutAct::Sigmoid => y * (T::ONE - y),
        OutAct::Tanh => T::ONE - y * y,
    }
}

/// Elementwise cell update of one step for all rows (forward): gate activations in place, then
/// `c = f⊙c_prev + i⊙g`, `tc = tanh c`, `h = o⊙tc`.
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cell_fwd_rows<T: Scalar>(ra: RecAct, rows: usize, h: usize, gt: &mut [T], cprev: &[T], cnew: &mut [T], tct: &mut [T], hnew: &mut [T]) {
    let g4 = 4 * h;
    for r in 0..rows {
        let z = &mut gt[r * g4..(r + 1) * g4];
        let (zi, rest) = z.split_at_mut(h);
        let (zf, rest) = rest.split_at_mut(h);
        let (zg, zo) = rest.split_at_mut(h);
        let cp = &cprev[r * h..(r + 1) * h];
        let cn = &mut cnew[r * h..(r + 1) * h];
        let tcr = &mut tct[r * h..(r + 1) * h];
        let hn = &mut hnew[r * h..(r + 1) * h];
        // simple single-slice passes vectorise reliably
        for z in [&mut *zi, &mut *zf, &mut *zo] {
            for v in z.iter_mut() {
                *v = rec(ra, *v);
            }
        }
        for v in zg.iter_mut() {
            *v = v.tanh();
        }
        for (((c, (&f, &p)), &i), &g) in cn.iter_mut().zip(zf.iter().zip(cp)).zip(zi.iter()).zip(zg.iter()) {
            *c = f * p + i * g;
        }
        for (t, &c) in tcr.iter_mut().zip(cn.iter()) {
            *t = c.tanh();
        }
        for ((hv, &o), &t) in hn.iter_mut().zip(zo.iter()).zip(tcr.iter()) {
            *hv = o * t;
        }
    }
}

/// Elementwise BPTT of one step for all rows: turns the stored gates into `dz` in place and
/// updates `dc_next` (formulas in the module doc, differentiated).
#[inline(always)]
#[allow(clippy::too_many_arguments)]
fn cell_bwd_rows<T: Scalar>(ra: RecAct, rows: usize, h: usize, gt: &mut [T], dh_next: &[T], dc_next: &mut [T], cprev: &[T], tct: &[T], dho: &[T]) {
    let g4 = 4 * h;
    for r in 0..rows {
        let z = &mut gt[r * g4..(r + 1) * g4];
        let (gi, rest) = z.split_at_mut(h);
        let (gf, rest) = rest.split_at_mut(h);
        let (gg, go) = rest.split_at_mut(h);
        let dhn = &dh_next[r * h..(r + 1) * h];
        let dcn = &mut dc_next[r * h..(r + 1) * h];
        let cp = &cprev[r * h..(r + 1) * h];
        let tcr = &tct[r * h..(r + 1) * h];
        let dhr = &dho[r * h..(r + 1) * h];
        for j in 0..h {
            let dh = dhr[j] + dhn[j];
            let (i, fg, g, og, tc) = (gi[j], gf[j], gg[j], go[j], tcr[j]);
            let dc = dh * og * (T::ONE - tc * tc) + dcn[j];
            go[j] = dh * tc * rec_d(ra, og);
            gi[j] = dc * g * rec_d(ra, i);
            gg[j] = dc * i * (T::ONE - g * g);
            gf[j] = dc * cp[j] * rec_d(ra, fg);
            dcn[j] = dc * fg;
        }
    }
}

/// Defines `$name`, which runs `$rows_fn` with the gate activation as a compile-time constant
/// (so the loops specialise) on the active instruction-set path of flowlab-kernels'
/// [`kernels::dispatch!`] (docs/kernels.md: the same IEEE operations on every path, so the same
/// numbers: Rust never contracts to FMA on its own).
macro_rules! dispatch {
    ($name:ident, $body:ident, $rows_fn:ident, ($($arg:ident: $ty:ty),*)) => {
        #[inline(always)]
        #[allow(clippy::too_many_arguments)]
        fn $body<T: Scalar>(ra: RecAct, $($arg: $ty),*) {
            match ra {
                RecAct::Sigmoid => $rows_fn(RecAct::Sigmoid, $($arg),*),
                RecAct::HardSigmoidKeras2 => $rows_fn(RecAct::HardSigmoidKeras2, $($arg),*),
            }
        }
        kernels::dispatch! {
            fn $name<T: Scalar>(ra: RecAct, $($arg: $ty),*) -> () => $body
        }
    };
}
dispatch!(cell_fwd, cell_fwd_body, cell_fwd_rows, (rows: usize, h: usize, gt: &mut [T], cprev: &[T], cnew: &mut [T], tct: &mut [T], hnew: &mut [T]));
dispatch!(cell_bwd, cell_bwd_body, cell_bwd_rows, (rows: usize, h: usize, gt: &mut [T], dh_next: &[T], dc_next: &mut [T], cprev: &[T], tct: &[T], dho: &[T]));

/// Forward pass of one chunk: `x` is `T × rows × F`; fills `w.y` (`T × rows × O`).
pub fn forward<T: Scalar>(a: &Arch, p: &[T], x: &[T], rows: usize, steps: usize, w: &mut Work<T>) {
    w.ensure(a, rows, steps);
    let (f, h, o) = (a.input, a.hidden, a.output);
    let g4 = 4 * h;
    let l = a.layout();
    let tb = steps * rows;
    // z = b (broadcast), then z += X·W_x for all steps at once
    for r in w.gates.chunks_mut(g4) {
        r.copy_from_slice(&p[l.b..l.b + g4]);
    }
    T::gemm(tb, f, g4, T::ONE, x, (f, 1), &p[l.wx..l.wh], (g4, 1), T::ONE, &mut w.gates, (g4, 1));
    let wh = &p[l.wh..l.b];
    let packed = T::pack(wh, h, g4, (g4, 1), &mut w.pk_f);
    for t in 0..steps {
        let gt = &mut w.gates[t * rows * g4..(t + 1) * rows * g4];
        let (hs, hrest) = w.h.split_at_mut((t + 1) * rows * h);
        let hprev = &hs[t * rows * h..];
        T::gemm_packed(rows, h, g4, hprev, h, wh, (g4, 1), &w.pk_f, packed, T::ONE, gt, g4);
        let (cs, crest) = w.c.split_at_mut((t + 1) * rows * h);
        let cprev = &cs[t * rows * h..];
        let cnew = &mut crest[..rows * h];
        let hnew = &mut hrest[..rows * h];
        let tct = &mut w.tc[t * rows * h..(t + 1) * rows * h];
        cell_fwd(a.rec_act, rows, h, gt, cprev, cnew, tct, hnew);
    }
    let hs = &w.h[rows * h..];
    match a.head {
        Head::None => {
            for (y, &v) in w.y.iter_mut().zip(hs) {
                *y = out(a.out_act, v);
            }
        }
        Head::Linear => {
            for r in w.y.chunks_mut(o) {
                r.copy_from_slice(&p[l.bo..l.bo + o]);
            }
            T::gemm(tb, h, o, T::ONE, hs, (h, 1), &p[l.wo..l.bo], (o, 1), T::ONE, &mut w.y, (o, 1));
            for y in w.y.iter_mut() {
                *y = out(a.out_act, *y);
            }
        }
    }
}

/// Squared-error sum of a chunk `Σ m ‖ŷ − y‖²` (f64) after [`forward`].
pub fn sq_error<T: Scalar>(a: &Arch, w: &Work<T>, target: &[T], mask: &[T]) -> f64 {
    let o = a.output;
    let mut s = 0f64;
    for (k, (yr, tr)) in w.y.chunks(o).zip(target.chunks(o)).enumerate() {
        if mask[k] == T::ZERO {
            continue;
        }
        let mut e = 0f64;
        for (p, t) in yr.iter().zip(tr) {
            let d = (*p - *t).to_f64();
            e += d * d;
        }
        s += mask[k].to_f64() * e;
    }
    s
}

/// Backward pass of one chunk after [`forward`]: writes the gradient of
/// `scale · Σ m ‖ŷ − y‖²` with respect to every parameter into `w.grad` (overwriting it).
/// For the MSE, `scale = 1 / (N·O)`.
pub fn backward<T: Scalar>(a: &Arch, p: &[T], x: &[T], target: &[T], mask: &[T], scale: T, w: &mut Work<T>) {
    let (f, h, o) = (a.input, a.hidden, a.output);
    let (rows, steps) = (w.rows, w.steps);
    let g4 = 4 * h;
    let l = a.layout();
    let tb = steps * rows;
    let two = T::from_f64(2.0) * scale;
    // dL/d(pre-activation of ŷ)
    for (k, ((d, y), t)) in w.dy.chunks_mut(o).zip(w.y.chunks(o)).zip(target.chunks(o)).enumerate() {
        let m = mask[k] * two;
        for j in 0..o {
            d[j] = m * (y[j] - t[j]) * out_d(a.out_act, y[j]);
        }
    }
    let hs = &w.h[rows * h..];
    let (grad_head, grad_lstm) = {
        let g = &mut w.grad;
        let (lstm, head) = g.split_at_mut(l.wo);
        (head, lstm)
    };
    match a.head {
        Head::None => w.dh_out.copy_from_slice(&w.dy),
        Head::Linear => {
            // dW_o = Hᵀ·dY, db_o = Σ dY, dH = dY·W_oᵀ
            T::gemm(h, tb, o, T::ONE, hs, (1, h), &w.dy, (o, 1), T::ZERO, &mut grad_head[..h * o], (o, 1));
            let dbo = &mut grad_head[h * o..h * o + o];
            dbo.iter_mut().for_each(|v| *v = T::ZERO);
            for r in w.dy.chunks(o) {
                for j in 0..o {
                    dbo[j] += r[j];
                }
            }
            T::gemm(tb, o, h, T::ONE, &w.dy, (o, 1), &p[l.wo..l.bo], (1, o), T::ZERO, &mut w.dh_out, (h, 1));
        }
    }
    let wh = &p[l.wh..l.b];
    let packed = T::pack(wh, g4, h, (1, g4), &mut w.pk_b);
    w.dh_next.iter_mut().for_each(|v| *v = T::ZERO);
    w.dc_next.iter_mut().for_each(|v| *v = T::ZERO);
    for t in (0..steps).rev() {
        let gt = &mut w.gates[t * rows * g4..(t + 1) * rows * g4];
        let cprev = &w.c[t * rows * h..(t + 1) * rows * h];
        let tct = &w.tc[t * rows * h..(t + 1) * rows * h];
        let dho = &w.dh_out[t * rows * h..(t + 1) * rows * h];
        cell_bwd(a.rec_act, rows, h, gt, &w.dh_next, &mut w.dc_next, cprev, tct, dho);
        if t > 0 {
            // dh_{t−1} = dz_t · W_hᵀ
            T::gemm_packed(rows, g4, h, gt, g4, wh, (1, g4), &w.pk_b, packed, T::ZERO, &mut w.dh_next, h);
        }
    }
    // dW_x = Xᵀ·dZ, dW_h = H_prevᵀ·dZ, db = Σ dZ
    T::gemm(f, tb, g4, T::ONE, x, (1, f), &w.gates, (g4, 1), T::ZERO, &mut grad_lstm[l.wx..l.wh], (g4, 1));
    T::gemm(h, tb, g4, T::ONE, &w.h[..tb * h], (1, h), &w.gates, (g4, 1), T::ZERO, &mut grad_lstm[l.wh..l.b], (g4, 1));
    let db = &mut grad_lstm[l.b..l.b + g4];
    db.iter_mut().for_each(|v| *v = T::ZERO);
    for r in w.gates.chunks(g4) {
        for j in 0..g4 {
            db[j] += r[j];
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use flowlab_abi::seed::stream_rng;

    fn loss(a: &Arch, p: &[f64], x: &[f64], y: &[f64], m: &[f64], rows: usize, steps: usize) -> f64 {
        let mut w = Work::default();
        forward(a, p, x, rows, steps, &mut w);
        let n: f64 = m.iter().sum();
        sq_error(a, &w, y, m) / (n * a.output as f64)
    }

    /// Central differences in f64 on every parameter against the analytic gradient.
    fn grad_check(a: Arch, init: Init, masked: bool) -> f64 {
        let (rows, steps) = (3, 5);
        let mut rng = stream_rng("0badc0de", "gradcheck", 0);
        let p: Vec<f64> = a.init(init, &mut rng).into_iter().map(|v| v as f64 + 0.05 * (rng.random::<f64>() - 0.5)).collect();
        let x: Vec<f64> = (0..steps * rows * a.input).map(|_| rng.random::<f64>() * 2.0 - 0.5).collect();
        let y: Vec<f64> = (0..steps * rows * a.output).map(|_| rng.random::<f64>()).collect();
        let m: Vec<f64> = (0..steps * rows).map(|k| if masked && k % 4 == 3 { 0.0 } else { 1.0 }).collect();
        let n: f64 = m.iter().sum();
        let mut w = Work::default();
        forward(&a, &p, &x, rows, steps, &mut w);
        backward(&a, &p, &x, &y, &m, 1.0 / (n * a.output as f64), &mut w);
        let mut worst = 0f64;
        let eps = 1e-6;
        for k in 0..p.len() {
            let mut pp = p.clone();
            pp[k] += eps;
            let lp = loss(&a, &pp, &x, &y, &m, rows, steps);
            pp[k] -= 2.0 * eps;
            let lm = loss(&a, &pp, &x, &y, &m, rows, steps);
            let num = (lp - lm) / (2.0 * eps);
            let err = (num - w.grad[k]).abs() / (num.abs() + w.grad[k].abs()).max(1e-6);
            worst = worst.max(err);
        }
        worst
    }

    #[test]
    fn gradient_matches_finite_differences_head_sigmoid() {
        let a = Arch { input: 4, hidden: 3, output: 4, head: Head::Linear, out_act: OutAct::Identity, rec_act: RecAct::Sigmoid };
        let e = grad_check(a, Init::PytorchUniform, false);
        assert!(e < 1e-5, "max relative error {e}");
    }

    #[test]
    fn gradient_matches_finite_differences_original_shape() {
        // the original: no head, ReLU output, hard-sigmoid gates, Keras init, masked variant
        let a = Arch { input: 4, hidden: 4, output: 4, head: Head::None, out_act: OutAct::Relu, rec_act: RecAct::HardSigmoidKeras2 };
        let e = grad_check(a, Init::Keras, true);
        assert!(e < 1e-5, "max relative error {e}");
        let a = Arch { out_act: OutAct::Tanh, rec_act: RecAct::Sigmoid, head: Head::Linear, output: 5, ..a };
        let e = grad_check(Arch { input: 5, ..a }, Init::Keras, true);
        assert!(e < 1e-5, "max relative error {e}");
    }

    #[test]
    fn keras_init_shapes() {
        let a = Arch { input: 146, hidden: 146, output: 146, head: Head::None, out_act: OutAct::Relu, rec_act: RecAct::HardSigmoidKeras2 };
        assert_eq!(a.layout().len, 171_112);
        let h = 8;
        let a = Arch { input: 5, hidden: h, output: 5, head: Head::Linear, out_act: OutAct::Relu, rec_act: RecAct::Sigmoid };
        let p = a.init(Init::Keras, &mut stream_rng("1", "init", 0));
        let l = a.layout();
        // orthonormal rows of W_h (H × 4H)
        for r in 0..h {
            for q in 0..h {
                let d: f64 = (0..4 * h).map(|j| p[l.wh + r * 4 * h + j] as f64 * p[l.wh + q * 4 * h + j] as f64).sum();
                assert!((d - if r == q { 1.0 } else { 0.0 }).abs() < 1e-5);
            }
        }
        assert_eq!(&p[l.b..l.b + h], &vec![0.0; h][..]);
        assert_eq!(&p[l.b + h..l.b + 2 * h], &vec![1.0; h][..]);
        let lim = (6.0f32 / (5 + 32) as f32).sqrt();
        assert!(p[l.wx..l.wh].iter().all(|v| v.abs() <= lim));
    }

    /// The cell loops (gates, cell and hidden state forward; their derivatives backward) give the
    /// same bits on every instruction-set path of `kernels::dispatch!`, in f32 (flowlab-kernels'
    /// gates) and f64 (libm), for both recurrent activations, over random widths (vector tails
    /// included) and pre-activations far into the saturated range; a path the CPU lacks is
    /// reported on stderr. (The recurrent GEMM is not part of this: its packed form runs on the
    /// AVX-512 path only, docs/kernels.md.)
    #[test]
    fn cell_loops_are_bit_identical_on_every_path() {
        use kernels::isa::{Isa, force, on_every_path};
        use rand::SeedableRng;
        fn check<T: Scalar>(seed: u64) {
            let mut rng = rand::rngs::StdRng::seed_from_u64(seed);
            for case in 0..60 {
                let (rows, h) = (rng.random_range(1..9usize), rng.random_range(1..40usize));
                let mut v = |n: usize, a: f64| -> Vec<T> { (0..n).map(|_| T::from_f64(rng.random_range(-a..a))).collect() };
                let (gt0, cprev, dh_next, dc0, dho) = (v(4 * rows * h, 40.0), v(rows * h, 3.0), v(rows * h, 3.0), v(rows * h, 3.0), v(rows * h, 3.0));
                for ra in [RecAct::Sigmoid, RecAct::HardSigmoidKeras2] {
                    let run = || {
                        let mut gt = gt0.clone();
                        let (mut cnew, mut tct, mut hnew) = (vec![T::ZERO; rows * h], vec![T::ZERO; rows * h], vec![T::ZERO; rows * h]);
                        cell_fwd(ra, rows, h, &mut gt, &cprev, &mut cnew, &mut tct, &mut hnew);
                        let fwd: Vec<u64> = [&gt, &cnew, &tct, &hnew].iter().flat_map(|x| x.iter().map(|v| v.to_f64().to_bits())).collect();
                        let mut dc = dc0.clone();
                        cell_bwd(ra, rows, h, &mut gt, &dh_next, &mut dc, &cprev, &tct, &dho);
                        let bwd: Vec<u64> = [&gt, &dc].iter().flat_map(|x| x.iter().map(|v| v.to_f64().to_bits())).collect();
                        (fwd, bwd)
                    };
                    let base = force(Isa::Baseline, run).unwrap();
                    on_every_path("lstm cell_loops_are_bit_identical_on_every_path", |isa| assert!(run() == base, "case {case} ({rows}×{h}, {ra:?}) on {isa:?}"));
                }
            }
        }
        check::<f32>(1);
        check::<f64>(2);
    }
}
