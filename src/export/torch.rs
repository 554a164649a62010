//! A checked model as a readable PyTorch file: an `nn.Module` whose parameter names are
//! netc's (so `load_state_dict` takes netc's weights as they are), the same initializers,
//! loss, L2 penalty, clipping, optimizer and learning-rate schedule, and a loader for netc's
//! safetensors that needs nothing but torch.
//!
//! The layer walk here mirrors `lower`: whatever a layer computes there, its line here
//! computes in PyTorch's words. tests/it/export_torch.rs runs the file against netc's own loss
//! and gradients where torch is installed. The initializers (`init.rs`), the Python writer and
//! names (`python.rs`) and the helpers every file ends with (`loader.rs`) live beside it.

mod image;
mod init;
mod loader;
mod python;

use init::init_param;
use loader::LOADER;
use python::{attr, class_name, float, param_path_from, py_bool, Python};

use crate::lower::{self, LowerOptions, ParamKind, ParamSpec};
use crate::model::{
    Activation, Cell, Clip, Layer, LayerKind, Loss, Model, Optimizer, Returns, Schedule,
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
            if model.input.kind.shape().len() == 3 {
                py.line(image::TO_CHANNELS_FIRST);
            }
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
        LayerKind::Activation(_)
        | LayerKind::Dropout { .. }
        | LayerKind::Pool2d(_)
        | LayerKind::GlobalAvgPool
        | LayerKind::Flatten => {}
        LayerKind::Conv2d(conv) => {
            image::declare_conv(py, &attr, layer, conv);
            if let Activation::Prelu { init } = conv.act {
                py.line(format!(
                    "{attr}.slope = nn.Parameter(torch.full(({},), {}))",
                    conv.filters,
                    float(init)
                ));
            }
        }
        // Over an image, BatchNorm2d: statistics per channel over N, H and W.
        LayerKind::BatchNorm { momentum, eps } if image::reads_image(layer) => py.line(format!(
            "{attr} = nn.BatchNorm2d({fan_in}, eps={}, momentum={})",
            float(*eps),
            float(*momentum)
        )),
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
            if projection.is_some() && image::reads_image(layer) {
                image::declare_projection(py, &attr, layer);
            } else if projection.is_some() {
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
                    format!(", act=lambda z: {}", activation(&act, "z", "None", false)),
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
    let image = image::reads_image(layer);
    let slope = format!("{attr}.slope");
    let line = match &layer.kind {
        LayerKind::Dense { act, .. } => {
            let z = format!("{attr}({h})");
            activation(&act_here(act), &z, &slope, false)
        }
        LayerKind::Conv2d(conv) => {
            let z = format!("{attr}({h})");
            activation(&act_here(&conv.act), &z, &slope, true)
        }
        LayerKind::Activation(act) => activation(&act_here(act), h, &slope, image),
        LayerKind::BatchNorm { .. } => match layer.in_shape.len() {
            1 | 3 => format!("{attr}({h})"),
            _ => format!("{attr}({h}.flatten(1)).view_as({h})"),
        },
        LayerKind::LayerNorm { .. } if image => image::layernorm(&attr, h),
        LayerKind::LayerNorm { .. } => format!("{attr}({h})"),
        LayerKind::Pool2d(pool) => image::pool(pool, h),
        LayerKind::GlobalAvgPool => image::global_avgpool(h),
        LayerKind::Flatten => image::flatten(layer, h),
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

/// `act` applied to the Python expression `z`; `slope` names PReLU's parameter. Over an NCHW
/// `image` the per-channel axis is 1, not the last.
fn activation(act: &Activation, z: &str, slope: &str, image: bool) -> String {
    let (slope, dim) = if image {
        (format!("{slope}.view(-1, 1, 1)"), 1)
    } else {
        (slope.to_owned(), -1)
    };
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
        Activation::Hardswish => format!("F.hardswish({z})"),
        Activation::Softmax => format!("torch.softmax({z}, dim={dim})"),
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
        Optimizer::NAdam {
            lr,
            beta1,
            beta2,
            eps,
            momentum_decay,
            weight_decay,
        } => format!(
            "torch.optim.NAdam(model.parameters(), lr={}, betas=({}, {}), eps={}, weight_decay={}, momentum_decay={})",
            f(lr),
            f(beta1),
            f(beta2),
            f(eps),
            f(weight_decay),
            f(momentum_decay)
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
