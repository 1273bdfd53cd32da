//! The sentence encoder: BERT (`forward.rs`), attention-masked mean pooling and L2
//! normalisation, as sentence-transformers computes all-MiniLM-L6-v2.

use std::path::Path;

use candle_core::{DType, Device, Tensor};
use candle_nn::VarBuilder;
use candle_transformers::models::bert::Config;
use tokenizers::{Tokenizer, TruncationParams};

use super::forward::Bert;
use super::{EmbedError, Encoder, Manifest, ModelError};

pub struct BertEncoder {
    model: Bert,
    tokenizer: Tokenizer,
    device: Device,
    version: String,
    dimension: usize,
}

impl BertEncoder {
    /// Loads the files of `manifest` from the installed folder `dir`.
    pub fn load(manifest: &Manifest, dir: &Path) -> Result<Self, ModelError> {
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

        let device = Device::Cpu;
        let weights = dir.join("model.safetensors");
        // SAFETY: the file was verified against its hash when installed and is not written to
        // while mapped; candle needs the mapping to outlive the model, which owns it.
        let vb = unsafe { VarBuilder::from_mmaped_safetensors(&[weights], DType::F32, &device) }
            .map_err(|e| load_error(e.to_string()))?;
        let model = Bert::load(vb, &config).map_err(|e| load_error(e.to_string()))?;
        Ok(Self {
            model,
            tokenizer,
            device,
            version: manifest.version(),
            dimension: config.hidden_size,
        })
    }

    fn forward(&self, batch: &[&[u32]]) -> candle_core::Result<Vec<Vec<f32>>> {
        let longest = batch.iter().map(|ids| ids.len()).max().unwrap_or(0);
        let mut ids = Vec::with_capacity(batch.len() * longest);
        let mut mask = Vec::with_capacity(batch.len() * longest);
        for seq in batch {
            ids.extend_from_slice(seq);
            ids.extend(std::iter::repeat_n(0, longest - seq.len()));
            mask.extend(std::iter::repeat_n(1f32, seq.len()));
            mask.extend(std::iter::repeat_n(0f32, longest - seq.len()));
        }
        let shape = (batch.len(), longest);
        let ids = Tensor::from_vec(ids, shape, &self.device)?;
        let mask = Tensor::from_vec(mask, shape, &self.device)?;
        let hidden = self.model.forward(&ids, &mask)?;

        // Mean over real tokens only, then unit length: cosine similarity becomes a dot product.
        let mask = mask.unsqueeze(2)?;
        let summed = hidden.broadcast_mul(&mask)?.sum(1)?;
        let counts = mask.sum(1)?.clamp(1e-9, f64::MAX)?;
        let mean = summed.broadcast_div(&counts)?;
        let norms = mean.sqr()?.sum_keepdim(1)?.sqrt()?.clamp(1e-12, f64::MAX)?;
        mean.broadcast_div(&norms)?.to_vec2()
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
}
