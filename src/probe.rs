//! The gradient-health probe statistics, defined once: each one's name (the IR output's, the
//! CSV column's and the JSON key's), whether the step program computes its square, where it
//! is recorded, and a label for people.
//!
//! This is a leaf module: it depends on nothing else in the crate, so the IR can carry a
//! [`ProbeStat`] as opaque data on a probe output without knowing what it means, and the step
//! builder, the recorder and every reader of a run folder agree on one table.

use serde::Serialize;

/// The statistic a probe output records for a layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum ProbeStat {
    /// ‖∂L/∂W‖² (before clipping)
    GradWeightSq,
    /// ‖∂L/∂b‖²
    GradBiasSq,
    /// ‖∂L/∂a‖², a = the layer's output (the back-propagated signal)
    GradActSq,
    /// ‖W‖²
    WeightSq,
    /// ‖ΔW‖² of the optimizer update
    UpdateSq,
    /// mean of the layer's output
    ActMean,
    /// standard deviation of the layer's output
    ActStd,
    /// fraction of saturated units (sigmoid, tanh, softsign: the slope at most
    /// [`SATURATED_SLOPE`] of its largest, see [`Squashing`]) or dead units (relu: no example
    /// of the batch activates it)
    Saturation,
    /// 1.0 if the layer's output has a NaN or ±∞ in the forward pass
    NonFiniteForward,
    /// 1.0 if ∂L/∂a or ∂L/∂W has a NaN or ±∞
    NonFiniteBackward,
    /// fraction of the layer's units whose ∂L/∂a is exactly zero for every example of the
    /// batch: units no gradient reaches, whose incoming weights cannot learn on this batch
    GradZeroFrac,
    /// ‖∂L/∂h_t‖² of a recurrent layer's hidden state at time step `t` (0-based), the total
    /// derivative through every later step (backpropagation through time)
    GradHiddenSq { t: u32 },
    /// fraction of saturated units of a recurrent layer's gate `gate` (PyTorch's order and
    /// names: i, f, g, o for the LSTM; r, z, n for the GRU; h, the hidden state, for a plain
    /// rnn) over every step
    GateSaturation { gate: Gate },
}

/// A unit of a squashing activation is saturated when its slope φ′ is at most this fraction
/// of the activation's largest slope: it passes less than a twentieth of the gradient it could.
/// Defined on the slope rather than as a fixed band of outputs, so the same rule covers a
/// sigmoid near 0 (Glorot & Bengio's top layer in the plateau, a ≈ 0.012, σ′ ≈ 0.05·max) and
/// near 1 alike, and compares activations fairly (softsign's polynomial tails against tanh's
/// exponential ones).
pub const SATURATED_SLOPE: f64 = 0.05;

/// The squashing activations, whose saturation the step measures from the output `a` alone.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Squashing {
    /// σ′ = a(1 − a), largest (1/4) at a = 1/2.
    Sigmoid,
    /// tanh′ = 1 − a², largest (1) at a = 0.
    Tanh,
    /// softsign′ = (1 − |a|)², largest (1) at a = 0.
    Softsign,
}

impl Squashing {
    /// The output at which the slope is largest.
    pub fn centre(self) -> f64 {
        match self {
            Squashing::Sigmoid => 0.5,
            Squashing::Tanh | Squashing::Softsign => 0.0,
        }
    }

    /// The distance |a − centre| beyond which φ′(a) ≤ [`SATURATED_SLOPE`]·max φ′, solved from
    /// the slope written in the output: 4a(1 − a) = s, 1 − a² = s, (1 − |a|)² = s.
    pub fn saturated_beyond(self) -> f64 {
        let s = SATURATED_SLOPE;
        match self {
            Squashing::Sigmoid => (1.0 - s).sqrt() / 2.0,
            Squashing::Tanh => (1.0 - s).sqrt(),
            Squashing::Softsign => 1.0 - s.sqrt(),
        }
    }

