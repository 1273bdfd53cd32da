//! `ticketlens bench embed`: what this machine's encoder does on a set of tickets — texts and
//! tokens per second and the padding the batches carry — so a team can size a backfill.
//! Batches are length-sorted and of a fixed number of texts, as the side-by-side comparisons
//! of encoders measure them; tokenizing is counted in the time.

use std::time::Instant;

use serde::Serialize;

use super::{Compute, EmbedError, Encoder};

/// The figures of one measurement.
#[derive(Debug, Clone, Serialize)]
pub struct Throughput {
    pub texts_per_s: f64,
    /// Word pieces per second (special tokens included, padding not).
    pub tokens_per_s: f64,
    pub texts: usize,
    pub tokens: usize,
    /// Padded positions computed for nothing, as a share of the real tokens.
    pub padding_overhead: f64,
    pub precision: &'static str,
    /// The instruction set the kernels ran with (amx, avx512, avx2 or portable).
    pub kernels: &'static str,
    /// Texts per batch.
    pub batch: usize,
    /// Seconds of each timed run; the figures above come from the median one.
    #[serde(rename = "runs_s")]
    pub runs: Vec<f64>,
}

/// Embeds `texts` once to warm up, then `runs` times timed, in length-sorted batches of
/// `batch` texts, with an encoder that computes as `compute` says.
pub fn measure<E: Encoder>(
    encoder: &E,
    compute: Compute,
    texts: &[String],
    batch: usize,
    runs: usize,
) -> Result<Throughput, EmbedError> {
    let batch = batch.max(1);
    let pass = || -> Result<(usize, usize), EmbedError> {
        let mut tokens = texts
            .iter()
            .map(|t| encoder.tokenize(t))
            .collect::<Result<Vec<_>, _>>()?;
        tokens.sort_by_key(|t| std::cmp::Reverse(t.len()));
        let (mut real, mut padded) = (0, 0);
        for chunk in tokens.chunks(batch) {
            let inputs: Vec<&[u32]> = chunk.iter().map(Vec::as_slice).collect();
            let tokens = inputs.iter().map(|t| t.len()).sum::<usize>();
            real += tokens;
            padded += if encoder.pads() {
                inputs.len() * inputs[0].len() // longest first
            } else {
                tokens
            };
            std::hint::black_box(encoder.encode(&inputs)?);
        }
        Ok((real, padded))
    };
    let (tokens, padded) = pass()?;
    let mut seconds = Vec::with_capacity(runs.max(1));
    for _ in 0..runs.max(1) {
        let started = Instant::now();
        pass()?;
        seconds.push(started.elapsed().as_secs_f64());
    }
    let median = median(&seconds).max(f64::EPSILON);
    Ok(Throughput {
        texts_per_s: texts.len() as f64 / median,
        tokens_per_s: tokens as f64 / median,
        texts: texts.len(),
        tokens,
        padding_overhead: padded as f64 / tokens.max(1) as f64 - 1.0,
        precision: compute.precision.name(),
        kernels: compute.isa.name(),
        batch,
        runs: seconds,
    })
}

/// The middle value (the upper of the two middle ones for an even count); `values` must not
/// be empty.
pub fn median(values: &[f64]) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    sorted[sorted.len() / 2]
}

#[cfg(test)]
mod tests {
    use super::*;

    /// One token per byte; encoding checks that each batch is sorted longest first.
    struct Bytes;

    impl Encoder for Bytes {
        fn version(&self) -> &str {
            "bytes@1"
        }
        fn dimension(&self) -> usize {
            1
        }
        fn tokenize(&self, text: &str) -> Result<Vec<u32>, EmbedError> {
            Ok(text.bytes().map(u32::from).collect())
        }
        fn encode(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
            assert!(batch.windows(2).all(|w| w[0].len() >= w[1].len()));
            Ok(batch.iter().map(|_| vec![1.0]).collect())
        }
    }

    #[test]
    fn counts_tokens_and_the_padding_of_sorted_batches() {
        let texts: Vec<String> = ["aaaa", "a", "aaa", "aa"].map(String::from).into();
        let t = measure(&Bytes, Compute::default(), &texts, 2, 3).unwrap();
        assert_eq!((t.texts, t.tokens, t.runs.len()), (4, 10, 3));
        // Batches [4, 3] and [2, 1]: 8 + 4 padded positions for 10 tokens.
        assert!((t.padding_overhead - 0.2).abs() < 1e-9, "{t:?}");
        assert!(t.texts_per_s > 0.0 && t.tokens_per_s > t.texts_per_s);
    }
}
