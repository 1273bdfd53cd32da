//! `ticketlens report`: how triage's predictions compare with what agents set. For a team in
//! shadow mode this is the evidence for switching it off; later it shows where agents correct
//! what was applied.

use std::collections::BTreeMap;

use serde::Serialize;

use crate::store::FieldOutcome;

/// Predictions of one field with one status, against the ticket's value now.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Agreement {
    /// Tickets triaged with this status.
    pub tickets: usize,
    /// Of those, tickets whose field is set now (by an agent, or by us when applied).
    pub set: usize,
    /// Of those, tickets whose value is the prediction.
    pub agree: usize,
}

impl Agreement {
    pub fn rate(&self) -> Option<f64> {
        (self.set > 0).then(|| self.agree as f64 / self.set as f64)
    }
}

/// Per field, per status (`applied`, `shadow`, `needs_review`, `kept`).
pub type Report = BTreeMap<&'static str, BTreeMap<String, Agreement>>;

pub fn summarise(outcomes: &[FieldOutcome]) -> Report {
    let mut report = Report::new();
    for o in outcomes {
        let a = report
            .entry(o.field)
            .or_default()
            .entry(o.status.clone())
            .or_default();
        a.tickets += 1;
        if let Some(now) = &o.now {
            a.set += 1;
            a.agree += usize::from(o.predicted.as_ref() == Some(now));
        }
    }
    report
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(status: &str, predicted: &str, now: Option<&str>) -> FieldOutcome {
        FieldOutcome {
            field: "category",
            predicted: Some(predicted.into()),
            status: status.into(),
            now: now.map(Into::into),
        }
    }

    #[test]
    fn counts_agreement_where_the_field_is_set() {
        let report = summarise(&[
            outcome("shadow", "network", Some("network")),
            outcome("shadow", "network", Some("printing")),
            outcome("shadow", "access", None),
            outcome("applied", "email", Some("email")),
        ]);
        let shadow = report["category"]["shadow"];
        assert_eq!((shadow.tickets, shadow.set, shadow.agree), (3, 2, 1));
        assert_eq!(shadow.rate(), Some(0.5));
        assert_eq!(report["category"]["applied"].rate(), Some(1.0));
    }
}
