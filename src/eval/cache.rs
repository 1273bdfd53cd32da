//! A disk cache of embeddings keyed by model version and text hash, shared by every
//! evaluation run, so that a data set is embedded once however often it is evaluated.

use std::path::Path;
use std::str::FromStr;

use sqlx::sqlite::{SqliteConnectOptions, SqlitePool};

use crate::store::{decode_vector, encode_vector};

pub struct DiskCache {
    pool: SqlitePool,
}

impl DiskCache {
    pub async fn open(path: &Path) -> Result<Self, sqlx::Error> {
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent)?;
        }
        let options = SqliteConnectOptions::from_str(&format!("sqlite://{}", path.display()))?
            .create_if_missing(true);
        let pool = SqlitePool::connect_with(options).await?;
        sqlx::query(
            "CREATE TABLE IF NOT EXISTS vectors (model_version TEXT NOT NULL, \
             text_hash TEXT NOT NULL, vector BLOB NOT NULL, PRIMARY KEY (model_version, text_hash))",
        )
        .execute(&pool)
        .await?;
        Ok(Self { pool })
    }

    pub async fn get(
        &self,
        model_version: &str,
        hash: &str,
    ) -> Result<Option<Vec<f32>>, sqlx::Error> {
        let blob: Option<Vec<u8>> = sqlx::query_scalar(
            "SELECT vector FROM vectors WHERE model_version = ? AND text_hash = ?",
        )
        .bind(model_version)
        .bind(hash)
        .fetch_optional(&self.pool)
        .await?;
        Ok(blob.map(|b| decode_vector(&b)))
    }

    pub async fn put(
        &self,
        model_version: &str,
        entries: &[(&str, &[f32])],
    ) -> Result<(), sqlx::Error> {
        let mut tx = self.pool.begin().await?;
        for (hash, vector) in entries {
            sqlx::query("INSERT OR REPLACE INTO vectors (model_version, text_hash, vector) VALUES (?, ?, ?)")
                .bind(model_version)
                .bind(hash)
                .bind(encode_vector(vector))
                .execute(&mut *tx)
                .await?;
        }
        tx.commit().await
    }
}
