//! Median and spread of repeated measurements.

use serde::{Deserialize, Deserializer, Serialize};

/// A figure over repeated runs: its median, and the lowest and highest run.
/// Fields in alphabetical order, the order results.json has always had.
#[derive(Debug, Clone, Copy, Serialize, Deserialize)]
pub struct Summary {
    #[serde(deserialize_with = "nan_from_null")]
    pub max: f64,
    #[serde(deserialize_with = "nan_from_null")]
    pub median: f64,
    #[serde(deserialize_with = "nan_from_null")]
    pub min: f64,
    pub runs: usize,
}

/// Reads a figure that may be `null`: serde_json writes NaN and the
/// infinities (no runs, a division by zero) as `null`, read back as NaN.
pub fn nan_from_null<'de, D: Deserializer<'de>>(deserializer: D) -> Result<f64, D::Error> {
    Ok(Option::<f64>::deserialize(deserializer)?.unwrap_or(f64::NAN))
}

impl Summary {
    pub fn of(values: &[f64]) -> Self {
        let mut sorted: Vec<f64> = values.iter().copied().filter(|v| v.is_finite()).collect();
        sorted.sort_by(|a, b| a.total_cmp(b));
        let median = match sorted.len() {
            0 => f64::NAN,
            n if n % 2 == 1 => sorted[n / 2],
            n => (sorted[n / 2 - 1] + sorted[n / 2]) / 2.0,
        };
        Self {
            median,
            min: sorted.first().copied().unwrap_or(f64::NAN),
            max: sorted.last().copied().unwrap_or(f64::NAN),
            runs: sorted.len(),
        }
    }

    /// `12.3 (11.9–13.0)`
    pub fn show(&self, decimals: usize) -> String {
        format!(
            "{:.d$} ({:.d$}–{:.d$})",
            self.median,
            self.min,
            self.max,
            d = decimals
        )
    }
}

/// The `p`th percentile (0–100) of `values`.
pub fn percentile(values: &[f64], p: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(|a, b| a.total_cmp(b));
    if sorted.is_empty() {
        return f64::NAN;
    }
    let rank = ((p / 100.0) * (sorted.len() - 1) as f64).round() as usize;
    sorted[rank.min(sorted.len() - 1)]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn median_and_spread() {
        let s = Summary::of(&[3.0, 1.0, 2.0, 10.0]);
        assert_eq!((s.median, s.min, s.max, s.runs), (2.5, 1.0, 10.0, 4));
        assert_eq!(Summary::of(&[5.0, 1.0, 3.0]).median, 3.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0, 100.0], 50.0), 3.0);
        assert_eq!(percentile(&[1.0, 2.0, 3.0, 4.0, 100.0], 99.0), 100.0);
    }
}
