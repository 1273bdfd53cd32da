//! fp32 products on AMX's bf16 tiles, each as three bf16 products ("bf16x3", Henry, Tang and
//! Heinecke, "Leveraging the bfloat16 Artificial Intelligence Datatype For Higher-Precision
//! Computations", 2019).
//!
//! Every value is split into a high and a low bf16 part, `v ≈ hi + lo`, to within 2^-17 of
//! `v` (bf16 keeps 8 bits of a value; the low part 8 more). Then `x·w ≈ xh·wh + xh·wl +
//! xl·wh`: each product of two bf16 is exact in f32 and the sums are f32, and the term left
//! out (`xl·wl`) is 2^-16 of the product at most. Each output is within a few parts in 10^5
//! of the fp32 product's (the tests bound it), and the encoder's vectors are its fp32 ones to
//! cosine 0.99999. On the tiles the three products take a third of the time an AVX-512 fp32
//! product takes, so where the CPU has AMX (`Level::Amx`) the fp32 encoder runs this way;
//! `TICKETLENS_CPU=avx512` keeps it on the gemm crate's fp32 kernels.

use rayon::prelude::*;

use super::amx::{self, Tiles};
use super::{multiversion, start_from_bias, Finish, Isa};

/// Outputs of a panel: two tiles of 16.
const PANEL: usize = 32;
/// Inputs of a step: a tile row of bf16.
const STEP: usize = 32;
/// Rows of one call on the tiles: two tiles of 16.
const BLOCK: usize = amx::ROWS;
/// Values of one tile: 16 pairs of inputs × 16 outputs.
const TILE: usize = 512;
// A step of a panel is four tiles (high and low parts of two tiles of outputs), as the
// tiles' kernel reads it.
const _: () = assert!(amx::SPLIT_STEP == 4 * TILE && TILE * 2 == STEP * PANEL);
/// Rows of the output one task computes, so that a weight panel is reused from cache.
const TASK_ROWS: usize = 4 * BLOCK;

/// A linear layer's weights (outputs × inputs) split into bf16 parts, in the tiles' layout.
pub struct SplitMatrix {
    inputs: usize,
    outputs: usize,
    /// Per panel of 32 outputs, per step of 32 inputs, four tiles: the high parts of outputs
    /// 0–15, of outputs 16–31, then the low parts likewise. A tile holds 16 pairs of inputs
    /// (2i, 2i + 1) × 16 outputs, the pair side by side: its row i is 16 × 2 values.
    packed: Vec<u16>,
}

impl SplitMatrix {
    /// Whether a layer of this shape can be split: the tiles take whole steps and panels.
    pub fn fits(inputs: usize, outputs: usize) -> bool {
        inputs > 0 && outputs > 0 && inputs.is_multiple_of(STEP) && outputs.is_multiple_of(PANEL)
    }

    /// Splits `weights`, row-major (outputs × inputs) as Hugging Face stores a linear layer.
    /// The shape must [fit](Self::fits).
    pub fn new(weights: &[f32], outputs: usize, inputs: usize) -> Self {
        assert!(Self::fits(inputs, outputs) && weights.len() == outputs * inputs);
        let steps = inputs / STEP;
        let mut packed = vec![0u16; outputs * inputs * 2];
        for (n, row) in weights.chunks_exact(inputs).enumerate() {
            let (panel, column) = (n / PANEL, n % PANEL);
            for (k, &w) in row.iter().enumerate() {
                let (step, pair, side) = (k / STEP, k % STEP / 2, k % 2);
                let (hi, lo) = split(w);
                let tile = (panel * steps + step) * 4 + column / 16;
                let at = tile * TILE + pair * 32 + column % 16 * 2 + side;
                packed[at] = hi;
                packed[at + 2 * TILE] = lo;
            }
        }
        Self {
            inputs,
            outputs,
            packed,
        }
    }

