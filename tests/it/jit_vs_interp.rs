//! The JIT against the reference interpreter (`ir::interp`): every op on inputs with special
//! values, and proptest on random small graphs built from every op the IR has.
//!
//! Tolerance (see docs/codegen.md): elementwise math agrees to a few ulp; sums and products may
//! add in a different order, so results are compared with
//! |jit − interp| ≤ rel · (1 + max |interp| of that output), rel = 2e-4 on random graphs.

use netc::codegen::{compile, JitOptions};
use netc::ir::interp;
use netc::ir::{BinaryOp, CmpOp, Graph, ReduceOp, Role, Tensor, UnaryOp, ValueId};
use proptest::prelude::*;
use std::collections::HashMap;

const UNARY: [UnaryOp; 15] = [
    UnaryOp::Neg,
    UnaryOp::Exp,
    UnaryOp::Log,
    UnaryOp::Log1p,
    UnaryOp::Tanh,
    UnaryOp::Sigmoid,
    UnaryOp::Sqrt,
    UnaryOp::Rsqrt,
    UnaryOp::Recip,
    UnaryOp::Abs,
    UnaryOp::Square,
    UnaryOp::Erf,
    UnaryOp::IsNonFinite,
    UnaryOp::Relu,
    UnaryOp::Softplus,
];
const BINARY: [BinaryOp; 6] = [
    BinaryOp::Add,
    BinaryOp::Sub,
    BinaryOp::Mul,
    BinaryOp::Div,
    BinaryOp::Max,
    BinaryOp::Min,
];
const COMPARE: [CmpOp; 5] = [CmpOp::Gt, CmpOp::Ge, CmpOp::Lt, CmpOp::Le, CmpOp::Eq];
const REDUCE: [ReduceOp; 3] = [ReduceOp::Sum, ReduceOp::Mean, ReduceOp::Max];

/// Runs `g` on both backends and checks every output.
fn check(g: &Graph, env: &HashMap<String, Tensor<f32>>, rel: f32) -> Result<(), String> {
    check_with(g, env, rel, &verified())
}

fn check_with(
    g: &Graph,
    env: &HashMap<String, Tensor<f32>>,
    rel: f32,
    opts: &JitOptions,
) -> Result<(), String> {
    let want = interp::run(g, env).map_err(|e| format!("interp: {e}"))?;
    let mut k = compile(g, opts).map_err(|e| format!("compile: {e}"))?;
    let got = k.run(env).map_err(|e| format!("run: {e}"))?;
    for (o, (w, j)) in g.outputs.iter().zip(want.iter().zip(&got)) {
        if w.shape != j.shape {
            return Err(format!("{}: shape {:?} vs {:?}", o.name, j.shape, w.shape));
        }
        let scale = w
            .data
            .iter()
            .filter(|v| v.is_finite())
            .fold(0f32, |m, v| m.max(v.abs()));
        for (i, (a, b)) in j.data.iter().zip(&w.data).enumerate() {
            let same = a == b || (a.is_nan() && b.is_nan()) || (a - b).abs() <= rel * (1.0 + scale);
            if !same {
                return Err(format!("{} [{i}]: jit {a} vs interp {b}", o.name));
            }
        }
    }
    Ok(())
}

/// Values that exercise tails and special cases, cycled to fill a shape.
fn special(shape: &[usize]) -> Tensor<f32> {
    let vals = [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.5,
        -2.5,
        1e-30,
        -1e-30,
        3e-8,
        20.0,
        -20.0,
        30.0,
        -30.0,
        88.0,
        -88.0,
        100.0,
        -104.0,
        1e30,
        f32::INFINITY,
        f32::NEG_INFINITY,
        f32::NAN,
        0.1,
        7.25,
        -3.3,
        1e-7,
        2e-38,
    ];
    let n: usize = shape.iter().product();
    Tensor::new(
        shape.to_vec(),
        (0..n).map(|i| vals[i % vals.len()]).collect(),
    )
}

#[test]
fn every_unary_op_on_special_values() {
    for op in UNARY {
        let mut g = Graph::new();
        let x = g.input("x", vec![3, 26]);
        let y = g.unary(op, x);
        g.add_output("y", y, Role::Value);
        let env = HashMap::from([("x".to_string(), special(&[3, 26]))]);
        check(&g, &env, 1e-6).unwrap_or_else(|e| panic!("{op:?}: {e}"));
    }
}

