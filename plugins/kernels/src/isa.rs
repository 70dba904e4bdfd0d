//! The instruction-set paths of the vector loops and the one run-time dispatch between them.
//!
//! A loop written once as an `#[inline(always)]` function is compiled three times by
//! [`dispatch!`](crate::dispatch): for the build target (Baseline: SSE2 on plain x86-64), for
//! AVX2 + FMA, and for AVX-512 (F, DQ, VL) + AVX2 + FMA. Each call runs the [`Isa::active`] one.
//! The kernels of this crate give the same bits on every path (docs/kernels.md), so the choice
//! changes only the speed; it is made once per process from the CPU (`is_x86_feature_detected`),
//! lowered by the environment variable `FLOWLAB_ISA` (`baseline`, `avx2`, `avx512`) for a whole
//! run, or per thread by [`force`] for tests.
use std::cell::Cell;
use std::sync::OnceLock;

/// An instruction-set path of the vector loops, ordered from narrowest to widest.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Isa {
    /// Whatever the build target allows (SSE2 on plain x86-64).
    Baseline,
    /// AVX2 with FMA (x86-64).
    Avx2,
    /// AVX-512 F, DQ and VL with AVX2 and FMA (x86-64).
    Avx512,
}

/// The target features a path is compiled for (the `#[target_feature]` lists of [`dispatch!`](crate::dispatch)).
pub const AVX2_FEATURES: &str = "avx2,fma";
/// See [`AVX2_FEATURES`].
pub const AVX512_FEATURES: &str = "avx512f,avx512dq,avx512vl,avx2,fma";

impl Isa {
    /// Every path, narrowest first.
    pub const ALL: [Isa; 3] = [Isa::Baseline, Isa::Avx2, Isa::Avx512];

    /// The widest path this CPU runs (detected once).
    pub fn detected() -> Isa {
        static BEST: OnceLock<Isa> = OnceLock::new();
        *BEST.get_or_init(detect)
    }

    /// Whether this CPU runs the path.
    pub fn available(self) -> bool {
        self <= Isa::detected()
    }

    /// The path the loops take on this thread: the one [`force`]d here, else the process's
    /// (the detected one, lowered by `FLOWLAB_ISA` when set).
    #[inline]
    pub fn active() -> Isa {
        FORCED.with(|f| f.get()).unwrap_or_else(process)
    }

    /// The path's name as `FLOWLAB_ISA` takes it.
    pub fn name(self) -> &'static str {
        match self {
            Isa::Baseline => "baseline",
            Isa::Avx2 => "avx2",
            Isa::Avx512 => "avx512",
        }
    }

    /// The path named `s` (`baseline`, `avx2`, `avx512`).
    pub fn parse(s: &str) -> Option<Isa> {
        Isa::ALL.into_iter().find(|i| i.name().eq_ignore_ascii_case(s.trim()))
    }
}

fn detect() -> Isa {
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        let avx2 = has!("avx2") && has!("fma");
        if avx2 && has!("avx512f") && has!("avx512dq") && has!("avx512vl") {
            return Isa::Avx512;
        }
        if avx2 {
            return Isa::Avx2;
        }
    }
    Isa::Baseline
}

/// The process's path: [`Isa::detected`], lowered to `FLOWLAB_ISA` when that names a narrower
/// path (a wider one than the CPU has, or an unknown name, leaves the detected one).
fn process() -> Isa {
    static P: OnceLock<Isa> = OnceLock::new();
    *P.get_or_init(|| {
        let best = Isa::detected();
        match std::env::var("FLOWLAB_ISA").ok().and_then(|s| Isa::parse(&s)) {
            Some(want) if want < best => want,
            _ => best,
        }
    })
}

thread_local! {
    static FORCED: Cell<Option<Isa>> = const { Cell::new(None) };
}

/// Runs `f` with every dispatched loop on this thread taking path `isa` (not threads `f`
/// starts, e.g. rayon's workers); `None` without running `f` when the CPU lacks the path.
pub fn force<R>(isa: Isa, f: impl FnOnce() -> R) -> Option<R> {
    if !isa.available() {
        return None;
    }
    struct Restore(Option<Isa>);
    impl Drop for Restore {
        fn drop(&mut self) {
            FORCED.with(|c| c.set(self.0));
        }
    }
    let _restore = Restore(FORCED.with(|c| c.replace(Some(isa))));
    Some(f())
}