    /// `out` (rows × outputs) = x·Wᵀ + bias, or `out +=` that where `accumulate` (a residual
    /// connection added for free), then `finish` on each task's rows while they are still in
    /// cache. `isa` must be one that [has the tiles](Isa::has_tiles).
    pub fn apply(
        &self,
        isa: Isa,
        x: &[f32],
        bias: &[f32],
        out: &mut [f32],
        accumulate: bool,
        finish: Option<&Finish>,
    ) {
        let (k, n) = (self.inputs, self.outputs);
        assert!(isa.has_tiles(), "split products need AMX's tiles");
        assert_eq!(out.len(), x.len() / k * n);
        assert_eq!(bias.len(), n);
        out.par_chunks_mut(TASK_ROWS * n).enumerate().for_each_init(
            Vec::new,
            |parts, (task, out)| {
                let x = &x[task * TASK_ROWS * k..][..out.len() / n * k];
                start_from_bias(out, bias, accumulate);
                self.add_products(isa, x, parts, out);
                if let Some(finish) = finish {
                    finish(out);
                }
            },
        );
    }

    /// `out += x·Wᵀ` for one task's rows, their parts split into `parts` (reused from task to
    /// task). The tiles are released on return, so that a context switch in a `finish` step
    /// after it need not save them.
    fn add_products(&self, isa: Isa, x: &[f32], parts: &mut Vec<u16>, out: &mut [f32]) {
        let (k, n) = (self.inputs, self.outputs);
        let rows = out.len() / n;
        // A row's parts: per step, 32 high values then 32 low ones. Rows past the last are
        // read by the last block and never stored: what they hold does not matter, only that
        // they are there.
        let stride = 2 * k;
        parts.resize(rows.div_ceil(BLOCK) * BLOCK * stride, 0);
        split_rows(isa, x, k, parts);
        let whole = rows / BLOCK * BLOCK;
        let mut tail = [0f32; BLOCK * PANEL];
        // SAFETY: `Isa::has_tiles` (asserted by `apply`) says `amx::usable` said yes.
        let tiles = unsafe { Tiles::configure() };
        let panel_len = k / STEP * amx::SPLIT_STEP;
        for (p, panel) in self.packed.chunks_exact(panel_len).enumerate() {
            let columns = p * PANEL..(p + 1) * PANEL;
            for block in (0..whole).step_by(BLOCK) {
                let c = &mut out[block * n + columns.start..];
                tiles.split_products(&parts[block * stride..], 2 * stride, panel, c, n);
            }
            if whole == rows {
                continue;
            }
            // The last rows, fewer than a block: through a block of their own.
            let last = &mut out[whole * n..];
            for (t, row) in tail.chunks_exact_mut(PANEL).zip(last.chunks_exact(n)) {
                t.copy_from_slice(&row[columns.clone()]);
            }
            tiles.split_products(
                &parts[whole * stride..],
                2 * stride,
                panel,
                &mut tail,
                PANEL,
            );
            for (t, row) in tail.chunks_exact(PANEL).zip(last.chunks_exact_mut(n)) {
                row[columns.clone()].copy_from_slice(t);
            }
        }
    }
}

/// `v`'s high and low bf16 parts (as bits), each rounded to nearest, ties to even: `hi` is `v`
/// to 8 bits and `lo` what is left, to 8 more.
#[inline(always)]
fn split(v: f32) -> (u16, u16) {
    let hi = bf16(v);
    (hi, bf16(v - f32::from_bits(u32::from(hi) << 16)))
}

/// `v` rounded to bf16, as its bits (finite values; the encoder has no others). The `half`
/// crate's `bf16::from_f32` rounds the same way but checks for NaN first: with it, fp32 on
/// the tiles was 2–4% slower (`bench embed`, two rounds taking turns).
#[inline(always)]
fn bf16(v: f32) -> u16 {
    let bits = v.to_bits();
    (bits.wrapping_add(0x7fff + ((bits >> 16) & 1)) >> 16) as u16
}

