//! Embedding through the store's cache: a text is embedded once per (owner, text, model).

use sha2::{Digest, Sha256};

use super::PipelineError;
use crate::model::Embedder;
use crate::store::{OwnerKind, Store};

/// Requests sent to the model thread at once: large enough to fill its batches, small enough
/// that a progress bar moves.
const CHUNK: usize = 64;

pub fn text_hash(text: &str) -> String {
    hex::encode(Sha256::digest(text.as_bytes()))
}

/// Vectors for `items` (owner id, text), in order. Cache hits are read from the store; misses
/// are embedded and written back. `on_progress` is told how many items are done.
pub async fn embed_cached(
    store: &Store,
    embedder: &Embedder,
    kind: OwnerKind,
    items: &[(i64, String)],
    on_progress: impl Fn(u64),
) -> Result<Vec<Vec<f32>>, PipelineError> {
    let version = embedder.version();
    let keys: Vec<(i64, String)> = items
        .iter()
        .map(|(id, text)| (*id, text_hash(text)))
        .collect();
    let cached = store.cached_embeddings(kind, version, &keys).await?;
    let missing: Vec<usize> = (0..items.len()).filter(|&i| cached[i].is_none()).collect();
    on_progress((items.len() - missing.len()) as u64);

    let mut out: Vec<Option<Vec<f32>>> = cached;
    for chunk in missing.chunks(CHUNK) {
        let texts = chunk.iter().map(|&i| items[i].1.clone()).collect();
        let vectors = embedder.embed(texts).await?;
        let entries: Vec<(i64, String, &[f32])> = chunk
            .iter()
            .zip(&vectors)
            .map(|(&i, v)| (keys[i].0, keys[i].1.clone(), v.as_slice()))
            .collect();
        store.cache_embeddings(kind, version, &entries).await?;
        for (&i, vector) in chunk.iter().zip(vectors) {
            out[i] = Some(vector);
        }
        on_progress(chunk.len() as u64);
    }
    Ok(out
        .into_iter()
        .map(|v| v.expect("every item embedded"))
        .collect())
}
