//! The encoder's arithmetic besides fp32 matrix products (which the gemm crate does, with its
//! own run-time dispatch, except on AMX's tiles): layer norm, GELU, softmax, int8
//! quantisation and products, fp32 products on the tiles; and the vector arithmetic the
//! encoder and the vector index share: dot products ([`dot_rows`], [`dot_rows_f16`]) and
//! [`normalise`]. A leaf: it uses neither [`crate::model`] nor [`crate::vectors`], and both
//! use it.
//!
//! Every kernel is plain Rust written so that the compiler vectorises it, compiled three times
//! — for the target's baseline, for AVX2+FMA and for AVX-512 — and the variant runs that the
//! CPU has, detected once. The baseline variant is the portable path (any x86-64, aarch64);
//! `TICKETLENS_CPU=portable` forces it, and tests force it through [`Isa::portable`]. Where
//! the CPU has AMX (and the OS allows it), int8 and fp32 products run on its tiles ([`amx`]).

#[cfg(target_arch = "x86_64")]
mod amx;
mod int8;
#[cfg(target_arch = "x86_64")]
mod split;

pub use int8::{QuantizedMatrix, QuantizedRows};
#[cfg(target_arch = "x86_64")]
pub use split::SplitMatrix;

/// A step applied to a product's outputs as they are finished, in parts of whole rows (GELU
/// after the intermediate layer).
pub type Finish = dyn Fn(&mut [f32]) + Sync;

/// The instruction set the kernels run with. Only [`Isa::detect`] can name a SIMD level, so
/// holding one proves the CPU has it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Isa(Level);

/// Lowest first: each level has what the ones before it have.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Level {
    Portable,
    Avx2,
    /// AVX-512 F/BW/VL with VNNI (Ice Lake, Zen 4 and later).
    Avx512,
    /// AVX-512 as above and AMX's tiles, which the OS lets this process use (Xeon from
    /// Sapphire Rapids on): int8 products run on the tiles, and fp32 products as three bf16
    /// products each ([`split`]); the rest as at `Avx512`.
    Amx,
}

const LEVELS: [Level; 4] = [Level::Portable, Level::Avx2, Level::Avx512, Level::Amx];

impl Isa {
    /// The best level this CPU runs, or the best up to the one the environment names in
    /// `TICKETLENS_CPU` (`portable`, `avx2`, `avx512` or `amx`: to compare kernels, or to
    /// rule one out); detected once per process.
    pub fn detect() -> Self {
        static DETECTED: std::sync::OnceLock<Isa> = std::sync::OnceLock::new();
        *DETECTED.get_or_init(Self::detect_now)
    }

    fn detect_now() -> Self {
        let cap = std::env::var("TICKETLENS_CPU").ok().and_then(|name| {
            let level = LEVELS
                .into_iter()
                .find(|&l| Isa(l).name().eq_ignore_ascii_case(&name));
            if level.is_none() {
                tracing::warn!(
                    "TICKETLENS_CPU={name:?} is none of portable, avx2, avx512, amx: ignored"
                );
            }
            level
        });
        available()
            .into_iter()
            .rev()
            .find(|isa| cap.is_none_or(|cap| isa.0 <= cap))
            .unwrap_or(Self::portable())
    }

    /// Plain Rust at the target's baseline: correct everywhere, fastest nowhere.
    pub fn portable() -> Self {
        Self(Level::Portable)
    }

    /// Whether the linear layers' products run on AMX's tiles at this level.
    pub fn has_tiles(self) -> bool {
        self.0 == Level::Amx
    }

    pub fn name(self) -> &'static str {
        match self.0 {
            Level::Portable => "portable",
            Level::Avx2 => "avx2",
            Level::Avx512 => "avx512",
            Level::Amx => "amx",
        }
    }
}

