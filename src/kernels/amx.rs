//! AMX's tiles (Intel Xeon from Sapphire Rapids on): eight 1 KiB registers of 16 rows and a
//! multiply unit that takes a whole tile at once. One `tdpbusd` adds 16 × 16 sums of 64
//! unsigned-times-signed byte products: 16,384 of them, where AVX-512 VNNI's `vpdpbusd` does
//! 64. Measured here (Xeon, 2 cores): about 2.8 int8 TOPS on one core with the operands in the
//! tiles. `tdpbf16ps` does the same with pairs of bf16 into f32 sums: 8,192 products, at the
//! same rate of instructions (where an AVX-512 FMA does 16).
//!
//! Stable Rust has no AMX intrinsics, so the instructions are inline assembly. The tiles hold
//! state the operating system must save on a context switch, and Linux hands them to a process
//! only when it asks ([`usable`] does).

use std::arch::asm;

/// Rows of the activations one call takes: two tiles of 16.
pub const ROWS: usize = 32;
/// Bytes of a row one step takes (a tile row): 16 groups of four inputs.
pub const STEP: usize = 64;
/// Bytes from one group of four inputs to the next in a packed int8 panel (64 outputs × 4).
const PANEL_ROW: usize = 256;
/// bf16 values of one step (32 inputs) of a split panel: four tiles of 512.
pub const SPLIT_STEP: usize = 2048;

/// Whether this CPU has AMX's tiles with int8 and bf16 products (every AMX CPU so far has
/// both), and the OS lets this process use them.
pub fn usable() -> bool {
    #[cfg(target_os = "linux")]
    {
        // CPUID leaf 7: EDX bit 22 is AMX-BF16, bit 24 AMX-TILE, bit 25 AMX-INT8.
        const AMX: u32 = 1 << 22 | 1 << 24 | 1 << 25;
        // SAFETY: leaf 7 exists on every x86-64 that reports AVX-512, which callers check first.
        #[allow(unused_unsafe)]
        let edx = unsafe { std::arch::x86_64::__cpuid_count(7, 0) }.edx;
        if edx & AMX != AMX {
            return false;
        }
        // arch_prctl(ARCH_REQ_XCOMP_PERM, XFEATURE_XTILEDATA): without it the first tile
        // instruction kills the process. The permission is the whole process's.
        const ARCH_REQ_XCOMP_PERM: libc::c_long = 0x1023;
        const XFEATURE_XTILEDATA: libc::c_long = 18;
        // SAFETY: a plain system call with integer arguments.
        unsafe {
            libc::syscall(
                libc::SYS_arch_prctl,
                ARCH_REQ_XCOMP_PERM,
                XFEATURE_XTILEDATA,
            ) == 0
        }
    }
    #[cfg(not(target_os = "linux"))]
    false
}

/// The tiles configured for [`Tiles::products`] on this thread; released when dropped.
pub struct Tiles(std::marker::PhantomData<*const ()>);

/// `ldtilecfg`'s 64-byte operand: palette 1, then each tile's bytes per row and rows.
#[repr(C, align(64))]
struct Config {
    palette: u8,
    start_row: u8,
    reserved: [u8; 14],
    bytes_per_row: [u16; 16],
    rows: [u8; 16],
}

impl Tiles {
    /// # Safety
    /// [`usable`] must have said yes in this process.
    pub unsafe fn configure() -> Self {
        // Every tile in use is 16 rows of 64 bytes: tmm0–3 the sums (16 × 16 i32 or f32),
        // tmm4–5 activations (16 rows × 64 bytes), tmm6–7 weights (16 groups of four bytes or
        // pairs of bf16 × 16 outputs).
        let mut config = Config {
            palette: 1,
            start_row: 0,
            reserved: [0; 14],
            bytes_per_row: [0; 16],
            rows: [0; 16],
        };
        config.bytes_per_row[..8].fill(64);
        config.rows[..8].fill(16);
        asm!("ldtilecfg [{}]", in(reg) std::ptr::from_ref(&config), options(nostack, readonly));
        Tiles(std::marker::PhantomData)
    }

    /// The i32 sums of 32 rows of activations `x` (unsigned bytes, rows `stride` apart,
    /// `stride` a multiple of [`STEP`]) times one packed int8 panel of 64 outputs, as
    /// `sums[row][output]`.
    ///
    /// The panel's layout is the VNNI kernel's (per group of four inputs, 64 outputs × 4
    /// bytes): a weight tile is 16 outputs' columns of it, read 256 bytes a row, so no
    /// repacking. Each step (64 inputs) loads two activation and two weight tiles for four
    /// products: 32 rows × 32 outputs at a time, the panel in two halves. The sums live in
    /// tmm0–3 (rows 0–15 and 16–31 × outputs 0–15 and 16–31 of the half), whose rows are
    /// stored 256 bytes apart: a row of `sums`.
    pub fn products(&self, x: &[u8], stride: usize, panel: &[i8], sums: &mut [[i32; 64]; ROWS]) {
        assert!(stride > 0 && stride.is_multiple_of(STEP) && x.len() >= ROWS * stride);
        assert!(panel.len() >= stride / 4 * PANEL_ROW);
        for half in 0..2 {
            let c = sums.as_mut_ptr().cast::<i32>().wrapping_add(32 * half);
            // SAFETY: the tiles are configured on this thread (`self`); by the assertions
            // every tile row loaded lies in `x` or `panel` (the last step reads bytes up to
            // 32·stride of x and stride·64 of the panel), and every row stored in `sums`.
            // The sums stay in the tiles from zero to store within this one block.
            unsafe {
                asm!(
                    "tilezero tmm0",
                    "tilezero tmm1",
                    "tilezero tmm2",
                    "tilezero tmm3",
                    "2:",
                    "tileloadd tmm4, [{a} + {xs}*1]",
                    "tileloadd tmm5, [{a2} + {xs}*1]",
                    "tileloadd tmm6, [{w} + {ws}*1]",
                    "tileloadd tmm7, [{w} + {ws}*1 + 64]",
                    "tdpbusd tmm0, tmm4, tmm6",
                    "tdpbusd tmm1, tmm4, tmm7",
                    "tdpbusd tmm2, tmm5, tmm6",
                    "tdpbusd tmm3, tmm5, tmm7",
                    "add {a}, 64",
                    "add {a2}, 64",
                    "add {w}, 4096",
                    "dec {steps}",
                    "jnz 2b",
                    "tilestored [{c} + {ws}*1], tmm0",
                    "tilestored [{c} + {ws}*1 + 64], tmm1",
                    "tilestored [{c} + {ws}*1 + 4096], tmm2",
                    "tilestored [{c} + {ws}*1 + 4160], tmm3",
                    a = inout(reg) x.as_ptr() => _,
                    a2 = inout(reg) x.as_ptr().add(16 * stride) => _,
                    w = inout(reg) panel.as_ptr().add(half * 128) => _,
                    steps = inout(reg) stride / STEP => _,
                    xs = in(reg) stride,
                    ws = in(reg) PANEL_ROW,
                    c = in(reg) c,
                    out("tmm0") _, out("tmm1") _, out("tmm2") _, out("tmm3") _,
                    out("tmm4") _, out("tmm5") _, out("tmm6") _, out("tmm7") _,
                    options(nostack)
                );
            }
        }
    }

