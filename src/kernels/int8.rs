//! int8 products for the linear layers: weights quantised once per output channel, activations
//! per row as they arrive (dynamic quantisation, as ONNX Runtime's), products summed exactly in
//! i32 and scaled back to f32.
//!
//! The unsigned-times-signed byte products are what AVX-512 VNNI's `vpdpbusd` computes (64
//! per instruction, against 16 for an fp32 FMA). Activations are stored as `q + 128` so they
//! are unsigned, and `128·Σw` is taken off again per output. AVX2 has no `vpdpbusd`; its
//! kernel multiplies the same values widened to i16 with `vpmaddwd`. Integer sums are exact,
//! so the portable kernel gives bit-for-bit the results of either. The VNNI kernel also turns
//! its sums into outputs in its registers (the others hand them to `scale_back`), rounding
//! each step as `scale_back` does, so that too is to the bit. Where the CPU has AMX, whole
//! blocks of 32 rows take their sums from its tiles (the same panels, read in place) and the
//! VNNI kernel's epilogue turns them into outputs.

use rayon::prelude::*;

#[cfg(target_arch = "x86_64")]
use std::arch::x86_64::__m512i;

#[cfg(target_arch = "x86_64")]
use super::amx;
use super::{grown, max_of, multiversion, Finish, Isa, Level, ROUNDER};

/// Output columns per packed panel: four 16-lane registers of i32 sums.
const PANEL: usize = 64;
/// Rows one VNNI tile computes: 6 × 4 accumulators, 4 weight registers and a broadcast stay
/// within AVX-512's 32 registers.
const TILE_ROWS: usize = 6;
/// Rows of the output one task computes, so that a weight panel is reused from cache.
const TASK_ROWS: usize = 8 * TILE_ROWS;

/// A linear layer's weights (outputs × inputs), as signed bytes with one scale per output.
pub struct QuantizedMatrix {
    outputs: usize,
    /// Inputs rounded up to whole groups of four bytes, divided by four.
    groups: usize,
    /// Per panel of 64 outputs, per group of 4 inputs: 64 × 4 bytes (zero-padded).
    packed: Vec<i8>,
    scales: Vec<f32>,
    /// 128 · Σ_k w[n, k]: what the +128 of the activations added to output n.
    offsets: Vec<i32>,
    /// The weights widened to i16 for the AVX2 kernel; made on first use, so that machines
    /// with VNNI never hold them.
    wide: std::sync::OnceLock<Vec<i16>>,
}

impl QuantizedMatrix {
    /// Quantises `weights`, row-major (outputs × inputs) as Hugging Face stores a linear layer.
    pub fn new(weights: &[f32], outputs: usize, inputs: usize) -> Self {
        assert_eq!(weights.len(), outputs * inputs);
        let groups = inputs.div_ceil(4);
        let panels = outputs.div_ceil(PANEL);
        let mut packed = vec![0i8; panels * groups * PANEL * 4];
        let mut scales = vec![0f32; panels * PANEL];
        let mut offsets = vec![0i32; panels * PANEL];
        for (n, row) in weights.chunks_exact(inputs).enumerate() {
            let scale = scale_of(row);
            scales[n] = scale;
            let (panel, lane) = (n / PANEL, n % PANEL);
            for (k, w) in row.iter().enumerate() {
                let q = (w / scale).round_ties_even() as i8;
                offsets[n] += 128 * i32::from(q);
                packed[((panel * groups + k / 4) * PANEL + lane) * 4 + k % 4] = q;
            }
        }
        Self {
            outputs,
            groups,
            packed,
            scales,
            offsets,
            wide: std::sync::OnceLock::new(),
        }
    }

    /// `packed` widened, per panel of 64 outputs and pair of inputs: 64 × 2 values, so that
    /// one AVX2 register holds 8 outputs' weights for two inputs, as `vpmaddwd` takes them.
    fn wide(&self) -> &[i16] {
        self.wide.get_or_init(|| {
            let mut wide = vec![0i16; self.packed.len()];
            let pairs = self.groups * 2;
            for (i, &q) in self.packed.iter().enumerate() {
                let (lane, k) = (i / 4 % PANEL, 4 * (i / 4 / PANEL % self.groups) + i % 4);
                let panel = i / 4 / PANEL / self.groups;
                wide[((panel * pairs + k / 2) * PANEL + lane) * 2 + k % 2] = i16::from(q);
            }
            wide
        })
    }

