//! BERT's forward pass over the real tokens of a batch only: the sequences are laid end to end
//! (no padding row is ever computed), the linear layers are one product over all of them, and
//! attention runs per sequence. It reads the Hugging Face weights (`config.json` mirrored by
//! candle-transformers' `Config`) and computes the function of candle's `BertModel`; the
//! arithmetic is in [`crate::kernels`] and the gemm crate.
//!
//! Fusions that save passes over memory: the query, key and value projections are one product;
//! biases and residual connections are added by the products themselves (they accumulate into
//! their output); softmax and its scaling are one pass.

use std::path::Path;
use std::sync::{Mutex, MutexGuard, PoisonError};

use candle_core::safetensors::MmapedSafetensors;
use candle_core::{DType, Result};
use candle_transformers::models::bert::Config;
use gemm::Parallelism;
use rayon::prelude::*;

use super::Precision;
use crate::kernels::{self, grown, Finish, Isa, QuantizedMatrix, QuantizedRows};

pub struct Bert {
    /// (vocabulary × hidden), (positions × hidden), and token type 0's row.
    words: Vec<f32>,
    positions: Vec<f32>,
    token_type: Vec<f32>,
    embeddings_norm: Norm,
    layers: Vec<Layer>,
    hidden: usize,
    heads: usize,
    isa: Isa,
    /// Kept from pass to pass, grown to the largest pass, until [`Bert::release`]: fresh
    /// buffers each pass were cleared, and in the pipeline, whose pauses let the allocator
    /// hand their pages back, faulted in again (perf, int8 pipeline bench on the AMX Xeon:
    /// memset 4.3% of the model threads' samples through the pipeline, 2.0% alone).
    scratch: Mutex<Scratch>,
}

struct Layer {
    /// Query, key and value side by side: (tokens × 3·hidden) in one product.
    qkv: Linear,
    attention_out: Linear,
    attention_norm: Norm,
    intermediate: Linear,
    output: Linear,
    output_norm: Norm,
}

struct Norm {
    gamma: Vec<f32>,
    beta: Vec<f32>,
    eps: f32,
}

struct Linear {
    inputs: usize,
    outputs: usize,
    bias: Vec<f32>,
    weights: Weights,
}

enum Weights {
    /// Transposed to (inputs × outputs), row-major.
    F32(Vec<f32>),
    /// fp32 products as bf16x3 on AMX's tiles.
    #[cfg(target_arch = "x86_64")]
    Split(kernels::SplitMatrix),
    Int8(QuantizedMatrix),
}

/// Buffers of the forward passes, reused from layer to layer and pass to pass.
#[derive(Default)]
struct Scratch {
    qkv: Vec<f32>,
    context: Vec<f32>,
    inner: Vec<f32>,
    quantized: QuantizedRows,
}

/// The tensors of a safetensors file under a name prefix, read straight from its mapping:
/// each weight is copied once, into the buffer the model keeps. (Through candle's tensors
/// it was copied three times, and the allocator kept the model's size again after loading.)
struct Tensors<'a> {
    file: &'a MmapedSafetensors,
    prefix: String,
}

impl Tensors<'_> {
    fn pp(&self, name: impl std::fmt::Display) -> Self {
        Self {
            file: self.file,
            prefix: format!("{}{name}.", self.prefix),
        }
    }

    fn contains(&self, name: &str) -> bool {
        self.file.get(&format!("{}{name}", self.prefix)).is_ok()
    }

    /// The values of tensor `name`, which must be fp32 of `shape`, row-major.
    fn values(&self, shape: &[usize], name: &str) -> Result<Vec<f32>> {
        let name = format!("{}{name}", self.prefix);
        let view = self.file.get(&name)?;
        let dtype = DType::try_from(view.dtype())?;
        if dtype != DType::F32 || view.shape() != shape {
            candle_core::bail!("{name} is {dtype:?} {:?}, not F32 {shape:?}", view.shape());
        }
        Ok(view
            .data()
            .chunks_exact(4)
            .map(|b| f32::from_le_bytes([b[0], b[1], b[2], b[3]]))
            .collect())
    }
}