/// Sets (or with `None` clears) this thread's path for good, e.g. in a thread pool's start
/// handler so that a forced path reaches the pool's workers; false (nothing set) when the CPU
/// lacks the path.
pub fn set_thread(isa: Option<Isa>) -> bool {
    if isa.is_some_and(|i| !i.available()) {
        return false;
    }
    FORCED.with(|c| c.set(isa));
    true
}

/// Runs `f` on every path this CPU has (narrowest first) and says on stderr, outside the test
/// harness's capture so that it shows in `cargo test` output, which paths `test` could not run
/// ("skipped: no AVX-512"): a test that covers every path then never passes silently on a
/// path it did not run.
pub fn on_every_path(test: &str, mut f: impl FnMut(Isa)) {
    for isa in Isa::ALL {
        if force(isa, || f(isa)).is_none() {
            report_skip(test, &format!("no {} on this CPU", label(isa)));
        }
    }
}

/// Writes "`test`: skipped: `why`" straight to the process's stderr (the test harness captures
/// only `print!`/`eprint!`, so this line is visible in every `cargo test` run).
pub fn report_skip(test: &str, why: &str) {
    use std::io::Write;
    let _ = writeln!(std::io::stderr().lock(), "{test}: skipped: {why}");
}

fn label(isa: Isa) -> &'static str {
    match isa {
        Isa::Baseline => "baseline",
        Isa::Avx2 => "AVX2",
        Isa::Avx512 => "AVX-512",
    }
}

/// Defines `fn $name`, which runs `$body` (an `#[inline(always)]` fn with the same arguments)
/// compiled for the [`Isa::active`] path: AVX-512 ([`AVX512_FEATURES`]), AVX2
/// ([`AVX2_FEATURES`]) or the build target. One optional type parameter with one bound is
/// passed through (`fn f<T: Scalar>(…)`).
///
/// ```
/// #[inline(always)]
/// fn body(x: &[f64], out: &mut [f64]) {
///     for (o, &v) in out.iter_mut().zip(x) {
///         *o = kernels::exp::exp(v);
///     }
/// }
/// kernels::dispatch! {
///     /// e^x of a slice on the active path.
///     fn exp_all(x: &[f64], out: &mut [f64]) -> () => body
/// }
/// let mut out = [0.0; 3];
/// exp_all(&[0.0, 1.0, -1.0], &mut out);
/// assert_eq!(out[0], 1.0);
/// ```
#[macro_export]
macro_rules! dispatch {
    ($(#[$doc:meta])* $vis:vis fn $name:ident $(<$gt:ident: $gb:path>)? ($($arg:ident: $ty:ty),* $(,)?) -> $ret:ty => $body:path) => {
        $(#[$doc])*
        #[allow(clippy::too_many_arguments, clippy::unused_unit)]
        $vis fn $name $(<$gt: $gb>)? ($($arg: $ty),*) -> $ret {
            #[cfg(target_arch = "x86_64")]
            {
                #[target_feature(enable = "avx512f,avx512dq,avx512vl,avx2,fma")]
                #[allow(clippy::too_many_arguments, clippy::unused_unit)]
                fn wide $(<$gt: $gb>)? ($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                #[target_feature(enable = "avx2,fma")]
                #[allow(clippy::too_many_arguments, clippy::unused_unit)]
                fn mid $(<$gt: $gb>)? ($($arg: $ty),*) -> $ret {
                    $body($($arg),*)
                }
                match $crate::Isa::active() {
                    // SAFETY: `active` is never wider than the detected CPU features.
                    $crate::Isa::Avx512 => return unsafe { wide($($arg),*) },
                    // SAFETY: as above.
                    $crate::Isa::Avx2 => return unsafe { mid($($arg),*) },
                    $crate::Isa::Baseline => {}
                }
            }
            $body($($arg),*)
        }
    };
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn force_sets_and_restores_the_thread_path() {
        let outer = Isa::active();
        assert_eq!(force(Isa::Baseline, Isa::active), Some(Isa::Baseline));
        assert_eq!(Isa::active(), outer);
        for isa in Isa::ALL {
            assert_eq!(force(isa, Isa::active), isa.available().then_some(isa));
        }
        assert!(Isa::detected().available());
    }

    #[test]
    fn names_round_trip() {
        for isa in Isa::ALL {
            assert_eq!(Isa::parse(isa.name()), Some(isa));
        }
        assert_eq!(Isa::parse("AVX2 "), Some(Isa::Avx2));
        assert_eq!(Isa::parse("sse9"), None);
    }
}
