//! ITIL priority from impact and urgency.

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
}

/// The urgencies ticketlens knows, most urgent first.
pub const URGENCIES: [&str; 4] = ["critical", "high", "medium", "low"];

/// The usual ITIL matrix: P1 (critical urgency, high impact) to P5. `None` for an urgency
/// outside [`URGENCIES`], so a team's own scale is never mapped by guesswork.
pub fn priority(impact: Impact, urgency: &str) -> Option<&'static str> {
    let u = URGENCIES
        .iter()
        .position(|&known| known == urgency.trim().to_ascii_lowercase())?;
    let i = match impact {
        Impact::High => 0,
        Impact::Medium => 1,
        Impact::Low => 2,
    };
    const NAMES: [&str; 5] = ["P1", "P2", "P3", "P4", "P5"];
    Some(NAMES[(u + i).min(4)])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn follows_the_itil_matrix() {
        assert_eq!(priority(Impact::High, "critical"), Some("P1"));
        assert_eq!(priority(Impact::Medium, "critical"), Some("P2"));
        assert_eq!(priority(Impact::Medium, "medium"), Some("P4"));
        assert_eq!(priority(Impact::High, "medium"), Some("P3"));
        assert_eq!(priority(Impact::Low, "low"), Some("P5"));
        assert_eq!(priority(Impact::Low, "medium"), Some("P5"));
        assert_eq!(priority(Impact::High, "whenever"), None);
    }
}
