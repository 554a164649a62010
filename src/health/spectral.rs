//! The largest singular value of a weight matrix by power iteration, and what it predicts for
//! gradients through time (Pascanu, Mikolov & Bengio 2013, "On the difficulty of training
//! recurrent neural networks"): with h_t = act(W_hh·h_{t-1} + ...) and |act'| ≤ γ, every
//! Jacobian ∂h_t/∂h_{t-1} has norm ≤ σ_max(W_hh)·γ, so σ_max < 1/γ guarantees that
//! ‖∂L/∂h_k‖ shrinks at least like (σ_max·γ)^(t−k): vanishing. σ_max > 1/γ is necessary (not
//! sufficient) for exploding.

use crate::model::{Cell, Init, Recurrent};

/// What Pascanu et al.'s bound says about a plain `rnn` layer's gradients through time.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TimePrediction {
    /// σ_max of W_hh (predicted from the init, or measured).
    pub sigma_max: f64,
    /// The bound on |act'|.
    pub gamma: f64,
    /// σ_max·γ: ‖∂h_t/∂h_{t-1}‖ can be at most this.
    pub factor: f64,
    pub regime: Regime,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Regime {
    /// σ_max < 1/γ: the gradient through k steps shrinks at least like factorᵏ.
    Vanishing,
    /// σ_max ≥ 1/γ: the necessary condition for exploding holds (the bound says no more).
    MayExplode,
}

impl TimePrediction {
    /// The bound on ‖∂h_t/∂h_{t−k}‖ after `k` steps, factorᵏ.
    pub fn bound_after(&self, k: usize) -> f64 {
        self.factor.powi(k.min(i32::MAX as usize) as i32)
    }
}

/// The prediction for σ_max and act' bound γ.
pub fn predict(sigma_max: f64, gamma: f64) -> TimePrediction {
    let factor = sigma_max * gamma;
    TimePrediction {
        sigma_max,
        gamma,
        factor,
        regime: if factor < 1.0 {
            Regime::Vanishing
        } else {
            Regime::MayExplode
        },
    }
}

/// The static prediction for a recurrent layer from its settings: `None` for gated cells
/// (their gates change the Jacobian, so the plain bound does not apply) and for inits whose
/// σ_max has no simple estimate.
pub fn predict_layer(r: &Recurrent) -> Option<TimePrediction> {
    let Cell::Rnn { act } = r.cell else {
        return None;
    };
    let gamma = act.derivative_bound()?;
    let sigma = match r.radius {
        Some(radius) => radius,
        None => predicted_sigma_max(&r.init_rec, r.units, r.units, r.units)?,
    };
    Some(predict(sigma, gamma))
}

/// Power iterations: plenty for the 1e-3 relative accuracy the lint and probes need on
/// matrices of a few hundred rows (the error falls like (σ₂/σ₁)^(2k)).
pub const POWER_ITERATIONS: usize = 100;

/// σ_max of the row-major `rows × cols` matrix `w`, by power iteration on WᵀW from a fixed
/// start vector (deterministic).
pub fn sigma_max(w: &[f32], rows: usize, cols: usize) -> f64 {
    if rows == 0 || cols == 0 {
        return 0.0;
    }
    // A start vector with no special structure, so it is not orthogonal to the top singular
    // vector of structured matrices (identity, permutations).
    let mut v: Vec<f64> = (0..cols)
        .map(|j| 1.0 + 0.1 * ((j * 7 + 3) % 11) as f64)
        .collect();
    normalize(&mut v);
    let mut sigma = 0.0;
    for _ in 0..POWER_ITERATIONS {
        let u = mat_vec(w, rows, cols, &v);
        let mut next = mat_t_vec(w, rows, cols, &u);
        let norm = normalize(&mut next);
        if norm == 0.0 {
            return 0.0;
        }
        sigma = norm.sqrt();
        v = next;
    }
    sigma
}

