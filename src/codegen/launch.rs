//! The kernel cache and the launch table: steps that compile to the same code share one
//! generated function, and the step becomes a list of launches `(function, parameters)`.
//!
//! A step's [`KernelKey`] is the step itself with every buffer window (a buffer and the offset
//! its access starts at) replaced by a positional parameter in first-use order, written out
//! word by word: shapes, strides, constants, ops, store modes, product sizes, mask seeds, and
//! which accesses share a window all stay in it. Keys are compared whole (a `HashMap` hashes
//! them only to find candidates), so two steps share a function exactly when the code `emit`
//! generates for them is the same up to where their buffers lie. An unrolled recurrent net
//! then compiles its cell once, not once per time step.

use super::memory::Layout;
use super::program::{
    Access, Affine, Body, BufId, Expr, LoopNest, MaskExpr, MatMulCall, Plan, Step, StoreMode,
};
use std::collections::HashMap;
use std::ops::Range;

/// At most this many steps used once go into one generated function: small enough for the
/// register allocator, large enough to amortize a function's fixed costs.
pub(crate) const STEPS_PER_FUNCTION: usize = 24;

/// [`KernelSharing::Repeated`] shares kernels only in programs of at least this many steps.
/// A small program compiles in a few milliseconds anyway, and splitting its straight-line
/// functions around shared kernels costs run time: W5 (27 steps) ran 0.5 µs a step unshared,
/// 0.6 µs shared.
pub(crate) const SHARE_FROM_STEPS: usize = 64;

/// Which steps run as a shared kernel, called with the offsets of its buffers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KernelSharing {
    /// Steps whose key occurs at least twice; the others are compiled with their arena
    /// offsets as constants, in functions of up to [`STEPS_PER_FUNCTION`] steps.
    #[default]
    Repeated,
    /// Every step, even one used once (tests: runs everything through shared kernels).
    Always,
    /// None: every step compiled with constant offsets (the compiler before the cache).
    Never,
}

/// A buffer window: the buffer, and the offset (in floats) where an access's index 0 lies.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) struct Site {
    pub buf: BufId,
    pub offset: usize,
}

/// The exact identity of the code a step compiles to (see the module comment).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub(crate) struct KernelKey(Vec<Word>);

/// One word of a [`KernelKey`]: a tag, a size, the bits of a constant, or an op's discriminant.
/// Every variable-length part is preceded by its length and every alternative by its tag, so
/// different steps never write the same words. Plain `u64`s hash and compare as one slice.
type Word = u64;

#[derive(Debug, Clone, Copy)]
enum Tag {
    Loop,
    MatMul,
    Load,
    Const,
    Unary,
    Binary,
    Compare,
    Select,
    Mask,
    Local,
    Assign,
    Add,
    Max,
    SumAll,
    MaxAll,
}

/// A step made independent of where its buffers lie.
pub(crate) struct Canonical {
    pub key: KernelKey,
    /// The step with each access's `buf` replaced by its parameter number and its offset by 0.
    pub step: Step,
    /// The window each parameter stands for, by parameter number.
    pub sites: Vec<Site>,
}

/// The canonical form of `step`: parameters numbered in first-use order.
pub(crate) fn canonicalize(step: &Step) -> Canonical {
    let mut step = step.clone();
    let mut sites: Vec<Site> = Vec::new();
    for_each_window(&mut step, &mut |buf, offset| {
        let site = Site {
            buf: *buf,
            offset: *offset,
        };
        *buf = match sites.iter().position(|s| *s == site) {
            Some(p) => p,
            None => {
                sites.push(site);
                sites.len() - 1
            }
        };
        *offset = 0;
    });
    let mut words = Vec::new();
    encode_step(&step, &mut words);
    Canonical {
        key: KernelKey(words),
        step,
        sites,
    }
}

/// A generated function shared by several steps.
pub(crate) struct SharedKernel {
    /// The canonical step it runs (buffers are parameter numbers).
    pub step: Step,
    pub params: usize,
    /// How many launches call it.
    pub uses: usize,
}

/// What runs, in order.
pub(crate) enum Unit {
    /// Consecutive steps of the plan compiled into one function with constant offsets.
    Inline(Range<usize>),
    /// A shared kernel, called with these windows as its parameters.
    Launch { kernel: usize, sites: Vec<Site> },
}

/// The distinct shared kernels of a plan and the order in which everything runs.
pub(crate) struct Schedule {
    pub kernels: Vec<SharedKernel>,
    pub units: Vec<Unit>,
}

