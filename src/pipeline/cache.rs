//! Embedding through the store's cache: a text is embedded once per (owner, text, model).

use std::ops::Range;

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

/// Tickets per request while a batch is embedded ahead (the demo's whole batch), and the
/// group the pipeline triages at once. The model works on one request while the tickets of
/// the one before are triaged and written; a request's tickets go through the model together,
/// and requests of 8 cost the pipeline a tenth of the encoder's throughput: fewer tickets per
/// forward pass left each of the model's threads idle more often, waiting for the other (on
/// 2 cores, the pipeline's own thread takes one away from time to time), and the
/// pipeline scanned its indexes once per group (pipeline bench, fp32: 78.8% of the encoder
/// alone with 8, 88.8% with 16, 90.8% with 32).
pub(super) const AHEAD: usize = 32;

/// A request to the model: the vectors of its texts, in order.
type Request = JoinHandle<Result<Vec<Vec<f32>>, EmbedError>>;

/// The part of the misses on its way to the model, and its request.
type Pending = (Range<usize>, Request);

/// The first texts of the next batch, on their way to the model while this batch is written
/// and the next one read: the model would otherwise wait out every batch's end (commit,
/// caching, the next read). `keys` are the (owner id, text hash) of the texts sent.
pub(super) struct Speculation {
    keys: Vec<(i64, String)>,
    task: Request,
}

/// The vectors of a batch's texts, handed out in order: cached ones at once, the others
/// embedded a few requests ahead, so that the model works on the next tickets while the
/// caller triages and writes the current ones (the two would otherwise take turns, one core
/// idle). Once the batch's own texts are sent, the first texts of the next batch follow
/// ([`Ahead::then`]). What was embedded is cached by [`Ahead::finish`], once the batch's
/// transaction is over (SQLite has one writer).
pub(super) struct Ahead {
    embedder: Embedder,
    kind: OwnerKind,
    items: Vec<(i64, String)>,
    /// The cache's vectors; a miss's row is filled (and `found`) when its request returns.
    cached: Cached,
    /// How many of the misses have been sent to the model.
    sent: usize,
    pending: Option<Pending>,
    next: usize,
    /// Texts of the next batch to send once this batch's are all sent, and their request.
    upcoming: Vec<(i64, String)>,
    speculation: Option<Speculation>,
}

impl Ahead {
    /// Reads the cache for `items` (owner id, text) and sends the first misses to the model,
    /// unless `guessed`, the previous batch's [`Speculation`], already holds them.
    pub async fn start(
        store: &Store,
        embedder: &Embedder,
        kind: OwnerKind,
        items: Vec<(i64, String)>,
        guessed: Option<Speculation>,
    ) -> Result<Self, PipelineError> {
        let cached = Cached::read(store, embedder, kind, &items).await?;
        let mut ahead = Self {
            embedder: embedder.clone(),
            kind,
            items,
            cached,
            sent: 0,
            pending: None,
            next: 0,
            upcoming: Vec::new(),
            speculation: None,
        };
        match guessed {
            Some(guess) if ahead.begins_with(&guess.keys) => {
                ahead.sent = guess.keys.len();
                ahead.pending = Some((0..ahead.sent, guess.task));
            }
            // The next batch turned out otherwise: its guess is not waited for.
            Some(stale) => {
                stale.task.abort();
                ahead.send();
            }
            None => ahead.send(),
        }
        Ok(ahead)
    }

    /// Whether the first misses are the texts of `keys`, in order.
    fn begins_with(&self, keys: &[(i64, String)]) -> bool {
        let missing = &self.cached.missing;
        keys.len() <= missing.len()
            && keys
                .iter()
                .zip(missing)
                .all(|(key, &i)| *key == self.cached.keys[i])
    }

    /// Texts (owner id, text) of the next batch, sent to the model once this batch's misses
    /// are: the caller passes those without a cached vector ([`first_misses`]).
    pub fn then(&mut self, upcoming: Vec<(i64, String)>) {
        self.upcoming = upcoming;
        if self.pending.is_none() {
            self.send();
        }
    }

    fn send(&mut self) {
        let chunk = self.sent..(self.sent + AHEAD).min(self.cached.missing.len());
        if chunk.is_empty() {
            self.speculate();
            return;
        }
        let texts = self.cached.missing[chunk.clone()]
            .iter()
            .map(|&i| self.items[i].1.clone())
            .collect();
        self.sent = chunk.end;
        self.pending = Some((chunk, self.request(texts)));
    }

    fn speculate(&mut self) {
        if self.upcoming.is_empty() || self.speculation.is_some() {
            return;
        }
        let upcoming = std::mem::take(&mut self.upcoming);
        let (keys, texts) = upcoming
            .into_iter()
            .map(|(id, text)| ((id, text_hash(&text)), text))
            .unzip();
        let task = self.request(texts);
        self.speculation = Some(Speculation { keys, task });
    }

    fn request(&self, texts: Vec<String>) -> Request {
        let embedder = self.embedder.clone();
        tokio::spawn(async move { embedder.embed(texts).await })
    }

    /// The vector of the next item.
    pub async fn next(&mut self) -> Result<&[f32], PipelineError> {
        let i = self.next;
        assert!(i < self.items.len(), "asked for more vectors than texts");
        self.next += 1;
        if !self.cached.found[i] {
            // Misses go out in order, so the earliest one not found is on its way.
            let (chunk, task) = self.pending.take().expect("a missing vector is on its way");
            let vectors = task.await.expect("embedding does not panic")?;
            assert_eq!(vectors.len(), chunk.len(), "one vector per text");
            self.send();
            let Cached {
                rows,
                found,
                missing,
                ..
            } = &mut self.cached;
            for (&j, vector) in missing[chunk].iter().zip(&vectors) {
                rows.row_mut(j).copy_from_slice(vector);
                found[j] = true;
            }
        }
        Ok(self.cached.rows.row(i))
    }

    /// Caches what was embedded (the batch's vectors are kept whether or not the batch was).
    /// Returns the request for the next batch's first texts, if one was sent.
    pub async fn finish(mut self, store: &Store) -> Result<Option<Speculation>, PipelineError> {
        let Cached {
            keys,
            rows,
            found,
            missing,
        } = &self.cached;
        let mut entries: Vec<(i64, String, &[f32])> = missing
            .iter()
            .filter(|&&i| found[i])
            .map(|&i| (keys[i].0, keys[i].1.clone(), rows.row(i)))
            .collect();
        // In id order, as every other writer of the cache: no two lock each other's rows.
        entries.sort_by_key(|e| e.0);
        store
            .cache_embeddings(self.kind, self.embedder.version(), &entries)
            .await?;
        Ok(self.speculation.take())
    }
}

impl Drop for Ahead {
    /// A batch that failed half-way stops the requests on their way.
    fn drop(&mut self) {
        if let Some((_, task)) = &self.pending {
            task.abort();
        }
        if let Some(guess) = &self.speculation {
            guess.task.abort();
        }
    }
}

/// What a batch of `items` (owner id, text) would send to the model first: its first texts
/// without a cached vector, one request's worth.
pub(super) async fn first_misses(
    store: &Store,
    embedder: &Embedder,
    kind: OwnerKind,
    mut items: Vec<(i64, String)>,
) -> Result<Vec<(i64, String)>, PipelineError> {
    let cached = Cached::read(store, embedder, kind, &items).await?;
    Ok(cached
        .missing
        .iter()
        .take(AHEAD)
        .map(|&i| std::mem::take(&mut items[i]))
        .collect())
}