    /// `out` (rows × outputs) = x·Wᵀ + bias, or `out +=` that where `accumulate` (a residual
    /// connection added for free), then `finish` on each task's rows while they are still in
    /// cache (GELU as a pass of its own over the whole output took a quarter more time than
    /// this on the AMX machine).
    pub fn apply(
        &self,
        isa: Isa,
        x: &QuantizedRows,
        bias: &[f32],
        out: &mut [f32],
        accumulate: bool,
        finish: Option<&Finish>,
    ) {
        let n = self.outputs;
        assert_eq!(
            x.stride,
            self.groups * 4,
            "activations quantised for another width"
        );
        assert_eq!(out.len(), x.scales.len() * n);
        let (panel_len, x_stride) = (self.groups * PANEL * 4, x.stride);
        let wide = (isa.0 == Level::Avx2).then(|| self.wide());
        // Rows of one block on AMX's tiles, where this product runs there; a task is two.
        #[cfg(target_arch = "x86_64")]
        let block =
            (isa.0 == Level::Amx && x_stride.is_multiple_of(amx::STEP)).then_some(amx::ROWS);
        #[cfg(not(target_arch = "x86_64"))]
        let block: Option<usize> = None;
        let task_rows = block.map_or(TASK_ROWS, |b| 2 * b);
        out.par_chunks_mut(task_rows * n)
            .enumerate()
            .for_each(|(task, out)| {
                let first = task * task_rows;
                let rows = out.len() / n;
                let tiled = block.map_or(0, |b| rows / b * b);
                // SAFETY: the AMX level is named only where `amx::usable` said yes.
                #[cfg(target_arch = "x86_64")]
                let tiles = (tiled > 0).then(|| unsafe { amx::Tiles::configure() });
                let mut sums = [[0i32; PANEL]; TILE_ROWS];
                for (p, panel) in self.packed.chunks_exact(panel_len).enumerate() {
                    let cols = p * PANEL..((p + 1) * PANEL).min(n);
                    let outputs = Outputs {
                        scales: &self.scales[cols.clone()],
                        offsets: &self.offsets[cols.clone()],
                        bias: &bias[cols.clone()],
                        accumulate,
                    };
                    #[cfg(target_arch = "x86_64")]
                    if let Some(tiles) = &tiles {
                        let dst = &mut out[cols.start..];
                        tiled_rows(tiles, x, first..first + tiled, panel, &outputs, dst, n);
                    }
                    for tile in (tiled..rows).step_by(TILE_ROWS) {
                        let rows = (rows - tile).min(TILE_ROWS);
                        let at = (first + tile) * x.stride..;
                        let row_scales = &x.scales[first + tile..][..rows];
                        #[cfg(target_arch = "x86_64")]
                        if matches!(isa.0, Level::Avx512 | Level::Amx) {
                            let dst = &mut out[tile * n + cols.start..];
                            let x = &x.data[at];
                            fused_vnni(x, x_stride, panel, row_scales, &outputs, dst, n);
                            continue;
                        }
                        let sums = &mut sums[..rows];
                        match wide {
                            Some(wide) => {
                                let panel = &wide[p * panel_len..][..panel_len];
                                let offsets = &self.offsets[p * PANEL..][..PANEL];
                                products_wide(isa, &x.wide[at], x.stride, panel, offsets, sums);
                            }
                            None => products_portable(isa, &x.data[at], x.stride, panel, sums),
                        }
                        for ((r, sum), &row_scale) in sums.iter().enumerate().zip(row_scales) {
                            let dst = &mut out[(tile + r) * n..][cols.clone()];
                            scale_back(isa, &sum[..dst.len()], row_scale, &outputs, dst);
                        }
                    }
                }
                #[cfg(target_arch = "x86_64")]
                drop(tiles); // so that a context switch in `finish` need not save them
                if let Some(finish) = finish {
                    finish(out);
                }
            });
    }
}

/// Activations quantised per row to `q + 128` bytes; reused across layers to save allocations.
#[derive(Default)]
pub struct QuantizedRows {
    /// Bytes per row: the width rounded up to whole groups of four (padding is 128, i.e. 0).
    stride: usize,
    data: Vec<u8>,
    /// The rows as signed q in i16, for the AVX2 kernel only.
    wide: Vec<i16>,
    scales: Vec<f32>,
}