/// Every level this CPU runs, the portable one first. Tests compare them all (on an AMX
/// machine, [`Isa::detect`] alone would leave the AVX2 and VNNI kernels untested).
fn available() -> Vec<Isa> {
    #[cfg_attr(not(target_arch = "x86_64"), allow(unused_mut))]
    let mut all = vec![Isa::portable()];
    #[cfg(target_arch = "x86_64")]
    {
        use std::arch::is_x86_feature_detected as has;
        if has!("avx2") && has!("fma") {
            all.push(Isa(Level::Avx2));
            if has!("avx512f") && has!("avx512bw") && has!("avx512vl") && has!("avx512vnni") {
                all.push(Isa(Level::Avx512));
                if amx::usable() {
                    all.push(Isa(Level::Amx));
                }
            }
        }
    }
    all
}

/// Defines `fn $name(isa: Isa, args…)` running `$body` compiled for `isa`. The body and what
/// it calls must be `#[inline(always)]` so that they are compiled with the target's features.
macro_rules! multiversion {
    ($(#[$meta:meta])* $vis:vis fn $name:ident($($arg:ident: $ty:ty),* $(,)?) $body:block) => {
        $(#[$meta])*
        $vis fn $name(isa: $crate::kernels::Isa, $($arg: $ty),*) {
            #[inline(always)]
            fn generic($($arg: $ty),*) $body
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx2,fma")]
            unsafe fn avx2($($arg: $ty),*) { generic($($arg),*) }
            #[cfg(target_arch = "x86_64")]
            #[target_feature(enable = "avx512f,avx512bw,avx512vl,avx2,fma")]
            unsafe fn avx512($($arg: $ty),*) { generic($($arg),*) }
            match isa.0 {
                // SAFETY: an `Isa` names a level only where `Isa::detect` found its features.
                #[cfg(target_arch = "x86_64")]
                $crate::kernels::Level::Avx2 => unsafe { avx2($($arg),*) },
                #[cfg(target_arch = "x86_64")]
                $crate::kernels::Level::Avx512 | $crate::kernels::Level::Amx => unsafe {
                    avx512($($arg),*)
                },
                _ => generic($($arg),*),
            }
        }
    };
}
pub(crate) use multiversion;

/// Lanes the reductions below keep apart, so that the compiler may vectorise them (f32
/// addition is not associative, so it will not reorder a single running sum).
const LANES: usize = 16;

#[inline(always)]
fn sum(xs: &[f32]) -> f32 {
    sum_of(xs, |x| x)
}

/// The sum of `f(x)` over `xs`.
#[inline(always)]
fn sum_of(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [0f32; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks.remainder().iter().map(|&x| f(x)).sum::<f32>();
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += f(x);
        }
    }
    acc.iter().sum::<f32>() + rest
}

/// The sum of `xs` as the softmax kernels take it, compiled or by hand: value i in lane
/// i % 16, then the lanes as a tree ([`sum_lanes`]).
#[inline(always)]
fn lane_sum(xs: &[f32]) -> f32 {
    let mut acc = [0f32; LANES];
    for c in xs.chunks(LANES) {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a += x;
        }
    }
    sum_lanes(acc)
}

/// Lanes added as a tree (each half to the other, then half of that, …): four dependent
/// additions instead of fifteen, the same in every kernel.
#[inline(always)]
fn sum_lanes(mut acc: [f32; LANES]) -> f32 {
    let mut half = LANES / 2;
    while half > 0 {
        for i in 0..half {
            acc[i] += acc[i + half];
        }
        half /= 2;
    }
    acc[0]
}

/// The largest of `f(x)` over `xs` (at least `f32::MIN`).
#[inline(always)]
fn max_of(xs: &[f32], f: impl Fn(f32) -> f32) -> f32 {
    let mut acc = [f32::MIN; LANES];
    let chunks = xs.chunks_exact(LANES);
    let rest = chunks
        .remainder()
        .iter()
        .fold(f32::MIN, |m, &x| m.max(f(x)));
    for c in chunks {
        for (a, &x) in acc.iter_mut().zip(c) {
            *a = a.max(f(x));
        }
    }
    acc.iter().fold(rest, |m, &x| m.max(x))
}

