//! GLPI's priority by urgency and impact, and the urgencies an administrator enabled, as its
//! configuration holds them.

use std::collections::HashMap;

use sqlx::MySqlPool;

use super::values::{self, Level};
use super::GlpiError;

#[derive(Debug, Clone, Copy)]
pub(super) struct Levels {
    pub urgency: i64,
    pub impact: i64,
    pub priority: i64,
}

/// GLPI's priority by urgency and impact, from its configuration (`priority_matrix`, JSON
/// keyed by urgency then impact; GLPI's form saves the values as strings), or its default;
/// and the urgencies the administrator enabled (`urgency_mask`, bit `1 << level`).
pub(super) struct PriorityMatrix {
    levels: HashMap<(i64, i64), i64>,
    urgency_mask: i64,
}

impl PriorityMatrix {
    pub(super) fn priority(&self, urgency: Level, impact: Level) -> Level {
        self.levels
            .get(&(urgency.number(), impact.number()))
            .and_then(|&p| Level::from_number(p))
            .unwrap_or_else(|| values::default_priority(urgency, impact))
    }

    pub(super) fn urgency_enabled(&self, urgency: Level) -> bool {
        self.urgency_mask & (1 << urgency.number()) != 0
    }

    /// From the stored JSON; `None` if it is not a matrix.
    fn parse(json: &str) -> Option<HashMap<(i64, i64), i64>> {
        let number = |v: &serde_json::Value| {
            v.as_i64()
                .or_else(|| v.as_str().and_then(|s| s.trim().parse().ok()))
        };
        let value: serde_json::Value = serde_json::from_str(json).ok()?;
        let mut levels = HashMap::new();
        for (urgency, row) in value.as_object()? {
            for (impact, priority) in row.as_object()? {
                let key = (urgency.parse().ok()?, impact.parse().ok()?);
                levels.insert(key, number(priority)?);
            }
        }
        Some(levels)
    }
}

pub(super) async fn priority_matrix(pool: &MySqlPool) -> Result<PriorityMatrix, GlpiError> {
    let config: Vec<(Option<String>, Option<String>)> = sqlx::query_as(
        "SELECT name, value FROM glpi_configs WHERE context = 'core' \
         AND name IN ('priority_matrix', 'urgency_mask')",
    )
    .fetch_all(pool)
    .await?;
    let mut matrix = PriorityMatrix {
        levels: HashMap::new(),
        // GLPI's default: urgencies 1 to 5 enabled.
        urgency_mask: 62,
    };
    for (name, value) in config {
        let value = value.unwrap_or_default();
        match name.as_deref() {
            Some("priority_matrix") => match PriorityMatrix::parse(&value) {
                Some(levels) => matrix.levels = levels,
                None => tracing::warn!(
                    "GLPI's priority_matrix is not a matrix; using GLPI's default one"
                ),
            },
            Some("urgency_mask") => {
                if let Ok(mask) = value.trim().parse() {
                    matrix.urgency_mask = mask;
                }
            }
            _ => {}
        }
    }
    Ok(matrix)
}

#[cfg(test)]
mod tests {
    use super::PriorityMatrix;

    #[test]
    fn the_matrix_reads_as_glpi_saves_it_with_numbers_or_strings() {
        let numbers = PriorityMatrix::parse(r#"{"4":{"3":4,"5":5}}"#).unwrap();
        let strings = PriorityMatrix::parse(r#"{"4":{"3":"4","5":"5"}}"#).unwrap();
        assert_eq!(numbers, strings);
        assert_eq!(numbers[&(4, 3)], 4);
        assert!(PriorityMatrix::parse("[1, 2]").is_none());
        assert!(PriorityMatrix::parse(r#"{"4":{"3":"high"}}"#).is_none());
    }
}
