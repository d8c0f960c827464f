//! A tiny, version-stable random stream (SplitMix64).
//!
//! Reproducibility is a promise Areya makes in its run directories: the same seed must give the
//! same shuffles and augmentations across releases. `rand`'s `StdRng` explicitly does not promise
//! a stable stream across versions, so this 20-line generator is used instead. Streams are derived
//! from `(seed, purpose, epoch, index)`, so parallel workers get the same numbers in any order.

/// SplitMix64 (Steele, Lea & Flood, 2014).
#[derive(Debug, Clone)]
pub struct SplitMix64(u64);

impl SplitMix64 {
    pub fn new(seed: u64) -> Self {
        SplitMix64(seed)
    }

    /// A stream keyed by several values, e.g. `(seed, STREAM_AUGMENT, epoch, image index)`.
    pub fn keyed(parts: &[u64]) -> Self {
        let mut s = SplitMix64(0x5EED_A4E7_A000_0001);
        let mut acc = 0u64;
        for &p in parts {
            s.0 ^= p.wrapping_mul(0x9E37_79B9_7F4A_7C15);
            acc = s.next_u64();
        }
        SplitMix64(acc)
    }

    pub fn next_u64(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in [0, 1).
    pub fn next_f64(&mut self) -> f64 {
        (self.next_u64() >> 11) as f64 / (1u64 << 53) as f64
    }

    /// Uniform in [lo, hi).
    pub fn uniform(&mut self, lo: f64, hi: f64) -> f64 {
        lo + (hi - lo) * self.next_f64()
    }

    /// Uniform integer in [0, n); n > 0.
    pub fn below(&mut self, n: usize) -> usize {
        ((self.next_u64() as u128 * n as u128) >> 64) as usize
    }

    /// Fisher–Yates shuffle.
    pub fn shuffle<T>(&mut self, items: &mut [T]) {
        for i in (1..items.len()).rev() {
            let j = self.below(i + 1);
            items.swap(i, j);
        }
    }
}

/// Stream identifiers, so that e.g. shuffling and augmentation never share numbers.
pub const STREAM_SHUFFLE: u64 = 1;
pub const STREAM_AUGMENT: u64 = 2;
pub const STREAM_SPLIT: u64 = 3;
pub const STREAM_TORCH: u64 = 4;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn same_key_same_stream_other_key_other_stream() {
        let a: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(SplitMix64::keyed(&[7, 1, 2]), |r, _| Some(r.next_u64()))
            .collect();
        let b: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(SplitMix64::keyed(&[7, 1, 2]), |r, _| Some(r.next_u64()))
            .collect();
        let c: Vec<u64> = (0..4)
            .map(|_| 0)
            .scan(SplitMix64::keyed(&[7, 2, 1]), |r, _| Some(r.next_u64()))
            .collect();
        assert_eq!(a, b);
        assert_ne!(a, c);
    }

    #[test]
    fn uniform_stays_in_range_and_shuffle_is_a_permutation() {
        let mut r = SplitMix64::new(3);
        for _ in 0..10_000 {
            let x = r.uniform(-2.0, 5.0);
            assert!((-2.0..5.0).contains(&x));
            assert!(r.below(7) < 7);
        }
        let mut v: Vec<usize> = (0..100).collect();
        r.shuffle(&mut v);
        assert_ne!(v, (0..100).collect::<Vec<_>>());
        v.sort();
        assert_eq!(v, (0..100).collect::<Vec<_>>());
    }
}