multiversion! {
    /// Normalises each row of `width` values to zero mean and unit variance, then scales by
    /// `gamma` and shifts by `beta`, in place.
    pub fn layer_norm(rows: &mut [f32], gamma: &[f32], beta: &[f32], eps: f32) {
        let width = gamma.len();
        for row in rows.chunks_exact_mut(width) {
            let mean = sum(row) / width as f32;
            for x in row.iter_mut() {
                *x -= mean;
            }
            let inv = 1.0 / (sum_of(row, |x| x * x) / width as f32 + eps).sqrt();
            for ((x, g), b) in row.iter_mut().zip(gamma).zip(beta) {
                *x = *x * inv * g + b;
            }
        }
    }
}

/// Each row of `out` (rows of `bias.len()` values) set to `bias`, or `bias` added to what it
/// holds where `accumulate` (a residual connection): where the sums of a product that adds
/// into its output start.
pub fn start_from_bias(out: &mut [f32], bias: &[f32], accumulate: bool) {
    for row in out.chunks_exact_mut(bias.len()) {
        if accumulate {
            row.iter_mut().zip(bias).for_each(|(o, b)| *o += b);
        } else {
            row.copy_from_slice(bias);
        }
    }
}

multiversion! {
    /// GELU with erf, as BERT defines it (`x/2 · (1 + erf(x/√2))`), in place.
    pub fn gelu(xs: &mut [f32]) {
        for x in xs.iter_mut() {
            *x = 0.5 * *x * (1.0 + erf(*x * std::f32::consts::FRAC_1_SQRT_2));
        }
    }
}

/// Softmax of each row of `width` scores after multiplying them by `scale`, in place.
pub fn softmax(isa: Isa, rows: &mut [f32], width: usize, scale: f32) {
    #[cfg(target_arch = "x86_64")]
    if isa.0 >= Level::Avx512 {
        // SAFETY: the level says the CPU has AVX-512 F.
        return unsafe { softmax_avx512(rows, width, scale) };
    }
    softmax_compiled(isa, rows, width, scale);
}

/// [`softmax`] by hand for AVX-512, to the same bits as the compiled loops: attention's rows
/// are short (a ticket's tokens), and those loops spent more on each row's tail (scalar exps
/// after the last whole vector) and on `f32::max`'s NaN rules than on the vectors: 15% of an
/// int8 forward pass on the AMX machine, a third less this way. Here a tail is one masked
/// vector; every value and every sum is computed with the same operations in the same order
/// as there (no FMA, the sum's lanes as a tree in both), so int8's quantisation downstream
/// sees the same numbers on every level.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
unsafe fn softmax_avx512(rows: &mut [f32], width: usize, scale: f32) {
    use std::arch::x86_64::*;
    let (whole, tail) = (width / LANES, width % LANES);
    let mask: __mmask16 = ((1u32 << tail) - 1) as u16;
    let scale = _mm512_set1_ps(scale);
    let mut lanes = [0f32; LANES];
    for row in rows.chunks_exact_mut(width) {
        let p = row.as_mut_ptr();
        let last = p.add(LANES * whole);
        let mut top = _mm512_set1_ps(f32::MIN);
        for i in 0..whole {
            top = _mm512_max_ps(top, _mm512_loadu_ps(p.add(LANES * i)));
        }
        top = _mm512_mask_max_ps(top, mask, top, _mm512_maskz_loadu_ps(mask, last));
        let top = _mm512_set1_ps(_mm512_reduce_max_ps(top));
        let weight = |x| exp_avx512(_mm512_mul_ps(_mm512_sub_ps(x, top), scale));
        // [`lane_sum`]'s order: lane i adds values i, i + 16, …, the tail's too; then the tree.
        let mut total = _mm512_setzero_ps();
        for i in 0..whole {
            let e = weight(_mm512_loadu_ps(p.add(LANES * i)));
            total = _mm512_add_ps(total, e);
            _mm512_storeu_ps(p.add(LANES * i), e);
        }
        let e = weight(_mm512_maskz_loadu_ps(mask, last));
        total = _mm512_mask_add_ps(total, mask, total, e);
        _mm512_mask_storeu_ps(last, mask, e);
        _mm512_storeu_ps(lanes.as_mut_ptr(), total);
        let inv = _mm512_set1_ps(1.0 / sum_lanes(lanes));
        for i in 0..whole {
            let at = p.add(LANES * i);
            _mm512_storeu_ps(at, _mm512_mul_ps(_mm512_loadu_ps(at), inv));
        }
        let x = _mm512_maskz_loadu_ps(mask, last);
        _mm512_mask_storeu_ps(last, mask, _mm512_mul_ps(x, inv));
    }
}

