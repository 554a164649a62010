//! A checked model as a readable PyTorch file: an `nn.Module` whose parameter names are
//! netc's (so `load_state_dict` takes netc's weights as they are), the same initializers,
//! loss, L2 penalty, clipping, optimizer and learning-rate schedule, and a loader for netc's
//! safetensors that needs nothing but torch.
//!
//! The layer walk here mirrors `lower`: whatever a layer computes there, its line here
//! computes in PyTorch's words. tests/export_torch.rs runs the file against netc's own loss
//! and gradients where torch is installed.

use crate::lower::{self, LowerOptions, ParamKind, ParamSpec};
use crate::model::{
    Activation, Cell, Clip, FanMode, Init, Layer, LayerKind, Loss, Model, Optimizer, Returns,
    Schedule,
};

/// Where the model came from, for the file's header.
pub struct Origin<'a> {
    /// The `.net` file as the user named it.
    pub file: &'a str,
    /// netc's version.
    pub version: &'a str,
}

/// The Python source of a PyTorch module equivalent to `model`.
pub fn module(model: &Model, origin: &Origin<'_>) -> String {
    let params = lower::lower(model, &LowerOptions::eval(1)).params;
    let mut py = Python::default();
    header(&mut py, model, origin);
    class(&mut py, model, &params);
    training(&mut py, model, &params);
    py.text.push_str(LOADER);
    py.text
}

/// Python text with an indentation level.
#[derive(Default)]
struct Python {
    text: String,
    indent: usize,
}

impl Python {
    fn line(&mut self, line: impl AsRef<str>) {
        let line = line.as_ref();
        if !line.is_empty() {
            self.text.push_str(&"    ".repeat(self.indent));
        }
        self.text.push_str(line);
        self.text.push('\n');
    }

    fn block(&mut self, head: impl AsRef<str>, body: impl FnOnce(&mut Python)) {
        self.line(head);
        self.indent += 1;
        body(self);
        self.indent -= 1;
    }
}

fn header(py: &mut Python, model: &Model, origin: &Origin<'_>) {
    py.line(format!(
        "\"\"\"The model `{}` of {}, as a PyTorch module.",
        model.name, origin.file
    ));
    py.line("");
    py.line(format!(
        "Written by netc {} (`netc export {} --torch ...`); edit freely.",
        origin.version, origin.file
    ));
    py.line("Parameter names are netc's, so `load_netc(model, \"weights.safetensors\")` loads a");
    py.line("netc run's weights as they are. `forward` returns what the loss reads: the logits");
    py.line("when the model ends in a softmax or sigmoid fused with its loss (use `predict` for");
    py.line("probabilities). Needs only torch.");
    py.line("\"\"\"");
    py.line("import json");
    py.line("import math");
    py.line("");
    py.line("import torch");
    py.line("import torch.nn.functional as F");
    py.line("from torch import nn");
    py.line("");
    py.line("");
}

/// The module: one attribute per layer that owns parameters, named as netc names the layer.
fn class(py: &mut Python, model: &Model, params: &[ParamSpec]) {
    let name = class_name(&model.name);
    py.block(format!("class {name}(nn.Module):"), |py| {
        py.block("def __init__(self):", |py| {
            py.line("super().__init__()");
            for layer in model.flat_layers() {
                declare(py, layer);
            }
            py.line("self.reset_parameters()");
        });
        py.line("");
        py.block("def reset_parameters(self):", |py| {
            py.line("\"\"\"netc's initializers, with the fans netc uses.\"\"\"");
            py.block("with torch.no_grad():", |py| {
                for p in params {
                    init_param(py, p);
                }
            });
        });
        py.line("");
        py.block("def forward(self, x):", |py| {
            let mut names = Names::default();
            let h = forward_layers(py, &model.layers, "x", true, &mut names, model);
            py.line(format!("return {h}"));
        });
        py.line("");
        py.block("def predict(self, x):", |py| {
            py.line("\"\"\"The model's output, as netc's `predict` gives it.\"\"\"");
            let out = match (fused_last(model), model.train.loss) {
                (Some(Activation::Softmax), _) | (None, Loss::CrossEntropy) => {
                    "torch.softmax(self(x), dim=-1)"
                }
                (Some(Activation::Sigmoid), _) | (None, Loss::BinaryCrossEntropy) => {
                    "torch.sigmoid(self(x))"
                }
                _ => "self(x)",
            };
            py.line(format!("return {out}"));
        });
    });
    py.line("");
    py.line("");
}