impl Bert {
    /// Reads the weights of `config`'s model from the safetensors file `path`.
    pub fn load(path: &Path, config: &Config, precision: Precision, isa: Isa) -> Result<Self> {
        // SAFETY: the file was verified against its hash when installed and is not written to
        // while mapped; the mapping is dropped once the weights are copied out.
        let file = unsafe { MmapedSafetensors::new(path)? };
        let vb = Tensors {
            file: &file,
            prefix: String::new(),
        };
        // Checkpoints saved from a task model carry a "bert." prefix.
        let vb = if vb.contains("embeddings.word_embeddings.weight") {
            vb
        } else {
            vb.pp("bert")
        };
        let (h, eps) = (config.hidden_size, config.layer_norm_eps as f32);
        if h % config.num_attention_heads != 0 {
            candle_core::bail!("hidden size {h} is not a multiple of the heads");
        }
        let e = vb.pp("embeddings");
        let layers = (0..config.num_hidden_layers)
            .map(|i| Layer::load(&vb.pp(format!("encoder.layer.{i}")), config, precision, isa))
            .collect::<Result<_>>()?;
        let token_types = e.values(&[config.type_vocab_size, h], "token_type_embeddings.weight")?;
        Ok(Self {
            words: e.values(&[config.vocab_size, h], "word_embeddings.weight")?,
            positions: e.values(
                &[config.max_position_embeddings, h],
                "position_embeddings.weight",
            )?,
            token_type: token_types[..h].to_vec(),
            embeddings_norm: Norm::load(&e.pp("LayerNorm"), h, eps)?,
            layers,
            hidden: h,
            heads: config.num_attention_heads,
            isa,
            scratch: Mutex::default(),
        })
    }

    /// Lets go of the buffers kept between passes (the model has had nothing to do for a
    /// while); the next pass allocates them again.
    pub fn release(&self) {
        *self.scratch() = Scratch::default();
    }

    fn scratch(&self) -> MutexGuard<'_, Scratch> {
        // A pass that panicked left nothing a later pass relies on: each writes before it reads.
        self.scratch.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Final hidden states of every real token, the sequences of `batch` end to end:
    /// (Σ lengths × hidden), row-major.
    pub fn forward(&self, batch: &[&[u32]]) -> Result<Vec<f32>> {
        let h = self.hidden;
        let mut starts = vec![0];
        for seq in batch {
            starts.push(starts.last().unwrap() + seq.len());
        }
        let tokens = *starts.last().unwrap();
        let mut x = self.embed(batch, tokens)?;
        let inner = self.layers.first().map_or(0, |l| l.intermediate.outputs);
        let mut scratch = self.scratch();
        let Scratch {
            qkv,
            context,
            inner: intermediate,
            quantized,
        } = &mut *scratch;
        // Every value of these a pass reads, it wrote first (the products start from the bias,
        // attention writes each head's columns of each row), so nothing is cleared.
        let qkv = grown(qkv, tokens * 3 * h, 0.0);
        let context = grown(context, tokens * h, 0.0);
        let intermediate = grown(intermediate, tokens * inner, 0.0);
        let isa = self.isa;
        for layer in &self.layers {
            layer.qkv.apply(isa, &x, quantized, qkv, false, None);
            self.attention(qkv, &starts, context);
            layer
                .attention_out
                .apply(isa, context, quantized, &mut x, true, None);
            layer.attention_norm.apply(isa, &mut x);
            let gelu = move |rows: &mut [f32]| kernels::gelu(isa, rows);
            layer
                .intermediate
                .apply(isa, &x, quantized, intermediate, false, Some(&gelu));
            layer
                .output
                .apply(isa, intermediate, quantized, &mut x, true, None);
            layer.output_norm.apply(isa, &mut x);
        }
        Ok(x)
    }

    fn embed(&self, batch: &[&[u32]], tokens: usize) -> Result<Vec<f32>> {
        let h = self.hidden;
        let mut x = Vec::with_capacity(tokens * h);
        for seq in batch {
            if seq.len() * h > self.positions.len() {
                candle_core::bail!("{} tokens exceed the model's positions", seq.len());
            }
            for (i, &id) in seq.iter().enumerate() {
                let Some(word) = self.words.get(id as usize * h..(id as usize + 1) * h) else {
                    candle_core::bail!("token id {id} is outside the vocabulary");
                };
                let position = &self.positions[i * h..(i + 1) * h];
                x.extend(
                    word.iter()
                        .zip(position)
                        .zip(&self.token_type)
                        .map(|((w, p), t)| w + p + t),
                );
            }
        }
        self.embeddings_norm.apply(self.isa, &mut x);
        Ok(x)
    }