    /// `c += x·w` for 32 rows and one split panel of 32 outputs, each product as three bf16
    /// products (see `super::split`). `x` holds the rows' high and low bf16 parts, per step of
    /// 32 inputs the 32 high then the 32 low (128 bytes), rows `stride` bytes apart; `panel`
    /// per step four tiles of 16 input pairs × 16 outputs: the high parts of outputs 0–15 and
    /// 16–31, then the low parts. `c` is f32, rows `c_stride` values apart: the sums start
    /// from what it holds (the bias, or the residual and the bias) and are stored back there.
    pub fn split_products(
        &self,
        x: &[u16],
        stride: usize,
        panel: &[u16],
        c: &mut [f32],
        c_stride: usize,
    ) {
        let steps = panel.len() / SPLIT_STEP;
        assert!(steps > 0 && panel.len() == steps * SPLIT_STEP);
        assert!(stride >= steps * 128 && x.len() * 2 >= 31 * stride + steps * 128);
        assert!(c.len() >= 31 * c_stride + 32);
        // SAFETY: the tiles are configured on this thread (`self`); by the assertions every
        // tile row loaded lies in `x` (rows of `stride` bytes, each step 128 bytes further)
        // or `panel` (4 KiB a step), and every row of `c` loaded and stored in `c` (32 rows
        // of 32 values). The sums stay in the tiles from load to store within this one block.
        unsafe {
            asm!(
                "tileloadd tmm0, [{c} + {cs}*1]",
                "tileloadd tmm1, [{c} + {cs}*1 + 64]",
                "tileloadd tmm2, [{c2} + {cs}*1]",
                "tileloadd tmm3, [{c2} + {cs}*1 + 64]",
                "2:",
                // The high parts of the rows and of the weights.
                "tileloadd tmm4, [{a} + {xs}*1]",
                "tileloadd tmm5, [{a2} + {xs}*1]",
                "tileloadd tmm6, [{w} + {ws}*1]",
                "tileloadd tmm7, [{w} + {ws}*1 + 1024]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                // High rows times low weights.
                "tileloadd tmm6, [{w} + {ws}*1 + 2048]",
                "tileloadd tmm7, [{w} + {ws}*1 + 3072]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                // Low rows times high weights.
                "tileloadd tmm4, [{a} + {xs}*1 + 64]",
                "tileloadd tmm5, [{a2} + {xs}*1 + 64]",
                "tileloadd tmm6, [{w} + {ws}*1]",
                "tileloadd tmm7, [{w} + {ws}*1 + 1024]",
                "tdpbf16ps tmm0, tmm4, tmm6",
                "tdpbf16ps tmm1, tmm4, tmm7",
                "tdpbf16ps tmm2, tmm5, tmm6",
                "tdpbf16ps tmm3, tmm5, tmm7",
                "add {a}, 128",
                "add {a2}, 128",
                "add {w}, 4096",
                "dec {steps}",
                "jnz 2b",
                "tilestored [{c} + {cs}*1], tmm0",
                "tilestored [{c} + {cs}*1 + 64], tmm1",
                "tilestored [{c2} + {cs}*1], tmm2",
                "tilestored [{c2} + {cs}*1 + 64], tmm3",
                a = inout(reg) x.as_ptr() => _,
                a2 = inout(reg) x.as_ptr().cast::<u8>().add(16 * stride) => _,
                w = inout(reg) panel.as_ptr() => _,
                steps = inout(reg) steps => _,
                xs = in(reg) stride,
                ws = in(reg) 64usize,
                c = in(reg) c.as_mut_ptr(),
                c2 = in(reg) c.as_mut_ptr().add(16 * c_stride),
                cs = in(reg) 4 * c_stride,
                out("tmm0") _, out("tmm1") _, out("tmm2") _, out("tmm3") _,
                out("tmm4") _, out("tmm5") _, out("tmm6") _, out("tmm7") _,
                options(nostack)
            );
        }
    }
}

impl Drop for Tiles {
    fn drop(&mut self) {
        // Back to the initial state, so that context switches need not save the tiles.
        // SAFETY: only releases this thread's tile configuration.
        unsafe { asm!("tilerelease", options(nostack, nomem)) };
    }
}