multiversion! {
    /// The rows of `x` (of `width` values) as [`SplitMatrix::apply`]'s tiles take them: per
    /// row and step, 32 high parts then 32 low parts, into the front of `parts`.
    fn split_rows(x: &[f32], width: usize, parts: &mut [u16]) {
        for (row, out) in x.chunks_exact(width).zip(parts.chunks_exact_mut(2 * width)) {
            for (v, out) in row.chunks_exact(STEP).zip(out.chunks_exact_mut(2 * STEP)) {
                let (hi, lo) = out.split_at_mut(STEP);
                for ((&v, hi), lo) in v.iter().zip(hi).zip(lo) {
                    (*hi, *lo) = split(v);
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(len: usize, seed: usize) -> Vec<f32> {
        (0..len)
            .map(|i| (((i * 7919 + seed * 104_729) % 2003) as f32 / 1001.0 - 1.0) * 0.7)
            .collect()
    }

    #[test]
    fn a_split_value_is_the_value_to_within_two_to_the_minus_17() {
        for v in values(5000, 1)
            .into_iter()
            .chain([0.0, -0.0, 1e-30, 3.0e38])
        {
            let (hi, lo) = split(v);
            let sum = f64::from(f32::from_bits(u32::from(hi) << 16))
                + f64::from(f32::from_bits(u32::from(lo) << 16));
            let off = (sum - f64::from(v)).abs();
            assert!(off <= f64::from(v.abs()) / 131_072.0, "{v}: {sum}");
        }
    }

    #[test]
    fn split_products_are_the_fp32_products_to_a_few_parts_in_100000() {
        let Some(isa) = super::super::available()
            .into_iter()
            .find(|i| i.has_tiles())
        else {
            eprintln!("this CPU has no AMX tiles (or the OS keeps them): nothing to check");
            return;
        };
        // A remainder of rows past the blocks of 32 and past the tasks, several panels and
        // steps; then a task's rows exactly.
        for (rows, inputs, outputs) in [(301, 96, 64), (128, 64, 32), (5, 32, 32)] {
            let w = values(outputs * inputs, 1);
            let x = values(rows * inputs, 2);
            let bias = values(outputs, 3);
            let m = SplitMatrix::new(&w, outputs, inputs);
            let mut out = vec![1.0f32; rows * outputs];
            m.apply(isa, &x, &bias, &mut out, true, None);
            for (r, xr) in x.chunks(inputs).enumerate() {
                for (o, wo) in w.chunks(inputs).enumerate() {
                    let exact: f64 = xr.iter().zip(wo).map(|(&a, &b)| f64::from(a * b)).sum();
                    let magnitude: f64 = xr
                        .iter()
                        .zip(wo)
                        .map(|(&a, &b)| f64::from(a * b).abs())
                        .sum();
                    let want = 1.0 + exact + f64::from(bias[o]);
                    let got = f64::from(out[r * outputs + o]);
                    // 2^-16 of each product, plus f32's rounding of the sums.
                    let bound =
                        magnitude / 65_536.0 + 4.0 * f64::from(f32::EPSILON) * (magnitude + 2.0);
                    assert!(
                        (got - want).abs() <= bound,
                        "{rows}×{inputs}×{outputs}, row {r}, output {o}: {got} against {want}"
                    );
                }
            }
            // Without accumulating, the same less the 1 (to f32's rounding of the sums, which
            // start elsewhere); with a step after, its outputs.
            let mut fresh = vec![f32::NAN; out.len()];
            m.apply(isa, &x, &bias, &mut fresh, false, None);
            let mut finished = vec![f32::NAN; out.len()];
            let negate = |rows: &mut [f32]| rows.iter_mut().for_each(|v| *v = -*v);
            m.apply(isa, &x, &bias, &mut finished, false, Some(&negate));
            for ((o, f), g) in out.iter().zip(&fresh).zip(&finished) {
                let bound = 4.0 * f32::EPSILON * (o.abs() + 1.0);
                assert!((o - (1.0 + f)).abs() <= bound, "{o} against 1 + {f}");
                assert_eq!(*g, -f);
            }
        }
    }
}
