//! Bayes-factor model selection (docs/endhost.md, "Selection").
//!
//! `ln BF(M1:M0) ≈ BIC_M1 − BIC_M0 = (ℓ̂1 − ℓ̂0) − ((k1 − k0)/2) ln n` (paper convention
//! `BIC = ℓ̂ − (k/2) ln n`; conventional `BIC′ = −2 BIC`, so `2 ln BF ≈ BIC′_0 − BIC′_1`), or,
//! with `criterion = "laplace"`, the difference of Laplace approximations of ln m(D) under
//! uniform priors on the parameter box. The paper's rule walks the `order` (default
//! P → EP → EEP): the next model wins iff ln BF(next : current) > threshold (default 10 on the
//! **natural-log** Bayes factor, odds > e¹⁰ ≈ 22 026); a tie or less keeps the simpler model,
//! and the walk stops at the first model that does not win.
use crate::fit::Fit;
use crate::model::Model;
use serde::{Deserialize, Serialize};

/// Evidence approximation used for ln BF.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Criterion {
    /// BIC (Schwarz) approximation.
    Bic,
    /// Laplace approximation with uniform priors on the box.
    Laplace,
}

/// The selection rule settings (`[selection]`).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct SelectionRule {
    /// Threshold on the natural-log Bayes factor ln BF (not 2 ln BF).
    #[serde(default = "d_thr")]
    #[schemars(range(min = 0.0, max = 1000000.0))]
    pub threshold: f64,
    /// Order in which models are tried, simplest first.
    #[serde(default = "d_order")]
    pub order: Vec<Model>,
    /// `bic` (default) or `laplace`.
    #[serde(default = "d_crit")]
    pub criterion: Criterion,
}
fn d_thr() -> f64 {
    10.0
}
fn d_order() -> Vec<Model> {
    vec![Model::P, Model::EP, Model::EEP]
}
fn d_crit() -> Criterion {
    Criterion::Bic
}
impl Default for SelectionRule {
    fn default() -> Self {
        SelectionRule { threshold: 10.0, order: d_order(), criterion: Criterion::Bic }
    }
}

/// The paper's strength label for evidence ln BF ≥ 0 (Table I: substantial ≥ ln 20, strong ≥
/// ln 100, decisive ≥ ln 1000), else `not significant`.
pub fn paper_label(ln_bf: f64) -> &'static str {
    if ln_bf >= 1000f64.ln() {
        "decisive"
    } else if ln_bf >= 100f64.ln() {
        "strong"
    } else if ln_bf >= 20f64.ln() {
        "substantial"
    } else {
        "not significant"
    }
}

/// Kass & Raftery (1995) label on 2 ln B: < 2 "not worth more than a bare mention", 2–6
/// "positive", 6–10 "strong", > 10 "very strong" (negative evidence favours the other model).
pub fn kass_raftery_label(ln_bf: f64) -> &'static str {
    let t = 2.0 * ln_bf;
    if t > 10.0 {
        "very strong"
    } else if t > 6.0 {
        "strong"
    } else if t > 2.0 {
        "positive"
    } else {
        "not worth more than a bare mention"
    }
}

/// One pairwise comparison of the walk.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Comparison {
    /// Larger model.
    pub larger: Model,
    /// Smaller model.
    pub smaller: Model,
    /// ln BF(larger : smaller) by BIC.
    pub ln_bf: f64,
    /// 2 ln BF (Kass–Raftery units; ΔBIC′).
    pub two_ln_bf: f64,
    /// ln BF by Laplace (NaN if unavailable).
    pub ln_bf_laplace: f64,
    /// The value the rule used (BIC or Laplace).
    pub ln_bf_used: f64,
    /// Whether the larger model won (ln BF > threshold).
    pub larger_wins: bool,
    /// Paper's label of the evidence for the winner of this comparison.
    pub label: String,
    /// Kass–Raftery label of that evidence.
    pub kass_raftery: String,
    /// Whether the sequential rule reached this comparison.
    pub evaluated_by_rule: bool,
}

/// A complete decision.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Decision {
    /// Selected model.
    pub winner: Model,
    /// Every consecutive comparison along `order` (also those after the walk stopped, for
    /// reporting, flagged `evaluated_by_rule = false`).
    pub comparisons: Vec<Comparison>,
    /// Threshold used (natural-log BF).
    pub threshold: f64,
    /// Criterion used.
    pub criterion: Criterion,
}

/// ln BF(f1 : f0) by BIC.
pub fn ln_bf(f1: &Fit, f0: &Fit) -> f64 {
    f1.bic_schwarz() - f0.bic_schwarz()
}

