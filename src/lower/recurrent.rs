//! Recurrent layers unrolled through time: one cell per step, so backpropagation through time
//! is ordinary reverse mode over the unrolled graph. Parameter names and layouts are PyTorch's (`weight_ih` `[G·N, d]`,
//! `weight_hh` `[G·N, N]`, `bias_ih`, `bias_hh` `[G·N]`, gates i, f, g, o for the LSTM and
//! r, z, n for the GRU), so weights can be compared with `torch.nn.RNN/LSTM/GRU` directly.

use super::act;
use super::layers::Lowering;
use super::{GateValues, InitExtras, ParamKind};
use crate::ir::{Graph, UnaryOp, ValueId};
use crate::model::{Activation, Cell, Init, Layer, Recurrent, Returns};

/// What lowering a recurrent layer produced.
pub struct Unrolled {
    /// `[B, N]` (last step) or `[B, T, N]` (every step).
    pub output: ValueId,
    /// h_t for t = 0..T, each `[B, N]`: where ‖∂L/∂h_t‖ is probed.
    pub hidden: Vec<ValueId>,
    pub gates: Vec<GateValues>,
    pub weight: String,
    pub bias: Option<String>,
}

/// The layer's parameters as graph values.
struct Weights {
    ih: ValueId,
    hh: ValueId,
    b_ih: Option<ValueId>,
    b_hh: Option<ValueId>,
}

impl Lowering<'_> {
    /// Unrolls `layer` over the sequence `x` `[B, T, d]`.
    pub(super) fn recurrent(&mut self, layer: &Layer, x: ValueId, r: &Recurrent) -> Unrolled {
        let shape = self.graph.shape(x).to_vec();
        let (batch, steps, dim) = (shape[0], shape[1], shape[2]);
        let n = r.units;
        let rows = r.cell.gates() * n;
        let w = self.recurrent_params(layer, r, dim);
        let inputs = self.input_steps(x);
        let g = &mut self.graph;
        let mut cell = CellState::new(r.cell, n);
        let mut h = None;
        let mut c = None;
        let mut hidden = Vec::with_capacity(steps);
        for &xt in &inputs {
            let mut xp = g.matmul(xt, w.ih, false, true);
            if let Some(b) = w.b_ih {
                xp = g.add(xp, b);
            }
            // h₀ = 0, so the first step has no recurrent product.
            let hp = match h {
                Some(h) => {
                    let hp = g.matmul(h, w.hh, false, true);
                    Some(match w.b_hh {
                        Some(b) => g.add(hp, b),
                        None => hp,
                    })
                }
                None => w.b_hh.map(|b| g.broadcast(b, vec![batch, rows])),
            };
            let (h_next, c_next) = cell.step(g, xp, hp, h, c);
            h = Some(h_next);
            c = c_next;
            hidden.push(h_next);
        }
        let output = match r.returns {
            Returns::Last => hidden[steps - 1],
            Returns::All => self.stack_steps(&hidden),
        };
        let gates = cell.finish(&mut self.graph);
        Unrolled {
            output,
            hidden,
            gates,
            weight: format!("{}.weight_hh", layer.name),
            bias: r.bias.then(|| format!("{}.bias_hh", layer.name)),
        }
    }

    /// The steps of a `[B, T, d]` input as `[B, d]` values: a recurrent layer below hands its
    /// h_t over directly; any other input is sliced. Slicing a value whose gradient is needed
    /// would cost a `[B, T, ·]` adjoint per step (quadratic in T), which the hand-over avoids.
    fn input_steps(&mut self, x: ValueId) -> Vec<ValueId> {
        if let Some(steps) = self.sequences.get(&x) {
            return steps.clone();
        }
        let shape = self.graph.shape(x).to_vec();
        let (batch, steps, dim) = (shape[0], shape[1], shape[2]);
        (0..steps)
            .map(|t| {
                let xt = self.graph.slice(x, 1, t, 1);
                self.graph.reshape(xt, vec![batch, dim])
            })
            .collect()
    }

    /// Every step's h_t `[B, N]` stacked to `[B, T, N]`, remembered for a layer stacked above.
    fn stack_steps(&mut self, hidden: &[ValueId]) -> ValueId {
        let g = &mut self.graph;
        let stacked: Vec<ValueId> = hidden
            .iter()
            .map(|&h| {
                let shape = g.shape(h).to_vec();
                g.reshape(h, vec![shape[0], 1, shape[1]])
            })
            .collect();
        let all = g.concat(&stacked, 1);
        self.sequences.insert(all, hidden.to_vec());
        all
    }

    fn recurrent_params(&mut self, layer: &Layer, r: &Recurrent, dim: usize) -> Weights {
        let n = r.units;
        let gates = r.cell.gates();
        let rows = gates * n;
        let name = |p: &str| format!("{}.{p}", layer.name);
        let ih = self.new_param(
            &name("weight_ih"),
            vec![rows, dim],
            r.init,
            dim,
            rows,
            ParamKind::Weight,
            layer,
        );
        let hh = self.new_param(
            &name("weight_hh"),
            vec![rows, n],
            r.init_rec,
            n,
            n,
            ParamKind::Weight,
            layer,
        );
        self.set_extras(InitExtras {
            blocks: gates,
            radius: r.radius,
            fill: None,
        });
        let (b_ih, b_hh) = match r.bias {
            true => {
                let (b_ih, b_hh) = self.recurrent_biases(layer, r);
                (Some(b_ih), Some(b_hh))
            }
            false => (None, None),
        };
        Weights { ih, hh, b_ih, b_hh }
    }

    /// `bias_ih` and `bias_hh`, PyTorch's U(−1/√N, 1/√N); an LSTM's forget slice of
    /// `bias_ih` holds `forget_bias` and that of `bias_hh` 0, so the gate sees exactly it.
    fn recurrent_biases(&mut self, layer: &Layer, r: &Recurrent) -> (ValueId, ValueId) {
        let n = r.units;
        let rows = r.cell.gates() * n;
        let k = 1.0 / (n as f64).sqrt();
        let bias_init = Init::Uniform { low: -k, high: k };
        let forget = |value: f64| InitExtras {
            blocks: 1,
            radius: None,
            fill: Some((n..2 * n, value)),
        };
        let biases = [("bias_ih", None), ("bias_hh", Some(0.0))].map(|(name, fill)| {
            let value = self.new_param(
                &format!("{}.{name}", layer.name),
                vec![rows],
                bias_init,
                n,
                n,
                ParamKind::Bias,
                layer,
            );
            if let Cell::Lstm { forget_bias } = r.cell {
                self.set_extras(forget(fill.unwrap_or(forget_bias)));
            }
            value
        });
        (biases[0], biases[1])
    }
}