    /// φ′(a) / max φ′ for an output `a`: the fraction of the largest slope the unit passes.
    pub fn relative_slope(self, a: f64) -> f64 {
        match self {
            Squashing::Sigmoid => 4.0 * a * (1.0 - a),
            Squashing::Tanh => 1.0 - a * a,
            Squashing::Softsign => (1.0 - a.abs()).powi(2),
        }
    }
}

/// A recurrent cell's gate, in PyTorch's names and order (`Cell::gate_names`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize)]
pub enum Gate {
    /// The LSTM's input gate `i`.
    Input,
    /// The LSTM's forget gate `f`.
    Forget,
    /// The LSTM's cell candidate `g`.
    Candidate,
    /// The LSTM's output gate `o`.
    Output,
    /// The GRU's reset gate `r`.
    Reset,
    /// The GRU's update gate `z`.
    Update,
    /// The GRU's new-state candidate `n`.
    New,
    /// A plain rnn's hidden state `h`, its one block.
    Hidden,
}

impl Gate {
    pub const ALL: [Gate; 8] = [
        Gate::Input,
        Gate::Forget,
        Gate::Candidate,
        Gate::Output,
        Gate::Reset,
        Gate::Update,
        Gate::New,
        Gate::Hidden,
    ];

    /// The gate's name in `probes_gates.csv`, output names and JSON: PyTorch's letter.
    pub fn name(self) -> &'static str {
        match self {
            Gate::Input => "i",
            Gate::Forget => "f",
            Gate::Candidate => "g",
            Gate::Output => "o",
            Gate::Reset => "r",
            Gate::Update => "z",
            Gate::New => "n",
            Gate::Hidden => "h",
        }
    }

    /// The gate named `name` (a letter of `Cell::gate_names`).
    pub fn from_name(name: &str) -> Option<Gate> {
        Gate::ALL.into_iter().find(|g| g.name() == name)
    }
}

/// Which file of a run folder holds a statistic.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scope {
    /// One value per layer and recorded step: a column of `probes.csv`.
    Layer,
    /// One value per recurrent layer, recorded step and time step: `probes_time.csv`.
    Time,
    /// One value per recurrent layer, recorded step and gate: `probes_gates.csv`.
    Gate,
}

impl ProbeStat {
    /// The per-layer statistics in `probes.csv` column order. A new statistic is appended,
    /// so a file written before it existed still reads (its column is simply absent).
    pub const PER_LAYER: [ProbeStat; 11] = [
        ProbeStat::GradWeightSq,
        ProbeStat::GradBiasSq,
        ProbeStat::GradActSq,
        ProbeStat::WeightSq,
        ProbeStat::UpdateSq,
        ProbeStat::ActMean,
        ProbeStat::ActStd,
        ProbeStat::Saturation,
        ProbeStat::NonFiniteForward,
        ProbeStat::NonFiniteBackward,
        ProbeStat::GradZeroFrac,
    ];