fn declare(py: &mut Python, layer: &Layer) {
    let attr = attr(&layer.name);
    let features = |shape: &[usize]| shape.last().copied().unwrap_or(1);
    let fan_in = features(&layer.in_shape);
    match &layer.kind {
        LayerKind::Dense {
            units, bias, act, ..
        } => {
            let inputs = dense_fan_in(layer);
            py.line(format!(
                "{attr} = nn.Linear({inputs}, {units}, bias={})",
                py_bool(*bias)
            ));
            if let Activation::Prelu { init } = act {
                py.line(format!(
                    "{attr}.slope = nn.Parameter(torch.full(({units},), {}))",
                    float(*init)
                ));
            }
        }
        LayerKind::Activation(Activation::Prelu { init }) => {
            py.line(format!("{attr} = nn.Module()"));
            py.line(format!(
                "{attr}.slope = nn.Parameter(torch.full(({},), {}))",
                features(&layer.out_shape),
                float(*init)
            ));
        }
        LayerKind::Activation(_) | LayerKind::Dropout { .. } => {}
        LayerKind::BatchNorm { momentum, eps } => py.line(format!(
            "{attr} = nn.BatchNorm1d({}, eps={}, momentum={})",
            layer.in_shape.iter().product::<usize>(),
            float(*eps),
            float(*momentum)
        )),
        LayerKind::LayerNorm { eps, affine } => py.line(format!(
            "{attr} = nn.LayerNorm({fan_in}, eps={}, elementwise_affine={})",
            float(*eps),
            py_bool(*affine)
        )),
        LayerKind::Residual { projection, .. } => {
            if projection.is_some() {
                py.line(format!(
                    "{attr} = nn.Linear({fan_in}, {}, bias=False)  # the skip's projection",
                    features(&layer.out_shape)
                ));
            }
        }
        LayerKind::Recurrent(r) => {
            let (module, extra) = match r.cell {
                Cell::Rnn {
                    act: Activation::Tanh,
                } => ("nn.RNN", String::new()),
                Cell::Rnn {
                    act: Activation::Relu,
                } => ("nn.RNN", ", nonlinearity=\"relu\"".to_owned()),
                // nn.RNN knows only tanh and relu.
                Cell::Rnn { act } => (
                    "ElmanRNN",
                    format!(", act=lambda z: {}", activation(&act, "z", "None")),
                ),
                Cell::Lstm { .. } => ("nn.LSTM", String::new()),
                Cell::Gru => ("nn.GRU", String::new()),
            };
            py.line(format!(
                "{attr} = {module}({fan_in}, {}, bias={}, batch_first=True{extra})",
                r.units,
                py_bool(r.bias)
            ));
        }
    }
}

/// A dense layer's inputs: the last axis over a sequence, every feature otherwise.
fn dense_fan_in(layer: &Layer) -> usize {
    match layer.in_shape.len() {
        2 => layer.in_shape[1],
        _ => layer.in_shape.iter().product(),
    }
}

/// Unique names for the temporaries of `forward`.
#[derive(Default)]
struct Names {
    skips: usize,
}

/// Writes the lines of `layers` reading `input`; returns the variable holding the result.
fn forward_layers(
    py: &mut Python,
    layers: &[Layer],
    input: &str,
    top_level: bool,
    names: &mut Names,
    model: &Model,
) -> String {
    let mut h = input.to_owned();
    for (i, layer) in layers.iter().enumerate() {
        let last = top_level && i + 1 == layers.len();
        h = forward_layer(py, layer, &h, last, names, model);
    }
    h
}