#[test]
fn with_libm_math_every_unary_op_is_bit_identical_to_the_interpreter() {
    let opts = JitOptions {
        libm_math: true,
        ..verified()
    };
    for op in UNARY {
        let mut g = Graph::new();
        let x = g.input("x", vec![3, 26]);
        let y = g.unary(op, x);
        g.add_output("y", y, Role::Value);
        let env = HashMap::from([("x".to_string(), special(&[3, 26]))]);
        check_with(&g, &env, 0.0, &opts).unwrap_or_else(|e| panic!("{op:?}: {e}"));
    }
}

#[test]
fn every_binary_and_compare_op_with_broadcast_and_nan() {
    let env = HashMap::from([
        ("a".to_string(), special(&[5, 26])),
        ("b".to_string(), special(&[26])),
    ]);
    for op in BINARY {
        let mut g = Graph::new();
        let (a, b) = (g.input("a", vec![5, 26]), g.input("b", vec![26]));
        let t = g.transpose(a, vec![1, 0]);
        let bt = g.reshape(b, vec![26, 1]);
        let y = g.binary(op, a, b);
        let z = g.binary(op, bt, t);
        g.add_output("y", y, Role::Value);
        g.add_output("z", z, Role::Value);
        check(&g, &env, 0.0).unwrap_or_else(|e| panic!("{op:?}: {e}"));
    }
    for op in COMPARE {
        let mut g = Graph::new();
        let (a, b) = (g.input("a", vec![5, 26]), g.input("b", vec![26]));
        let c = g.compare(op, a, b);
        let s = g.select(c, a, b);
        let s2 = g.select(a, b, c);
        for (n, v) in [("c", c), ("s", s), ("s2", s2)] {
            g.add_output(n, v, Role::Value);
        }
        check(&g, &env, 0.0).unwrap_or_else(|e| panic!("{op:?}: {e}"));
    }
}

#[test]
fn max_reduction_propagates_nan_like_the_interpreter() {
    let mut g = Graph::new();
    let x = g.input("x", vec![4, 26]);
    for (i, axes) in [vec![0], vec![1], vec![0, 1]].into_iter().enumerate() {
        let r = g.reduce(ReduceOp::Max, x, &axes, false);
        g.add_output(format!("r{i}"), r, Role::Value);
    }
    let env = HashMap::from([("x".to_string(), special(&[4, 26]))]);
    check(&g, &env, 0.0).expect("agree");
}

/// One step of building a random graph: an op kind and three selector bytes.
#[derive(Debug, Clone)]
struct Instr {
    kind: u8,
    a: u8,
    b: u8,
    k: u8,
}

fn instr() -> impl Strategy<Value = Instr> {
    (0u8..12, any::<u8>(), any::<u8>(), any::<u8>()).prop_map(|(kind, a, b, k)| Instr {
        kind,
        a,
        b,
        k,
    })
}

/// A value of the pool and whether it is free of reassociated sums (comparisons are only
/// built on such values, so rounding differences cannot flip them).
#[derive(Clone, Copy)]
struct Pooled {
    v: ValueId,
    exact: bool,
}

