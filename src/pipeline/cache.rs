//! Embedding through the store's cache: a text is embedded once per (owner, text, model).

use std::collections::VecDeque;

use sha2::{Digest, Sha256};
use tokio::task::JoinHandle;

use super::PipelineError;
use crate::model::{EmbedError, Embedder};
use crate::store::{OwnerKind, Store};
use crate::vectors::Rows;

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
) -> Result<Rows, PipelineError> {
    let version = embedder.version();
    let Cached {
        keys,
        mut rows,
        missing,
        ..
    } = Cached::read(store, embedder, kind, items).await?;
    on_progress((items.len() - missing.len()) as u64);

    for chunk in missing.chunks(CHUNK) {
        let texts = chunk.iter().map(|&i| items[i].1.clone()).collect();
        let vectors = embedder.embed(texts).await?;
        assert_eq!(vectors.len(), chunk.len(), "one vector per text");
        let entries: Vec<(i64, String, &[f32])> = chunk
            .iter()
            .zip(&vectors)
            .map(|(&i, v)| (keys[i].0, keys[i].1.clone(), v.as_slice()))
            .collect();
        store.cache_embeddings(kind, version, &entries).await?;
        for (&i, vector) in chunk.iter().zip(&vectors) {
            rows.row_mut(i).copy_from_slice(vector);
        }
        on_progress(chunk.len() as u64);
    }
    Ok(rows)
}

/// What the store's cache holds of some items.
struct Cached {
    /// (owner id, text hash) of each item.
    keys: Vec<(i64, String)>,
    /// The cached vectors; zeros where there is none.
    rows: Rows,
    found: Vec<bool>,
    /// The items without a cached vector, in order.
    missing: Vec<usize>,
}

impl Cached {
    async fn read(
        store: &Store,
        embedder: &Embedder,
        kind: OwnerKind,
        items: &[(i64, String)],
    ) -> Result<Self, PipelineError> {
        let keys: Vec<(i64, String)> = items
            .iter()
            .map(|(id, text)| (*id, text_hash(text)))
            .collect();
        let mut rows = Rows::zeros(items.len(), embedder.dimension());
        let found = store
            .cached_embeddings(kind, embedder.version(), &keys, &mut rows)
            .await?;
        let missing = (0..items.len()).filter(|&i| !found[i]).collect();
        Ok(Self {
            keys,
            rows,
            found,
            missing,
        })
    }
}

/// Tickets per request while a batch is embedded ahead: small, so that the model starts on
/// the next few tickets while the current few are triaged and written.
const AHEAD: usize = 8;

type Pending = (Vec<usize>, JoinHandle<Result<Vec<Vec<f32>>, EmbedError>>);

/// The vectors of a batch's texts, handed out in order: cached ones at once, the others
/// embedded a few requests ahead, so that the model works on the next tickets while the
/// caller triages and writes the current ones (the two would otherwise take turns, one core
/// idle). What was embedded is cached by [`Ahead::finish`], once the batch's transaction is
/// over (SQLite has one writer).
pub(super) struct Ahead {
    embedder: Embedder,
    kind: OwnerKind,
    items: Vec<(i64, String)>,
    rows: Rows,
    ready: Vec<bool>,
    /// Missing items not yet sent to the model, in chunks, and the chunk on its way.
    waiting: VecDeque<Vec<usize>>,
    pending: Option<Pending>,
    embedded: Vec<usize>,
    next: usize,
}

impl Ahead {
    /// Reads the cache for `items` (owner id, text) and sends the first misses to the model.
    pub async fn start(
        store: &Store,
        embedder: &Embedder,
        kind: OwnerKind,
        items: Vec<(i64, String)>,
    ) -> Result<Self, PipelineError> {
        let Cached {
            rows,
            found: ready,
            missing,
            ..
        } = Cached::read(store, embedder, kind, &items).await?;
        let mut ahead = Self {
            embedder: embedder.clone(),
            kind,
            items,
            rows,
            ready,
            waiting: missing.chunks(AHEAD).map(<[usize]>::to_vec).collect(),
            pending: None,
            embedded: Vec::new(),
            next: 0,
        };
        ahead.send();
        Ok(ahead)
    }

    fn send(&mut self) {
        let Some(chunk) = self.waiting.pop_front() else {
            return;
        };
        let texts = chunk.iter().map(|&i| self.items[i].1.clone()).collect();
        let embedder = self.embedder.clone();
        let task = tokio::spawn(async move { embedder.embed(texts).await });
        self.pending = Some((chunk, task));
    }

    /// The vector of the next item.
    pub async fn next(&mut self) -> Result<&[f32], PipelineError> {
        let i = self.next;
        assert!(i < self.items.len(), "asked for more vectors than texts");
        self.next += 1;
        if !self.ready[i] {
            // Misses go out in order, so the earliest unready one is in the chunk on its way.
            let (chunk, task) = self.pending.take().expect("a missing vector is on its way");
            let vectors = task.await.expect("embedding does not panic")?;
            assert_eq!(vectors.len(), chunk.len(), "one vector per text");
            self.send();
            for (&j, vector) in chunk.iter().zip(&vectors) {
                self.rows.row_mut(j).copy_from_slice(vector);
                self.ready[j] = true;
            }
            self.embedded.extend(chunk);
        }
        Ok(self.rows.row(i))
    }

    /// Caches what was embedded (the batch's vectors are kept whether or not the batch was).
    pub async fn finish(self, store: &Store) -> Result<(), PipelineError> {
        let mut embedded = self.embedded.clone();
        // In id order, as every other writer of the cache: no two lock each other's rows.
        embedded.sort_by_key(|&i| self.items[i].0);
        let entries: Vec<(i64, String, &[f32])> = embedded
            .iter()
            .map(|&i| {
                let (id, text) = &self.items[i];
                (*id, text_hash(text), self.rows.row(i))
            })
            .collect();
        store
            .cache_embeddings(self.kind, self.embedder.version(), &entries)
            .await?;
        Ok(())
    }
}

impl Drop for Ahead {
    /// A batch that failed half-way stops the request on its way.
    fn drop(&mut self) {
        if let Some((_, task)) = &self.pending {
            task.abort();
        }
    }
}
