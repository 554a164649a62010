//! Learning-rate schedules: the factor of the base learning rate at a step.

use crate::model::Schedule;

/// The learning rate at 0-based `step` of a run of `total` steps.
pub fn lr_at(schedule: &Schedule, base_lr: f64, step: u64, total: u64) -> f64 {
    base_lr * factor(schedule, step, total)
}

fn factor(schedule: &Schedule, step: u64, total: u64) -> f64 {
    match schedule {
        Schedule::Constant => 1.0,
        Schedule::Step { every, gamma } => gamma.powi((step / (*every).max(1) as u64) as i32),
        Schedule::Cosine { min_factor } => {
            let progress = step as f64 / total.max(1) as f64;
            min_factor
                + (1.0 - min_factor)
                    * 0.5
                    * (1.0 + (std::f64::consts::PI * progress.min(1.0)).cos())
        }
        Schedule::Warmup { steps, then } => {
            let warm = *steps as u64;
            if step < warm {
                (step + 1) as f64 / warm as f64
            } else {
                factor(then, step - warm, total.saturating_sub(warm))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_schedule_halves_every_ten_steps() {
        let s = Schedule::Step {
            every: 10,
            gamma: 0.5,
        };
        assert_eq!(lr_at(&s, 1.0, 9, 100), 1.0);
        assert_eq!(lr_at(&s, 1.0, 10, 100), 0.5);
        assert_eq!(lr_at(&s, 1.0, 25, 100), 0.25);
    }

    #[test]
    fn cosine_goes_from_lr_to_min() {
        let s = Schedule::Cosine { min_factor: 0.1 };
        assert!((lr_at(&s, 2.0, 0, 100) - 2.0).abs() < 1e-12);
        assert!((lr_at(&s, 2.0, 50, 100) - 1.1).abs() < 1e-12);
        assert!((lr_at(&s, 2.0, 100, 100) - 0.2).abs() < 1e-12);
    }

    #[test]
    fn warmup_ramps_linearly_then_hands_over() {
        let s = Schedule::Warmup {
            steps: 4,
            then: Box::new(Schedule::Constant),
        };
        let lrs: Vec<f64> = (0..6).map(|t| lr_at(&s, 1.0, t, 10)).collect();
        assert_eq!(lrs, vec![0.25, 0.5, 0.75, 1.0, 1.0, 1.0]);
    }
}
