//! The recurrent cells (`rnn`, `lstm`, `gru`): names and each layer's parameters in positional
//! order, with the cell's own defaults.

use crate::model::{Activation, Cell};

impl Cell {
    /// Every cell, with its parameters at the language's defaults.
    pub const ALL: [Cell; 3] = [
        Cell::Rnn {
            act: Activation::Tanh,
        },
        Cell::Lstm { forget_bias: 1.0 },
        Cell::Gru,
    ];

    /// The name of the layer kind in the language (and the start of default layer names).
    pub fn name(&self) -> &'static str {
        match self {
            Cell::Rnn { .. } => "rnn",
            Cell::Lstm { .. } => "lstm",
            Cell::Gru => "gru",
        }
    }

    /// The layer's parameters, in positional order: the cell's own among those every
    /// recurrent layer takes.
    pub fn params(&self) -> &'static [&'static str] {
        match self {
            Cell::Rnn { .. } => &[
                "units", "act", "init", "init_rec", "radius", "bias", "return",
            ],
            Cell::Lstm { .. } => &[
                "units",
                "forget_bias",
                "init",
                "init_rec",
                "radius",
                "bias",
                "return",
            ],
            Cell::Gru => &["units", "init", "init_rec", "radius", "bias", "return"],
        }
    }

    /// The cell a layer kind names, with default parameters.
    pub fn from_name(name: &str) -> Option<Cell> {
        Cell::ALL.into_iter().find(|c| c.name() == name)
    }

    /// Every recurrent layer kind, in `ALL`'s order.
    pub fn names() -> Vec<&'static str> {
        Cell::ALL.iter().map(Cell::name).collect()
    }
}
