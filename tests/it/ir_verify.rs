//! The verifier rejects each kind of malformed graph with the facts, and the interpreter
//! reports such a graph as an error instead of panicking.

use netc::ir::interp::{run, InterpError};
use netc::ir::verify::{verify, VerifyError};
use netc::ir::{BinaryOp, Graph, Op, ReduceOp, Role, Tensor, UnaryOp, ValueId};
use std::collections::HashMap;

/// A graph with x: [2, 3] and y = tanh x, and a way to append one raw node.
fn base() -> (Graph, ValueId, ValueId) {
    let mut g = Graph::new();
    let x = g.input("x", vec![2, 3]);
    let y = g.unary(UnaryOp::Tanh, x);
    (g, x, y)
}

fn with_node(op: impl FnOnce(ValueId, ValueId) -> Op, shape: Vec<usize>) -> VerifyError {
    let (mut g, x, y) = base();
    g.push(op(x, y), shape);
    verify(&g).expect_err("the graph is malformed")
}

#[test]
fn a_well_formed_graph_passes() {
    let (mut g, _, y) = base();
    let l = g.reduce_all(ReduceOp::Sum, y);
    g.add_output("loss", l, Role::Loss);
    assert_eq!(verify(&g), Ok(()));
}

#[test]
fn use_before_definition() {
    let err = with_node(
        |_, _| Op::Unary {
            op: UnaryOp::Exp,
            x: ValueId(7),
        },
        vec![2, 3],
    );
    assert_eq!(
        err,
        VerifyError::UseBeforeDef {
            node: ValueId(2),
            operand: ValueId(7)
        }
    );
}

/// Builds a raw op from x: [2, 3] and y = tanh x.
type MakeOp = Box<dyn FnOnce(ValueId, ValueId) -> Op>;

#[test]
fn shape_rules_of_each_op() {
    let cases: Vec<(MakeOp, Vec<usize>, &str)> = vec![
        (
            Box::new(|x, _| Op::Unary {
                op: UnaryOp::Exp,
                x,
            }),
            vec![3, 2],
            "exp",
        ),
        (
            Box::new(|x, y| Op::Binary {
                op: BinaryOp::Add,
                a: x,
                b: y,
            }),
            vec![6],
            "add",
        ),
        (
            Box::new(|x, y| Op::MatMul {
                a: x,
                b: y,
                trans_a: false,
                trans_b: false,
            }),
            vec![2, 3],
            "matmul",
        ),
        (
            Box::new(|x, _| Op::Reduce {
                op: ReduceOp::Sum,
                x,
                axes: vec![1, 0],
                keep_dims: false,
            }),
            vec![],
            "reduce_sum",
        ),
        (
            Box::new(|x, _| Op::Reduce {
                op: ReduceOp::Mean,
                x,
                axes: vec![1],
                keep_dims: true,
            }),
            vec![2],
            "reduce_mean",
        ),
        (Box::new(|x, _| Op::Reshape { x }), vec![5], "reshape"),
        (
            Box::new(|x, _| Op::Transpose {
                x,
                perm: vec![0, 0],
            }),
            vec![2, 2],
            "transpose",
        ),
        (
            Box::new(|x, _| Op::Broadcast { x }),
            vec![4, 3],
            "broadcast",
        ),
        (
            Box::new(|x, _| Op::Slice {
                x,
                axis: 1,
                start: 2,
                len: 2,
            }),
            vec![2, 2],
            "slice",
        ),
        (
            Box::new(|x, y| Op::Concat {
                xs: vec![x, y],
                axis: 2,
            }),
            vec![2, 6],
            "concat",
        ),
        (
            Box::new(|x, _| Op::RandomMask {
                p: 1.5,
                seed: 0,
                stream: 0,
                counter: x,
            }),
            vec![2],
            "random_mask",
        ),
    ];
    for (op, shape, name) in cases {
        let err = with_node(op, shape);
        let op_name = match &err {
            VerifyError::BadShape { op, .. } | VerifyError::BadAttribute { op, .. } => *op,
            other => panic!("{name}: unexpected {other:?}"),
        };
        assert_eq!(op_name, name, "{err}");
        assert!(
            err.to_string().contains("%2"),
            "the message names the node: {err}"
        );
    }
}

#[test]
fn outputs_are_checked() {
    let (mut g, x, y) = base();
    g.add_output("loss", y, Role::Loss);
    assert!(matches!(verify(&g), Err(VerifyError::OutputShape { .. })));

    let (mut g, _, _) = base();
    g.add_output("ghost", ValueId(99), Role::Value);
    assert!(matches!(
        verify(&g),
        Err(VerifyError::OutputUndefined { .. })
    ));

    let (mut g, _, y) = base();
    g.add_output("w.new", y, Role::Update { param: "w".into() });
    assert!(matches!(
        verify(&g),
        Err(VerifyError::UpdateUnknownParam { .. })
    ));

    let (mut g, _, y) = base();
    let w = g.param("w", vec![3, 2]);
    let _ = w;
    g.add_output("w.new", y, Role::Update { param: "w".into() });
    assert!(matches!(verify(&g), Err(VerifyError::OutputShape { .. })));

    let (mut g, _, _) = base();
    g.input("x", vec![4]);
    assert!(matches!(
        verify(&g),
        Err(VerifyError::LeafShapeConflict { .. })
    ));
    let _ = x;
}

#[test]
fn the_interpreter_reports_a_malformed_graph() {
    let (mut g, x, _) = base();
    g.push(Op::Reshape { x }, vec![7]);
    let env: HashMap<String, Tensor<f64>> =
        [("x".to_string(), Tensor::full(vec![2, 3], 1.0))].into();
    assert!(matches!(
        run(&g, &env),
        Err(InterpError::Invalid(VerifyError::BadShape { .. }))
    ));
}