impl QuantizedRows {
    /// Quantises `x`, rows of `width` values.
    pub fn quantize(&mut self, isa: Isa, x: &[f32], width: usize) {
        let rows = x.len() / width;
        self.stride = width.div_ceil(4) * 4;
        let (stride, len) = (self.stride, rows * self.stride);
        // Grown, never refilled: every byte of the rows is written below, and filling the
        // whole buffer first was a serial memset of up to 4 MB before each product. The rows
        // are as many as the scales; the buffers may hold more, which nothing reads.
        let data = grown(&mut self.data, len, 128);
        self.scales.clear();
        self.scales.resize(rows, 0.0);
        let tasks = x
            .par_chunks(TASK_ROWS * width)
            .zip(data.par_chunks_mut(TASK_ROWS * stride))
            .zip(self.scales.par_chunks_mut(TASK_ROWS));
        if isa.0 == Level::Avx2 {
            // Widened in the same pass, while each task's bytes are in cache.
            tasks
                .zip(grown(&mut self.wide, len, 0).par_chunks_mut(TASK_ROWS * stride))
                .for_each(|(((x, data), scales), wide)| {
                    quantize_rows(isa, x, width, stride, data, scales);
                    for (w, &b) in wide.iter_mut().zip(data.iter()) {
                        *w = i16::from(b) - 128;
                    }
                });
        } else {
            tasks
                .for_each(|((x, data), scales)| quantize_rows(isa, x, width, stride, data, scales));
        }
    }
}

multiversion! {
    fn quantize_rows(
        x: &[f32],
        width: usize,
        stride: usize,
        data: &mut [u8],
        scales: &mut [f32],
    ) {
        for ((row, out), scale) in x
            .chunks_exact(width)
            .zip(data.chunks_exact_mut(stride))
            .zip(scales.iter_mut())
        {
            *scale = scale_of(row);
            let inv = 1.0 / *scale;
            let (values, padding) = out.split_at_mut(width);
            for (o, v) in values.iter_mut().zip(row) {
                // 128 + the rounded value (1..=255) lands in the low byte.
                *o = (v * inv + (128.0 + ROUNDER)).to_bits() as u8;
            }
            padding.fill(128);
        }
    }
}

/// The step of symmetric quantisation of `values` to ±127 (1 for all zeros).
#[inline(always)]
fn scale_of(values: &[f32]) -> f32 {
    let top = max_of(values, f32::abs);
    if top > 0.0 {
        top / 127.0
    } else {
        1.0
    }
}

/// What turns a panel's i32 sums back into its outputs (up to 64): their scales, 128·Σw and
/// biases, and whether the outputs are added to (a residual connection) or replaced.
struct Outputs<'a> {
    scales: &'a [f32],
    offsets: &'a [i32],
    bias: &'a [f32],
    accumulate: bool,
}

multiversion! {
    /// One row's outputs from its sums and its activations' scale.
    fn scale_back(sums: &[i32], row_scale: f32, o: &Outputs, dst: &mut [f32]) {
        let parts = sums.iter().zip(o.offsets).zip(o.scales).zip(o.bias);
        for (d, (((&s, &off), &w), &b)) in dst.iter_mut().zip(parts) {
            let v = (s - off) as f32 * (row_scale * w) + b;
            *d = if o.accumulate { *d + v } else { v };
        }
    }
}

/// As [`products_portable`] from the AVX2 kernel's i16 rows and panel (`stride` values per row), plus
/// the outputs' `offsets` (128·Σw), which make its sums those of the other kernels.
fn products_wide(
    isa: Isa,
    x: &[i16],
    stride: usize,
    panel: &[i16],
    offsets: &[i32],
    sums: &mut [[i32; PANEL]],
) {
    assert_eq!(isa.0, Level::Avx2, "the i16 operands are the AVX2 kernel's");
    assert!(x.len() >= sums.len() * stride && panel.len() >= stride * PANEL);
    assert_eq!(offsets.len(), PANEL);
    #[cfg(target_arch = "x86_64")]
    {
        let last = sums.len() - 1;
        let mut twos = sums.chunks_exact_mut(2);
        // SAFETY: the level says the CPU has AVX2; the assertions above keep every read
        // within `x`, `panel` and `offsets`.
        unsafe {
            for (t, two) in twos.by_ref().enumerate() {
                avx2::<2>(&x[2 * t * stride..], stride, panel, offsets, two);
            }
            let odd = twos.into_remainder();
            if !odd.is_empty() {
                avx2::<1>(&x[last * stride..], stride, panel, offsets, odd);
            }
        }
    }
}

