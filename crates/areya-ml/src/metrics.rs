//! Classification metrics computed from one ordered pass of (true, predicted, probabilities):
//! confusion matrix, per-class precision/recall/F1/support, accuracy, macro and weighted
//! averages (scikit-learn's definitions; a class never predicted has precision 0, not NaN),
//! and expected calibration error.

use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// Precision, recall, F1 and support of one class.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ClassScores {
    pub precision: f64,
    pub recall: f64,
    pub f1: f64,
    pub support: usize,
}

/// A classification report over `classes`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Report {
    pub n: usize,
    pub classes: Vec<String>,
    /// `confusion[true][predicted]`.
    pub confusion: Vec<Vec<usize>>,
    pub accuracy: f64,
    pub macro_f1: f64,
    pub per_class: BTreeMap<String, ClassScores>,
    pub macro_avg: ClassScores,
    pub weighted_avg: ClassScores,
}

fn ratio(a: usize, b: usize) -> f64 {
    if b == 0 {
        0.0
    } else {
        a as f64 / b as f64
    }
}

/// The confusion matrix of `(truth, prediction)` pairs over `k` classes.
pub fn confusion(truth: &[usize], pred: &[usize], k: usize) -> Vec<Vec<usize>> {
    let mut m = vec![vec![0; k]; k];
    for (&t, &p) in truth.iter().zip(pred) {
        m[t][p] += 1;
    }
    m
}

impl Report {
    /// Builds the report from a confusion matrix (`rows` true, `cols` predicted).
    pub fn from_confusion(classes: &[String], confusion: Vec<Vec<usize>>) -> Report {
        let k = classes.len();
        let n: usize = confusion.iter().flatten().sum();
        let correct: usize = (0..k).map(|i| confusion[i][i]).sum();
        let mut per_class = BTreeMap::new();
        let mut rows = Vec::with_capacity(k);
        for (i, name) in classes.iter().enumerate() {
            let tp = confusion[i][i];
            let support: usize = confusion[i].iter().sum();
            let predicted: usize = (0..k).map(|r| confusion[r][i]).sum();
            let precision = ratio(tp, predicted);
            let recall = ratio(tp, support);
            let f1 = if precision + recall > 0.0 {
                2.0 * precision * recall / (precision + recall)
            } else {
                0.0
            };
            let s = ClassScores {
                precision,
                recall,
                f1,
                support,
            };
            per_class.insert(name.clone(), s);
            rows.push(s);
        }
        let avg = |w: &dyn Fn(&ClassScores) -> f64| -> ClassScores {
            let total: f64 = rows.iter().map(w).sum();
            let f = |g: &dyn Fn(&ClassScores) -> f64| {
                if total > 0.0 {
                    rows.iter().map(|r| g(r) * w(r)).sum::<f64>() / total
                } else {
                    0.0
                }
            };
            ClassScores {
                precision: f(&|r| r.precision),
                recall: f(&|r| r.recall),
                f1: f(&|r| r.f1),
                support: n,
            }
        };
        let macro_avg = avg(&|_| 1.0);
        let weighted_avg = avg(&|r| r.support as f64);
        Report {
            n,
            classes: classes.to_vec(),
            confusion,
            accuracy: ratio(correct, n),
            macro_f1: macro_avg.f1,
            per_class,
            macro_avg,
            weighted_avg,
        }
    }

    /// The report as scikit-learn's `classification_report` prints it.
    pub fn to_text(&self) -> String {
        let w = self
            .classes
            .iter()
            .map(|c| c.len())
            .max()
            .unwrap_or(0)
            .max("weighted avg".len());
        let mut s = format!(
            "{:>w$} {:>9} {:>9} {:>9} {:>9}\n\n",
            "", "precision", "recall", "f1-score", "support"
        );
        for c in &self.classes {
            let r = &self.per_class[c];
            s += &format!(
                "{c:>w$} {:>9.4} {:>9.4} {:>9.4} {:>9}\n",
                r.precision, r.recall, r.f1, r.support
            );
        }
        s += &format!(
            "\n{:>w$} {:>9} {:>9} {:>9.4} {:>9}\n",
            "accuracy", "", "", self.accuracy, self.n
        );
        for (name, r) in [
            ("macro avg", &self.macro_avg),
            ("weighted avg", &self.weighted_avg),
        ] {
            s += &format!(
                "{name:>w$} {:>9.4} {:>9.4} {:>9.4} {:>9}\n",
                r.precision, r.recall, r.f1, r.support
            );
        }
        s
    }
}

