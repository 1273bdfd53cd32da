//! Shared by the benches (each uses part of it).
#![allow(dead_code)]

use ticketlens::kernels::normalise;

/// Deterministic values in [-0.5, 0.5) (xorshift): for benches whose work does not depend on
/// what the vectors say, so every run does the same.
pub struct Rng(pub u64);

impl Rng {
    pub fn next(&mut self) -> f32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 >> 40) as f32 / (1u64 << 24) as f32 - 0.5
    }

    pub fn unit(&mut self, dimension: usize) -> Vec<f32> {
        normalise((0..dimension).map(|_| self.next()).collect())
    }
}

/// The unit vector of `dimension` values that `seed` names.
pub fn unit_vector(seed: u64, dimension: usize) -> Vec<f32> {
    Rng(seed.wrapping_mul(0x9e37_79b9_7f4a_7c15) | 1).unit(dimension)
}