/// Builds a graph from `prog` over inputs `x` (shape `dims`) and `w`; every op kind appears.
fn build(dims: &[usize], prog: &[Instr], outs: u32) -> Graph {
    let mut g = Graph::new();
    let x = g.input("x", dims.to_vec());
    let w = g.param("w", vec![dims[dims.len() - 1], 3]);
    let step = g.input("step", vec![]);
    let mut pool = vec![Pooled { v: x, exact: true }];
    for ins in prog {
        let p = pool[ins.a as usize % pool.len()];
        let q = pool[ins.b as usize % pool.len()];
        let shape = g.shape(p.v).to_vec();
        let rank = shape.len();
        let (v, exact) = match ins.kind {
            0 => {
                let op = UNARY[ins.k as usize % UNARY.len()];
                (safe_unary(&mut g, op, p.v), p.exact)
            }
            1 | 2 => {
                let q = compatible(&mut g, p.v, q.v);
                let op = BINARY[ins.k as usize % BINARY.len()];
                let q = if op == BinaryOp::Div {
                    positive(&mut g, q)
                } else {
                    q
                };
                (g.binary(op, p.v, q), p.exact)
            }
            3 if p.exact && q.exact => {
                let qv = compatible(&mut g, p.v, q.v);
                let c = g.compare(COMPARE[ins.k as usize % COMPARE.len()], p.v, qv);
                (g.select(c, p.v, qv), true)
            }
            4 => {
                let axes: Vec<usize> = (0..rank).filter(|d| ins.k >> d & 1 == 1).collect();
                let op = REDUCE[ins.b as usize % REDUCE.len()];
                (g.reduce(op, p.v, &axes, ins.k & 0x80 != 0), false)
            }
            5 if rank >= 2 => {
                let mut perm: Vec<usize> = (0..rank).collect();
                perm.rotate_left(1 + ins.k as usize % (rank - 1));
                (g.transpose(p.v, perm), p.exact)
            }
            6 if rank >= 1 => {
                let axis = ins.k as usize % rank;
                let len = shape[axis].div_ceil(2);
                (g.slice(p.v, axis, shape[axis] - len, len), p.exact)
            }
            7 if rank >= 1 => {
                let axis = ins.k as usize % rank;
                (g.concat(&[p.v, p.v], axis), p.exact)
            }
            8 => {
                let n: usize = shape.iter().product();
                let to = if ins.k % 2 == 0 || rank < 2 {
                    vec![n]
                } else {
                    vec![shape[0], n / shape[0]]
                };
                (g.reshape(p.v, to), p.exact)
            }
            9 if rank == 2 && shape[1] == dims[dims.len() - 1] => {
                (g.matmul(p.v, w, false, false), false)
            }
            9 if rank == 2 => {
                // op(p)ᵀ·op(p) or op(p)·op(p)ᵀ: square Gram matrices in the transposed layouts
                let t = ins.k % 2 == 0;
                (g.matmul(p.v, p.v, t, !t), false)
            }
            10 => {
                let mut to = vec![2];
                to.extend(&shape);
                (g.broadcast(p.v, to), p.exact)
            }
            11 => {
                let m = g.random_mask(
                    0.25 + f64::from(ins.k % 4) * 0.2,
                    42,
                    ins.b.into(),
                    step,
                    shape,
                );
                (g.mul(p.v, m), p.exact)
            }
            _ => (g.unary(UnaryOp::Neg, p.v), p.exact),
        };
        pool.push(Pooled { v, exact });
    }
    let last = pool.len() - 1;
    for (i, p) in pool.iter().enumerate().skip(1) {
        if i == last || outs >> (i % 32) & 1 == 1 {
            g.add_output(format!("v{i}"), p.v, Role::Value);
        }
    }
    g
}

/// `q` reshaped to something `p` broadcasts with: itself, or its sum as a scalar.
fn compatible(g: &mut Graph, p: ValueId, q: ValueId) -> ValueId {
    if netc::ir::broadcast_shape(g.shape(p), g.shape(q)).is_some() {
        q
    } else {
        g.reduce_all(ReduceOp::Sum, q)
    }
}

/// x² + 0.5: a positive argument for log, sqrt, division.
fn positive(g: &mut Graph, x: ValueId) -> ValueId {
    let sq = g.unary(UnaryOp::Square, x);
    g.offset(sq, 0.5)
}

fn safe_unary(g: &mut Graph, op: UnaryOp, x: ValueId) -> ValueId {
    match op {
        UnaryOp::Log | UnaryOp::Sqrt | UnaryOp::Rsqrt | UnaryOp::Recip | UnaryOp::Log1p => {
            let p = positive(g, x);
            g.unary(op, p)
        }
        UnaryOp::Exp => {
            let t = g.unary(UnaryOp::Tanh, x);
            g.unary(op, t)
        }
        UnaryOp::Neg
        | UnaryOp::Tanh
        | UnaryOp::Sigmoid
        | UnaryOp::Abs
        | UnaryOp::Square
        | UnaryOp::Erf
        | UnaryOp::IsNonFinite
        | UnaryOp::Relu
        | UnaryOp::Softplus => g.unary(op, x),
    }
}