    /// The one name of the statistic: the IR output's (`probe.<layer>.<name>`), the CSV
    /// column's and the JSON key's. Squared statistics are named by the norm the files show.
    pub fn name(self) -> &'static str {
        match self {
            ProbeStat::GradWeightSq => "grad_w_norm",
            ProbeStat::GradBiasSq => "grad_b_norm",
            ProbeStat::GradActSq => "grad_a_norm",
            ProbeStat::WeightSq => "weight_norm",
            ProbeStat::UpdateSq => "update_norm",
            ProbeStat::ActMean => "act_mean",
            ProbeStat::ActStd => "act_std",
            ProbeStat::Saturation => "saturation",
            ProbeStat::NonFiniteForward => "nonfinite_fwd",
            ProbeStat::NonFiniteBackward => "nonfinite_bwd",
            ProbeStat::GradZeroFrac => "grad_zero_frac",
            ProbeStat::GradHiddenSq { .. } => "grad_h_norm",
            ProbeStat::GateSaturation { .. } => "gate_saturation",
        }
    }

    /// What the statistic is, for people (tables, plot axes, docs).
    pub fn label(self) -> &'static str {
        match self {
            ProbeStat::GradWeightSq => "‖∂L/∂W‖",
            ProbeStat::GradBiasSq => "‖∂L/∂b‖",
            ProbeStat::GradActSq => "‖∂L/∂a‖",
            ProbeStat::WeightSq => "‖W‖",
            ProbeStat::UpdateSq => "‖ΔW‖",
            ProbeStat::ActMean => "mean(a)",
            ProbeStat::ActStd => "std(a)",
            ProbeStat::Saturation => "saturated or dead units",
            ProbeStat::NonFiniteForward => "non-finite forward",
            ProbeStat::NonFiniteBackward => "non-finite backward",
            ProbeStat::GradZeroFrac => "units with ∂L/∂a = 0",
            ProbeStat::GradHiddenSq { .. } => "‖∂L/∂h_t‖",
            ProbeStat::GateSaturation { .. } => "saturated gate units",
        }
    }

    /// Whether the step program computes the square of what the files show: a sum of squares
    /// fuses into the loop that produces the tensor, and the root is taken once on the host.
    pub fn squared(self) -> bool {
        match self {
            ProbeStat::GradWeightSq
            | ProbeStat::GradBiasSq
            | ProbeStat::GradActSq
            | ProbeStat::WeightSq
            | ProbeStat::UpdateSq
            | ProbeStat::GradHiddenSq { .. } => true,
            ProbeStat::ActMean
            | ProbeStat::ActStd
            | ProbeStat::Saturation
            | ProbeStat::NonFiniteForward
            | ProbeStat::NonFiniteBackward
            | ProbeStat::GradZeroFrac
            | ProbeStat::GateSaturation { .. } => false,
        }
    }

    /// Which file records the statistic.
    pub fn scope(self) -> Scope {
        match self {
            ProbeStat::GradWeightSq
            | ProbeStat::GradBiasSq
            | ProbeStat::GradActSq
            | ProbeStat::WeightSq
            | ProbeStat::UpdateSq
            | ProbeStat::ActMean
            | ProbeStat::ActStd
            | ProbeStat::Saturation
            | ProbeStat::NonFiniteForward
            | ProbeStat::NonFiniteBackward
            | ProbeStat::GradZeroFrac => Scope::Layer,
            ProbeStat::GradHiddenSq { .. } => Scope::Time,
            ProbeStat::GateSaturation { .. } => Scope::Gate,
        }
    }

    /// The value as files, tables and JSON show it, from the value the program computed.
    pub fn shown(self, program_value: f64) -> f64 {
        if self.squared() {
            program_value.sqrt()
        } else {
            program_value
        }
    }

    /// The name of the step program's output for this statistic of `layer`:
    /// `probe.<layer>.<name>`, with the time step or gate appended for the recurrent ones.
    pub fn output_name(self, layer: &str) -> String {
        let base = format!("probe.{layer}.{}", self.name());
        match (self.time_step(), self.gate()) {
            (Some(t), _) => format!("{base}.{t}"),
            (None, Some(gate)) => format!("{base}.{}", gate.name()),
            (None, None) => base,
        }
    }

    /// The time step of a through-time statistic.
    pub fn time_step(self) -> Option<u32> {
        match self {
            ProbeStat::GradHiddenSq { t } => Some(t),
            ProbeStat::GradWeightSq
            | ProbeStat::GradBiasSq
            | ProbeStat::GradActSq
            | ProbeStat::WeightSq
            | ProbeStat::UpdateSq
            | ProbeStat::ActMean
            | ProbeStat::ActStd
            | ProbeStat::Saturation
            | ProbeStat::NonFiniteForward
            | ProbeStat::NonFiniteBackward
            | ProbeStat::GradZeroFrac
            | ProbeStat::GateSaturation { .. } => None,
        }
    }

    /// The gate of a gate statistic.
    pub fn gate(self) -> Option<Gate> {
        match self {
            ProbeStat::GateSaturation { gate } => Some(gate),
            ProbeStat::GradWeightSq
            | ProbeStat::GradBiasSq
            | ProbeStat::GradActSq
            | ProbeStat::WeightSq
            | ProbeStat::UpdateSq
            | ProbeStat::ActMean
            | ProbeStat::ActStd
            | ProbeStat::Saturation
            | ProbeStat::NonFiniteForward
            | ProbeStat::NonFiniteBackward
            | ProbeStat::GradZeroFrac
            | ProbeStat::GradHiddenSq { .. } => None,
        }
    }

    /// The per-layer statistic whose column is named `column`, if any.
    pub fn from_column(column: &str) -> Option<ProbeStat> {
        ProbeStat::PER_LAYER
            .into_iter()
            .find(|s| s.name() == column)
    }

    /// The position of a per-layer statistic in [`ProbeStat::PER_LAYER`]; `None` for the
    /// through-time ones.
    pub fn column(self) -> Option<usize> {
        ProbeStat::PER_LAYER.iter().position(|&s| s == self)
    }
}