/// [`exp`] on 16 lanes, the same operations in the same order.
#[cfg(target_arch = "x86_64")]
#[target_feature(enable = "avx512f")]
#[inline]
unsafe fn exp_avx512(x: std::arch::x86_64::__m512) -> std::arch::x86_64::__m512 {
    use std::arch::x86_64::*;
    let x = _mm512_max_ps(x, _mm512_set1_ps(-87.0));
    let rounder = _mm512_set1_ps(ROUNDER);
    let t = _mm512_add_ps(
        _mm512_mul_ps(x, _mm512_set1_ps(std::f32::consts::LOG2_E)),
        rounder,
    );
    let n = _mm512_sub_ps(t, rounder);
    let r = _mm512_sub_ps(x, _mm512_mul_ps(n, _mm512_set1_ps(LN_2_HIGH)));
    let r = _mm512_sub_ps(r, _mm512_mul_ps(n, _mm512_set1_ps(LN_2_LOW)));
    let p = EXP_TAYLOR.iter().fold(_mm512_setzero_ps(), |acc, &c| {
        _mm512_add_ps(_mm512_mul_ps(acc, r), _mm512_set1_ps(c))
    });
    let two_n = _mm512_slli_epi32::<23>(_mm512_add_epi32(
        _mm512_castps_si512(t),
        _mm512_set1_epi32(127),
    ));
    _mm512_mul_ps(p, _mm512_castsi512_ps(two_n))
}

multiversion! {
    /// [`softmax`] as the compiler vectorises it: the portable and AVX2 levels.
    fn softmax_compiled(rows: &mut [f32], width: usize, scale: f32) {
        for row in rows.chunks_exact_mut(width) {
            let top = max_of(row, |x| x);
            for x in row.iter_mut() {
                *x = exp((*x - top) * scale);
            }
            let inv = 1.0 / lane_sum(row);
            for x in row.iter_mut() {
                *x *= inv;
            }
        }
    }
}

multiversion! {
    /// `out[i]` = the dot product of `query` with row `i` of `rows` (rows of `query.len()`
    /// values).
    pub fn dot_rows(rows: &[f32], query: &[f32], out: &mut [f32]) {
        dot_rows_of(rows, query, out);
    }
}

multiversion! {
    /// [`dot_rows`] of rows in half precision, given by their bits, for one or more queries
    /// given one after the other (each of `dimension` values): `out[q * n + r]` = query `q` ·
    /// row `r`, for the `n` rows. The vector index's scan: the rows are converted a block at
    /// a time into a buffer that stays in L1 cache, where every query reads them, so a batch
    /// of tickets makes one pass over the index's memory, not one each. The sums are
    /// [`dot_rows`]'s of the rows converted to f32, to the bit.
    pub fn dot_rows_f16(rows: &[u16], queries: &[f32], dimension: usize, out: &mut [f32]) {
        if dimension == 0 {
            return out.fill(0.0);
        }
        const BLOCK: usize = 16;
        let n = rows.len() / dimension;
        let mut block = vec![0f32; BLOCK * dimension];
        for (b, half) in rows.chunks(BLOCK * dimension).enumerate() {
            let converted = &mut block[..half.len()];
            for (f, &h) in converted.iter_mut().zip(half) {
                *f = f16_to_f32(h);
            }
            let first = b * BLOCK;
            let count = half.len() / dimension;
            for (q, query) in queries.chunks_exact(dimension).enumerate() {
                let start = q * n + first;
                dot_rows_of(converted, query, &mut out[start..start + count]);
            }
        }
    }
}

