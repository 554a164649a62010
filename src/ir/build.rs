//! Shape-checked constructors for every op. A shape error here is a compiler bug (the checker
//! guarantees well-shaped models), so it panics with the facts rather than returning an error.

use super::{numel, BinaryOp, CmpOp, Graph, Op, ReduceOp, Shape, UnaryOp, ValueId, Window2d};

impl Graph {
    pub fn input(&mut self, name: impl Into<String>, shape: Shape) -> ValueId {
        self.push(Op::Input { name: name.into() }, shape)
    }

    pub fn param(&mut self, name: impl Into<String>, shape: Shape) -> ValueId {
        self.push(Op::Param { name: name.into() }, shape)
    }

    pub fn constant(&mut self, value: f64, shape: Shape) -> ValueId {
        self.push(Op::Const { value }, shape)
    }

    pub fn scalar(&mut self, value: f64) -> ValueId {
        self.constant(value, vec![])
    }

    pub fn unary(&mut self, op: UnaryOp, x: ValueId) -> ValueId {
        let shape = self.shape(x).to_vec();
        self.push(Op::Unary { op, x }, shape)
    }

    /// Elementwise binary op with numpy broadcasting (explicit `Broadcast` nodes are inserted).
    pub fn binary(&mut self, op: BinaryOp, a: ValueId, b: ValueId) -> ValueId {
        let (a, b, shape) = self.broadcast_pair(a, b);
        self.push(Op::Binary { op, a, b }, shape)
    }

    pub fn compare(&mut self, op: CmpOp, a: ValueId, b: ValueId) -> ValueId {
        let (a, b, shape) = self.broadcast_pair(a, b);
        self.push(Op::Compare { op, a, b }, shape)
    }

    pub fn select(&mut self, cond: ValueId, on_true: ValueId, on_false: ValueId) -> ValueId {
        let (t, f, shape) = self.broadcast_pair(on_true, on_false);
        let cond = self.broadcast(cond, shape.clone());
        self.push(
            Op::Select {
                cond,
                on_true: t,
                on_false: f,
            },
            shape,
        )
    }

    pub fn add(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.binary(BinaryOp::Add, a, b)
    }

    pub fn sub(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.binary(BinaryOp::Sub, a, b)
    }

    pub fn mul(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.binary(BinaryOp::Mul, a, b)
    }

    pub fn div(&mut self, a: ValueId, b: ValueId) -> ValueId {
        self.binary(BinaryOp::Div, a, b)
    }

    /// x · c for a constant c.
    pub fn scale(&mut self, x: ValueId, c: f64) -> ValueId {
        let c = self.scalar(c);
        self.mul(x, c)
    }

    /// x + c for a constant c.
    pub fn offset(&mut self, x: ValueId, c: f64) -> ValueId {
        let c = self.scalar(c);
        self.add(x, c)
    }

    pub fn matmul(&mut self, a: ValueId, b: ValueId, trans_a: bool, trans_b: bool) -> ValueId {
        let (sa, sb) = (self.shape(a).to_vec(), self.shape(b).to_vec());
        assert!(
            sa.len() == 2 && sb.len() == 2,
            "IR builder: matmul of {sa:?} and {sb:?}"
        );
        let (m, ka) = if trans_a {
            (sa[1], sa[0])
        } else {
            (sa[0], sa[1])
        };
        let (kb, n) = if trans_b {
            (sb[1], sb[0])
        } else {
            (sb[0], sb[1])
        };
        assert_eq!(
            ka, kb,
            "IR builder: matmul inner dims of {sa:?}ᵀ{trans_a} · {sb:?}ᵀ{trans_b}"
        );
        self.push(
            Op::MatMul {
                a,
                b,
                trans_a,
                trans_b,
            },
            vec![m, n],
        )
    }

    pub fn reduce(&mut self, op: ReduceOp, x: ValueId, axes: &[usize], keep_dims: bool) -> ValueId {
        let shape = self.shape(x).to_vec();
        let mut axes = axes.to_vec();
        axes.sort_unstable();
        axes.dedup();
        assert!(
            axes.iter().all(|&a| a < shape.len()),
            "IR builder: reduce {shape:?} over {axes:?}"
        );
        let out: Shape = shape
            .iter()
            .enumerate()
            .filter_map(|(i, &d)| match (axes.contains(&i), keep_dims) {
                (false, _) => Some(d),
                (true, true) => Some(1),
                (true, false) => None,
            })
            .collect();
        self.push(
            Op::Reduce {
                op,
                x,
                axes,
                keep_dims,
            },
            out,
        )
    }

    /// Reduce over every axis to a scalar.
    pub fn reduce_all(&mut self, op: ReduceOp, x: ValueId) -> ValueId {
        let axes: Vec<usize> = (0..self.shape(x).len()).collect();
        if axes.is_empty() {
            return x;
        }
        self.reduce(op, x, &axes, false)
    }

    pub fn reshape(&mut self, x: ValueId, shape: Shape) -> ValueId {
        assert_eq!(
            numel(self.shape(x)),
            numel(&shape),
            "IR builder: reshape {:?} to {shape:?}",
            self.shape(x)
        );
        if self.shape(x) == shape.as_slice() {
            return x;
        }
        self.push(Op::Reshape { x }, shape)
    }

