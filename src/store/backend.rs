//! The two databases the native schema runs on, and the little that differs between them.
//!
//! Every query is written once, in the SQL both accept, with `?` placeholders; PostgreSQL gets
//! them numbered (`$1`, `$2`, …). Timestamps are stored as RFC 3339 text in UTC on both (the
//! format sqlx has always written to SQLite), which sorts as time does, so a store moved from
//! one to the other keeps its meaning. Rows are read through sqlx's `Any` driver: the helpers
//! below decode what it does not (floats stored as doubles, 0/1 flags, timestamps).

use std::borrow::Cow;

use chrono::{DateTime, NaiveDateTime, SecondsFormat, Utc};
use sqlx::any::AnyRow;
use sqlx::Row;

use super::StoreError;

/// Which database a store URL names.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

impl Backend {
    /// From the URL's scheme; `None` for a scheme the native schema does not run on.
    pub fn of(url: &str) -> Option<Self> {
        let scheme = url.split(':').next().unwrap_or_default();
        match scheme {
            "sqlite" => Some(Backend::Sqlite),
            "postgres" | "postgresql" => Some(Backend::Postgres),
            _ => None,
        }
    }

    /// `sql` with its placeholders in this database's syntax: `?` and `?N` as they are for
    /// SQLite, `$N` for PostgreSQL. Question marks inside quoted literals are left alone.
    pub fn sql<'a>(&self, sql: &'a str) -> Cow<'a, str> {
        if *self == Backend::Sqlite || !sql.contains('?') {
            return Cow::Borrowed(sql);
        }
        let mut out = String::with_capacity(sql.len() + 8);
        let mut next = 0;
        let mut quoted = false;
        let mut chars = sql.chars().peekable();
        while let Some(c) = chars.next() {
            match c {
                '\'' => {
                    quoted = !quoted;
                    out.push(c);
                }
                '?' if !quoted => {
                    let mut digits = String::new();
                    while let Some(d) = chars.peek().filter(|d| d.is_ascii_digit()) {
                        digits.push(*d);
                        chars.next();
                    }
                    if digits.is_empty() {
                        next += 1;
                        digits = next.to_string();
                    }
                    out.push('$');
                    out.push_str(&digits);
                }
                _ => out.push(c),
            }
        }
        Cow::Owned(out)
    }

    /// An expression giving a text column's value as bytes (SQLite may hold text that is not
    /// valid UTF-8; PostgreSQL's text always is).
    pub fn text_as_bytes(&self, column: &str) -> String {
        match self {
            Backend::Sqlite => format!("CAST({column} AS BLOB)"),
            Backend::Postgres => format!("convert_to({column}, 'UTF8')"),
        }
    }
}

/// SQL for the number of rows where `condition` holds, a BIGINT on both databases (SQLite
/// sums booleans, PostgreSQL does not; PostgreSQL's SUM of a BIGINT is a NUMERIC).
pub(crate) fn count_where(condition: &str) -> String {
    format!("CAST(COALESCE(SUM(CASE WHEN {condition} THEN 1 ELSE 0 END), 0) AS BIGINT)")
}

/// A database URL without its password, for messages and logs.
pub fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(scheme), Some(at)) if at > scheme => {
            let credentials = &url[scheme + 3..at];
            let user = credentials.split(':').next().unwrap_or_default();
            format!("{}{user}@{}", &url[..scheme + 3], &url[at + 1..])
        }
        _ => url.to_owned(),
    }
}

/// A timestamp as the store keeps it.
pub(crate) fn stamp(at: DateTime<Utc>) -> String {
    at.to_rfc3339_opts(SecondsFormat::AutoSi, false)
}

/// Reads a stored timestamp: RFC 3339, or SQLite's own `YYYY-MM-DD HH:MM:SS[.fff]` (UTC) that a
/// person or another tool may have written, or a bare date (its midnight, UTC).
pub(crate) fn parse_stamp(text: &str) -> Result<DateTime<Utc>, StoreError> {
    let text = text.trim();
    DateTime::parse_from_rfc3339(text)
        .map(|t| t.with_timezone(&Utc))
        .or_else(|_| {
            NaiveDateTime::parse_from_str(text, "%Y-%m-%d %H:%M:%S%.f").map(|t| t.and_utc())
        })
        .or_else(|_| {
            chrono::NaiveDate::parse_from_str(text, "%Y-%m-%d")
                .map(|d| d.and_time(chrono::NaiveTime::MIN).and_utc())
        })
        .map_err(|_| StoreError::BadTimestamp(text.to_owned()))
}

