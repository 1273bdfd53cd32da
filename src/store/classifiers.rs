//! The record of classifier versions.

use chrono::Utc;
use serde::Serialize;

use super::{stamp, Store, StoreError};

/// One trained version, as recorded.
#[derive(Debug, Clone, Serialize)]
pub struct ClassifierRecord {
    pub version: String,
    pub trained_on: usize,
    pub in_use: bool,
    pub figures: serde_json::Value,
    pub compared: Option<serde_json::Value>,
}

impl Store {
    /// Records a trained version; training the same history again updates its row.
    pub async fn record_classifier(&self, record: &ClassifierRecord) -> Result<(), StoreError> {
        let mut tx = self.pool().begin().await?;
        if record.in_use {
            sqlx::query(&self.sql("UPDATE classifier_versions SET in_use = 0 WHERE version <> ?"))
                .bind(&record.version)
                .execute(&mut *tx)
                .await?;
        }
        sqlx::query(&self.sql(
            "INSERT INTO classifier_versions (version, trained_at, trained_on, in_use, figures, \
             compared) VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (version) DO UPDATE SET \
             trained_at = excluded.trained_at, in_use = excluded.in_use, \
             figures = excluded.figures, compared = excluded.compared",
        ))
        .bind(&record.version)
        .bind(stamp(Utc::now()))
        .bind(record.trained_on as i64)
        .bind(i64::from(record.in_use))
        .bind(record.figures.to_string())
        .bind(record.compared.as_ref().map(|c| c.to_string()))
        .execute(&mut *tx)
        .await?;
        tx.commit().await?;
        Ok(())
    }

    /// Versions in the order they were trained, newest last.
    pub async fn classifier_versions(&self) -> Result<Vec<(String, bool)>, StoreError> {
        let rows: Vec<(String, i64)> = sqlx::query_as(
            "SELECT version, in_use FROM classifier_versions ORDER BY trained_at, version",
        )
        .fetch_all(self.pool())
        .await?;
        Ok(rows
            .into_iter()
            .map(|(v, in_use)| (v, in_use != 0))
            .collect())
    }

    /// The figures recorded with `version` (held-out figures and thresholds, per field).
    pub async fn classifier_figures(
        &self,
        version: &str,
    ) -> Result<Option<serde_json::Value>, StoreError> {
        let figures: Option<String> = sqlx::query_scalar(
            &self.sql("SELECT figures FROM classifier_versions WHERE version = ?"),
        )
        .bind(version)
        .fetch_optional(self.pool())
        .await?;
        Ok(figures.and_then(|f| serde_json::from_str(&f).ok()))
    }
}
