//! Property test: on random small well-shaped programs (see `ir_common`), reverse-mode
//! gradients match central finite differences in f64 for every leaf, and the program with its
//! backward pass verifies before and after optimization.

mod ir_common;

use ir_common::{build, close, steps};
use netc::autodiff::grad;
use netc::gradcheck::{gradcheck, Options};
use netc::ir::interp::run;
use netc::ir::passes::optimize;
use netc::ir::verify::verify;
use netc::ir::{Role, ValueId};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn autodiff_matches_finite_differences(steps in steps(), seed in 0u64..1000) {
        let p = build(&steps, seed);
        verify(&p.g).expect("the random program verifies");
        let names: Vec<&str> = p.leaves.iter().map(String::as_str).collect();
        let opts = Options::default();
        let report = gradcheck(&p.g, p.loss, &names, &p.env, &opts).expect("gradcheck runs");
        for leaf in &report {
            prop_assert!(leaf.passes(&opts), "{leaf:?}\n{}", netc::ir::print::print(&p.g));
        }
    }

    #[test]
    fn optimizing_the_backward_program_keeps_its_values(steps in steps(), seed in 0u64..1000) {
        let p = build(&steps, seed);
        let mut g = p.g.clone();
        let wrt: Vec<ValueId> = (0..g.len() as u32).map(ValueId).collect();
        for (i, d) in grad(&mut g, p.loss, &wrt).into_iter().enumerate() {
            g.add_output(format!("d{i}"), d, Role::Value);
        }
        verify(&g).expect("the backward program verifies");
        let optimized = optimize(&g);
        verify(&optimized).expect("the optimized program verifies");
        prop_assert!(optimized.len() <= g.len());
        let before = run(&g, &p.env).expect("runs");
        let after = run(&optimized, &p.env).expect("runs");
        for (b, a) in before.iter().zip(&after) {
            prop_assert!(close(&b.data, &a.data, 1e-12), "{:?} vs {:?}", b.data, a.data);
        }
    }
}
