//! Every activation, layer kind and loss, lowered to IR and differentiated, against central
//! finite differences in f64 (the first oracle), with respect to every parameter and
//! the input.

use crate::common;

use common::*;
use netc::model::*;

fn assert_gradients(model: &Model, what: &str) {
    assert_model_gradients(model, what, 11);
}

#[test]
fn every_activation_as_a_dense_attribute() {
    for act in all_activations() {
        let layers = vec![
            dense("hidden", 3, 4, act),
            dense("out", 4, 2, Activation::Identity),
        ];
        assert_gradients(&model(3, layers, Loss::Mse), &format!("{act:?}"));
    }
}

#[test]
fn every_activation_as_a_standalone_layer() {
    for act in all_activations() {
        let layers = vec![
            dense("hidden", 3, 4, Activation::Identity),
            layer("act", LayerKind::Activation(act), vec![4], vec![4]),
            dense("out", 4, 2, Activation::Identity),
        ];
        assert_gradients(&model(3, layers, Loss::Mse), &format!("standalone {act:?}"));
    }
}

#[test]
fn every_loss_fused_and_on_raw_logits() {
    let cases = [
        (Loss::CrossEntropy, Activation::Softmax, 3),
        (Loss::CrossEntropy, Activation::Identity, 3),
        (Loss::BinaryCrossEntropy, Activation::Sigmoid, 1),
        (Loss::BinaryCrossEntropy, Activation::Identity, 2),
        (Loss::Mse, Activation::Tanh, 3),
    ];
    for (loss, last, k) in cases {
        let layers = vec![
            dense("hidden", 3, 5, Activation::Tanh),
            dense("out", 5, k, last),
        ];
        assert_gradients(&model(3, layers, loss), &format!("{loss:?} after {last:?}"));
    }
}

#[test]
fn norms_dropout_and_residuals() {
    let bn = layer(
        "bn",
        LayerKind::BatchNorm {
            momentum: 0.1,
            eps: 1e-5,
        },
        vec![4],
        vec![4],
    );
    let ln = layer(
        "ln",
        LayerKind::LayerNorm {
            eps: 1e-5,
            affine: true,
        },
        vec![4],
        vec![4],
    );
    let ln_plain = layer(
        "ln2",
        LayerKind::LayerNorm {
            eps: 1e-5,
            affine: false,
        },
        vec![4],
        vec![4],
    );
    let drop = layer("drop", LayerKind::Dropout { p: 0.5 }, vec![4], vec![4]);
    let body = vec![ln.clone(), dense("inner", 4, 4, Activation::Relu)];
    let res = layer(
        "res",
        LayerKind::Residual {
            body,
            projection: None,
        },
        vec![4],
        vec![4],
    );
    let proj_body = vec![dense("wide", 4, 6, Activation::Gelu)];
    let proj = layer(
        "proj",
        LayerKind::Residual {
            body: proj_body,
            projection: Some(Init::XavierUniform { gain: 1.0 }),
        },
        vec![4],
        vec![6],
    );
    let layers = vec![
        dense("in", 3, 4, Activation::Tanh),
        bn,
        ln_plain,
        drop,
        res,
        proj,
        dense("out", 6, 2, Activation::Identity),
    ];
    assert_gradients(&model(3, layers, Loss::Mse), "norms, dropout, residuals");
}

#[test]
fn l2_penalty_is_part_of_the_gradient() {
    let mut m = model(3, vec![dense("out", 3, 2, Activation::Identity)], Loss::Mse);
    m.train.l2 = 0.3;
    assert_gradients(&m, "l2");
}