fn forward_layer(
    py: &mut Python,
    layer: &Layer,
    h: &str,
    last: bool,
    names: &mut Names,
    model: &Model,
) -> String {
    let attr = attr(&layer.name);
    // The loss reads the logits of a final softmax or sigmoid, as netc's lowering does.
    let act_here = |act: &Activation| {
        if last && fused_last(model) == Some(*act) {
            Activation::Identity
        } else {
            *act
        }
    };
    let line = match &layer.kind {
        LayerKind::Dense { act, .. } => {
            let z = format!("{attr}({h})");
            activation(&act_here(act), &z, &format!("{attr}.slope"))
        }
        LayerKind::Activation(act) => activation(&act_here(act), h, &format!("{attr}.slope")),
        LayerKind::BatchNorm { .. } => match layer.in_shape.len() {
            1 => format!("{attr}({h})"),
            _ => format!("{attr}({h}.flatten(1)).view_as({h})"),
        },
        LayerKind::LayerNorm { .. } => format!("{attr}({h})"),
        LayerKind::Dropout { p } => {
            format!("F.dropout({h}, p={}, training=self.training)", float(*p))
        }
        LayerKind::Residual { body, projection } => {
            names.skips += 1;
            let skip = format!("skip{}", names.skips);
            py.line(format!("{skip} = {h}  # {}", layer.name));
            let inner = forward_layers(py, body, h, false, names, model);
            match projection {
                Some(_) => format!("{inner} + {attr}({skip})"),
                None => format!("{inner} + {skip}"),
            }
        }
        LayerKind::Recurrent(r) => match r.returns {
            Returns::Last => format!("{attr}({h})[0][:, -1]"),
            Returns::All => format!("{attr}({h})[0]"),
        },
    };
    py.line(format!("h = {line}  # {}", layer.name));
    "h".to_owned()
}

/// The final activation the loss reads the logits of, if any (netc's fused forms).
fn fused_last(model: &Model) -> Option<Activation> {
    let act = match &model.layers.last()?.kind {
        LayerKind::Dense { act, .. } | LayerKind::Activation(act) => *act,
        _ => return None,
    };
    match (model.train.loss, act) {
        (Loss::CrossEntropy, Activation::Softmax) => Some(act),
        (Loss::BinaryCrossEntropy, Activation::Sigmoid) => Some(act),
        _ => None,
    }
}

/// `act` applied to the Python expression `z`; `slope` names PReLU's parameter.
fn activation(act: &Activation, z: &str, slope: &str) -> String {
    match *act {
        Activation::Identity => z.to_owned(),
        Activation::Sigmoid => format!("torch.sigmoid({z})"),
        Activation::Tanh => format!("torch.tanh({z})"),
        Activation::Relu => format!("F.relu({z})"),
        Activation::LeakyRelu { alpha } => format!("F.leaky_relu({z}, {})", float(alpha)),
        Activation::Prelu { .. } => format!("prelu({z}, {slope})"),
        Activation::Elu { alpha } => format!("F.elu({z}, {})", float(alpha)),
        Activation::Selu => format!("F.selu({z})"),
        Activation::Swish => format!("F.silu({z})"),
        Activation::Mish => format!("F.mish({z})"),
        Activation::Gelu => format!("F.gelu({z})"),
        Activation::Softplus => format!("F.softplus({z})"),
        Activation::Softsign => format!("F.softsign({z})"),
        Activation::Softmax => format!("torch.softmax({z}, dim=-1)"),
    }
}