/// One cell's step function, and the gate activations it has produced so far.
struct CellState {
    cell: Cell,
    units: usize,
    /// Per gate, its activation at every step.
    gate_steps: Vec<Vec<ValueId>>,
}

impl CellState {
    fn new(cell: Cell, units: usize) -> CellState {
        CellState {
            cell,
            units,
            gate_steps: vec![Vec::new(); cell.gates()],
        }
    }

    /// One step: `xp` is W_ih·x_t + b_ih, `hp` is W_hh·h + b_hh (absent at t = 0 without a
    /// bias, where h = 0). Returns (h_t, c_t for the LSTM).
    fn step(
        &mut self,
        g: &mut Graph,
        xp: ValueId,
        hp: Option<ValueId>,
        h: Option<ValueId>,
        c: Option<ValueId>,
    ) -> (ValueId, Option<ValueId>) {
        match self.cell {
            Cell::Rnn { act } => {
                let z = match hp {
                    Some(hp) => g.add(xp, hp),
                    None => xp,
                };
                let h = act::apply(g, act, z, None);
                self.gate_steps[0].push(h);
                (h, None)
            }
            Cell::Lstm { .. } => {
                let (h, c) = self.lstm(g, xp, hp, c);
                (h, Some(c))
            }
            Cell::Gru => (self.gru(g, xp, hp, h), None),
        }
    }