multiversion! {
    /// i32 sums of `sums.len()` rows of `x` (each `stride` bytes) times one packed panel:
    /// the kernel of levels without VNNI or AVX2 ([`fused_vnni`] and [`products_wide`] are
    /// theirs).
    fn products_portable(x: &[u8], stride: usize, panel: &[i8], sums: &mut [[i32; PANEL]]) {
        for (row, sum) in x.chunks_exact(stride).zip(sums.iter_mut()) {
            *sum = [0; PANEL];
            for (xs, ws) in row.chunks_exact(4).zip(panel.chunks_exact(PANEL * 4)) {
                for (s, w) in sum.iter_mut().zip(ws.chunks_exact(4)) {
                    *s += i32::from(xs[0]) * i32::from(w[0])
                        + i32::from(xs[1]) * i32::from(w[1])
                        + i32::from(xs[2]) * i32::from(w[2])
                        + i32::from(xs[3]) * i32::from(w[3]);
                }
            }
        }
    }
}

/// Products and [`scale_back`] for one tile of `row_scales.len()` rows of `x`, to the same
/// bits, the epilogue in the VNNI kernel's registers: the sums never go to memory, and no
/// call per row and panel turns them back into floats (8% of int8's time was in that call and
/// 6% in the loop around it). `dst` starts at the tile's first row and the panel's first
/// output, its rows `dst_stride` apart.
#[cfg(target_arch = "x86_64")]
fn fused_vnni(
    x: &[u8],
    stride: usize,
    panel: &[i8],
    row_scales: &[f32],
    o: &Outputs,
    dst: &mut [f32],
    dst_stride: usize,
) {
    let (rows, cols) = (row_scales.len(), o.scales.len());
    assert!(x.len() >= rows * stride && panel.len() >= stride * PANEL);
    assert!(cols <= PANEL && o.offsets.len() == cols && o.bias.len() == cols);
    assert!(rows > 0 && dst.len() >= (rows - 1) * dst_stride + cols);
    let dst = dst.as_mut_ptr();
    // SAFETY: only called at the AVX-512 level, which has VNNI; the assertions keep every
    // read within `x` and `panel` and every write within `dst`.
    unsafe {
        if rows == TILE_ROWS {
            vnni_scaled::<TILE_ROWS>(x, stride, panel, row_scales, o, dst, dst_stride);
        } else {
            for r in 0..rows {
                let (x, row_dst) = (&x[r * stride..], dst.add(r * dst_stride));
                vnni_scaled::<1>(x, stride, panel, &row_scales[r..=r], o, row_dst, dst_stride);
            }
        }
    }
}

/// `R` rows × 64 outputs with `vpdpbusd` (per group of four inputs, four loads of the panel
/// and one broadcast of each row's four bytes feed 4·R multiply-adds of 64 byte products),
/// whose sums become outputs as [`scale_back`] makes them: (s − offset) in i32, to f32, times
/// (row scale × output scale), plus bias, plus the output where accumulating — each a
/// separate rounding, as there. Lanes past the panel's outputs are masked off.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl,avx512vnni")]
unsafe fn vnni_scaled<const R: usize>(
    x: &[u8],
    stride: usize,
    panel: &[i8],
    row_scales: &[f32],
    o: &Outputs,
    dst: *mut f32,
    dst_stride: usize,
) {
    use std::arch::x86_64::*;
    let mut acc = [[_mm512_setzero_si512(); 4]; R];
    let (xp, wp) = (x.as_ptr(), panel.as_ptr());
    for g in 0..stride / 4 {
        let w = wp.add(g * PANEL * 4);
        let ws = [0, 1, 2, 3].map(|j| _mm512_loadu_si512(w.add(64 * j).cast()));
        for (r, acc) in acc.iter_mut().enumerate() {
            let xs = _mm512_set1_epi32(xp.add(r * stride + 4 * g).cast::<i32>().read_unaligned());
            for (a, w) in acc.iter_mut().zip(ws) {
                *a = _mm512_dpbusd_epi32(*a, xs, w);
            }
        }
    }
    store_outputs(R, |r, j| acc[r][j], row_scales, o, dst, dst_stride);
}