/// Rescales each of `blocks` stacked row blocks of `w` so its σ_max is `radius`.
pub fn rescale_blocks(w: &mut [f32], rows: usize, cols: usize, blocks: usize, radius: f64) {
    let per = rows / blocks.max(1);
    for b in 0..blocks.max(1) {
        let block = &mut w[b * per * cols..(b + 1) * per * cols];
        let sigma = sigma_max(block, per, cols);
        if sigma > 0.0 {
            let factor = (radius / sigma) as f32;
            block.iter_mut().for_each(|x| *x *= factor);
        }
    }
}

/// The σ_max an `n × n` block of `init` is expected to have before any `radius` rescaling:
/// exact for orthogonal and identity; for i.i.d. entries of standard deviation s, the
/// Marchenko–Pastur edge 2·s·√n; `None` where no simple estimate holds.
pub fn predicted_sigma_max(init: &Init, n: usize, fan_in: usize, fan_out: usize) -> Option<f64> {
    let n_f = n as f64;
    let (fi, fo) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
    let std = match *init {
        Init::Orthogonal { gain } => return Some(gain.abs()),
        Init::Identity { scale } => return Some(scale.abs()),
        Init::Zeros => return Some(0.0),
        Init::Constant(c) => return Some(c.abs() * n_f),
        Init::Normal { mean: 0.0, std } => std,
        Init::Uniform { low, high } if low == -high => high / 3f64.sqrt(),
        Init::XavierUniform { gain } => gain * (6.0 / (fi + fo)).sqrt() / 3f64.sqrt(),
        Init::XavierNormal { gain } => gain * (2.0 / (fi + fo)).sqrt(),
        Init::HeUniform { mode } | Init::HeNormal { mode } => {
            let fan = match mode {
                crate::model::FanMode::FanIn => fi,
                crate::model::FanMode::FanOut => fo,
            };
            (2.0 / fan).sqrt()
        }
        Init::LecunNormal | Init::LecunUniform => (1.0 / fi).sqrt(),
        Init::Normal { .. } | Init::Uniform { .. } => return None,
    };
    Some(2.0 * std * n_f.sqrt())
}

fn mat_vec(w: &[f32], rows: usize, cols: usize, v: &[f64]) -> Vec<f64> {
    (0..rows)
        .map(|i| {
            w[i * cols..(i + 1) * cols]
                .iter()
                .zip(v)
                .map(|(&a, &b)| f64::from(a) * b)
                .sum()
        })
        .collect()
}

fn mat_t_vec(w: &[f32], rows: usize, cols: usize, u: &[f64]) -> Vec<f64> {
    let mut out = vec![0.0; cols];
    for (i, &ui) in u.iter().enumerate().take(rows) {
        for (o, &a) in out.iter_mut().zip(&w[i * cols..(i + 1) * cols]) {
            *o += f64::from(a) * ui;
        }
    }
    out
}

/// Scales v to unit length; returns its former length.
fn normalize(v: &mut [f64]) -> f64 {
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    if norm > 0.0 {
        v.iter_mut().for_each(|x| *x /= norm);
    }
    norm
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sigma_max_of_a_diagonal_matrix_is_its_largest_entry() {
        // diag(3, -5, 1): singular values 5, 3, 1
        let w = [3.0, 0.0, 0.0, 0.0, -5.0, 0.0, 0.0, 0.0, 1.0];
        assert!((sigma_max(&w, 3, 3) - 5.0).abs() < 1e-6);
    }

    #[test]
    fn sigma_max_of_a_rank_one_matrix_is_the_product_of_norms() {
        // u·vᵀ with u = (1, 2), v = (2, 0, 1): σ = ‖u‖·‖v‖ = √5·√5 = 5
        let w = [2.0, 0.0, 1.0, 4.0, 0.0, 2.0];
        assert!((sigma_max(&w, 2, 3) - 5.0).abs() < 1e-6);
    }

    #[test]
    fn rescaling_sets_each_block() {
        let mut w = vec![2.0, 0.0, 0.0, 2.0, 0.5, 0.0, 0.0, 0.25];
        rescale_blocks(&mut w, 4, 2, 2, 0.9);
        assert!((sigma_max(&w[..4], 2, 2) - 0.9).abs() < 1e-6);
        assert!((sigma_max(&w[4..], 2, 2) - 0.9).abs() < 1e-6);
    }
}
