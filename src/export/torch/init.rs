//! Each parameter's initializer in PyTorch's words, with netc's formulas and fans written out,
//! so the exported module starts from the same distributions netc draws from.

use super::python::{float, param_path, Python};
use crate::lower::ParamSpec;
use crate::model::{FanMode, Init};

/// One parameter's initializer, as netc draws it (the numbers differ, the distribution not).
pub(super) fn init_param(py: &mut Python, p: &ParamSpec) {
    let target = param_path(&p.name);
    let blocks = p.extras.blocks.max(1);
    if blocks > 1 && p.shape.first().is_some_and(|rows| rows % blocks == 0) {
        py.block(format!("for block in {target}.chunk({blocks}):"), |py| {
            py.line(init_call(&p.init, "block", p.fan_in, p.fan_out));
            rescale(py, "block", p.extras.radius);
        });
    } else {
        py.line(init_call(&p.init, &target, p.fan_in, p.fan_out));
        rescale(py, &target, p.extras.radius);
    }
    if let Some((range, value)) = &p.extras.fill {
        py.line(format!(
            "{target}[{}:{}].fill_({})",
            range.start,
            range.end,
            float(*value)
        ));
    }
}

/// Rescales `t` so its largest singular value is `radius` (netc's `radius = r`).
pub(super) fn rescale(py: &mut Python, t: &str, radius: Option<f64>) {
    if let Some(radius) = radius {
        py.line(format!(
            "{t}.mul_({} / torch.linalg.matrix_norm({t}, ord=2))",
            float(radius)
        ));
    }
}

/// `init` of the tensor `t` with netc's formulas, the fans given explicitly.
pub(super) fn init_call(init: &Init, t: &str, fan_in: usize, fan_out: usize) -> String {
    let (fan_in, fan_out) = (fan_in.max(1) as f64, fan_out.max(1) as f64);
    let fan = |mode: FanMode| match mode {
        FanMode::FanIn => fan_in,
        FanMode::FanOut => fan_out,
    };
    let uniform = |bound: f64, what: &str| {
        format!(
            "nn.init.uniform_({t}, -{b}, {b})  # {what}",
            b = float(bound)
        )
    };
    let normal =
        |std: f64, what: &str| format!("nn.init.normal_({t}, 0.0, {})  # {what}", float(std));
    match *init {
        Init::Zeros => format!("nn.init.zeros_({t})"),
        Init::Constant(v) => format!("nn.init.constant_({t}, {})", float(v)),
        Init::Normal { mean, std } => {
            format!("nn.init.normal_({t}, {}, {})", float(mean), float(std))
        }
        Init::Uniform { low, high } => {
            format!("nn.init.uniform_({t}, {}, {})", float(low), float(high))
        }
        Init::XavierUniform { gain } => uniform(
            gain * (6.0 / (fan_in + fan_out)).sqrt(),
            &format!("xavier_uniform(gain = {gain}): fan_in {fan_in}, fan_out {fan_out}"),
        ),
        Init::XavierNormal { gain } => normal(
            gain * (2.0 / (fan_in + fan_out)).sqrt(),
            &format!("xavier_normal(gain = {gain}): fan_in {fan_in}, fan_out {fan_out}"),
        ),
        Init::HeUniform { mode } => uniform(
            (6.0 / fan(mode)).sqrt(),
            &format!("he_uniform: fan {}", fan(mode)),
        ),
        Init::HeNormal { mode } => normal(
            (2.0 / fan(mode)).sqrt(),
            &format!("he_normal: fan {}", fan(mode)),
        ),
        Init::LecunNormal => normal(
            (1.0 / fan_in).sqrt(),
            &format!("lecun_normal: fan_in {fan_in}"),
        ),
        Init::LecunUniform => uniform(
            (3.0 / fan_in).sqrt(),
            &format!("lecun_uniform: fan_in {fan_in}"),
        ),
        Init::Orthogonal { gain } => format!("nn.init.orthogonal_({t}, gain={})", float(gain)),
        Init::Identity { scale } => {
            format!("nn.init.eye_({t}).mul_({})  # identity", float(scale))
        }
    }
}
