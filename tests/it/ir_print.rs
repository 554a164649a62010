//! Snapshots of the IR's text form: a dense layer with its backward pass, and every op kind.

use netc::autodiff::grad;
use netc::ir::print::{print, print_with_source};
use netc::ir::{BinaryOp, CmpOp, Graph, ReduceOp, Role, UnaryOp};
use netc::probe::ProbeStat;
use netc::span::Span;

const SOURCE: &str = "model tiny {\n  input x: [2, 3]\n  dense1 = dense(4, tanh)\n  loss mse\n}\n";

fn span_of(text: &str) -> Option<Span> {
    let start = SOURCE.find(text)?;
    Some(Span::new(start, start + text.len()))
}

#[test]
fn dense_layer_with_its_gradient() {
    let mut g = Graph::new();
    g.set_origin(span_of("input x: [2, 3]"), None);
    let x = g.input("x", vec![2, 3]);
    g.set_origin(span_of("dense(4, tanh)"), Some("dense1"));
    let w = g.param("dense1.weight", vec![4, 3]);
    let b = g.param("dense1.bias", vec![4]);
    let h = g.matmul(x, w, false, true);
    let h = g.add(h, b);
    let a = g.unary(UnaryOp::Tanh, h);
    g.set_origin(span_of("loss mse"), None);
    let sq = g.unary(UnaryOp::Square, a);
    let loss = g.reduce_all(ReduceOp::Mean, sq);
    g.add_output("loss", loss, Role::Loss);
    let d = grad(&mut g, loss, &[w, a]);
    g.add_output("dense1.weight.grad", d[0], Role::Value);
    let norm = g.unary(UnaryOp::Square, d[1]);
    let norm = g.reduce_all(ReduceOp::Sum, norm);
    let probe = Role::Probe {
        layer: "dense1".into(),
        stat: ProbeStat::GradActSq,
    };
    g.add_output(ProbeStat::GradActSq.output_name("dense1"), norm, probe);
    insta::assert_snapshot!("dense_with_grad_lines", print_with_source(&g, SOURCE));
    insta::assert_snapshot!("dense_with_grad_bytes", print(&g));
}

#[test]
fn every_op_kind() {
    let mut g = Graph::new();
    let x = g.input("x", vec![2, 3]);
    let step = g.input("step", vec![]);
    let half = g.constant(0.5, vec![2, 3]);
    let e = g.unary(UnaryOp::Exp, x);
    let m = g.binary(BinaryOp::Max, e, half);
    let c = g.compare(CmpOp::Gt, x, half);
    let s = g.select(c, m, x);
    let mm = g.matmul(s, x, true, false);
    let r = g.reduce(ReduceOp::Max, mm, &[1], true);
    let flat = g.reshape(x, vec![6]);
    let t = g.transpose(x, vec![1, 0]);
    let bc = g.broadcast(r, vec![2, 3, 3]);
    let sl = g.slice(t, 0, 1, 2);
    let cat = g.concat(&[sl, t], 0);
    let mask = g.random_mask(0.1, 7, 2, step, vec![6]);
    let dropped = g.mul(flat, mask);
    for (name, v) in [("bc", bc), ("cat", cat), ("dropped", dropped)] {
        g.add_output(name, v, Role::Value);
    }
    let w = g.param("w", vec![6]);
    g.add_output("w.new", w, Role::Update { param: "w".into() });
    let one = g.scalar(1.0);
    g.add_output("lr", one, Role::Metric);
    insta::assert_snapshot!(print(&g));
}
