//! The optimizer family: every optimizer's name, parameters with their defaults and ranges,
//! and whether it adapts its step to a running gradient scale (what the health rules need to
//! judge its update-to-weight ratio).

use crate::diag::Diagnostic;
use crate::model::Optimizer;
use crate::sema::args::{bool_arg, float_arg, Bound, Range};

impl Optimizer {
    /// The optimizer of a `train` section that names none: Adam at its defaults.
    pub const DEFAULT: Optimizer = Optimizer::Adam {
        lr: 1e-3,
        beta1: 0.9,
        beta2: 0.999,
        eps: 1e-8,
    };

    /// Every optimizer, with its parameters at the language's defaults (PyTorch's, except
    /// where docs/language.md says otherwise).
    pub const ALL: [Optimizer; 6] = [
        Optimizer::Sgd {
            lr: 0.01,
            momentum: 0.0,
            nesterov: false,
        },
        Optimizer::RmsProp {
            lr: 1e-3,
            alpha: 0.99,
            eps: 1e-8,
            momentum: 0.0,
        },
        Optimizer::AdaGrad {
            lr: 1e-2,
            eps: 1e-10,
        },
        Optimizer::DEFAULT,
        Optimizer::AdamW {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            weight_decay: 1e-2,
        },
        Optimizer::NAdam {
            lr: 2e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
            momentum_decay: 4e-3,
            weight_decay: 0.0,
        },
    ];

    /// The name in the language.
    pub fn name(&self) -> &'static str {
        match self {
            Optimizer::Sgd { .. } => "sgd",
            Optimizer::RmsProp { .. } => "rmsprop",
            Optimizer::AdaGrad { .. } => "adagrad",
            Optimizer::Adam { .. } => "adam",
            Optimizer::AdamW { .. } => "adamw",
            Optimizer::NAdam { .. } => "nadam",
        }
    }

    /// The parameters, in positional order.
    pub fn params(&self) -> &'static [&'static str] {
        match self {
            Optimizer::Sgd { .. } => &["lr", "momentum", "nesterov"],
            Optimizer::RmsProp { .. } => &["lr", "alpha", "eps", "momentum"],
            Optimizer::AdaGrad { .. } => &["lr", "eps"],
            Optimizer::Adam { .. } => &["lr", "beta1", "beta2", "eps"],
            Optimizer::AdamW { .. } => &["lr", "beta1", "beta2", "eps", "weight_decay"],
            Optimizer::NAdam { .. } => &[
                "lr",
                "beta1",
                "beta2",
                "eps",
                "momentum_decay",
                "weight_decay",
            ],
        }
    }

    /// The optimizer a name stands for, with default parameters.
    pub fn from_name(name: &str) -> Option<Optimizer> {
        Optimizer::ALL.into_iter().find(|o| o.name() == name)
    }

    /// Every name that parses, in `ALL`'s order.
    pub fn names() -> Vec<&'static str> {
        Optimizer::ALL.iter().map(Optimizer::name).collect()
    }

    /// Whether the optimizer normalizes its updates by a running gradient scale, so a large
    /// update-to-weight ratio is its design rather than a symptom.
    pub fn adaptive(&self) -> bool {
        match self {
            Optimizer::Sgd { .. } => false,
            Optimizer::RmsProp { .. }
            | Optimizer::AdaGrad { .. }
            | Optimizer::Adam { .. }
            | Optimizer::AdamW { .. }
            | Optimizer::NAdam { .. } => true,
        }
    }

    /// Reads the arguments bound to this optimizer's [`Optimizer::params`], starting from
    /// `self`'s values as the defaults and checking each one's range. Every argument is read
    /// before any failure returns, so one line reports all its bad arguments.
    pub(in crate::sema) fn with_args(
        self,
        d: &mut Vec<Diagnostic>,
        b: &Bound<'_>,
    ) -> Option<Optimizer> {
        match self {
            Optimizer::Sgd {
                lr,
                momentum,
                nesterov,
            } => {
                let (lr, momentum) = (learning_rate(d, b, lr), unit(d, b, "momentum", momentum));
                let nesterov = bool_arg(d, b, "nesterov", nesterov);
                Some(Optimizer::Sgd {
                    lr: lr?,
                    momentum: momentum?,
                    nesterov: nesterov?,
                })
            }
            Optimizer::RmsProp {
                lr,
                alpha,
                eps,
                momentum,
            } => {
                let (lr, alpha) = (learning_rate(d, b, lr), unit(d, b, "alpha", alpha));
                let (eps, momentum) = (epsilon(d, b, eps), unit(d, b, "momentum", momentum));
                Some(Optimizer::RmsProp {
                    lr: lr?,
                    alpha: alpha?,
                    eps: eps?,
                    momentum: momentum?,
                })
            }
            Optimizer::AdaGrad { lr, eps } => {
                let (lr, eps) = (learning_rate(d, b, lr), epsilon(d, b, eps));
                Some(Optimizer::AdaGrad { lr: lr?, eps: eps? })
            }
            Optimizer::Adam { .. } | Optimizer::AdamW { .. } | Optimizer::NAdam { .. } => {
                self.adam_family_with_args(d, b)
            }
        }
    }

    /// [`Optimizer::with_args`] for Adam and its variants, which share `lr`, the two betas
    /// and `eps`.
    fn adam_family_with_args(self, d: &mut Vec<Diagnostic>, b: &Bound<'_>) -> Option<Optimizer> {
        match self {
            Optimizer::Adam {
                lr,
                beta1,
                beta2,
                eps,
            } => {
                let (lr, beta1, beta2, eps) = adam_moments(d, b, (lr, beta1, beta2, eps))?;
                Some(Optimizer::Adam {
                    lr,
                    beta1,
                    beta2,
                    eps,
                })
            }
            Optimizer::AdamW {
                lr,
                beta1,
                beta2,
                eps,
                weight_decay,
            } => {
                let moments = adam_moments(d, b, (lr, beta1, beta2, eps));
                let weight_decay = non_negative(d, b, "weight_decay", weight_decay);
                let (lr, beta1, beta2, eps) = moments?;
                Some(Optimizer::AdamW {
                    lr,
                    beta1,
                    beta2,
                    eps,
                    weight_decay: weight_decay?,
                })
            }
            Optimizer::NAdam {
                lr,
                beta1,
                beta2,
                eps,
                momentum_decay,
                weight_decay,
            } => {
                let moments = adam_moments(d, b, (lr, beta1, beta2, eps));
                let momentum_decay = non_negative(d, b, "momentum_decay", momentum_decay);
                let weight_decay = non_negative(d, b, "weight_decay", weight_decay);
                let (lr, beta1, beta2, eps) = moments?;
                Some(Optimizer::NAdam {
                    lr,
                    beta1,
                    beta2,
                    eps,
                    momentum_decay: momentum_decay?,
                    weight_decay: weight_decay?,
                })
            }
            Optimizer::Sgd { .. } | Optimizer::RmsProp { .. } | Optimizer::AdaGrad { .. } => {
                self.with_args(d, b)
            }
        }
    }
}