/// The AVX-512 kernels' epilogue: `rows` rows' outputs (up to 64, those of `o`) from their
/// sums (`sums(r, j)` holds row r's for outputs 16j to 16j + 15) as [`scale_back`] makes them:
/// (s − offset) in i32, to f32, times (row scale × output scale), plus bias, plus the output
/// where accumulating — each a separate rounding, as there. Lanes past the outputs are masked
/// off.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f,avx512bw,avx512vl")]
#[inline]
unsafe fn store_outputs(
    rows: usize,
    sums: impl Fn(usize, usize) -> __m512i,
    row_scales: &[f32],
    o: &Outputs,
    dst: *mut f32,
    dst_stride: usize,
) {
    use std::arch::x86_64::*;
    let cols = o.scales.len();
    for j in 0..4 {
        let start = 16 * j;
        if start >= cols {
            break;
        }
        let mask: __mmask16 = if cols - start >= 16 {
            0xffff
        } else {
            (1u16 << (cols - start)) - 1
        };
        let scales = _mm512_maskz_loadu_ps(mask, o.scales.as_ptr().add(start));
        let offsets = _mm512_maskz_loadu_epi32(mask, o.offsets.as_ptr().add(start));
        let bias = _mm512_maskz_loadu_ps(mask, o.bias.as_ptr().add(start));
        for (r, &row_scale) in row_scales[..rows].iter().enumerate() {
            let sums = _mm512_cvtepi32_ps(_mm512_sub_epi32(sums(r, j), offsets));
            let step = _mm512_mul_ps(_mm512_set1_ps(row_scale), scales);
            let mut v = _mm512_add_ps(_mm512_mul_ps(sums, step), bias);
            let at = dst.add(r * dst_stride + start);
            if o.accumulate {
                v = _mm512_add_ps(_mm512_maskz_loadu_ps(mask, at), v);
            }
            _mm512_mask_storeu_ps(at, mask, v);
        }
    }
}

/// `rows` of `x` (whole blocks of 32) times one panel on AMX's tiles: their i32 sums (exact,
/// so the same as every other kernel's) to a block in memory, then [`store_outputs`]. `dst`
/// starts at the first row and the panel's first output, its rows `dst_stride` apart.
#[cfg(target_arch = "x86_64")]
fn tiled_rows(
    tiles: &amx::Tiles,
    x: &QuantizedRows,
    rows: std::ops::Range<usize>,
    panel: &[i8],
    o: &Outputs,
    dst: &mut [f32],
    dst_stride: usize,
) {
    let cols = o.scales.len();
    assert!(cols <= PANEL && o.offsets.len() == cols && o.bias.len() == cols);
    let mut sums = [[0i32; PANEL]; amx::ROWS];
    let row_scales = &x.scales[rows.clone()];
    for (b, row_scales) in row_scales.chunks_exact(amx::ROWS).enumerate() {
        let first = b * amx::ROWS;
        let data = &x.data[(rows.start + first) * x.stride..];
        tiles.products(data, x.stride, panel, &mut sums);
        let dst = &mut dst[first * dst_stride..];
        assert!(dst.len() >= (amx::ROWS - 1) * dst_stride + cols);
        // SAFETY: the AMX level has AVX-512; the assertion keeps every write within `dst`.
        unsafe {
            store_outputs(
                amx::ROWS,
                |r, j| std::arch::x86_64::_mm512_loadu_si512(sums[r][16 * j..].as_ptr().cast()),
                row_scales,
                o,
                dst.as_mut_ptr(),
                dst_stride,
            );
        }
    }
}

