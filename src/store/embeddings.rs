//! The embedding cache: a vector per (owner, model version), kept with the hash of the text
//! it was made from, so that a text is embedded once.
//!
//! Read and written a chunk of owners per statement: the pipeline reads a batch's vectors
//! twice (ahead of the batch, and as it starts) and writes them once, and a statement per
//! vector cost the database's worker thread (and the async thread waiting on each answer)
//! more than the vectors did, on a machine whose cores the model keeps busy.

use std::collections::HashMap;

use sqlx::Row;

use super::{id_list, last_of_each, value_rows, OwnerKind, Store, StoreError, MAX_BINDS};
use crate::vectors::Rows;

/// Owners read per statement: their ids are written into its text.
const READ_CHUNK: usize = 500;

/// Columns written per cached vector.
const COLUMNS: usize = 5;

impl Store {
    /// Copies the cached vector of each of `wanted` (owner, text hash) under `model_version`
    /// into its row of `rows`, where the text hash still matches; returns which were found.
    /// Written in place: a history of 100,000 tickets is 150 MB of vectors.
    pub async fn cached_embeddings(
        &self,
        kind: OwnerKind,
        model_version: &str,
        wanted: &[(i64, String)],
        rows: &mut Rows,
    ) -> Result<Vec<bool>, StoreError> {
        let mut found = vec![false; wanted.len()];
        let mut conn = self.pool.acquire().await?;
        for (c, chunk) in wanted.chunks(READ_CHUNK).enumerate() {
            let ids: Vec<i64> = chunk.iter().map(|&(id, _)| id).collect();
            let sql = format!(
                "SELECT owner_id, text_hash, vector FROM embeddings WHERE owner_kind = ? \
                 AND model_version = ? AND owner_id IN ({})",
                id_list(&ids)
            );
            // Its ids are in its text: not worth a place in the prepared statements' cache.
            let cached = sqlx::query(&self.sql(&sql))
                .persistent(false)
                .bind(kind.as_str())
                .bind(model_version)
                .fetch_all(&mut *conn)
                .await?;
            let mut by_owner = HashMap::with_capacity(cached.len());
            for row in &cached {
                let (id, hash, blob): (i64, String, Vec<u8>) =
                    (row.try_get(0)?, row.try_get(1)?, row.try_get(2)?);
                by_owner.insert(id, (hash, blob));
            }
            for (i, (id, text_hash)) in chunk.iter().enumerate() {
                let i = c * READ_CHUNK + i;
                let row = rows.row_mut(i);
                // A vector of another length is not this model's: embedded again.
                let usable = by_owner
                    .get(id)
                    .filter(|(hash, blob)| hash == text_hash && blob.len() == row.len() * 4);
                if let Some((_, blob)) = usable {
                    decode_into(blob, row);
                    found[i] = true;
                }
            }
        }
        Ok(found)
    }

    /// Caches `entries` (owner, text hash, vector) under `model_version`, in one transaction;
    /// an owner given twice keeps its last.
    pub async fn cache_embeddings(
        &self,
        kind: OwnerKind,
        model_version: &str,
        entries: &[(i64, String, &[f32])],
    ) -> Result<(), StoreError> {
        // PostgreSQL refuses to update a row twice in one statement.
        let kept = last_of_each(entries.iter().collect(), |entry| entry.0);
        let mut tx = self.pool.begin().await?;
        for chunk in kept.chunks(MAX_BINDS / COLUMNS) {
            let values = value_rows(COLUMNS, chunk.len());
            let sql = format!(
                "INSERT INTO embeddings (owner_kind, owner_id, model_version, text_hash, vector) \
                 VALUES {values} ON CONFLICT (owner_kind, owner_id, model_version) \
                 DO UPDATE SET text_hash = excluded.text_hash, vector = excluded.vector"
            );
            let sql = self.sql(&sql);
            let mut query = sqlx::query(&sql);
            for (owner_id, text_hash, vector) in chunk {
                query = query
                    .bind(kind.as_str())
                    .bind(*owner_id)
                    .bind(model_version)
                    .bind(text_hash.as_str())
                    .bind(encode_vector(vector));
            }
            query.execute(&mut *tx).await?;
        }
        tx.commit().await?;
        Ok(())
    }
}

pub(crate) fn encode_vector(vector: &[f32]) -> Vec<u8> {
    vector.iter().flat_map(|x| x.to_le_bytes()).collect()
}

pub(crate) fn decode_vector(bytes: &[u8]) -> Vec<f32> {
    let mut out = vec![0.0; bytes.len() / 4];
    decode_into(bytes, &mut out);
    out
}

fn decode_into(bytes: &[u8], out: &mut [f32]) {
    for (x, b) in out.iter_mut().zip(bytes.chunks_exact(4)) {
        *x = f32::from_le_bytes([b[0], b[1], b[2], b[3]]);
    }
}