/// Groups `plan`'s steps by key and decides, under `sharing`, which run as shared kernels.
pub(crate) fn schedule(plan: &Plan, sharing: KernelSharing) -> Schedule {
    let canon: Vec<Canonical> = plan.steps.iter().map(canonicalize).collect();
    let mut ids: HashMap<&KernelKey, usize> = HashMap::new();
    let mut counts: Vec<usize> = Vec::new();
    let kernel_of: Vec<usize> = canon
        .iter()
        .map(|c| {
            let next = counts.len();
            let id = *ids.entry(&c.key).or_insert(next);
            if id == next {
                counts.push(0);
            }
            counts[id] += 1;
            id
        })
        .collect();
    let shared = |id: usize| match sharing {
        KernelSharing::Repeated => counts[id] >= 2 && plan.steps.len() >= SHARE_FROM_STEPS,
        KernelSharing::Always => true,
        KernelSharing::Never => false,
    };
    // Shared kernels are numbered in order of first launch.
    let mut number: Vec<Option<usize>> = vec![None; counts.len()];
    let mut kernels: Vec<SharedKernel> = Vec::new();
    let mut units: Vec<Unit> = Vec::new();
    for (t, (c, &id)) in canon.into_iter().zip(&kernel_of).enumerate() {
        if !shared(id) {
            match units.last_mut() {
                Some(Unit::Inline(r)) if r.len() < STEPS_PER_FUNCTION => r.end = t + 1,
                _ => units.push(Unit::Inline(t..t + 1)),
            }
            continue;
        }
        let kernel = *number[id].get_or_insert_with(|| {
            kernels.push(SharedKernel {
                params: c.sites.len(),
                step: c.step,
                uses: 0,
            });
            kernels.len() - 1
        });
        kernels[kernel].uses += 1;
        units.push(Unit::Launch {
            kernel,
            sites: c.sites,
        });
    }
    Schedule { kernels, units }
}

/// The byte offset in the arena of each window, as a shared kernel's parameters, with
/// `memory_of` naming the buffer whose memory each buffer uses (a swapped parameter's partner
/// on odd steps, `swap.rs`).
pub(crate) fn byte_offsets(
    sites: &[Site],
    layout: &Layout,
    memory_of: impl Fn(BufId) -> BufId,
) -> Vec<i64> {
    sites
        .iter()
        .map(|s| 4 * (layout.offsets[memory_of(s.buf)] + s.offset) as i64)
        .collect()
}

/// The launch table as text, for `--emit clif|asm`: one line per unit, windows as float
/// offsets into the arena.
pub(crate) fn describe(schedule: &Schedule, layout: &Layout, inline_names: &[String]) -> String {
    let mut out = format!(
        "; launch table: {} launches, {} shared kernels\n",
        schedule.units.len(),
        schedule.kernels.len()
    );
    let mut inline = inline_names.iter();
    for unit in &schedule.units {
        match unit {
            Unit::Inline(steps) => {
                let name = inline.next().map_or("?", String::as_str);
                out.push_str(&format!("{name}()  ; steps {steps:?}\n"));
            }
            Unit::Launch { kernel, sites } => {
                let args: Vec<String> = sites
                    .iter()
                    .map(|s| format!("arena+{}", layout.offsets[s.buf] + s.offset))
                    .collect();
                out.push_str(&format!("netc_kernel_{kernel}({})\n", args.join(", ")));
            }
        }
    }
    out
}

/// Calls `f` on the buffer and offset of every access of `step` (loads, the mask's counter,
/// destinations, product operands) in a fixed order.
fn for_each_window(step: &mut Step, f: &mut dyn FnMut(&mut BufId, &mut usize)) {
    match step {
        Step::Loop(LoopNest {
            space: _,
            expr,
            dst,
            mode: _,
            fused,
        }) => {
            window_expr(expr, f);
            f(&mut dst.buf, &mut dst.at.offset);
            for Body { expr, dst, mode: _ } in fused {
                window_expr(expr, f);
                f(&mut dst.buf, &mut dst.at.offset);
            }
        }
        Step::MatMul(MatMulCall {
            m: _,
            k: _,
            n: _,
            a,
            b,
            c,
        }) => {
            f(&mut a.buf, &mut a.at.offset);
            f(&mut b.buf, &mut b.at.offset);
            f(c, &mut 0);
        }
    }
}