    /// (i, f, g, o) = split(xp + hp); c_t = σ(f) ⊙ c + σ(i) ⊙ tanh(g); h_t = σ(o) ⊙ tanh(c_t).
    fn lstm(
        &mut self,
        g: &mut Graph,
        xp: ValueId,
        hp: Option<ValueId>,
        c: Option<ValueId>,
    ) -> (ValueId, ValueId) {
        let n = self.units;
        let z = match hp {
            Some(hp) => g.add(xp, hp),
            None => xp,
        };
        let gate = |g: &mut Graph, k: usize, op: UnaryOp| {
            let s = g.slice(z, 1, k * n, n);
            g.unary(op, s)
        };
        let i = gate(g, 0, UnaryOp::Sigmoid);
        let f = gate(g, 1, UnaryOp::Sigmoid);
        let cand = gate(g, 2, UnaryOp::Tanh);
        let o = gate(g, 3, UnaryOp::Sigmoid);
        for (k, v) in [i, f, cand, o].into_iter().enumerate() {
            self.gate_steps[k].push(v);
        }
        let ig = g.mul(i, cand);
        let c_new = match c {
            Some(c) => {
                let fc = g.mul(f, c);
                g.add(fc, ig)
            }
            None => ig,
        };
        let tc = g.unary(UnaryOp::Tanh, c_new);
        (g.mul(o, tc), c_new)
    }

    /// PyTorch's GRU: r = σ(x_r + h_r), z = σ(x_z + h_z), n = tanh(x_n + r ⊙ h_n),
    /// h_t = (1 − z) ⊙ n + z ⊙ h, where x_· and h_· are the gate slices of `xp` and `hp`.
    fn gru(
        &mut self,
        g: &mut Graph,
        xp: ValueId,
        hp: Option<ValueId>,
        h: Option<ValueId>,
    ) -> ValueId {
        let n = self.units;
        let part = |g: &mut Graph, v: ValueId, k: usize| g.slice(v, 1, k * n, n);
        let (xr, xz, xn) = (part(g, xp, 0), part(g, xp, 1), part(g, xp, 2));
        let (r, z, cand) = match hp {
            Some(hp) => {
                let (hr, hz, hn) = (part(g, hp, 0), part(g, hp, 1), part(g, hp, 2));
                let r_pre = g.add(xr, hr);
                let r = g.unary(UnaryOp::Sigmoid, r_pre);
                let z_pre = g.add(xz, hz);
                let z = g.unary(UnaryOp::Sigmoid, z_pre);
                let rh = g.mul(r, hn);
                let n_pre = g.add(xn, rh);
                (r, z, g.unary(UnaryOp::Tanh, n_pre))
            }
            None => {
                let r = g.unary(UnaryOp::Sigmoid, xr);
                let z = g.unary(UnaryOp::Sigmoid, xz);
                (r, z, g.unary(UnaryOp::Tanh, xn))
            }
        };
        for (k, v) in [r, z, cand].into_iter().enumerate() {
            self.gate_steps[k].push(v);
        }
        match h {
            // (1 − z) ⊙ n + z ⊙ h = n + z ⊙ (h − n)
            Some(h) => {
                let diff = g.sub(h, cand);
                let zd = g.mul(z, diff);
                g.add(cand, zd)
            }
            None => {
                let one = g.scalar(1.0);
                let one_minus = g.sub(one, z);
                g.mul(one_minus, cand)
            }
        }
    }

    /// Each gate's activations over every step, concatenated to `[B, T·N]`.
    fn finish(self, g: &mut Graph) -> Vec<GateValues> {
        let names = self.cell.gate_names();
        let acts: Vec<Activation> = match self.cell {
            Cell::Rnn { act } => vec![act],
            Cell::Lstm { .. } => vec![
                Activation::Sigmoid,
                Activation::Sigmoid,
                Activation::Tanh,
                Activation::Sigmoid,
            ],
            Cell::Gru => vec![Activation::Sigmoid, Activation::Sigmoid, Activation::Tanh],
        };
        self.gate_steps
            .into_iter()
            .zip(names)
            .zip(acts)
            .map(|((steps, name), act)| GateValues {
                gate: (*name).to_owned(),
                value: g.concat(&steps, 1),
                act,
            })
            .collect()
    }
}