/// `v` scaled to unit length (a zero vector stays zero).
pub fn normalise(mut v: Vec<f32>) -> Vec<f32> {
    let norm = v.iter().map(|x| x * x).sum::<f32>().sqrt().max(1e-12);
    v.iter_mut().for_each(|x| *x /= norm);
    v
}

/// The first `len` values of `buffer`, grown to hold them (new values `value`) if it is
/// shorter: buffers reused from pass to pass, never refilled, as each pass writes what it reads.
pub(crate) fn grown<T: Copy>(buffer: &mut Vec<T>, len: usize, value: T) -> &mut [T] {
    if buffer.len() < len {
        buffer.resize(len, value);
    }
    &mut buffer[..len]
}

#[inline(always)]
fn dot_rows_of(rows: &[f32], query: &[f32], out: &mut [f32]) {
    if query.is_empty() {
        return out.fill(0.0);
    }
    for (row, o) in rows.chunks_exact(query.len()).zip(out.iter_mut()) {
        let mut acc = [0f32; LANES];
        let (chunks, tail) = (row.chunks_exact(LANES), query.chunks_exact(LANES));
        let rest: f32 = chunks
            .remainder()
            .iter()
            .zip(tail.remainder())
            .map(|(a, b)| a * b)
            .sum();
        for (r, q) in chunks.zip(tail) {
            for ((a, x), y) in acc.iter_mut().zip(r).zip(q) {
                *a += x * y;
            }
        }
        *o = acc.iter().sum::<f32>() + rest;
    }
}

/// The value of half-precision bits `h`, exact for every value, subnormals included:
/// exponent and mantissa shifted into an f32's places, rebiased by a product with 2^112
/// (exact: a power of two), then the sign. Branch-free, so that a loop over it vectorises
/// (the `half` crate converts one value behind a call).
#[inline(always)]
fn f16_to_f32(h: u16) -> f32 {
    const REBIAS: f32 = f32::from_bits((127 + 112) << 23);
    let magnitude = f32::from_bits(u32::from(h & 0x7fff) << 13) * REBIAS;
    // An all-ones exponent (infinity, NaN) lands on 2^16 and above: give it f32's.
    let special = if magnitude >= 65536.0 { 0x7f80_0000 } else { 0 };
    f32::from_bits(magnitude.to_bits() | special | (u32::from(h & 0x8000) << 16))
}

/// erf as `x·P(x²)/Q(x²)` on [-4, 4] (beyond, erf is ±1 in f32): within 7e-8 of the exact
/// value in an f64 evaluation of the same coefficients. No branch and no libm call, so a loop
/// over it vectorises.
#[inline(always)]
fn erf(x: f32) -> f32 {
    const P: [f32; 7] = [
        -2.726_142_3e-10,
        2.770_681_4e-8,
        -2.101_024e-6,
        -5.692_506_4e-5,
        -7.349_906_3e-4,
        -2.9546e-3,
        -1.609_603_3e-2,
    ];
    const Q: [f32; 5] = [
        -1.456_607_2e-5,
        -2.133_740_6e-4,
        -1.682_827e-3,
        -7.373_329_2e-3,
        -1.426_474e-2,
    ];
    let x = x.clamp(-4.0, 4.0);
    let x2 = x * x;
    let p = P.iter().fold(0.0, |acc, &c| acc * x2 + c);
    let q = Q.iter().fold(0.0, |acc, &c| acc * x2 + c);
    x * p / q
}

/// Adding 1.5·2²³ to a float of magnitude below 2²² rounds it to an integer (ties to even)
/// held in the low mantissa bits: rounding and conversion without a float-to-int instruction,
/// whose saturating form in Rust the compiler does not vectorise.
pub(crate) const ROUNDER: f32 = 12_582_912.0;

/// ln 2 in two parts, so that n·ln2 is subtracted without losing r's low bits.
const LN_2_HIGH: f32 = 0.693_145_75;
const LN_2_LOW: f32 = 1.428_606_8e-6;

