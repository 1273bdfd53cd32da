//! The sentence encoder: BERT (`forward.rs`), attention-masked mean pooling and L2
//! normalisation, as sentence-transformers computes all-MiniLM-L6-v2.

use std::path::Path;

use candle_transformers::models::bert::Config;
use tokenizers::{Tokenizer, TruncationParams};

use super::forward::Bert;
use super::{Compute, EmbedError, Encoder, Manifest, ModelError};

pub struct BertEncoder {
    model: Bert,
    tokenizer: Tokenizer,
    version: String,
    dimension: usize,
}

impl BertEncoder {
    /// Loads the files of `manifest` from the installed folder `dir`, to compute as `compute`
    /// says.
    pub fn load(manifest: &Manifest, dir: &Path, compute: Compute) -> Result<Self, ModelError> {
        let load_error = |message: String| ModelError::Load {
            dir: dir.to_owned(),
            message,
        };
        let config_text = std::fs::read_to_string(dir.join("config.json"))
            .map_err(|e| ModelError::io(&dir.join("config.json"), e))?;
        let config: Config =
            serde_json::from_str(&config_text).map_err(|e| load_error(e.to_string()))?;

        let mut tokenizer = Tokenizer::from_file(dir.join("tokenizer.json"))
            .map_err(|e| load_error(format!("tokenizer.json: {e}")))?;
        // The shipped tokenizer.json truncates at 128 and pads everything to 128: we truncate
        // where sentence-transformers does and pad per batch ourselves.
        tokenizer
            .with_truncation(Some(TruncationParams {
                max_length: manifest.max_tokens,
                ..Default::default()
            }))
            .map_err(|e| load_error(format!("truncation: {e}")))?;
        tokenizer.with_padding(None);

        let weights = dir.join("model.safetensors");
        let model = Bert::load(&weights, &config, compute.precision, compute.isa)
            .map_err(|e| load_error(e.to_string()))?;
        let version = manifest.version_for(compute.precision);
        Ok(Self {
            model,
            tokenizer,
            version,
            dimension: config.hidden_size,
        })
    }

    fn forward(&self, batch: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let hidden = self.model.forward(batch)?;
        let mut rows = hidden.chunks_exact(self.dimension);
        // The mean over the tokens at unit length (the sum at unit length is the same vector):
        // cosine similarity becomes a dot product.
        let pooled = batch.iter().map(|seq| {
            let mut mean = vec![0f32; self.dimension];
            for row in rows.by_ref().take(seq.len()) {
                mean.iter_mut().zip(row).for_each(|(m, x)| *m += x);
            }
            crate::kernels::normalise(mean)
        });
        Ok(pooled.collect())
    }
}

impl Encoder for BertEncoder {
    fn version(&self) -> &str {
        &self.version
    }

    fn dimension(&self) -> usize {
        self.dimension
    }

    fn tokenize(&self, text: &str) -> Result<Vec<u32>, EmbedError> {
        let encoding = self
            .tokenizer
            .encode(text, true)
            .map_err(|e| EmbedError::Tokenize(e.to_string()))?;
        Ok(encoding.get_ids().to_vec())
    }

    fn encode(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError> {
        self.forward(batch)
            .map_err(|e| EmbedError::Model(e.to_string()))
    }

    fn pads(&self) -> bool {
        false
    }

    fn idle(&self) {
        self.model.release();
    }
}
