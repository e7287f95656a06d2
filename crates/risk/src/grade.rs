//! Class breaks: fixed, quantiles, equal intervals, natural breaks (Jenks).

use crate::model::Method;

/// Inner breaks (`classes − 1` of them, non-decreasing) for the values.
pub fn breaks(method: Method, values: &[f64], classes: usize, fixed: &[f64]) -> Vec<f64> {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    v.sort_by(f64::total_cmp);
    if v.is_empty() || classes < 2 {
        return fixed.to_vec();
    }
    match method {
        Method::Fixed => fixed.to_vec(),
        Method::Quantiles => (1..classes)
            .map(|k| quantile(&v, k as f64 / classes as f64))
            .collect(),
        Method::EqualInterval => {
            let (lo, hi) = (v[0], v[v.len() - 1]);
            (1..classes)
                .map(|k| lo + (hi - lo) * k as f64 / classes as f64)
                .collect()
        }
        Method::Jenks => jenks(&v, classes),
    }
}

/// Linear-interpolated quantile of sorted values (type 7, as numpy and R default).
pub fn quantile(sorted: &[f64], p: f64) -> f64 {
    let h = (sorted.len() - 1) as f64 * p;
    let (lo, hi) = (h.floor() as usize, h.ceil() as usize);
    sorted[lo] + (sorted[hi] - sorted[lo]) * (h - lo as f64)
}

/// Class of a value: 0 is the lowest. A value on a break belongs to the class below it.
pub fn class_of(v: f64, breaks: &[f64]) -> usize {
    breaks.iter().filter(|&&b| v > b).count()
}

/// Fisher–Jenks natural breaks on sorted values: minimises the within-class sum of squared
/// deviations (dynamic programming, O(k·n²)). Breaks are the upper values of each class but the last.
pub fn jenks(sorted: &[f64], classes: usize) -> Vec<f64> {
    let n = sorted.len();
    let k = classes.min(n);
    if k < 2 {
        return vec![sorted[n - 1]; classes - 1];
    }
    // Prefix sums for O(1) class cost.
    let mut s1 = vec![0.0; n + 1];
    let mut s2 = vec![0.0; n + 1];
    for i in 0..n {
        s1[i + 1] = s1[i] + sorted[i];
        s2[i + 1] = s2[i] + sorted[i] * sorted[i];
    }
    let cost = |i: usize, j: usize| {
        // values i..j (exclusive j)
        let m = (j - i) as f64;
        let s = s1[j] - s1[i];
        (s2[j] - s2[i]) - s * s / m
    };
    // dp[c][j]: best cost of the first j values in c+1 classes; back[c][j]: start of the last class.
    let mut dp = vec![vec![f64::INFINITY; n + 1]; k];
    let mut back = vec![vec![0usize; n + 1]; k];
    for (j, d) in dp[0].iter_mut().enumerate().skip(1) {
        *d = cost(0, j);
    }
    for c in 1..k {
        for j in (c + 1)..=n {
            for i in c..j {
                let v = dp[c - 1][i] + cost(i, j);
                // Strictly better only: ties keep the earliest split, so the result is deterministic.
                if v < dp[c][j] - 1e-12 * v.abs().max(1.0) {
                    dp[c][j] = v;
                    back[c][j] = i;
                }
            }
        }
    }
    let mut cuts = Vec::with_capacity(k - 1);
    let mut j = n;
    for c in (1..k).rev() {
        let i = back[c][j];
        cuts.push(sorted[i - 1]);
        j = i;
    }
    cuts.reverse();
    // Fewer values than classes: repeat the top value so every class still has a break.
    while cuts.len() < classes - 1 {
        cuts.push(sorted[n - 1]);
    }
    cuts
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn quantile_breaks_split_evenly() {
        let v: Vec<f64> = (1..=10).map(f64::from).collect();
        let q = breaks(Method::Quantiles, &v, 5, &[]);
        for (a, b) in q.iter().zip([2.8, 4.6, 6.4, 8.2]) {
            assert!((a - b).abs() < 1e-12, "{q:?}");
        }
        assert_eq!(breaks(Method::EqualInterval, &v, 3, &[]), vec![4.0, 7.0]);
        assert_eq!(class_of(4.6, &[2.8, 4.6, 6.4, 8.2]), 1);
        assert_eq!(class_of(10.0, &[2.8, 4.6, 6.4, 8.2]), 4);
    }

    #[test]
    fn jenks_finds_the_obvious_groups() {
        let v = [1.0, 1.1, 1.2, 5.0, 5.1, 5.2, 9.0, 9.1, 9.3];
        assert_eq!(jenks(&v, 3), vec![1.2, 5.2]);
        let v = [3.0, 3.0, 3.0];
        assert_eq!(jenks(&v, 5).len(), 4);
    }
}