/// `R` rows × 64 outputs on AVX2, which has no `vpdpbusd` (and whose `vpmaddubsw` saturates
/// pairs of byte products to i16, which (q+128)·w can exceed). `vpmaddwd` multiplies i16
/// pairs — signed q and w, each within ±127 — and adds each pair into i32: exact, and with no
/// fix-up of signs, one instruction and an add per 16 products. The panel goes in two halves
/// of 32 outputs, so that R rows' accumulators and the half's weights fit AVX2's 16 registers
/// and each weight load serves every row.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx2,fma")]
unsafe fn avx2<const R: usize>(
    x: &[i16],
    stride: usize,
    panel: &[i16],
    offsets: &[i32],
    sums: &mut [[i32; PANEL]],
) {
    use std::arch::x86_64::*;
    let (xp, wp) = (x.as_ptr(), panel.as_ptr());
    for half in 0..2 {
        let mut acc = [[_mm256_setzero_si256(); 4]; R];
        for pair in 0..stride / 2 {
            let w = wp.add((pair * PANEL + 32 * half) * 2);
            let ws = [0, 1, 2, 3].map(|j| _mm256_loadu_si256(w.add(16 * j).cast()));
            for (r, acc) in acc.iter_mut().enumerate() {
                let two = xp.add(r * stride + 2 * pair).cast::<i32>().read_unaligned();
                let xs = _mm256_set1_epi32(two);
                for (a, w) in acc.iter_mut().zip(ws) {
                    *a = _mm256_add_epi32(*a, _mm256_madd_epi16(xs, w));
                }
            }
        }
        for (acc, sum) in acc.iter().zip(sums.iter_mut()) {
            for (j, a) in acc.iter().enumerate() {
                let at = 32 * half + 8 * j;
                let o = _mm256_loadu_si256(offsets.as_ptr().add(at).cast());
                _mm256_storeu_si256(sum.as_mut_ptr().add(at).cast(), _mm256_add_epi32(*a, o));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deterministic values in [-1, 1) with a few larger ones, like a layer's activations.
    fn values(len: usize, seed: u64) -> Vec<f32> {
        let mut state = seed;
        (0..len)
            .map(|i| {
                state = state
                    .wrapping_mul(6364136223846793005)
                    .wrapping_add(1442695040888963407);
                let v = ((state >> 40) as f32 / (1u64 << 24) as f32) * 2.0 - 1.0;
                if i % 97 == 0 {
                    v * 8.0
                } else {
                    v
                }
            })
            .collect()
    }

    fn product(isa: Isa, w: &QuantizedMatrix, x: &[f32], width: usize, bias: &[f32]) -> Vec<f32> {
        let mut q = QuantizedRows::default();
        q.quantize(isa, x, width);
        let mut out = vec![1.0; x.len() / width * w.outputs];
        w.apply(isa, &q, bias, &mut out, true, None);
        // Without accumulating, the same outputs less the 1 they were added to; and with a
        // step after, that step's outputs, every one.
        let mut fresh = vec![f32::NAN; out.len()];
        w.apply(isa, &q, bias, &mut fresh, false, None);
        let mut finished = vec![f32::NAN; out.len()];
        let negate = |rows: &mut [f32]| rows.iter_mut().for_each(|v| *v = -*v);
        w.apply(isa, &q, bias, &mut finished, false, Some(&negate));
        for ((o, f), n) in out.iter().zip(&fresh).zip(&finished) {
            assert_eq!(*o, 1.0 + f, "{isa:?}");
            assert_eq!(*n, -f, "{isa:?}");
        }
        out
    }

    #[test]
    fn quantised_products_are_close_to_fp32_and_the_same_on_every_level() {
        // Sizes that are not multiples of the panel, the tile or the groups of four; then
        // inputs that AMX's tiles take (a multiple of 64), with rows in whole blocks of 32
        // and a remainder the VNNI kernel takes.
        for (rows, inputs, outputs) in [(53, 390, 70), (101, 320, 70)] {
            check_products(rows, inputs, outputs);
        }
    }

    fn check_products(rows: usize, inputs: usize, outputs: usize) {
        let w = values(outputs * inputs, 1);
        let x = values(rows * inputs, 2);
        let bias = values(outputs, 3);
        let q = QuantizedMatrix::new(&w, outputs, inputs);
        let portable = product(Isa::portable(), &q, &x, inputs, &bias);
        for isa in super::super::available() {
            assert_eq!(product(isa, &q, &x, inputs, &bias), portable, "{isa:?}");
        }
        let top = |v: &[f32]| v.iter().fold(0f32, |m, x| m.max(x.abs()));
        let mut errors = 0f64;
        for (r, xr) in x.chunks(inputs).enumerate() {
            for (n, wn) in w.chunks(inputs).enumerate() {
                let exact: f32 = xr.iter().zip(wn).map(|(a, b)| a * b).sum();
                let err = portable[r * outputs + n] - (1.0 + exact + bias[n]);
                // Each factor is off by at most half its row's step (largest / 127).
                let bound = top(xr) / 254.0 * wn.iter().map(|v| v.abs()).sum::<f32>()
                    + top(wn) / 254.0 * xr.iter().map(|v| v.abs()).sum::<f32>();
                assert!(
                    err.abs() <= bound * 1.01,
                    "row {r}, output {n}: off by {err}"
                );
                errors += f64::from(err * err);
            }
        }
        assert!(errors > 0.0, "suspiciously exact: was anything quantised?");
    }
}
