//! How a candidate problem moves in time: incidents per day over the clustering window, and a
//! trend that compares the last days with the candidate's own earlier rate.

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

/// The last this many days are "recent" for the trend.
const RECENT_DAYS: usize = 2;
/// Added to both rates, so that one or two incidents do not make a spike out of nothing.
const SMOOTHING: f32 = 0.5;

/// Incidents per day from `start`, one count a day up to the window's last day.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Activity {
    pub start: NaiveDate,
    pub per_day: Vec<u32>,
}

impl Activity {
    /// The daily counts of `times` over the days from `first` to `last` (the window's).
    pub fn of(times: &[DateTime<Utc>], first: NaiveDate, last: NaiveDate) -> Self {
        let days = (last - first).num_days().max(0) as usize + 1;
        let mut per_day = vec![0; days];
        for t in times {
            let day = (t.date_naive() - first).num_days();
            if let Some(count) = usize::try_from(day).ok().and_then(|d| per_day.get_mut(d)) {
                *count += 1;
            }
        }
        Self {
            start: first,
            per_day,
        }
    }

    /// Both together, day by day (the same window).
    pub fn add(&mut self, other: &Activity) {
        if other.start == self.start && other.per_day.len() == self.per_day.len() {
            self.per_day
                .iter_mut()
                .zip(&other.per_day)
                .for_each(|(a, b)| *a += b);
        }
    }

    /// The recent daily rate over the earlier one (smoothed): about 1 for a steady pattern,
    /// above 1 when it is rising, below when it is dying out.
    pub fn trend(&self) -> f32 {
        let split = self.per_day.len().saturating_sub(RECENT_DAYS);
        let (earlier, recent) = self.per_day.split_at(split);
        let rate = |days: &[u32]| {
            if days.is_empty() {
                0.0
            } else {
                days.iter().sum::<u32>() as f32 / days.len() as f32
            }
        };
        (rate(recent) + SMOOTHING) / (rate(earlier) + SMOOTHING)
    }
}

/// At or above this trend a problem is rising.
const RISING: f32 = 1.5;
/// At or below this it is falling; at or below [`DYING`] it is dying out.
const FALLING: f32 = 0.67;
/// Recent days at a third of the earlier rate or less: the pattern is ending.
const DYING: f32 = 0.34;

/// A trend as a person reads it, the same on the pages and in the terminal: "rising: 3× the
/// earlier rate", "steady", "falling: 0.6× the earlier rate", "dying out". Between the
/// bounds the rate is left unsaid: a day's more or less is not news.
pub fn describe_trend(trend: f32) -> String {
    let times = |t: f32| {
        let rounded = (t * 10.0).round() / 10.0;
        if rounded.fract() == 0.0 {
            format!("{rounded:.0}×")
        } else {
            format!("{rounded:.1}×")
        }
    };
    match trend {
        t if t >= RISING => format!("rising: {} the earlier rate", times(t)),
        t if t <= DYING => "dying out".into(),
        t if t <= FALLING => format!("falling: {} the earlier rate", times(t)),
        _ => "steady".into(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn trends_in_words() {
        assert_eq!(describe_trend(3.0), "rising: 3× the earlier rate");
        assert_eq!(describe_trend(1.54), "rising: 1.5× the earlier rate");
        assert_eq!(describe_trend(1.2), "steady");
        assert_eq!(describe_trend(0.6), "falling: 0.6× the earlier rate");
        assert_eq!(describe_trend(0.3), "dying out");
    }

    fn at(day: u32) -> DateTime<Utc> {
        format!("2026-11-{day:02}T10:00:00Z").parse().unwrap()
    }

    #[test]
    fn counts_per_day_and_a_rising_pattern_trends_up() {
        let (first, last) = (at(1).date_naive(), at(14).date_naive());
        let steady: Vec<_> = (1..=14).map(at).collect();
        let a = Activity::of(&steady, first, last);
        assert_eq!(a.per_day, vec![1; 14]);
        assert!((a.trend() - 1.0).abs() < 1e-6);

        let rising = [at(3), at(13), at(13), at(14), at(14), at(14)];
        let r = Activity::of(&rising, first, last);
        assert_eq!(r.per_day.iter().sum::<u32>(), 6);
        assert_eq!(&r.per_day[12..], &[2, 3]);
        assert!(r.trend() > 3.0, "{}", r.trend());

        let dying = [at(1), at(2), at(3), at(4)];
        assert!(Activity::of(&dying, first, last).trend() < 1.0);

        let mut both = a.clone();
        both.add(&r);
        assert_eq!(both.per_day[13], 4);
    }
}