#[cfg(test)]
mod tests {
    use super::{Gate, ProbeStat, Scope, Squashing, SATURATED_SLOPE};

    /// At the edge of the band each activation's slope is exactly SATURATED_SLOPE of its
    /// largest (e.g. sigmoid: a = 0.5 ± 0.487, a(1 − a) = 0.0125 = 0.05 · 1/4), and inside the
    /// band it is more.
    #[test]
    fn the_saturation_band_ends_where_the_slope_is_the_saturated_fraction() {
        for sq in [Squashing::Sigmoid, Squashing::Tanh, Squashing::Softsign] {
            let edge = sq.centre() + sq.saturated_beyond();
            assert!(
                (sq.relative_slope(edge) - SATURATED_SLOPE).abs() < 1e-12,
                "{sq:?}"
            );
            let low = sq.centre() - sq.saturated_beyond();
            assert!(
                (sq.relative_slope(low) - SATURATED_SLOPE).abs() < 1e-12,
                "{sq:?}"
            );
            assert!(sq.relative_slope(sq.centre() + 0.9 * sq.saturated_beyond()) > SATURATED_SLOPE);
        }
        // Glorot & Bengio's top layer in the plateau (mean output 0.0124) is saturated.
        assert!(0.5 - 0.0124 > Squashing::Sigmoid.saturated_beyond());
    }

    #[test]
    fn every_per_layer_statistic_has_a_unique_column_that_reads_back() {
        for (i, stat) in ProbeStat::PER_LAYER.into_iter().enumerate() {
            assert_eq!(stat.scope(), Scope::Layer, "{stat:?}");
            assert_eq!(ProbeStat::from_column(stat.name()), Some(stat));
            assert_eq!(stat.column(), Some(i));
        }
        let through_time = [
            ProbeStat::GradHiddenSq { t: 0 },
            ProbeStat::GateSaturation { gate: Gate::Forget },
        ];
        for stat in through_time {
            assert_eq!(ProbeStat::from_column(stat.name()), None);
            assert_eq!(stat.column(), None);
        }
        assert_eq!(
            ProbeStat::GateSaturation { gate: Gate::Forget }.output_name("lstm"),
            "probe.lstm.gate_saturation.f"
        );
        for gate in Gate::ALL {
            assert_eq!(Gate::from_name(gate.name()), Some(gate));
        }
        assert_eq!(ProbeStat::GradActSq.shown(4.0), 2.0);
        assert_eq!(ProbeStat::GradZeroFrac.shown(0.25), 0.25);
    }
}
