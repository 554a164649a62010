//! The language's word families, each defined once next to its variants: every variant in
//! `ALL` (parameters at their defaults), its canonical name, its aliases and its parameters
//! in positional order. Parsing looks names up here, the formatter and default layer names
//! print `name()`, and the round-trip tests iterate over `ALL`, so a new variant is named by
//! the compiler (the exhaustive matches below and in each parse) or by a test.

use crate::model::{Activation, Loss, Optimizer};

impl Activation {
    /// Every activation, with its parameters at the language's defaults.
    pub const ALL: [Activation; 15] = [
        Activation::Identity,
        Activation::Sigmoid,
        Activation::Tanh,
        Activation::Relu,
        Activation::LeakyRelu { alpha: 0.01 },
        Activation::Prelu { init: 0.25 },
        Activation::Elu { alpha: 1.0 },
        Activation::Selu,
        Activation::Swish,
        Activation::Mish,
        Activation::Gelu,
        Activation::Softplus,
        Activation::Softsign,
        Activation::Hardswish,
        Activation::Softmax,
    ];

    /// The canonical name: what `fmt` writes and default layer names (`relu1`) start with.
    pub fn name(&self) -> &'static str {
        match self {
            Activation::Identity => "identity",
            Activation::Sigmoid => "sigmoid",
            Activation::Tanh => "tanh",
            Activation::Relu => "relu",
            Activation::LeakyRelu { .. } => "leaky_relu",
            Activation::Prelu { .. } => "prelu",
            Activation::Elu { .. } => "elu",
            Activation::Selu => "selu",
            Activation::Swish => "swish",
            Activation::Mish => "mish",
            Activation::Gelu => "gelu",
            Activation::Softplus => "softplus",
            Activation::Softsign => "softsign",
            Activation::Hardswish => "hardswish",
            Activation::Softmax => "softmax",
        }
    }

    /// Other names that parse to the same activation.
    pub fn aliases(&self) -> &'static [&'static str] {
        match self {
            Activation::Swish => &["silu"],
            Activation::Identity
            | Activation::Sigmoid
            | Activation::Tanh
            | Activation::Relu
            | Activation::LeakyRelu { .. }
            | Activation::Prelu { .. }
            | Activation::Elu { .. }
            | Activation::Selu
            | Activation::Mish
            | Activation::Gelu
            | Activation::Softplus
            | Activation::Softsign
            | Activation::Hardswish
            | Activation::Softmax => &[],
        }
    }

    /// The parameters, in positional order.
    pub fn params(&self) -> &'static [&'static str] {
        match self {
            Activation::LeakyRelu { .. } | Activation::Elu { .. } => &["alpha"],
            Activation::Prelu { .. } => &["init"],
            Activation::Identity
            | Activation::Sigmoid
            | Activation::Tanh
            | Activation::Relu
            | Activation::Selu
            | Activation::Swish
            | Activation::Mish
            | Activation::Gelu
            | Activation::Softplus
            | Activation::Softsign
            | Activation::Hardswish
            | Activation::Softmax => &[],
        }
    }

    /// The activation a name or alias stands for, with default parameters.
    pub fn from_name(name: &str) -> Option<Activation> {
        Activation::ALL
            .into_iter()
            .find(|a| a.name() == name || a.aliases().contains(&name))
    }

    /// Every name that parses, canonical names and aliases, in `ALL`'s order.
    pub fn names() -> Vec<&'static str> {
        let all = Activation::ALL.iter();
        all.flat_map(|a| std::iter::once(a.name()).chain(a.aliases().iter().copied()))
            .collect()
    }
}

impl Optimizer {
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
        Optimizer::Adam {
            lr: 1e-3,
            beta1: 0.9,
            beta2: 0.999,
            eps: 1e-8,
        },
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
}

impl Loss {
    /// Every loss.
    pub const ALL: [Loss; 3] = [Loss::Mse, Loss::CrossEntropy, Loss::BinaryCrossEntropy];

    /// The canonical name, as `fmt`, diagnostics and run folders write it.
    pub fn name(&self) -> &'static str {
        match self {
            Loss::Mse => "mse",
            Loss::CrossEntropy => "cross_entropy",
            Loss::BinaryCrossEntropy => "binary_cross_entropy",
        }
    }

    /// Other names that parse to the same loss.
    pub fn aliases(&self) -> &'static [&'static str] {
        match self {
            Loss::BinaryCrossEntropy => &["bce"],
            Loss::Mse | Loss::CrossEntropy => &[],
        }
    }

    /// The loss a name or alias stands for.
    pub fn from_name(name: &str) -> Option<Loss> {
        Loss::ALL
            .into_iter()
            .find(|l| l.name() == name || l.aliases().contains(&name))
    }

    /// The canonical names, in `ALL`'s order (what "did you mean" offers).
    pub fn names() -> Vec<&'static str> {
        Loss::ALL.iter().map(Loss::name).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::super::names::{ACTIVATIONS, LAYERS, LOSSES, OPTIMIZERS};
    use crate::model::{Activation, Loss, Optimizer};

    /// The completion lists in `names` must hold exactly the family's names, in order.
    #[test]
    fn name_lists_are_the_families() {
        assert_eq!(ACTIVATIONS, Activation::names().as_slice());
        assert_eq!(OPTIMIZERS, Optimizer::names().as_slice());
        assert_eq!(LOSSES, Loss::names().as_slice());
        for name in Activation::names() {
            assert!(LAYERS.contains(&name), "`{name}` is not a layer kind");
        }
    }
}
