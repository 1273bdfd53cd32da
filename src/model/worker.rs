//! The model thread. Async code holds an [`Embedder`] and sends it texts; the thread tokenizes
//! them, groups them by length into batches bounded by a token budget, and answers each request
//! in the order its texts were given. A semaphore bounds the requests in flight, so a flood is
//! answered "overloaded" (or made to wait) instead of growing an unbounded queue.

use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use tokio::sync::{oneshot, Semaphore};

use super::{EmbedError, Encoder};

/// How the model thread batches work.
#[derive(Debug, Clone, Copy)]
pub struct BatchLimits {
    /// Upper bound on padded tokens (batch size × longest sequence) in one forward pass.
    pub max_batch_tokens: usize,
    /// Requests accepted at once; beyond this `try_embed` answers `Overloaded`.
    pub max_requests: usize,
    /// How long the thread waits for work before the encoder lets go of the memory it keeps
    /// between batches: longer than the pauses of a pipeline that keeps it busy, short
    /// enough that an idle service does not sit on a batch's buffers.
    pub idle: Duration,
}

impl Default for BatchLimits {
    fn default() -> Self {
        Self {
            max_batch_tokens: 8192,
            max_requests: 64,
            idle: Duration::from_secs(1),
        }
    }
}

/// Sees every forward pass: how many texts it held and how long it took (for metrics).
pub type BatchObserver = Arc<dyn Fn(usize, Duration) + Send + Sync>;

struct Request {
    texts: Vec<String>,
    reply: oneshot::Sender<Result<Vec<Vec<f32>>, EmbedError>>,
}

/// Cheap to clone; every clone talks to the same model thread.
#[derive(Clone)]
pub struct Embedder {
    requests: mpsc::Sender<Request>,
    permits: Arc<Semaphore>,
    version: Arc<str>,
    dimension: usize,
    observer: Arc<OnceLock<BatchObserver>>,
}

impl Embedder {
    /// Moves `encoder` onto a thread of its own; it lives as long as any clone of the handle.
    pub fn spawn<E: Encoder>(encoder: E, limits: BatchLimits) -> Self {
        let (requests, inbox) = mpsc::channel::<Request>();
        let version: Arc<str> = encoder.version().into();
        let dimension = encoder.dimension();
        let observer = Arc::new(OnceLock::<BatchObserver>::new());
        let seen = observer.clone();
        std::thread::Builder::new()
            .name("ticketlens-model".into())
            .spawn(move || {
                while let Some(request) = next(&inbox, &encoder, limits.idle) {
                    let result = embed_all(
                        &encoder,
                        &request.texts,
                        limits.max_batch_tokens,
                        seen.get(),
                    );
                    // The caller may have given up waiting; nothing to do then.
                    let _ = request.reply.send(result);
                }
            })
            .expect("the OS refused to start the model thread");
        Self {
            requests,
            permits: Arc::new(Semaphore::new(limits.max_requests)),
            version,
            dimension,
            observer,
        }
    }

    /// Installs the one observer of this model's forward passes; false if one is installed.
    pub fn observe(&self, observer: BatchObserver) -> bool {
        self.observer.set(observer).is_ok()
    }

    /// Model version recorded with every vector it makes.
    pub fn version(&self) -> &str {
        &self.version
    }

    pub fn dimension(&self) -> usize {
        self.dimension
    }

    /// Embeds `texts`, waiting for room if the model thread is busy (the pipeline's path).
    pub async fn embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let permit = self
            .permits
            .acquire()
            .await
            .map_err(|_| EmbedError::Stopped)?;
        let result = self.send(texts).await;
        drop(permit);
        result
    }

    /// Embeds `texts` or answers `Overloaded` at once (the path for interactive requests).
    pub async fn try_embed(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        let permit = self
            .permits
            .try_acquire()
            .map_err(|_| EmbedError::Overloaded)?;
        let result = self.send(texts).await;
        drop(permit);
        result
    }

    async fn send(&self, texts: Vec<String>) -> Result<Vec<Vec<f32>>, EmbedError> {
        if texts.is_empty() {
            return Ok(Vec::new());
        }
        let (reply, answer) = oneshot::channel();
        self.requests
            .send(Request { texts, reply })
            .map_err(|_| EmbedError::Stopped)?;
        answer.await.map_err(|_| EmbedError::Stopped)?
    }
}

/// The next request, once one comes; `None` when every handle is gone.
fn next<E: Encoder>(
    inbox: &mpsc::Receiver<Request>,
    encoder: &E,
    idle: Duration,
) -> Option<Request> {
    match inbox.recv_timeout(idle) {
        Ok(request) => Some(request),
        Err(RecvTimeoutError::Timeout) => {
            encoder.idle();
            inbox.recv().ok()
        }
        Err(RecvTimeoutError::Disconnected) => None,
    }
}

fn embed_all<E: Encoder>(
    encoder: &E,
    texts: &[String],
    max_batch_tokens: usize,
    observer: Option<&BatchObserver>,
) -> Result<Vec<Vec<f32>>, EmbedError> {
    let tokens = texts
        .iter()
        .map(|text| encoder.tokenize(text))
        .collect::<Result<Vec<_>, _>>()?;
    let lengths: Vec<usize> = tokens.iter().map(Vec::len).collect();
    let mut out = vec![Vec::new(); texts.len()];
    for batch in plan_batches(&lengths, max_batch_tokens) {
        let inputs: Vec<&[u32]> = batch.iter().map(|&i| tokens[i].as_slice()).collect();
        let started = Instant::now();
        let vectors = encoder.encode(&inputs)?;
        if let Some(observe) = observer {
            observe(inputs.len(), started.elapsed());
        }
        for (i, vector) in batch.into_iter().zip(vectors) {
            out[i] = vector;
        }
    }
    Ok(out)
}