/// Adam's `lr`, `beta1`, `beta2` and `eps`, each read (and reported) before any fails.
fn adam_moments(
    d: &mut Vec<Diagnostic>,
    b: &Bound<'_>,
    (lr, beta1, beta2, eps): (f64, f64, f64, f64),
) -> Option<(f64, f64, f64, f64)> {
    let (lr, beta1) = (learning_rate(d, b, lr), unit(d, b, "beta1", beta1));
    let (beta2, eps) = (unit(d, b, "beta2", beta2), epsilon(d, b, eps));
    Some((lr?, beta1?, beta2?, eps?))
}

/// `lr`: greater than 0.
fn learning_rate(d: &mut Vec<Diagnostic>, b: &Bound<'_>, default: f64) -> Option<f64> {
    float_arg(d, b, "lr", Some(default), Range::Positive)
}

/// `eps`: greater than 0.
fn epsilon(d: &mut Vec<Diagnostic>, b: &Bound<'_>, default: f64) -> Option<f64> {
    float_arg(d, b, "eps", Some(default), Range::Positive)
}

/// A momentum or averaging coefficient: in [0, 1).
fn unit(d: &mut Vec<Diagnostic>, b: &Bound<'_>, param: &str, default: f64) -> Option<f64> {
    float_arg(d, b, param, Some(default), Range::ProbabilityBelowOne)
}

fn non_negative(d: &mut Vec<Diagnostic>, b: &Bound<'_>, param: &str, default: f64) -> Option<f64> {
    float_arg(d, b, param, Some(default), Range::NonNegative)
}
