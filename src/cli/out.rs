//! How numbers look on the terminal: losses and metrics in a form that stays short at any
//! magnitude, and rates as a person reads them.

/// A loss or a metric: fixed with `decimals` places in the ordinary range, and in exponent form
/// where fixed notation would print a wall of digits (`7.8380e22`) or only zeros (`3.2000e-7`).
pub fn metric(value: f64, decimals: usize) -> String {
    let magnitude = value.abs();
    if value.is_finite() && value != 0.0 && !(1e-4..1e6).contains(&magnitude) {
        format!("{value:.4e}")
    } else {
        format!("{value:.decimals$}")
    }
}

/// Steps a second, rounded to what is worth reading: `6,574/s`, `38.2/s`, `0.51/s`.
pub fn rate(per_second: f64) -> String {
    if !per_second.is_finite() || per_second <= 0.0 {
        return "–/s".to_string();
    }
    if per_second >= 100.0 {
        return format!("{}/s", thousands(per_second.round() as u64));
    }
    if per_second >= 10.0 {
        return format!("{per_second:.1}/s");
    }
    format!("{per_second:.2}/s")
}

/// A whole number with commas between groups of three digits.
pub fn thousands(n: u64) -> String {
    let digits = n.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, digit) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i) % 3 == 0 {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn metrics_switch_to_exponent_form_at_extreme_magnitudes() {
        assert_eq!(metric(78380251597988903780352.0, 5), "7.8380e22");
        assert_eq!(metric(0.000_000_32, 5), "3.2000e-7");
        assert_eq!(metric(0.5321, 5), "0.53210");
        assert_eq!(metric(0.0, 5), "0.00000");
        assert_eq!(metric(f64::NAN, 4), "NaN");
        assert_eq!(metric(-12.5, 2), "-12.50");
    }

    #[test]
    fn rates_round_to_what_is_worth_reading() {
        assert_eq!(rate(6574.2439), "6,574/s");
        assert_eq!(rate(1_234_567.0), "1,234,567/s");
        assert_eq!(rate(38.24), "38.2/s");
        assert_eq!(rate(0.512), "0.51/s");
        assert_eq!(rate(0.0), "–/s");
    }
}
