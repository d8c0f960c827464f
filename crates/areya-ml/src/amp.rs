//! Mixed-precision training on the CPU: libtorch's CPU autocast (what `torch.autocast("cpu",
//! dtype=torch.bfloat16)` turns on) plus channels-last weights and activations.
//!
//! Under autocast, convolutions and matrix products compute in bfloat16 while the weights, the
//! optimizer state and the loss stay float32; on CPUs with AVX-512 BF16 this trains Areya's
//! network about twice as fast (see docs/benchmarks.md). tch 0.26 only switches autocast on for
//! CUDA, so the CPU switch is declared here from libtorch's C++ API: these functions take and
//! return plain integers and booleans, and the names are those of the exact libtorch the
//! project pins (`torch==2.13.0`); a different libtorch without them fails at link time, not
//! at run time.

use tch::{nn, Tensor};

mod ffi {
    extern "C" {
        #[link_name = "_ZN2at8autocast20set_autocast_enabledEN3c1010DeviceTypeEb"]
        pub fn set_autocast_enabled(device: i8, enabled: bool);
        #[link_name = "_ZN2at8autocast19is_autocast_enabledEN3c1010DeviceTypeE"]
        pub fn is_autocast_enabled(device: i8) -> bool;
        #[link_name = "_ZN2at8autocast17increment_nestingEv"]
        pub fn increment_nesting() -> i32;
        #[link_name = "_ZN2at8autocast17decrement_nestingEv"]
        pub fn decrement_nesting() -> i32;
        #[link_name = "_ZN2at8autocast11clear_cacheEv"]
        pub fn clear_cache();
    }
}

/// `c10::DeviceType::CPU`.
const CPU: i8 = 0;

/// While alive, CPU ops on this thread run under autocast (bfloat16, libtorch's default for the
/// CPU). Dropping it restores the previous state and, when it was the outermost, clears
/// autocast's cache of bfloat16 weight copies, so the next step sees the updated weights.
pub struct CpuAutocast {
    was: bool,
}

#[allow(unsafe_code)] // libtorch's autocast switch has no safe binding in tch.
impl CpuAutocast {
    pub fn enter() -> CpuAutocast {
        // SAFETY: these set and read thread-local flags of libtorch; no pointers are involved.
        unsafe {
            ffi::increment_nesting();
            let was = ffi::is_autocast_enabled(CPU);
            ffi::set_autocast_enabled(CPU, true);
            CpuAutocast { was }
        }
    }

    /// Whether CPU autocast is on for this thread.
    pub fn is_on() -> bool {
        // SAFETY: reads a thread-local flag.
        unsafe { ffi::is_autocast_enabled(CPU) }
    }
}

#[allow(unsafe_code)]
impl Drop for CpuAutocast {
    fn drop(&mut self) {
        // SAFETY: as in `enter`.
        unsafe {
            ffi::set_autocast_enabled(CPU, self.was);
            if ffi::decrement_nesting() == 0 {
                ffi::clear_cache();
            }
        }
    }
}

/// The same values with NHWC strides (libtorch's channels-last memory format) for a
/// `[N, C, H, W]` tensor; tch has no call for it, so permute, make contiguous, permute back.
pub fn channels_last(t: &Tensor) -> Tensor {
    t.permute([0, 2, 3, 1]).contiguous().permute([0, 3, 1, 2])
}

/// Gives every 4-d variable (the convolution kernels) channels-last strides in place: the
/// variables, and every module holding them, keep their identity and values.
pub fn vars_to_channels_last(vs: &nn::VarStore) {
    tch::no_grad(|| {
        for (_, mut v) in vs.variables() {
            if v.dim() == 4 {
                let cl = channels_last(&v);
                v.set_data(&cl);
            }
        }
    });
}

#[cfg(test)]
mod tests {
    use super::*;
    use tch::{Device, Kind};

    #[test]
    fn autocast_computes_convolutions_in_bfloat16_and_nests() {
        let x = Tensor::rand([2, 3, 8, 8], (Kind::Float, Device::Cpu));
        let w = Tensor::rand([4, 3, 3, 3], (Kind::Float, Device::Cpu));
        let conv = |x: &Tensor| x.conv2d(&w, None::<Tensor>, [1, 1], [1, 1], [1, 1], 1);
        assert!(!CpuAutocast::is_on());
        let reference = conv(&x);
        assert_eq!(reference.kind(), Kind::Float);
        {
            let _outer = CpuAutocast::enter();
            assert!(CpuAutocast::is_on());
            {
                let _inner = CpuAutocast::enter();
                assert_eq!(conv(&x).kind(), Kind::BFloat16);
            }
            assert!(CpuAutocast::is_on(), "the inner scope restores, not clears");
            let y = conv(&x);
            assert_eq!(y.kind(), Kind::BFloat16);
            // bfloat16 keeps about three significant digits: close to float32, not equal.
            let err = (y.to_kind(Kind::Float) - &reference)
                .abs()
                .max()
                .double_value(&[]);
            assert!(err > 0.0 && err < 0.2, "{err}");
        }
        assert!(!CpuAutocast::is_on());
        assert_eq!(conv(&x).kind(), Kind::Float);
    }

    #[test]
    fn channels_last_keeps_values_and_identity() {
        let vs = nn::VarStore::new(Device::Cpu);
        let conv = nn::conv2d(vs.root(), 2, 3, 3, Default::default());
        let before = conv.ws.copy();
        vars_to_channels_last(&vs);
        assert!(!conv.ws.is_contiguous(), "NHWC strides");
        assert_eq!(conv.ws.stride(), [18, 1, 6, 2]);
        assert!(conv.ws.equal(&before));
        assert!(conv.ws.requires_grad());
        // The bias (1-d) is untouched.
        assert!(conv.bs.as_ref().unwrap().is_contiguous());
    }
}
