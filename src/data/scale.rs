//! Feature scaling fitted on the training split only and applied unchanged to every other split
//! and to prediction inputs; serializable so it is saved with the weights.

use serde::{Deserialize, Serialize};

/// How features are rescaled.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScaleMethod {
    /// Zero mean, unit (population) variance.
    Standard,
    /// Minimum to 0, maximum to 1.
    MinMax,
}

/// Per-column `x' = (x - offset) / divisor`, with statistics from the training split.
///
/// A constant column (zero spread) gets divisor 1, so it becomes all zeros instead of NaN.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Scaler {
    pub method: ScaleMethod,
    /// The feature columns in order, so prediction files can be matched by name.
    pub columns: Vec<String>,
    pub offset: Vec<f64>,
    pub divisor: Vec<f64>,
}

impl Scaler {
    /// Fits per-column statistics on row-major `x` with `width` columns.
    pub fn fit(method: ScaleMethod, columns: Vec<String>, x: &[f32], width: usize) -> Scaler {
        let rows = x.len().checked_div(width).unwrap_or(0);
        let mut offset = Vec::with_capacity(width);
        let mut divisor = Vec::with_capacity(width);
        for column in 0..width {
            let values = || (0..rows).map(|r| f64::from(x[r * width + column]));
            let (shift, spread) = match method {
                ScaleMethod::Standard => {
                    let mean = values().sum::<f64>() / rows.max(1) as f64;
                    let variance =
                        values().map(|v| (v - mean) * (v - mean)).sum::<f64>() / rows.max(1) as f64;
                    (mean, variance.sqrt())
                }
                ScaleMethod::MinMax => {
                    let low = values().fold(f64::INFINITY, f64::min);
                    let high = values().fold(f64::NEG_INFINITY, f64::max);
                    if rows == 0 {
                        (0.0, 1.0)
                    } else {
                        (low, high - low)
                    }
                }
            };
            offset.push(shift);
            divisor.push(usable_divisor(spread, shift));
        }
        Scaler {
            method,
            columns,
            offset,
            divisor,
        }
    }

    /// Number of feature columns this scaler was fitted on.
    pub fn width(&self) -> usize {
        self.offset.len()
    }

    /// Rescales row-major `x` (rows of [`Scaler::width`] values) in place.
    pub fn apply(&self, x: &mut [f32]) {
        let width = self.width();
        if width == 0 {
            return;
        }
        for row in x.chunks_mut(width) {
            for ((value, offset), divisor) in row.iter_mut().zip(&self.offset).zip(&self.divisor) {
                *value = ((f64::from(*value) - offset) / divisor) as f32;
            }
        }
    }
}

/// A spread too small to divide by (relative to the column's magnitude) is replaced by 1.
fn usable_divisor(spread: f64, shift: f64) -> f64 {
    let tiny = 1e-12 * shift.abs().max(1.0);
    if spread.is_finite() && spread > tiny {
        spread
    } else {
        1.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_scaling_centres_and_constant_columns_become_zero() {
        // Two columns: [1, 2, 3] and the constant [5, 5, 5].
        let mut x = vec![1.0, 5.0, 2.0, 5.0, 3.0, 5.0];
        let scaler = Scaler::fit(ScaleMethod::Standard, vec!["a".into(), "b".into()], &x, 2);
        scaler.apply(&mut x);
        // mean 2, population std sqrt(2/3).
        let s = (2.0f64 / 3.0).sqrt();
        let expected = [-1.0 / s, 0.0, 0.0, 0.0, 1.0 / s, 0.0];
        for (got, want) in x.iter().zip(expected) {
            assert!((f64::from(*got) - want).abs() < 1e-6, "{x:?}");
        }
    }

    #[test]
    fn min_max_maps_training_range_to_unit_interval() {
        let mut x = vec![-2.0, 0.0, 2.0];
        let scaler = Scaler::fit(ScaleMethod::MinMax, vec!["a".into()], &x, 1);
        scaler.apply(&mut x);
        assert_eq!(x, vec![0.0, 0.5, 1.0]);
    }
}