/// Bytes as text, invalid UTF-8 replaced (without a copy when there is none).
pub(crate) fn lossy_text(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_else(|e| String::from_utf8_lossy(e.as_bytes()).into_owned())
}

/// Decoding help for the `Any` driver's rows.
pub(crate) trait RowExt {
    /// A REAL / DOUBLE PRECISION column as `f32` (both databases hand back doubles).
    fn float(&self, column: &str) -> Result<f32, sqlx::Error>;
    fn float_opt(&self, column: &str) -> Result<Option<f32>, sqlx::Error>;
    /// A 0/1 integer column.
    fn flag(&self, column: &str) -> Result<bool, sqlx::Error>;
    /// A text column selected as bytes ([`Backend::text_as_bytes`]), invalid UTF-8 replaced:
    /// what a person reads must not fail on a stray byte another tool wrote.
    fn lossy(&self, column: &str) -> Result<String, sqlx::Error>;
}

impl RowExt for AnyRow {
    fn float(&self, column: &str) -> Result<f32, sqlx::Error> {
        Ok(self.try_get::<f64, _>(column)? as f32)
    }

    fn float_opt(&self, column: &str) -> Result<Option<f32>, sqlx::Error> {
        Ok(self.try_get::<Option<f64>, _>(column)?.map(|x| x as f32))
    }

    fn flag(&self, column: &str) -> Result<bool, sqlx::Error> {
        Ok(self.try_get::<i64, _>(column)? != 0)
    }

    fn lossy(&self, column: &str) -> Result<String, sqlx::Error> {
        let bytes = self
            .try_get::<Option<Vec<u8>>, _>(column)?
            .unwrap_or_default();
        Ok(lossy_text(bytes))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn postgres_gets_numbered_placeholders() {
        let pg = Backend::Postgres;
        assert_eq!(
            pg.sql("SELECT a FROM t WHERE b = ? AND c = ?"),
            "SELECT a FROM t WHERE b = $1 AND c = $2"
        );
        assert_eq!(
            pg.sql("SELECT ?1, ?2 WHERE x = ?1"),
            "SELECT $1, $2 WHERE x = $1"
        );
        assert_eq!(pg.sql("SELECT '?' , ?"), "SELECT '?' , $1");
        assert_eq!(Backend::Sqlite.sql("SELECT ?"), "SELECT ?");
    }

    #[test]
    fn schemes_pick_the_backend() {
        assert_eq!(Backend::of("sqlite://x.db"), Some(Backend::Sqlite));
        assert_eq!(Backend::of("sqlite::memory:"), Some(Backend::Sqlite));
        assert_eq!(Backend::of("postgres://h/db"), Some(Backend::Postgres));
        assert_eq!(Backend::of("postgresql://h/db"), Some(Backend::Postgres));
        assert_eq!(Backend::of("mysql://h/db"), None);
    }

    #[test]
    fn passwords_stay_out_of_messages() {
        assert_eq!(
            redact("mysql://glpi:s3cret@db/glpi"),
            "mysql://glpi@db/glpi"
        );
        assert_eq!(redact("postgres://u:p@w@h/db"), "postgres://u@h/db");
        assert_eq!(redact("sqlite://t.db"), "sqlite://t.db");
    }

    #[test]
    fn stamps_read_back_and_sort_as_time() {
        let a: DateTime<Utc> = "2026-03-01T09:00:00Z".parse().unwrap();
        let b = a + chrono::Duration::milliseconds(250);
        assert_eq!(parse_stamp(&stamp(a)).unwrap(), a);
        assert_eq!(parse_stamp(&stamp(b)).unwrap(), b);
        assert!(stamp(a) < stamp(b));
        assert_eq!(parse_stamp("2026-03-01 09:00:00").unwrap(), a);
        assert_eq!(
            parse_stamp("2026-03-01").unwrap(),
            a - chrono::Duration::hours(9)
        );
        assert!(parse_stamp("yesterday").is_err());
        assert!(parse_stamp("").is_err());
    }
}