fn shape_strategy() -> impl Strategy<Value = Vec<usize>> {
    prop::collection::vec(prop_oneof![1usize..7, 7usize..19], 1..4)
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]
    #[test]
    fn random_graphs_agree_with_the_interpreter(
        dims in shape_strategy(),
        prog in prop::collection::vec(instr(), 1..12),
        outs in any::<u32>(),
        seed in any::<u64>(),
        step in 0u32..1000,
    ) {
        let g = build(&dims, &prog, outs);
        let mut env = HashMap::new();
        let mut rng = seed;
        for (name, shape) in [("x", dims.clone()), ("w", vec![dims[dims.len() - 1], 3])] {
            let n: usize = shape.iter().product();
            let data = (0..n).map(|_| {
                rng = rng.wrapping_mul(6364136223846793005).wrapping_add(1442695040888963407);
                ((rng >> 40) as f32 / (1u64 << 24) as f32) * 4.0 - 2.0
            }).collect();
            env.insert(name.to_string(), Tensor::new(shape, data));
        }
        env.insert("step".to_string(), Tensor::scalar(step as f32));
        if let Err(e) = check(&g, &env, 2e-4) {
            return Err(TestCaseError::fail(format!("{e}\n{}", netc::ir::print::print(&g))));
        }
    }
}

/// Options for tests: Cranelift's verifier checks every generated function.
fn verified() -> JitOptions {
    JitOptions {
        verify_clif: true,
        ..JitOptions::default()
    }
}

#[test]
fn matmul_generated_and_library_agree_in_every_layout_and_size() {
    let sizes = [
        (1, 1, 1),
        (5, 3, 6),
        (4, 8, 8),
        (7, 9, 13),
        (33, 17, 5),
        (3, 4, 1),
        (96, 80, 70),
        // thin: fewer than 4 columns, at least 64 rows (the library's column-major path when
        // A is read down its columns, codegen/host.rs)
        (128, 96, 2),
        (64, 40, 3),
        (70, 33, 1),
    ];
    for (inline, threads) in [(Some(0), 1), (Some(usize::MAX), 1), (Some(0), 2)] {
        let opts = JitOptions {
            inline_gemm_macs: inline,
            gemm_threads: threads,
            ..verified()
        };
        for (m, k, n) in sizes {
            for (ta, tb) in [(false, false), (true, false), (false, true), (true, true)] {
                let sa = if ta { vec![k, m] } else { vec![m, k] };
                let sb = if tb { vec![n, k] } else { vec![k, n] };
                let mut g = Graph::new();
                let a = g.input("a", sa.clone());
                let b = g.input("b", sb.clone());
                let c = g.matmul(a, b, ta, tb);
                g.add_output("c", c, Role::Value);
                let fill = |s: &[usize], f: f32| {
                    let n: usize = s.iter().product();
                    Tensor::new(s.to_vec(), (0..n).map(|i| (i as f32 * f).sin()).collect())
                };
                let env = HashMap::from([
                    ("a".to_string(), fill(&sa, 0.7)),
                    ("b".to_string(), fill(&sb, 1.3)),
                ]);
                check_with(&g, &env, 1e-6, &opts).unwrap_or_else(|e| {
                    panic!("{m}x{k}x{n} ta={ta} tb={tb} inline={inline:?}: {e}")
                });
            }
        }
    }
}

#[test]
fn empty_tensors_and_zero_inner_dimensions() {
    let mut g = Graph::new();
    let x = g.input("x", vec![0, 3]);
    let w = g.input("w", vec![0, 5]);
    let s = g.reduce(ReduceOp::Sum, x, &[0], false);
    let m = g.reduce(ReduceOp::Max, x, &[0], true);
    let e = g.unary(UnaryOp::Exp, x);
    let p = g.matmul(x, w, true, false); // [3, 5] with k = 0: all zeros
    for (n, v) in [("s", s), ("m", m), ("e", e), ("p", p)] {
        g.add_output(n, v, Role::Value);
    }
    let env = HashMap::from([
        ("x".to_string(), Tensor::new(vec![0, 3], vec![])),
        ("w".to_string(), Tensor::new(vec![0, 5], vec![])),
    ]);
    check(&g, &env, 0.0).expect("agree");
}

