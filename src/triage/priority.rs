//! ITIL priority from impact and urgency, through the team's matrix.

use std::collections::BTreeMap;

use serde::Deserialize;

/// How widely an issue is felt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impact {
    High,
    Medium,
    Low,
}

impl Impact {
    pub fn parse(text: &str) -> Option<Self> {
        match text.trim().to_ascii_lowercase().as_str() {
            "high" => Some(Impact::High),
            "medium" => Some(Impact::Medium),
            "low" => Some(Impact::Low),
            _ => None,
        }
    }

    fn column(self) -> usize {
        match self {
            Impact::High => 0,
            Impact::Medium => 1,
            Impact::Low => 2,
        }
    }
}

/// For each urgency the team uses, the priority at high, medium and low impact. An urgency
/// missing from the matrix gets no priority: a team's own scale is never mapped by guesswork.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct PriorityMatrix(BTreeMap<String, [String; 3]>);

impl Default for PriorityMatrix {
    /// The usual ITIL matrix: P1 (critical urgency, high impact) to P5.
    fn default() -> Self {
        let rows = [
            ("critical", ["P1", "P2", "P3"]),
            ("high", ["P2", "P3", "P4"]),
            ("medium", ["P3", "P4", "P5"]),
            ("low", ["P4", "P5", "P5"]),
        ];
        Self(
            rows.into_iter()
                .map(|(u, p)| (u.to_owned(), p.map(str::to_owned)))
                .collect(),
        )
    }
}

impl PriorityMatrix {
    pub fn of(&self, impact: Impact, urgency: &str) -> Option<String> {
        let row = self.0.get(&urgency.trim().to_ascii_lowercase())?;
        Some(row[impact.column()].clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_itil_matrix() {
        let m = PriorityMatrix::default();
        assert_eq!(m.of(Impact::High, "critical").as_deref(), Some("P1"));
        assert_eq!(m.of(Impact::Medium, "Critical").as_deref(), Some("P2"));
        assert_eq!(m.of(Impact::Medium, "medium").as_deref(), Some("P4"));
        assert_eq!(m.of(Impact::High, "medium").as_deref(), Some("P3"));
        assert_eq!(m.of(Impact::Low, "low").as_deref(), Some("P5"));
        assert_eq!(m.of(Impact::High, "whenever"), None);
    }

    #[test]
    fn a_team_can_bring_its_own_scale() {
        let m: PriorityMatrix =
            toml::from_str("0 = ['P1', 'P1', 'P2']\n2 = ['P3', 'P4', 'P4']").unwrap();
        assert_eq!(m.of(Impact::Medium, "0").as_deref(), Some("P1"));
        assert_eq!(m.of(Impact::Low, "2").as_deref(), Some("P4"));
        assert_eq!(m.of(Impact::Low, "1"), None);
    }
}