    /// Scaled dot-product attention of each sequence with itself, head by head, the
    /// sequences shared among the threads. `qkv` holds each token's query, key and value.
    fn attention(&self, qkv: &[f32], starts: &[usize], context: &mut [f32]) {
        let (h, heads, isa) = (self.hidden, self.heads, self.isa);
        let d = h / heads;
        let stride = 3 * h;
        let scale = 1.0 / (d as f32).sqrt();
        let mut parts = Vec::with_capacity(starts.len());
        let mut rest = context;
        for w in starts.windows(2) {
            let (part, tail) = rest.split_at_mut((w[1] - w[0]) * h);
            parts.push((&qkv[w[0] * stride..w[1] * stride], part));
            rest = tail;
        }
        parts
            .into_par_iter()
            .for_each_init(Vec::new, |scores, (qkv, out)| {
                let len = out.len() / h;
                if len == 0 {
                    return; // an empty sequence attends to nothing (and has no rows to point at)
                }
                scores.resize(len * len, 0.0);
                for head in 0..heads {
                    let (q, k, v) = (head * d, h + head * d, 2 * h + head * d);
                    // SAFETY: every operand lies within `qkv`, `scores` or `out`: rows < len,
                    // columns within the head's d values of a stride-wide row.
                    unsafe {
                        product(Product {
                            shape: (len, len, d),
                            dst: (scores.as_mut_ptr(), len),
                            lhs: (qkv.as_ptr().add(q), stride as isize, 1),
                            rhs: (qkv.as_ptr().add(k), 1, stride as isize),
                            accumulate: false,
                            threads: Parallelism::None,
                        });
                    }
                    kernels::softmax(isa, scores, len, scale);
                    // SAFETY: as above; the head's output columns of `out`.
                    unsafe {
                        product(Product {
                            shape: (len, d, len),
                            dst: (out.as_mut_ptr().add(head * d), h),
                            lhs: (scores.as_ptr(), len as isize, 1),
                            rhs: (qkv.as_ptr().add(v), stride as isize, 1),
                            accumulate: false,
                            threads: Parallelism::None,
                        });
                    }
                }
            });
    }
}

/// Values one thread takes at a time in the elementwise kernels: enough to outweigh a task's
/// hand-over, few enough that a batch still splits among the threads.
const PARALLEL_VALUES: usize = 16 * 1024;

/// The (columns × rows) transpose of a row-major (rows × columns) matrix.
fn transpose(m: &[f32], rows: usize, columns: usize) -> Vec<f32> {
    let mut t = vec![0.0; m.len()];
    for (r, row) in m.chunks_exact(columns).enumerate() {
        for (c, &v) in row.iter().enumerate() {
            t[c * rows + r] = v;
        }
    }
    t
}

/// One fp32 matrix product `dst (+)= lhs · rhs` for the gemm crate, which picks its kernel
/// for the CPU at run time. Operands are (pointer, row stride, column stride); `dst` is
/// row-major with the given row stride.
struct Product {
    /// (rows, columns, inner dimension).
    shape: (usize, usize, usize),
    dst: (*mut f32, usize),
    lhs: (*const f32, isize, isize),
    rhs: (*const f32, isize, isize),
    accumulate: bool,
    threads: Parallelism,
}

/// # Safety
/// Every element the shape and strides address must lie in a live allocation, and `dst`'s
/// must not overlap the operands.
unsafe fn product(p: Product) {
    let (m, n, k) = p.shape;
    gemm::gemm(
        m,
        n,
        k,
        p.dst.0,
        1,
        p.dst.1 as isize,
        p.accumulate,
        p.lhs.0,
        p.lhs.2,
        p.lhs.1,
        p.rhs.0,
        p.rhs.2,
        p.rhs.1,
        1.0,
        1.0,
        false,
        false,
        false,
        p.threads,
    );
}