/// Applies `rule` to fits (one per model of `rule.order`, found by model).
pub fn select(fits: &[Fit], rule: &SelectionRule) -> Result<Decision, String> {
    let get = |m: Model| fits.iter().find(|f| f.model == m).ok_or_else(|| format!("selection order names {} but it was not fitted", m.as_str()));
    let first = *rule.order.first().ok_or("empty selection order")?;
    let mut winner = first;
    let mut walking = true;
    let mut comps = vec![];
    for w in rule.order.windows(2) {
        let (s, l) = (get(w[0])?, get(w[1])?);
        let b = ln_bf(l, s);
        let lap = l.laplace_lnm - s.laplace_lnm;
        // a fit that ends on a face of the box (EP at π → 0) has no Laplace value: its observed
        // information is not positive definite there. The comparison then uses BIC's ln BF
        // (stored beside the NaN Laplace one) rather than letting NaN lose every comparison
        let used = match rule.criterion {
            Criterion::Laplace if lap.is_finite() => lap,
            Criterion::Bic | Criterion::Laplace => b,
        };
        let wins = used > rule.threshold;
        let evidence = if wins { used } else { -used };
        comps.push(Comparison {
            larger: l.model,
            smaller: s.model,
            ln_bf: b,
            two_ln_bf: 2.0 * b,
            ln_bf_laplace: lap,
            ln_bf_used: used,
            larger_wins: wins,
            label: paper_label(evidence).into(),
            kass_raftery: kass_raftery_label(evidence).into(),
            evaluated_by_rule: walking,
        });
        if walking {
            if wins {
                winner = l.model;
            } else {
                walking = false;
            }
        }
    }
    Ok(Decision { winner, comparisons: comps, threshold: rule.threshold, criterion: rule.criterion })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fit::Method;
    fn fit(m: Model, ll: f64, n: f64) -> Fit {
        Fit {
            model: m,
            method: Method::Ipm,
            theta: vec![],
            loglik: ll,
            k: m.dof(),
            n,
            se: vec![],
            laplace_lnm: f64::NAN,
            restart_logliks: vec![],
            n_at_best: 1,
            evaluations: 0,
            iterations: 0,
            maxit_hits: 0,
            at_bound: vec![],
            trapped_pi1: false,
            modes: vec![],
        }
    }
    /// With `criterion = "laplace"`, a comparison whose Laplace value is undefined (a fit on a
    /// face: NaN) is decided by BIC instead of lost by NaN: over random likelihoods, the
    /// decision equals BIC's wherever a Laplace value is missing.
    #[test]
    fn laplace_falls_back_to_bic_where_a_fit_has_no_laplace_value() {
        use rand::{Rng, SeedableRng};
        let mut rng = rand::rngs::StdRng::seed_from_u64(9);
        let rule = SelectionRule { criterion: Criterion::Laplace, ..SelectionRule::default() };
        for case in 0..300 {
            let n = rng.random_range(100.0..1e6f64);
            let mut fits: Vec<Fit> = [Model::P, Model::EP, Model::EEP].iter().map(|&m| fit(m, -1e4 + rng.random_range(0.0..60.0), n)).collect();
            // every fit has a Laplace value but one at random
            let missing = rng.random_range(0..3);
            for (i, f) in fits.iter_mut().enumerate() {
                f.laplace_lnm = if i == missing { f64::NAN } else { f.loglik - rng.random_range(0.0..8.0) };
            }
            let d = select(&fits, &rule).unwrap();
            for c in &d.comparisons {
                if c.ln_bf_laplace.is_finite() {
                    assert_eq!(c.ln_bf_used, c.ln_bf_laplace, "case {case}");
                } else {
                    assert_eq!(c.ln_bf_used, c.ln_bf, "case {case}");
                }
                assert_eq!(c.larger_wins, c.ln_bf_used > rule.threshold, "case {case}");
            }
        }
    }

    #[test]
    fn threshold_is_on_natural_log_bf() {
        let n = 10_000f64;
        // Δℓ = 10 + ln n exactly: a tie goes to the simpler model
        let fits = [fit(Model::P, -1000.0, n), fit(Model::EP, -1000.0 + 10.0 + n.ln(), n), fit(Model::EEP, -1000.0 + 10.0 + n.ln() + 30.0, n)];
        let d = select(&fits, &SelectionRule::default()).unwrap();
        assert_eq!(d.winner, Model::P);
        assert!((d.comparisons[0].ln_bf - 10.0).abs() < 1e-9);
        assert!(!d.comparisons[1].evaluated_by_rule);
        // Δℓ = 10.5 + ln n: EP wins; EEP beats EP by 30 − ln n > 10: EEP wins
        let fits = [fit(Model::P, -1000.0, n), fit(Model::EP, -989.5 + n.ln(), n), fit(Model::EEP, -989.5 + 2.0 * n.ln() + 20.0, n)];
        let d = select(&fits, &SelectionRule::default()).unwrap();
        assert_eq!(d.winner, Model::EEP);
        assert_eq!(d.comparisons[0].label, "decisive");
        // 2 ln BF = 12 but ln BF = 6: a rule on 2 ln BF would accept; ours does not
        let fits = [fit(Model::P, -1000.0, n), fit(Model::EP, -994.0 + n.ln(), n), fit(Model::EEP, -994.0 + n.ln(), n)];
        let d = select(&fits, &SelectionRule::default()).unwrap();
        assert_eq!(d.winner, Model::P);
        assert_eq!(d.comparisons[0].label, "not significant"); // evidence for P is −6
        assert_eq!(kass_raftery_label(6.0), "very strong");
        assert_eq!(paper_label(3.0), "substantial");
        assert_eq!(paper_label(4.5), "substantial"); // ln 100 = 4.605 (Table I rounds to 4.5)
        assert_eq!(paper_label(4.7), "strong");
        assert_eq!(paper_label(7.0), "decisive");
        // BIC conventions
        let f = fit(Model::EP, -100.0, n);
        assert!((f.bic() + 2.0 * f.bic_schwarz()).abs() < 1e-12);
    }
}
