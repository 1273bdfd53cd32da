//! Cold start: before the history has labels, a ticket gets the label whose description (from
//! the pipeline file) its embedding is most similar to. Nothing measured these confidences, so
//! they are suggestions for a person, never applied.

use super::{Basis, Prediction};
use crate::vectors::dot;

/// Embedded label descriptions, per field.
#[derive(Debug, Clone, Default)]
pub struct ZeroShot {
    pub category: Vec<(String, Vec<f32>)>,
    pub urgency: Vec<(String, Vec<f32>)>,
}

/// Cosine similarities are close together; this spreads them into a readable share.
const SHARPNESS: f32 = 20.0;

impl ZeroShot {
    pub fn classify(&self, vector: &[f32]) -> (Option<Prediction>, Option<Prediction>) {
        (
            nearest(&self.category, vector),
            nearest(&self.urgency, vector),
        )
    }
}

fn nearest(labels: &[(String, Vec<f32>)], vector: &[f32]) -> Option<Prediction> {
    let scores: Vec<f32> = labels
        .iter()
        .map(|(_, v)| dot(v, vector) * SHARPNESS)
        .collect();
    let p = super::calibrate::softmax(&scores, 1.0);
    let best = (0..labels.len()).max_by(|&a, &b| p[a].total_cmp(&p[b]))?;
    Some(Prediction::new(
        labels[best].0.clone(),
        p[best],
        None,
        Basis::NoModel,
        Vec::new(),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_most_similar_description_wins_and_is_never_applied() {
        let zero = ZeroShot {
            category: vec![
                ("network".into(), vec![1.0, 0.0]),
                ("printing".into(), vec![0.0, 1.0]),
            ],
            urgency: Vec::new(),
        };
        let (category, urgency) = zero.classify(&[0.8, 0.6]);
        let category = category.unwrap();
        assert_eq!(category.label, "network");
        assert!(!category.confident());
        assert!(urgency.is_none());
    }
}
