//! What end users were shown before filing, and whether it helped: the deflection figures.

use std::fmt;
use std::str::FromStr;

use chrono::Utc;
use serde::{Deserialize, Deserializer, Serialize, Serializer};
use sha2::{Digest, Sha256};

use super::backend::count_where;
use super::{stamp, Store, StoreError};

/// The reference to one before-filing answer, held only by the person who asked: 128 bits from
/// the operating system's random source, written as 32 hex digits. Refining the question and
/// saying whether the answer helped both need it, so nobody can touch another person's answer
/// by counting through ids. The store keeps only its SHA-256.
#[derive(Clone, Copy, PartialEq, Eq)]
pub struct AnswerToken([u8; 16]);

/// Text that is not an answer token (a sequential id, for one, never is).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("an answer token is the 32 hexadecimal digits the answer came with")]
pub struct NotAnAnswerToken;

impl AnswerToken {
    fn random() -> Self {
        let mut bytes = [0; 16];
        // Linux's getrandom fails only before the kernel's pool is seeded at boot, long before
        // a service takes questions; there is no weaker source worth falling back to.
        getrandom::fill(&mut bytes).expect("the operating system's random source answers");
        Self(bytes)
    }

    /// What the store keeps and looks up: the table alone lets no one act for the asker, and
    /// an index lookup's timing tells nothing about the token itself.
    fn digest(&self) -> String {
        hex::encode(Sha256::digest(self.0))
    }
}

impl fmt::Display for AnswerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&hex::encode(self.0))
    }
}

impl fmt::Debug for AnswerToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "AnswerToken({self})")
    }
}

impl FromStr for AnswerToken {
    type Err = NotAnAnswerToken;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        let mut bytes = [0; 16];
        hex::decode_to_slice(text, &mut bytes).map_err(|_| NotAnAnswerToken)?;
        Ok(Self(bytes))
    }
}

impl Serialize for AnswerToken {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for AnswerToken {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = String::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// Before-filing answers over a period, for `ticketlens report`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Deflection {
    /// Questions asked.
    pub asked: i64,
    /// Of those, answered with at least one article or known issue.
    pub answered: i64,
    /// Of those, answered with a known issue (an announced problem).
    pub known_issue: i64,
    /// Answers the person said helped or not (with or without articles).
    pub rated: i64,
    /// Of those, it helped: a ticket that was probably never filed.
    pub helped: i64,
}

impl Deflection {
    /// Share of the rated answers that helped.
    pub fn rate(&self) -> Option<f64> {
        (self.rated > 0).then(|| self.helped as f64 / self.rated as f64)
    }
}

impl Store {
    /// Records that a question of `query_chars` characters was answered with `shown` article
    /// ids and the announced problems `known_issues`; returns the answer's token, which refining and feedback need. `refines`: the token
    /// of the answer this question rewords (the same person still typing), replaced rather
    /// than counted twice unless it already has feedback; a token no answer holds records a
    /// new answer and touches no other.
    pub async fn record_public_answer(
        &self,
        query_chars: usize,
        shown: &[i64],
        known_issues: &[i64],
        refines: Option<AnswerToken>,
    ) -> Result<AnswerToken, StoreError> {
        let shown = serde_json::to_string(shown).expect("ids serialise");
        let known_issues = serde_json::to_string(known_issues).expect("ids serialise");
        if let Some(token) = refines {
            let replaced = sqlx::query(&self.sql(
                "UPDATE public_answers SET asked_at = ?, query_chars = ?, shown = ?, \
                 known_issues = ? WHERE token_digest = ? AND helped IS NULL",
            ))
            .bind(stamp(Utc::now()))
            .bind(query_chars as i64)
            .bind(&shown)
            .bind(&known_issues)
            .bind(token.digest())
            .execute(self.pool())
            .await?;
            if replaced.rows_affected() > 0 {
                return Ok(token);
            }
        }
        let token = AnswerToken::random();
        sqlx::query(&self.sql(
            "INSERT INTO public_answers (asked_at, query_chars, shown, known_issues, token_digest) \
             VALUES (?, ?, ?, ?, ?)",
        ))
        .bind(stamp(Utc::now()))
        .bind(query_chars as i64)
        .bind(shown)
        .bind(known_issues)
        .bind(token.digest())
        .execute(self.pool())
        .await?;
        Ok(token)
    }

    /// Records whether the answer holding `token` helped; the last word counts. `false`: no
    /// answer holds that token.
    pub async fn record_feedback(
        &self,
        token: AnswerToken,
        helped: bool,
    ) -> Result<bool, StoreError> {
        let done =
            sqlx::query(&self.sql(
                "UPDATE public_answers SET helped = ?, answered_at = ? WHERE token_digest = ?",
            ))
            .bind(i64::from(helped))
            .bind(stamp(Utc::now()))
            .bind(token.digest())
            .execute(self.pool())
            .await?;
        Ok(done.rows_affected() > 0)
    }

    pub async fn deflection(&self) -> Result<Deflection, StoreError> {
        let sql = format!(
            "SELECT COUNT(*), {}, {}, COUNT(helped), {} FROM public_answers",
            count_where("shown <> '[]' OR known_issues <> '[]'"),
            count_where("known_issues <> '[]'"),
            count_where("helped = 1"),
        );
        let (asked, answered, known_issue, rated, helped): (i64, i64, i64, i64, i64) =
            sqlx::query_as(&sql).fetch_one(self.pool()).await?;
        Ok(Deflection {
            asked,
            answered,
            known_issue,
            rated,
            helped,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_read_back_as_written() {
        let (a, b) = (AnswerToken::random(), AnswerToken::random());
        assert_ne!(a, b);
        let text = a.to_string();
        assert_eq!(text.len(), 32);
        assert_eq!(text.parse(), Ok(a));
        assert_eq!(text.to_uppercase().parse(), Ok(a));
        assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{text}\""));
        assert_eq!(a.digest().len(), 64);
        assert_ne!(a.digest(), b.digest());
    }

    #[test]
    fn ids_and_garbage_are_not_tokens() {
        for text in [
            "1",
            "42",
            "",
            &"0".repeat(31),
            &"0".repeat(33),
            &"g".repeat(32),
        ] {
            assert_eq!(
                text.parse::<AnswerToken>(),
                Err(NotAnAnswerToken),
                "{text:?}"
            );
        }
        assert!(serde_json::from_str::<AnswerToken>("7").is_err());
    }
}