#[test]
fn a_nan_made_in_layer_two_sets_only_layer_two_flag() {
    // layer 1: h = tanh(x); layer 2: y = log(h) — NaN where h < 0. Each layer's flag is
    // max(IsNonFinite(output)), the probe the step builder emits.
    let mut g = Graph::new();
    let x = g.input("x", vec![2, 5]);
    g.set_origin(None, Some("layer1"));
    let h = g.unary(UnaryOp::Tanh, x);
    let f1 = g.unary(UnaryOp::IsNonFinite, h);
    let flag1 = g.reduce_all(ReduceOp::Max, f1);
    g.set_origin(None, Some("layer2"));
    let y = g.unary(UnaryOp::Log, h);
    let f2 = g.unary(UnaryOp::IsNonFinite, y);
    let flag2 = g.reduce_all(ReduceOp::Max, f2);
    let stat = netc::probe::ProbeStat::NonFiniteForward;
    for (layer, v) in [("layer1", flag1), ("layer2", flag2)] {
        let role = Role::Probe {
            layer: layer.into(),
            stat,
        };
        g.add_output(format!("{layer}.nonfinite"), v, role);
    }
    let mut k = compile(&g, &verified()).expect("compiles");
    let run = |k: &mut netc::codegen::Kernel, data: Vec<f32>| {
        let env = HashMap::from([("x".to_string(), Tensor::new(vec![2, 5], data))]);
        let out = k.run(&env).expect("runs");
        (out[0].data[0], out[1].data[0])
    };
    assert_eq!(run(&mut k, vec![0.5; 10]), (0.0, 0.0));
    let mut bad = vec![0.5; 10];
    bad[7] = -1.0;
    assert_eq!(run(&mut k, bad), (0.0, 1.0));
}

#[test]
fn emit_clif_shows_one_function_per_chunk_with_vector_code() {
    let mut g = Graph::new();
    let x = g.input("x", vec![8, 16]);
    let t = g.unary(UnaryOp::Tanh, x);
    g.add_output("t", t, Role::Value);
    let clif = netc::codegen::emit_clif(&g, &JitOptions::default()).expect("emits");
    assert!(clif.contains("; netc_step_0"), "{clif}");
    assert!(clif.contains("f32x4"), "{clif}");
}

#[test]
fn emit_asm_disassembles_every_function() {
    let mut g = Graph::new();
    let x = g.input("x", vec![8, 16]);
    let s = g.unary(UnaryOp::Sigmoid, x);
    g.add_output("s", s, Role::Value);
    let asm = netc::codegen::emit_asm(&g, &JitOptions::default()).expect("emits");
    assert!(asm.contains("; netc_step_0"), "{asm}");
    assert!(asm.contains("ret"), "{asm}");
}

/// A 2 → 3 relu → 2 relu → 1 net whose weights make some units unreachable, on a batch of two,
/// for the `grad_zero_frac` probe (the fraction of a layer's units whose ∂L/∂a is exactly 0 on
/// every example).
const DEAD_UNITS: &str = "model dead {
    input x: [2]
    dense 3, act = relu as hidden
    dense 2, act = relu as gate
    dense 1 as out
}
train {
    data      = xor(n = 8)
    loss      = mse
    optimizer = sgd(lr = 0.1)
    batch     = 2
}
";

/// The step program of [`DEAD_UNITS`] with every leaf set:
/// x = [[1, 0], [2, 0]], y = 0; W_hidden = [[1, 0], [0, 1], [1, 1]], W_gate = [[1, 0, 0],
/// [0, 1, 0]], W_out = [[1, 1]], every bias 0.
fn dead_units_step() -> (Graph, HashMap<String, Tensor<f32>>) {
    let model = netc::sema::check_source("dead.net", DEAD_UNITS, &[])
        .model
        .expect("the model checks");
    let program = netc::step::build_step(&model, 2, &netc::step::StepOptions::default());
    let leaves: HashMap<&str, Vec<f32>> = HashMap::from([
        ("x", vec![1.0, 0.0, 2.0, 0.0]),
        ("y", vec![0.0, 0.0]),
        ("mask", vec![1.0, 1.0]),
        ("step", vec![1.0]),
        ("lr", vec![0.1]),
        ("hidden.weight", vec![1.0, 0.0, 0.0, 1.0, 1.0, 1.0]),
        ("gate.weight", vec![1.0, 0.0, 0.0, 0.0, 1.0, 0.0]),
        ("out.weight", vec![1.0, 1.0]),
    ]);
    let g = program.graph;
    let mut env = HashMap::new();
    for (name, shape) in g.inputs().into_iter().chain(g.params()) {
        let n = shape.iter().product();
        // biases are 0; SGD without momentum keeps no other state
        let data = leaves.get(name).cloned().unwrap_or_else(|| vec![0.0; n]);
        assert_eq!(data.len(), n, "{name}");
        env.insert(name.to_owned(), Tensor::new(shape.to_vec(), data));
    }
    (g, env)
}