fn window_expr(e: &mut Expr, f: &mut dyn FnMut(&mut BufId, &mut usize)) {
    match e {
        Expr::Load(a) => f(&mut a.buf, &mut a.at.offset),
        Expr::Const(_) | Expr::Local(_) => {}
        Expr::Unary(_, x) => window_expr(x, f),
        Expr::Binary(_, a, b) | Expr::Compare(_, a, b) => {
            window_expr(a, f);
            window_expr(b, f);
        }
        Expr::Select(abc) => abc.iter_mut().for_each(|x| window_expr(x, f)),
        Expr::Mask(m) => f(&mut m.counter.buf, &mut m.counter.at.offset),
    }
}

fn encode_step(step: &Step, w: &mut Vec<Word>) {
    match step {
        Step::Loop(LoopNest {
            space,
            expr,
            dst,
            mode,
            fused,
        }) => {
            w.push(tag(Tag::Loop));
            sizes(space, w);
            encode_body(expr, dst, *mode, w);
            w.push(size(fused.len()));
            for Body { expr, dst, mode } in fused {
                encode_body(expr, dst, *mode, w);
            }
        }
        Step::MatMul(MatMulCall { m, k, n, a, b, c }) => {
            w.push(tag(Tag::MatMul));
            w.extend([size(*m), size(*k), size(*n)]);
            encode_access(a, w);
            encode_access(b, w);
            w.push(size(*c));
        }
    }
}

fn encode_body(expr: &Expr, dst: &Access, mode: StoreMode, w: &mut Vec<Word>) {
    encode_expr(expr, w);
    encode_access(dst, w);
    w.push(tag(match mode {
        StoreMode::Assign => Tag::Assign,
        StoreMode::Add => Tag::Add,
        StoreMode::Max => Tag::Max,
        StoreMode::SumAll => Tag::SumAll,
        StoreMode::MaxAll => Tag::MaxAll,
    }));
}

fn encode_expr(e: &Expr, w: &mut Vec<Word>) {
    match e {
        Expr::Load(a) => {
            w.push(tag(Tag::Load));
            encode_access(a, w);
        }
        Expr::Const(c) => w.extend([tag(Tag::Const), u64::from(c.to_bits())]),
        Expr::Local(i) => w.extend([tag(Tag::Local), size(*i)]),
        Expr::Unary(op, x) => {
            w.extend([tag(Tag::Unary), *op as Word]);
            encode_expr(x, w);
        }
        Expr::Binary(op, a, b) => {
            w.extend([tag(Tag::Binary), *op as Word]);
            encode_expr(a, w);
            encode_expr(b, w);
        }
        Expr::Compare(op, a, b) => {
            w.extend([tag(Tag::Compare), *op as Word]);
            encode_expr(a, w);
            encode_expr(b, w);
        }
        Expr::Select(abc) => {
            w.push(tag(Tag::Select));
            abc.iter().for_each(|x| encode_expr(x, w));
        }
        Expr::Mask(m) => {
            let MaskExpr {
                p,
                seed,
                stream,
                counter,
                index,
            } = m.as_ref();
            w.extend([tag(Tag::Mask), p.to_bits(), *seed, u64::from(*stream)]);
            encode_access(counter, w);
            encode_affine(index, w);
        }
    }
}

fn encode_access(a: &Access, w: &mut Vec<Word>) {
    w.push(size(a.buf));
    encode_affine(&a.at, w);
}

fn encode_affine(a: &Affine, w: &mut Vec<Word>) {
    w.push(size(a.offset));
    sizes(&a.strides, w);
}

fn tag(t: Tag) -> Word {
    t as Word
}

fn size(x: usize) -> Word {
    x as Word
}

fn sizes(xs: &[usize], w: &mut Vec<Word>) {
    w.push(size(xs.len()));
    w.extend(xs.iter().map(|&x| size(x)));
}

#[cfg(test)]
mod tests {
    use super::super::plan::row_major;
    use super::*;
    use crate::ir::BinaryOp;

    /// `dst[i] = x[i] · c` over `space`, reading `x` through `strides` from `offset`.
    fn scale(x: BufId, offset: usize, strides: Vec<usize>, space: Vec<usize>, c: f32) -> Step {
        let load = Expr::Load(Access {
            buf: x,
            at: Affine { offset, strides },
        });
        Step::Loop(LoopNest {
            dst: Access {
                buf: 99,
                at: Affine {
                    offset: 0,
                    strides: row_major(&space),
                },
            },
            space,
            expr: Expr::Binary(BinaryOp::Mul, Box::new(load), Box::new(Expr::Const(c))),
            mode: StoreMode::Assign,
            fused: Vec::new(),
        })
    }