/// e^r's Taylor polynomial to degree 6, highest power first.
const EXP_TAYLOR: [f32; 7] = [
    1.0 / 720.0,
    1.0 / 120.0,
    1.0 / 24.0,
    1.0 / 6.0,
    0.5,
    1.0,
    1.0,
];

/// e^x for x ≤ 0 (softmax's arguments): x = n·ln2 + r with |r| ≤ ln2/2, e^r by its Taylor
/// polynomial to degree 6 (relative error below 3e-7), 2^n built in the exponent bits.
/// At -87 and below the result is e^-87, as good as 0 for a softmax weight.
#[inline(always)]
fn exp(x: f32) -> f32 {
    let x = x.max(-87.0);
    let t = x * std::f32::consts::LOG2_E + ROUNDER;
    let n = t - ROUNDER;
    let r = (x - n * LN_2_HIGH) - n * LN_2_LOW;
    let p = EXP_TAYLOR.iter().fold(0.0f32, |acc, &c| acc * r + c);
    // t's low 9 bits hold n (-126 ≤ n ≤ 0) in two's complement; + 127 is the biased
    // exponent of 2^n, which the shift moves into place (the bits above fall off).
    p * f32::from_bits(t.to_bits().wrapping_add(127) << 23)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exp_is_within_a_few_ulps_on_softmaxs_range() {
        for i in 0..=87_000 {
            let x = -(i as f32) / 1000.0;
            let (ours, exact) = (exp(x), (x as f64).exp());
            assert!(
                ((ours as f64 - exact) / exact).abs() < 4e-7,
                "exp({x}) = {ours}, exactly {exact}"
            );
        }
        assert_eq!(exp(-200.0), exp(-87.0));
    }

    #[test]
    fn gelu_matches_candles_exact_one_on_every_level() {
        let xs: Vec<f32> = (-500..500).map(|i| i as f32 / 50.0).collect();
        let t = candle_core::Tensor::new(xs.as_slice(), &candle_core::Device::Cpu).unwrap();
        let exact: Vec<f32> = t.gelu_erf().unwrap().to_vec1().unwrap();
        for isa in available() {
            let mut ours = xs.clone();
            gelu(isa, &mut ours);
            for ((o, e), x) in ours.iter().zip(&exact).zip(&xs) {
                assert!((o - e).abs() < 1e-6, "{isa:?} x = {x}: {o} against {e}");
            }
        }
    }

    #[test]
    fn softmax_and_layer_norm_agree_with_f64_on_every_level() {
        // A width off the lanes, one of whole vectors, and one shorter than a vector.
        for width in [37, 16, 5] {
            let data: Vec<f32> = (0..width * 3)
                .map(|i| ((i * 7919) % 113) as f32 / 9.0 - 6.0)
                .collect();
            let gamma: Vec<f32> = (0..width).map(|i| 1.0 + i as f32 / 50.0).collect();
            let beta: Vec<f32> = (0..width).map(|i| i as f32 / 100.0).collect();
            let mut portable = data.clone();
            softmax(Isa::portable(), &mut portable, width, 0.5);
            for isa in available() {
                let mut s = data.clone();
                softmax(isa, &mut s, width, 0.5);
                // The same bits on every level: int8's quantisation downstream relies on it.
                assert_eq!(s, portable, "{isa:?} softmax");
                let mut n = data.clone();
                layer_norm(isa, &mut n, &gamma, &beta, 1e-12);
                for (r, row) in data.chunks(width).enumerate() {
                    let top = row.iter().cloned().fold(f32::MIN, f32::max) as f64;
                    let e: Vec<f64> = row
                        .iter()
                        .map(|&x| ((x as f64 - top) * 0.5).exp())
                        .collect();
                    let total: f64 = e.iter().sum();
                    let mean = row.iter().map(|&x| x as f64).sum::<f64>() / width as f64;
                    let var =
                        row.iter().map(|&x| (x as f64 - mean).powi(2)).sum::<f64>() / width as f64;
                    for i in 0..width {
                        let got = s[r * width + i] as f64;
                        assert!((got - e[i] / total).abs() < 1e-6, "{isa:?} softmax");
                        let want =
                            (row[i] as f64 - mean) / var.sqrt() * gamma[i] as f64 + beta[i] as f64;
                        assert!(
                            (n[r * width + i] as f64 - want).abs() < 1e-5,
                            "{isa:?} layer norm"
                        );
                    }
                }
            }
        }
    }

    #[test]
    fn dot_rows_agrees_with_f64_on_every_level() {
        let width = 37; // not a multiple of the lanes
        let rows: Vec<f32> = (0..width * 5)
            .map(|i| ((i * 31) % 17) as f32 / 7.0 - 1.0)
            .collect();
        let query: Vec<f32> = (0..width).map(|i| (i % 5) as f32 / 3.0 - 0.5).collect();
        for isa in available() {
            let mut out = vec![f32::NAN; 5];
            dot_rows(isa, &rows, &query, &mut out);
            for (row, got) in rows.chunks(width).zip(&out) {
                let want: f64 = row
                    .iter()
                    .zip(&query)
                    .map(|(&a, &b)| a as f64 * b as f64)
                    .sum();
                assert!(
                    (*got as f64 - want).abs() < 1e-5,
                    "{isa:?}: {got} against {want}"
                );
            }
            dot_rows(isa, &[], &[], &mut out[..1]);
            assert_eq!(out[0], 0.0);
        }
    }

    #[test]
    fn half_precision_rows_are_the_f32_rows_they_convert_to() {
        // Normal, subnormal, zero and signed values, and a width off the lanes.
        let width = 37;
        let halves: Vec<half::f16> = (0..width * 4)
            .map(|i| {
                let x = ((i * 31) % 17) as f32 / 7.0 - 1.0;
                half::f16::from_f32(if i % 5 == 0 { x * 1e-6 } else { x })
            })
            .collect();
        let bits: Vec<u16> = halves.iter().map(|h| h.to_bits()).collect();
        let floats: Vec<f32> = halves.iter().map(|h| h.to_f32()).collect();
        for (&b, &f) in bits.iter().zip(&floats) {
            assert_eq!(f16_to_f32(b).to_bits(), f.to_bits(), "{b:#06x}");
        }
        for special in [
            half::f16::INFINITY,
            half::f16::NEG_INFINITY,
            half::f16::MIN_POSITIVE_SUBNORMAL,
        ] {
            assert_eq!(f16_to_f32(special.to_bits()), special.to_f32());
        }
        assert!(f16_to_f32(half::f16::NAN.to_bits()).is_nan());
        let query: Vec<f32> = (0..width).map(|i| (i % 5) as f32 / 3.0 - 0.5).collect();
        for isa in available() {
            let (mut fused, mut converted) = (vec![f32::NAN; 4], vec![f32::NAN; 4]);
            dot_rows_f16(isa, &bits, &query, width, &mut fused);
            dot_rows(isa, &floats, &query, &mut converted);
            assert_eq!(fused, converted, "{isa:?}");
        }
    }

    #[test]
    fn many_queries_score_as_one_query_at_a_time() {
        // 37 rows: two whole blocks of 16 and a part; a width off the lanes.
        let (width, n, queries) = (37, 37, 3);
        let halves: Vec<half::f16> = (0..width * n)
            .map(|i| half::f16::from_f32(((i * 31) % 17) as f32 / 7.0 - 1.0))
            .collect();
        let bits: Vec<u16> = halves.iter().map(|h| h.to_bits()).collect();
        let floats: Vec<f32> = halves.iter().map(|h| h.to_f32()).collect();
        let query: Vec<f32> = (0..width * queries)
            .map(|i| ((i * 13) % 11) as f32 / 5.0 - 1.0)
            .collect();
        for isa in available() {
            let mut many = vec![f32::NAN; n * queries];
            dot_rows_f16(isa, &bits, &query, width, &mut many);
            for (q, one) in query.chunks(width).zip(many.chunks(n)) {
                let mut alone = vec![f32::NAN; n];
                dot_rows(isa, &floats, q, &mut alone);
                assert_eq!(one, alone, "{isa:?}");
            }
        }
    }
}