impl Layer {
    fn load(vb: &Tensors, config: &Config, precision: Precision, isa: Isa) -> Result<Self> {
        let (h, i) = (config.hidden_size, config.intermediate_size);
        let eps = config.layer_norm_eps as f32;
        let a = vb.pp("attention");
        let qkv = ["self.query", "self.key", "self.value"].map(|n| a.pp(n));
        let linear = |parts: &[Tensors], inputs, outputs| {
            Linear::load(parts, (inputs, outputs), precision, isa)
        };
        Ok(Self {
            qkv: linear(&qkv, h, h)?,
            attention_out: linear(&[a.pp("output.dense")], h, h)?,
            attention_norm: Norm::load(&a.pp("output.LayerNorm"), h, eps)?,
            intermediate: linear(&[vb.pp("intermediate.dense")], h, i)?,
            output: linear(&[vb.pp("output.dense")], i, h)?,
            output_norm: Norm::load(&vb.pp("output.LayerNorm"), h, eps)?,
        })
    }
}

impl Norm {
    fn load(vb: &Tensors, width: usize, eps: f32) -> Result<Self> {
        Ok(Self {
            gamma: vb.values(&[width], "weight")?,
            beta: vb.values(&[width], "bias")?,
            eps,
        })
    }

    fn apply(&self, isa: Isa, x: &mut [f32]) {
        let rows = PARALLEL_VALUES / self.gamma.len() + 1;
        x.par_chunks_mut(rows * self.gamma.len())
            .for_each(|rows| kernels::layer_norm(isa, rows, &self.gamma, &self.beta, self.eps));
    }
}

impl Linear {
    /// The layers `parts` (each `outputs` × `inputs`) as one whose outputs are theirs side by
    /// side, in the form `precision` on `isa` computes with.
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_variables))]
    fn load(
        parts: &[Tensors],
        (inputs, outputs): (usize, usize),
        precision: Precision,
        isa: Isa,
    ) -> Result<Self> {
        let mut weights = Vec::with_capacity(parts.len() * outputs * inputs);
        let mut bias = Vec::with_capacity(parts.len() * outputs);
        for vb in parts {
            weights.extend(vb.values(&[outputs, inputs], "weight")?);
            bias.extend(vb.values(&[outputs], "bias")?);
        }
        let outputs = bias.len();
        let weights = match precision {
            #[cfg(target_arch = "x86_64")]
            Precision::Fp32 if isa.has_tiles() && kernels::SplitMatrix::fits(inputs, outputs) => {
                Weights::Split(kernels::SplitMatrix::new(&weights, outputs, inputs))
            }
            Precision::Fp32 => Weights::F32(transpose(&weights, outputs, inputs)),
            Precision::Int8 => Weights::Int8(QuantizedMatrix::new(&weights, outputs, inputs)),
        };
        Ok(Self {
            inputs,
            outputs,
            bias,
            weights,
        })
    }

    /// `out` = x·Wᵀ + b, or `out +=` that where `accumulate`, then `finish` on the outputs
    /// (in parts, each whole rows); all threads take part.
    fn apply(
        &self,
        isa: Isa,
        x: &[f32],
        q: &mut QuantizedRows,
        out: &mut [f32],
        accumulate: bool,
        finish: Option<&Finish>,
    ) {
        let rows = x.len() / self.inputs;
        assert_eq!(out.len(), rows * self.outputs);
        match &self.weights {
            Weights::F32(w) => {
                // Elementwise, so split among the threads, as `finish` below.
                let part = (PARALLEL_VALUES / self.outputs + 1) * self.outputs;
                out.par_chunks_mut(part)
                    .for_each(|rows| kernels::start_from_bias(rows, &self.bias, accumulate));
                // SAFETY: x is (rows × inputs), w (inputs × outputs), out (rows × outputs),
                // all row-major and distinct.
                unsafe {
                    product(Product {
                        shape: (rows, self.outputs, self.inputs),
                        dst: (out.as_mut_ptr(), self.outputs),
                        lhs: (x.as_ptr(), self.inputs as isize, 1),
                        rhs: (w.as_ptr(), self.outputs as isize, 1),
                        accumulate: true,
                        threads: Parallelism::Rayon(0),
                    });
                }
                // Elementwise, so split among the threads: on one, it left the other core
                // idle for ~3% of a forward pass.
                if let Some(finish) = finish {
                    out.par_chunks_mut(part).for_each(finish);
                }
            }
            #[cfg(target_arch = "x86_64")]
            Weights::Split(w) => w.apply(isa, x, &self.bias, out, accumulate, finish),
            Weights::Int8(w) => {
                q.quantize(isa, x, self.inputs);
                w.apply(isa, q, &self.bias, out, accumulate, finish);
            }
        }
    }
}