/// Reliability bins and expected calibration error of top-1 confidences.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Calibration {
    pub ece: f64,
    /// Per bin: (mean confidence, accuracy, count), `bins` equal-width bins over [0, 1].
    pub bins: Vec<(f64, f64, usize)>,
}

/// ECE with `bins` equal-width bins: Σ (n_b / n) · |accuracy_b − confidence_b|.
pub fn calibration(confidence: &[f64], correct: &[bool], bins: usize) -> Calibration {
    let mut acc = vec![(0.0, 0.0, 0usize); bins];
    for (&c, &ok) in confidence.iter().zip(correct) {
        let b = ((c * bins as f64) as usize).min(bins - 1);
        acc[b].0 += c;
        acc[b].1 += if ok { 1.0 } else { 0.0 };
        acc[b].2 += 1;
    }
    let n = confidence.len().max(1) as f64;
    let mut ece = 0.0;
    let bins = acc
        .into_iter()
        .map(|(sc, sa, k)| {
            if k == 0 {
                return (0.0, 0.0, 0);
            }
            let (mc, ma) = (sc / k as f64, sa / k as f64);
            ece += k as f64 / n * (ma - mc).abs();
            (mc, ma, k)
        })
        .collect();
    Calibration { ece, bins }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(k: usize) -> Vec<String> {
        ["angry", "happy", "relaxed", "sad"][..k]
            .iter()
            .map(|s| s.to_string())
            .collect()
    }

    #[test]
    fn hand_computed_report() {
        // truth:     0 0 0 1 1 2
        // predicted: 0 0 1 1 0 1   (class 2 never predicted)
        let m = confusion(&[0, 0, 0, 1, 1, 2], &[0, 0, 1, 1, 0, 1], 3);
        assert_eq!(m, vec![vec![2, 1, 0], vec![1, 1, 0], vec![0, 1, 0]]);
        let r = Report::from_confusion(&names(3), m);
        assert_eq!(r.n, 6);
        assert!((r.accuracy - 0.5).abs() < 1e-12);
        let a = r.per_class["angry"];
        assert!((a.precision - 2.0 / 3.0).abs() < 1e-12 && (a.recall - 2.0 / 3.0).abs() < 1e-12);
        let h = r.per_class["happy"];
        assert!((h.precision - 1.0 / 3.0).abs() < 1e-12 && (h.recall - 0.5).abs() < 1e-12);
        assert!((h.f1 - 0.4).abs() < 1e-12);
        let x = r.per_class["relaxed"];
        assert_eq!((x.precision, x.recall, x.f1, x.support), (0.0, 0.0, 0.0, 1));
        assert!((r.macro_f1 - (2.0 / 3.0 + 0.4 + 0.0) / 3.0).abs() < 1e-12);
        let wf1 = (3.0 * 2.0 / 3.0 + 2.0 * 0.4) / 6.0;
        assert!((r.weighted_avg.f1 - wf1).abs() < 1e-12);
        let text = r.to_text();
        for s in [
            "precision",
            "relaxed",
            "macro avg",
            "weighted avg",
            "accuracy",
        ] {
            assert!(text.contains(s), "{text}");
        }
    }

    #[test]
    fn perfect_and_empty() {
        let r = Report::from_confusion(&names(2), confusion(&[0, 1, 1], &[0, 1, 1], 2));
        assert_eq!((r.accuracy, r.macro_f1), (1.0, 1.0));
        let r = Report::from_confusion(&names(2), confusion(&[], &[], 2));
        assert_eq!((r.n, r.accuracy, r.macro_f1), (0, 0.0, 0.0));
        assert!(!r.macro_f1.is_nan());
    }

    #[test]
    fn calibration_error_cases() {
        let c = calibration(&[0.9, 0.9, 0.9, 0.9], &[true, true, true, true], 10);
        assert!((c.ece - 0.1).abs() < 1e-9);
        let c = calibration(&[0.55, 0.55], &[true, false], 10);
        assert!((c.ece - 0.05).abs() < 1e-9);
        assert_eq!(c.bins[5].2, 2);
        assert_eq!(calibration(&[1.0], &[true], 10).bins[9].2, 1);
    }
}