/// One parameter's initializer, as netc draws it (the numbers differ, the distribution not).
fn init_param(py: &mut Python, p: &ParamSpec) {
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
fn rescale(py: &mut Python, t: &str, radius: Option<f64>) {
    if let Some(radius) = radius {
        py.line(format!(
            "{t}.mul_({} / torch.linalg.matrix_norm({t}, ord=2))",
            float(radius)
        ));
    }
}

/// `init` of the tensor `t` with netc's formulas, the fans given explicitly.
fn init_call(init: &Init, t: &str, fan_in: usize, fan_out: usize) -> String {
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

/// The loss, the L2 penalty, clipping, the optimizer and its schedule, and one training step.
fn training(py: &mut Python, model: &Model, params: &[ParamSpec]) {
    let train = &model.train;
    py.block("def loss_fn(model, x, y):", |py| {
        py.line("\"\"\"netc's loss on a batch: the mean over its rows, plus the L2 penalty.\"\"\"");
        py.line("out = model(x).flatten(1)");
        match train.loss {
            Loss::Mse => py.line("loss = F.mse_loss(out, y.flatten(1).to(out.dtype))"),
            Loss::CrossEntropy => {
                py.line("# y: class indices [B], or one-hot / probabilities like the logits");
                py.line("target = y if y.dtype == torch.long or y.dim() == 1 else y.to(out.dtype)");
                py.line("loss = F.cross_entropy(out, target)");
            }
            Loss::BinaryCrossEntropy => py
                .line("loss = F.binary_cross_entropy_with_logits(out, y.flatten(1).to(out.dtype))"),
        }
        let weights: Vec<String> = params
            .iter()
            .filter(|p| p.kind == ParamKind::Weight)
            .map(|p| param_path_from(&p.name, "model"))
            .collect();
        if train.l2 > 0.0 && !weights.is_empty() {
            py.line(format!(
                "# l2 = {}: λ/2·Σ‖W‖² over weights (not biases or norm parameters)",
                train.l2
            ));
            py.line(format!("weights = [{}]", weights.join(", ")));
            py.line(format!(
                "loss = loss + {} * sum(w.pow(2).sum() for w in weights)",
                float(train.l2 / 2.0)
            ));
        }
        py.line("return loss");
    });
    py.line("");
    py.line("");
    clip_fn(py, train.clip, params);
    optimizer_fn(py, model);
    py.block("def train_step(model, optimizer, schedule, x, y):", |py| {
        py.line("\"\"\"One step as netc takes it: loss, gradients, clipping, update.\"\"\"");
        py.line("model.train()");
        py.line("optimizer.zero_grad()");
        py.line("loss = loss_fn(model, x, y)");
        py.line("loss.backward()");
        py.line("clip_gradients(model)");
        py.line("optimizer.step()");
        py.line("schedule.step()");
        py.line("return loss.item()");
    });
    py.line("");
    py.line("");
}

fn clip_fn(py: &mut Python, clip: Clip, params: &[ParamSpec]) {
    py.block("def clip_gradients(model):", |py| match clip {
        Clip::None => py.line("\"\"\"The model is trained without clipping.\"\"\""),
        Clip::GlobalNorm(max) => {
            py.line("\"\"\"clip = norm: all gradients rescaled together.\"\"\"");
            py.line(format!(
                "torch.nn.utils.clip_grad_norm_(model.parameters(), {})",
                float(max)
            ));
        }
        Clip::LayerNorm(max) => {
            py.line("\"\"\"clip = layer_norm: each layer's gradients rescaled on their own.\"\"\"");
            let mut layers: Vec<&str> = params
                .iter()
                .filter(|p| p.kind.trainable())
                .map(|p| p.layer.as_str())
                .collect();
            layers.dedup();
            for layer in layers {
                let group: Vec<String> = params
                    .iter()
                    .filter(|p| p.kind.trainable() && p.layer == layer)
                    .map(|p| param_path_from(&p.name, "model"))
                    .collect();
                py.line(format!(
                    "torch.nn.utils.clip_grad_norm_([{}], {})",
                    group.join(", "),
                    float(max)
                ));
            }
        }
        Clip::Value(v) => {
            py.line("\"\"\"clip = value: every gradient element clamped.\"\"\"");
            py.line(format!(
                "torch.nn.utils.clip_grad_value_(model.parameters(), {})",
                float(v)
            ));
        }
    });
    py.line("");
    py.line("");
}

fn optimizer_fn(py: &mut Python, model: &Model) {
    let train = &model.train;
    let total = match train.steps {
        Some(steps) => steps.to_string(),
        None => "None".to_owned(),
    };
    py.block(
        format!("def make_optimizer(model, total_steps={total}):"),
        |py| {
            py.line("\"\"\"netc's optimizer and learning-rate schedule (stepped once per step).");
            py.line("");
            py.line(format!(
                "`total_steps` is the run's length: epochs ({}) × batches per epoch (batch {}).",
                train.epochs, train.batch
            ));
            py.line("\"\"\"");
            py.line(format!("optimizer = {}", optimizer(&train.optimizer)));
            py.block("def factor(step):", |py| {
                schedule_lines(py, &train.schedule, "step", "total_steps", 0);
            });
            py.line("return optimizer, torch.optim.lr_scheduler.LambdaLR(optimizer, factor)");
        },
    );
    py.line("");
    py.line("");
}

fn optimizer(opt: &Optimizer) -> String {
    let f = |v: f64| float(v);
    match *opt {
        Optimizer::Sgd {
            lr,
            momentum,
            nesterov,
        } => format!(
            "torch.optim.SGD(model.parameters(), lr={}, momentum={}, nesterov={})",
            f(lr),
            f(momentum),
            py_bool(nesterov)
        ),
        Optimizer::RmsProp {
            lr,
            alpha,
            eps,
            momentum,
        } => format!(
            "torch.optim.RMSprop(model.parameters(), lr={}, alpha={}, eps={}, momentum={})",
            f(lr),
            f(alpha),
            f(eps),
            f(momentum)
        ),
        Optimizer::AdaGrad { lr, eps } => format!(
            "torch.optim.Adagrad(model.parameters(), lr={}, eps={})",
            f(lr),
            f(eps)
        ),
        Optimizer::Adam {
            lr,
            beta1,
            beta2,
            eps,
        } => format!(
            "torch.optim.Adam(model.parameters(), lr={}, betas=({}, {}), eps={})",
            f(lr),
            f(beta1),
            f(beta2),
            f(eps)
        ),
        Optimizer::AdamW {
            lr,
            beta1,
            beta2,
            eps,
            weight_decay,
        } => format!(
            "torch.optim.AdamW(model.parameters(), lr={}, betas=({}, {}), eps={}, weight_decay={})",
            f(lr),
            f(beta1),
            f(beta2),
            f(eps),
            f(weight_decay)
        ),
    }
}

/// The lines of `factor(step)` for `schedule` (runtime/schedule.rs, in Python). `depth`
/// counts nested warm-ups, each with its own variables.
fn schedule_lines(py: &mut Python, schedule: &Schedule, step: &str, total: &str, depth: usize) {
    match schedule {
        Schedule::Constant => py.line("return 1.0"),
        Schedule::Step { every, gamma } => py.line(format!(
            "return {} ** ({step} // {})",
            float(*gamma),
            (*every).max(1)
        )),
        Schedule::Cosine { min_factor } => {
            py.block(format!("if {total} is None:"), |py| {
                py.line("raise ValueError(\"the cosine schedule needs total_steps\")");
            });
            py.line(format!("progress = min({step} / max({total}, 1), 1.0)"));
            py.line(format!(
                "return {m} + (1.0 - {m}) * 0.5 * (1.0 + math.cos(math.pi * progress))",
                m = float(*min_factor)
            ));
        }
        Schedule::Warmup { steps, then } => {
            py.block(format!("if {step} < {steps}:"), |py| {
                py.line(format!("return ({step} + 1) / {steps}"));
            });
            let (inner_step, inner_total) =
                (format!("step{}", depth + 1), format!("total{}", depth + 1));
            py.line(format!("{inner_step} = {step} - {steps}"));
            py.line(format!(
                "{inner_total} = None if {total} is None else max({total} - {steps}, 0)"
            ));
            schedule_lines(py, then, &inner_step, &inner_total, depth + 1);
        }
    }
}

/// `self.dense1.weight` for `dense1.weight`.
fn param_path(name: &str) -> String {
    param_path_from(name, "self")
}

fn param_path_from(name: &str, root: &str) -> String {
    let (layer, tensor) = name.split_once('.').unwrap_or((name, ""));
    let tensor = torch_tensor_name(tensor);
    format!("{}.{tensor}", attr_from(layer, root))
}

/// PyTorch's name of a layer's tensor: recurrent modules number their layers (`_l0`).
fn torch_tensor_name(tensor: &str) -> String {
    match tensor {
        "weight_ih" | "weight_hh" | "bias_ih" | "bias_hh" => format!("{tensor}_l0"),
        other => other.to_owned(),
    }
}

fn attr(layer: &str) -> String {
    attr_from(layer, "self")
}

/// `root.name`, or `getattr(root, "name")` where the name is a Python keyword.
fn attr_from(layer: &str, root: &str) -> String {
    if PYTHON_KEYWORDS.contains(&layer) {
        format!("getattr({root}, \"{layer}\")")
    } else {
        format!("{root}.{layer}")
    }
}

const PYTHON_KEYWORDS: &[&str] = &[
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// `deep_sigmoid` → `DeepSigmoid`.
fn class_name(model: &str) -> String {
    let mut out = String::new();
    for part in model.split('_').filter(|p| !p.is_empty()) {
        let mut chars = part.chars();
        if let Some(first) = chars.next() {
            out.extend(first.to_uppercase());
            out.push_str(chars.as_str());
        }
    }
    if out.is_empty() || out.starts_with(|c: char| c.is_ascii_digit()) {
        out.insert_str(0, "Net");
    }
    out
}

fn py_bool(b: bool) -> &'static str {
    if b {
        "True"
    } else {
        "False"
    }
}

/// A Python float literal that reads back to the same f64.
fn float(v: f64) -> String {
    let mut s = format!("{v:?}");
    if s == "inf" {
        s = "math.inf".to_owned();
    } else if s == "-inf" {
        s = "-math.inf".to_owned();
    } else if s == "NaN" {
        s = "math.nan".to_owned();
    }
    s
}

/// Helpers every exported file carries: PReLU over the last axis, an Elman RNN for
/// activations `nn.RNN` lacks, and netc's safetensors loader (no dependency but torch).
const LOADER: &str = r#"def prelu(z, slope):
    """PReLU with one slope per unit of the last axis (netc's `prelu`)."""
    return torch.where(z >= 0, z, slope * z)


_DTYPES = {"F64": torch.float64, "F32": torch.float32, "F16": torch.float16,
           "BF16": torch.bfloat16, "I64": torch.int64, "I32": torch.int32}


def read_safetensors(path):
    """The tensors of a safetensors file, by name."""
    with open(path, "rb") as f:
        data = f.read()
    size = int.from_bytes(data[:8], "little")
    header = json.loads(data[8:8 + size])
    body = memoryview(data)[8 + size:]
    tensors = {}
    for name, info in header.items():
        if name == "__metadata__":
            continue
        start, end = info["data_offsets"]
        dtype = _DTYPES[info["dtype"]]
        flat = torch.frombuffer(bytearray(body[start:end]), dtype=dtype)
        tensors[name] = flat.reshape(info["shape"])
    return tensors


class ElmanRNN(nn.Module):
    """`nn.RNN` (the same parameter names and layouts) with any activation."""

    def __init__(self, input_size, hidden_size, bias=True, batch_first=True, act=torch.tanh):
        super().__init__()
        assert batch_first, "netc's sequences are [batch, time, features]"
        self.act = act
        self.weight_ih_l0 = nn.Parameter(torch.empty(hidden_size, input_size))
        self.weight_hh_l0 = nn.Parameter(torch.empty(hidden_size, hidden_size))
        if bias:
            self.bias_ih_l0 = nn.Parameter(torch.empty(hidden_size))
            self.bias_hh_l0 = nn.Parameter(torch.empty(hidden_size))
        else:
            self.register_parameter("bias_ih_l0", None)
            self.register_parameter("bias_hh_l0", None)

    def forward(self, x):
        h = x.new_zeros(x.shape[0], self.weight_hh_l0.shape[0])
        steps = []
        for t in range(x.shape[1]):
            z = F.linear(x[:, t], self.weight_ih_l0, self.bias_ih_l0)
            h = self.act(z + F.linear(h, self.weight_hh_l0, self.bias_hh_l0))
            steps.append(h)
        return torch.stack(steps, 1), h[None]


def load_netc(model, path):
    """Loads a netc weights file (`weights.safetensors` of a run folder) into `model`."""
    own = model.state_dict()
    state = {}
    for name, tensor in read_safetensors(path).items():
        layer, _, what = name.partition(".")
        if what in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            what += "_l0"
        key = f"{layer}.{what}"
        if key in own and own[key].numel() == tensor.numel():
            tensor = tensor.reshape(own[key].shape)
        state[key] = tensor.to(torch.float32)
    missing, unexpected = model.load_state_dict(state, strict=False)
    missing = [m for m in missing if not m.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise KeyError(f"{path}: missing {missing}, unexpected {unexpected}")
    return model
"#;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn class_names_are_python_identifiers() {
        assert_eq!(class_name("deep_sigmoid"), "DeepSigmoid");
        assert_eq!(class_name("xor"), "Xor");
        assert_eq!(class_name("3layers"), "Net3layers");
    }

    #[test]
    fn floats_read_back_exactly() {
        assert_eq!(float(0.1), "0.1");
        assert_eq!(float(1.0), "1.0");
        assert_eq!(float(1e-8), "1e-8");
        assert_eq!(float(f64::INFINITY), "math.inf");
    }

    #[test]
    fn recurrent_tensors_take_pytorchs_layer_suffix() {
        assert_eq!(param_path("lstm1.weight_ih"), "self.lstm1.weight_ih_l0");
        assert_eq!(param_path("dense1.weight"), "self.dense1.weight");
        assert_eq!(param_path("lambda.bias"), "getattr(self, \"lambda\").bias");
    }
}