    fn key(s: &Step) -> KernelKey {
        canonicalize(s).key
    }

    #[test]
    fn steps_differing_only_in_buffers_and_offsets_share_a_key() {
        let a = scale(1, 0, vec![8, 1], vec![6, 8], 2.0);
        let b = scale(7, 48, vec![8, 1], vec![6, 8], 2.0);
        assert_eq!(key(&a), key(&b));
        let c = canonicalize(&b);
        let site = |buf, offset| Site { buf, offset };
        assert_eq!(c.sites, vec![site(7, 48), site(99, 0)]);
    }

    #[test]
    fn steps_differing_in_a_constant_a_shape_a_stride_or_an_op_do_not_share() {
        let base = scale(1, 0, vec![8, 1], vec![6, 8], 2.0);
        let others = [
            scale(1, 0, vec![8, 1], vec![6, 8], 3.0),
            scale(1, 0, vec![8, 1], vec![6, 4], 2.0),
            scale(1, 0, vec![1, 6], vec![6, 8], 2.0),
            scale(1, 0, vec![8, 1], vec![6, 8], -2.0),
        ];
        for o in &others {
            assert_ne!(key(&base), key(o), "{o:?}");
        }
        let mut sub = base.clone();
        if let Step::Loop(l) = &mut sub {
            if let Expr::Binary(op, ..) = &mut l.expr {
                *op = BinaryOp::Sub;
            }
        }
        assert_ne!(key(&base), key(&sub));
    }

    #[test]
    fn reading_and_writing_one_window_is_not_the_same_kernel_as_two_windows() {
        let apart = scale(1, 0, vec![8, 1], vec![6, 8], 2.0);
        let in_place = scale(99, 0, vec![8, 1], vec![6, 8], 2.0);
        assert_ne!(key(&apart), key(&in_place));
        assert_eq!(canonicalize(&in_place).sites.len(), 1);
    }

    #[test]
    fn products_differing_in_a_size_or_a_layout_do_not_share() {
        let mm = |m, ta: bool, buf| {
            let strides = if ta { vec![1, m] } else { vec![8, 1] };
            Step::MatMul(MatMulCall {
                m,
                k: 8,
                n: 8,
                a: Access {
                    buf,
                    at: Affine { offset: 0, strides },
                },
                b: Access {
                    buf: buf + 1,
                    at: Affine {
                        offset: 0,
                        strides: vec![8, 1],
                    },
                },
                c: buf + 2,
            })
        };
        assert_eq!(key(&mm(4, false, 0)), key(&mm(4, false, 10)));
        assert_ne!(key(&mm(4, false, 0)), key(&mm(5, false, 0)));
        assert_ne!(key(&mm(4, false, 0)), key(&mm(4, true, 0)));
    }

    #[test]
    fn a_schedule_launches_repeated_steps_and_inlines_the_rest() {
        let mut steps = vec![
            scale(1, 0, vec![8, 1], vec![6, 8], 2.0),
            scale(2, 0, vec![8, 1], vec![6, 8], 5.0),
            scale(3, 8, vec![8, 1], vec![6, 8], 2.0),
        ];
        let small = Plan {
            steps: steps.clone(),
            ..Plan::default()
        };
        // Steps used once (each scales by its own constant) make the program large enough
        // for sharing to pay.
        steps.extend(
            (0..SHARE_FROM_STEPS).map(|i| scale(4, 0, vec![8, 1], vec![6, 8], 10.0 + i as f32)),
        );
        let plan = Plan {
            steps,
            ..Plan::default()
        };
        let s = schedule(&plan, KernelSharing::Repeated);
        assert_eq!(s.kernels.len(), 1);
        assert_eq!(s.kernels[0].uses, 2);
        assert!(matches!(
            s.units[..4],
            [
                Unit::Launch { .. },
                Unit::Inline(_),
                Unit::Launch { .. },
                Unit::Inline(_)
            ]
        ));
        let never = schedule(&small, KernelSharing::Never);
        assert!(never.kernels.is_empty());
        assert!(matches!(never.units[..], [Unit::Inline(ref r)] if *r == (0..3)));
        let tiny = schedule(&small, KernelSharing::Repeated);
        assert!(
            tiny.kernels.is_empty(),
            "a small program keeps constant offsets"
        );
    }
}