/// The hand case, on both backends. Forward: z_hidden = a_hidden = [[1, 0, 1], [2, 0, 2]];
/// z_gate = [[1, 0], [2, 0]] (gate unit 2 sits at z = 0 on both examples); out = [[1], [2]],
/// so ∂L/∂out ≠ 0 on both rows. Backward:
/// - out: one unit, ∂L/∂out ≠ 0 → fraction 0;
/// - gate: ∂L/∂a_gate = ∂L/∂out · W_out = ∂L/∂out · [1, 1], non-zero for both units → 0,
///   although unit 2 is dead (its saturation is 1/2: dead units still receive ∂L/∂a);
/// - hidden: ∂L/∂z_gate = ∂L/∂a_gate ⊙ relu′(z_gate) = [[g₁, 0], [g₂, 0]] since relu′(0) = 0
///   (PyTorch's convention); ∂L/∂a_hidden = ∂L/∂z_gate · W_gate = [[g₁, 0, 0], [g₂, 0, 0]]:
///   unit 3 because W_gate's third column is 0, unit 2 because its only path runs through gate
///   unit 2 at z = 0 → 2 of 3 units, fraction 2/3.
#[test]
fn grad_zero_frac_counts_units_no_gradient_reaches() {
    use netc::probe::ProbeStat;
    let (g, env) = dead_units_step();
    let want = interp::run(&g, &env).expect("interp runs");
    let mut k = compile(&g, &verified()).expect("compiles");
    let got = k.run(&env).expect("jit runs");
    let output = |name: String| {
        let i = g.outputs.iter().position(|o| o.name == name);
        let i = i.unwrap_or_else(|| panic!("the step has {name}"));
        (want[i].data[0], got[i].data[0])
    };
    let zero_frac = |layer: &str| output(ProbeStat::GradZeroFrac.output_name(layer));
    assert_eq!(zero_frac("out"), (0.0, 0.0));
    assert_eq!(zero_frac("gate"), (0.0, 0.0));
    assert_eq!(zero_frac("hidden"), (2.0 / 3.0, 2.0 / 3.0));
    let gate_dead = output(ProbeStat::Saturation.output_name("gate"));
    assert_eq!(gate_dead, (0.5, 0.5));
}

/// The JIT computes `grad_zero_frac` as the interpreter does on a whole step with many dead
/// units (the gate's relu units pushed below 0 by a negative bias), exactly: it is a count.
#[test]
fn grad_zero_frac_agrees_with_the_interpreter() {
    let (g, mut env) = dead_units_step();
    let mut seed = 7u32;
    for (name, t) in env.iter_mut() {
        if name.ends_with(".weight") || name == "x" {
            for v in &mut t.data {
                // a small linear congruential stream: values in [−1, 1)
                seed = seed.wrapping_mul(1_664_525).wrapping_add(1_013_904_223);
                *v = (seed >> 8) as f32 / (1u32 << 23) as f32 - 1.0;
            }
        }
        if name == "gate.bias" {
            // both gate units dead on the batch: no gradient reaches `hidden`
            t.data = vec![-10.0, -10.0];
        }
    }
    check(&g, &env, 2e-4).expect("every output agrees");
    let want = interp::run(&g, &env).expect("interp runs");
    let got = compile(&g, &verified())
        .expect("compiles")
        .run(&env)
        .expect("jit runs");
    let mut fractions = Vec::new();
    for (i, o) in g.outputs.iter().enumerate() {
        if o.name.ends_with(".grad_zero_frac") {
            assert_eq!(got[i].data, want[i].data, "{}", o.name);
            fractions.push(want[i].data[0]);
        }
    }
    assert_eq!(fractions.len(), 3, "one grad_zero_frac probe per layer");
    assert!(
        fractions.iter().any(|&f| f > 0.0),
        "some unit gets no gradient: {fractions:?}"
    );
}