/// Groups sequence indices into batches of similar length whose padded size
/// (count × longest) stays within `max_batch_tokens`; a single longer sequence gets its own.
/// Sorting by length first means little padding, which roughly halves the work.
pub fn plan_batches(lengths: &[usize], max_batch_tokens: usize) -> Vec<Vec<usize>> {
    let mut order: Vec<usize> = (0..lengths.len()).collect();
    order.sort_by_key(|&i| std::cmp::Reverse(lengths[i]));
    let mut batches: Vec<Vec<usize>> = Vec::new();
    let mut current: Vec<usize> = Vec::new();
    for i in order {
        // Sorted longest first, so the first member of a batch is its longest.
        let longest = current.first().map_or(lengths[i], |&first| lengths[first]);
        if !current.is_empty() && (current.len() + 1) * longest > max_batch_tokens {
            batches.push(std::mem::take(&mut current));
        }
        current.push(i);
    }
    if !current.is_empty() {
        batches.push(current);
    }
    batches
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Mutex;

    /// Maps each text to a vector derived from its bytes, and records batch shapes and idle
    /// calls.
    #[derive(Default)]
    struct FakeEncoder {
        shapes: Arc<Mutex<Vec<(usize, usize)>>>,
        idles: Arc<Mutex<usize>>,
    }

    impl Encoder for FakeEncoder {
        fn version(&self) -> &str {
            "fake@1"
        }
        fn dimension(&self) -> usize {
            2
        }
        fn tokenize(&self, text: &str) -> Result<Vec<u32>, EmbedError> {
            Ok(text.bytes().map(u32::from).collect())
        }
        fn encode(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
            let longest = batch.iter().map(|s| s.len()).max().unwrap_or(0);
            self.shapes.lock().unwrap().push((batch.len(), longest));
            Ok(batch
                .iter()
                .map(|s| vec![s.len() as f32, s.iter().sum::<u32>() as f32])
                .collect())
        }
        fn idle(&self) {
            *self.idles.lock().unwrap() += 1;
        }
    }

    #[test]
    fn batches_respect_the_token_budget_and_cover_every_index_once() {
        let lengths = [5, 100, 7, 60, 5, 5, 90, 1];
        let batches = plan_batches(&lengths, 200);
        let mut seen: Vec<usize> = batches.iter().flatten().copied().collect();
        seen.sort();
        assert_eq!(seen, (0..lengths.len()).collect::<Vec<_>>());
        for batch in &batches {
            let longest = batch.iter().map(|&i| lengths[i]).max().unwrap();
            assert!(
                batch.len() == 1 || batch.len() * longest <= 200,
                "{batch:?}"
            );
        }
        // The two longest share the first batch; a third of their length would not fit.
        assert_eq!(batches[0], vec![1, 6]);
    }

    #[test]
    fn a_sequence_longer_than_the_budget_still_gets_a_batch() {
        assert_eq!(plan_batches(&[500, 3], 100), vec![vec![0], vec![1]]);
    }

    #[tokio::test]
    async fn results_come_back_in_request_order() {
        let shapes = Arc::new(Mutex::new(Vec::new()));
        let limits = BatchLimits {
            max_batch_tokens: 16,
            ..Default::default()
        };
        let encoder = FakeEncoder {
            shapes: shapes.clone(),
            ..Default::default()
        };
        let embedder = Embedder::spawn(encoder, limits);
        let texts: Vec<String> = ["a", "ccc", "bb", "dddddddd", ""].map(String::from).into();
        let vectors = embedder.embed(texts.clone()).await.unwrap();
        for (text, vector) in texts.iter().zip(&vectors) {
            assert_eq!(vector[0], text.len() as f32, "{text:?}");
        }
        assert!(shapes
            .lock()
            .unwrap()
            .iter()
            .all(|(n, longest)| n * longest <= 16 || *n == 1));
    }

    #[tokio::test]
    async fn try_embed_says_overloaded_when_no_request_slot_is_free() {
        let limits = BatchLimits {
            max_requests: 1,
            ..Default::default()
        };
        let embedder = Embedder::spawn(FakeEncoder::default(), limits);
        let _held = embedder.permits.clone().try_acquire_owned().unwrap();
        let err = embedder.try_embed(vec!["x".into()]).await.unwrap_err();
        assert!(matches!(err, EmbedError::Overloaded));
    }

    #[tokio::test]
    async fn the_encoder_is_told_once_when_the_thread_has_waited_idle() {
        let limits = BatchLimits {
            idle: Duration::from_millis(300),
            ..Default::default()
        };
        let encoder = FakeEncoder::default();
        let idles = encoder.idles.clone();
        let embedder = Embedder::spawn(encoder, limits);
        embedder.embed(vec!["a".into()]).await.unwrap();
        embedder.embed(vec!["b".into()]).await.unwrap();
        assert_eq!(*idles.lock().unwrap(), 0, "busy, so never idle");
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(*idles.lock().unwrap(), 1, "told once, not every 300 ms");
        embedder.embed(vec!["c".into()]).await.unwrap();
        tokio::time::sleep(Duration::from_millis(1000)).await;
        assert_eq!(*idles.lock().unwrap(), 2, "and once after the next request");
    }
}