    pub fn transpose(&mut self, x: ValueId, perm: Vec<usize>) -> ValueId {
        let shape = self.shape(x).to_vec();
        let mut sorted = perm.clone();
        sorted.sort_unstable();
        assert!(
            sorted == (0..shape.len()).collect::<Vec<_>>(),
            "IR builder: transpose {shape:?} by {perm:?}"
        );
        let out = perm.iter().map(|&p| shape[p]).collect();
        self.push(Op::Transpose { x, perm }, out)
    }

    /// Numpy broadcast of x to `shape`; returns x itself when the shapes already agree.
    pub fn broadcast(&mut self, x: ValueId, shape: Shape) -> ValueId {
        let from = self.shape(x).to_vec();
        if from == shape {
            return x;
        }
        assert!(
            broadcast_shape(&from, &shape).as_deref() == Some(shape.as_slice()),
            "IR builder: broadcast {from:?} to {shape:?}"
        );
        self.push(Op::Broadcast { x }, shape)
    }

    pub fn slice(&mut self, x: ValueId, axis: usize, start: usize, len: usize) -> ValueId {
        let mut shape = self.shape(x).to_vec();
        assert!(
            axis < shape.len() && start + len <= shape[axis],
            "IR builder: slice {shape:?} axis {axis} {start}+{len}"
        );
        if start == 0 && len == shape[axis] {
            return x;
        }
        shape[axis] = len;
        self.push(
            Op::Slice {
                x,
                axis,
                start,
                len,
            },
            shape,
        )
    }

    pub fn concat(&mut self, xs: &[ValueId], axis: usize) -> ValueId {
        assert!(!xs.is_empty(), "IR builder: concat of nothing");
        if xs.len() == 1 {
            return xs[0];
        }
        let mut shape = self.shape(xs[0]).to_vec();
        assert!(
            axis < shape.len(),
            "IR builder: concat axis {axis} of {shape:?}"
        );
        shape[axis] = 0;
        for &x in xs {
            let s = self.shape(x);
            assert!(
                s.len() == shape.len() && (0..s.len()).all(|i| i == axis || s[i] == shape[i]),
                "IR builder: concat {s:?} onto {shape:?}"
            );
            shape[axis] += s[axis];
        }
        self.push(
            Op::Concat {
                xs: xs.to_vec(),
                axis,
            },
            shape,
        )
    }

    /// The windows of a channels-last [N, H, W, C] tensor: [N, OH, OW, KH, KW, C].
    pub fn windows(&mut self, x: ValueId, win: &Window2d) -> ValueId {
        let from = self.shape(x).to_vec();
        let shape = (win.windows_shape(&from))
            .unwrap_or_else(|| panic!("IR builder: window {win:?} over {from:?}"));
        self.push(Op::Windows { x, win: *win }, shape)
    }

    /// Windows `dy` ([N, OH, OW, KH, KW, C]) scattered and summed back onto `x_shape`
    /// ([N, H, W, C]): the transpose of [`Graph::windows`].
    pub fn windows_add(&mut self, dy: ValueId, win: &Window2d, x_shape: Shape) -> ValueId {
        let from = self.shape(dy).to_vec();
        assert!(
            win.windows_shape(&x_shape).as_deref() == Some(from.as_slice()),
            "IR builder: windows {from:?} of {win:?} do not come from {x_shape:?}"
        );
        self.push(Op::WindowsAdd { dy, win: *win }, x_shape)
    }

    pub fn random_mask(
        &mut self,
        p: f64,
        seed: u64,
        stream: u32,
        counter: ValueId,
        shape: Shape,
    ) -> ValueId {
        assert!(
            self.shape(counter).is_empty(),
            "IR builder: mask counter must be a scalar"
        );
        self.push(
            Op::RandomMask {
                p,
                seed,
                stream,
                counter,
            },
            shape,
        )
    }

    fn broadcast_pair(&mut self, a: ValueId, b: ValueId) -> (ValueId, ValueId, Shape) {
        let (sa, sb) = (self.shape(a).to_vec(), self.shape(b).to_vec());
        let shape = broadcast_shape(&sa, &sb)
            .unwrap_or_else(|| panic!("IR builder: cannot broadcast {sa:?} with {sb:?}"));
        let a = self.broadcast(a, shape.clone());
        let b = self.broadcast(b, shape.clone());
        (a, b, shape)
    }
}

/// The numpy broadcast of two shapes, if they are compatible.
pub fn broadcast_shape(a: &[usize], b: &[usize]) -> Option<Shape> {
    let n = a.len().max(b.len());
    let dim = |s: &[usize], i: usize| {
        if i + s.len() < n {
            1
        } else {
            s[i + s.len() - n]
        }
    };
    (0..n)
        .map(|i| match (dim(a, i), dim(b, i)) {
            (x, y) if x == y => Some(x),
            (1, y) => Some(y),
            (x, 1) => Some(x),
            _ => None,
        })
        .collect()
}
