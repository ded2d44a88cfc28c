//! Golden routing tables: for each board of the repository, requests and where they must go,
//! written by hand from the board file's rules (first match wins, `none` excludes, `cpu`
//! classes), not computed by the resolver the service runs. A resolver bug therefore shows
//! as a routing failure instead of agreeing with itself.
//!
//! Heap names are the board's heap names (`[heaps.<name>]`); which of them exist on the
//! machine is judged by the routing case from the board's declarations. A board without a
//! table here skips the routing cases with the reason; add its table when the board is added.

use hal_interface::usage::bits;
use hal_interface::Format;

use crate::desc::CPU_RW;

/// Where a request must go.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Route {
    /// Refused: `isSupported` false, `allocate2` UNSUPPORTED.
    Reject,
    /// Allocated from the first present heap of `heaps`, or with `fallback` from a later one
    /// when an earlier one is exhausted.
    Heaps {
        /// Board heap names, in the rule's order.
        heaps: &'static [&'static str],
        /// Whether the rule allows falling back to a later heap.
        fallback: bool,
    },
}

/// One request and its expected route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expect {
    /// The board rule the request must match (by name), for messages and coverage.
    pub rule: &'static str,
    /// Usage bits.
    pub usage: u64,
    /// Pixel format.
    pub format: Format,
    /// Width in pixels (bytes for BLOB).
    pub width: u32,
    /// Height in rows.
    pub height: u32,
    /// The expected route.
    pub route: Route,
}

/// The expectations for one board, keyed by `[board] name`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Table {
    /// `[board] name` of the board file.
    pub board: &'static str,
    /// Requests, at least one per rule of the board.
    pub expects: &'static [Expect],
}

const fn rgba(rule: &'static str, usage: u64, route: Route) -> Expect {
    Expect { rule, usage, format: Format::Rgba8888, width: 64, height: 64, route }
}

const fn yuv(rule: &'static str, usage: u64, route: Route) -> Expect {
    Expect { rule, usage, format: Format::Ycbcr420_888, width: 64, height: 64, route }
}

const fn blob(rule: &'static str, usage: u64, route: Route) -> Expect {
    Expect { rule, usage, format: Format::Blob, width: 4096, height: 1, route }
}

const fn only(heaps: &'static [&'static str]) -> Route {
    Route::Heaps { heaps, fallback: false }
}

const fn falling(heaps: &'static [&'static str]) -> Route {
    Route::Heaps { heaps, fallback: true }
}

const PROTECTED: u64 = bits::PROTECTED | bits::GPU_TEXTURE;
const FRAMEBUFFER: u64 = bits::COMPOSER_CLIENT_TARGET | bits::GPU_RENDER_TARGET;
/// `framebuffer` rules say `none = ["VIDEO_ENCODER"]`: this one must skip them.
const FB_TO_ENCODER: u64 = FRAMEBUFFER | bits::VIDEO_ENCODER;
/// Matches both `framebuffer` and `camera`: the earlier rule wins.
const FB_AND_CAMERA: u64 = bits::COMPOSER_CLIENT_TARGET | bits::CAMERA_OUTPUT;
const CAMERA_OUT: u64 = bits::CAMERA_OUTPUT | CPU_RW;
const CAMERA_IN: u64 = bits::CAMERA_INPUT | bits::GPU_TEXTURE;
const TEXTURE: u64 = bits::GPU_TEXTURE | CPU_RW;
const GPU_ONLY: u64 = bits::GPU_TEXTURE | bits::GPU_RENDER_TARGET;
const DATA: u64 = bits::GPU_DATA_BUFFER | CPU_RW;
/// Front-buffered rendering drawn by the CPU (and the GPU).
const FRONT_CPU: u64 = bits::FRONT_BUFFER | bits::GPU_RENDER_TARGET | CPU_RW;
/// Front-buffered rendering the CPU never touches.
const FRONT_GPU: u64 = bits::FRONT_BUFFER | bits::GPU_RENDER_TARGET | bits::COMPOSER_OVERLAY;
/// A front-buffered client target: `framebuffer` comes first on every board.
const FRONT_FB: u64 = bits::FRONT_BUFFER | FRAMEBUFFER;

/// The QEMU dma-heap boards (x86_64 and arm64): the ION board's rules, with camera buffers in
/// their own region (`camera`, from `cma_camera=`) and a `video` rule taking the CMA area
/// first.
const QEMU: &[Expect] = &[
    rgba("protected", PROTECTED, Route::Reject),
    rgba("framebuffer", FRAMEBUFFER, only(&["reserved"])),
    rgba("framebuffer", FB_AND_CAMERA, only(&["reserved"])),
    rgba("framebuffer", FRONT_FB, only(&["reserved"])),
    // x86 DMA snoops the CPU caches, and qemu's arm64 `virt` has coherent DMA masters and
    // no emulated caches: the system heap is coherent for every reader.
    rgba("front-buffer", FRONT_CPU, only(&["system"])),
    rgba("front-buffer", FRONT_GPU, only(&["system"])),
    yuv("front-buffer", bits::FRONT_BUFFER | CAMERA_OUT, only(&["system"])),
    rgba("camera", CAMERA_OUT, falling(&["camera", "system"])),
    yuv("camera", CAMERA_IN, falling(&["camera", "system"])),
    yuv("video", bits::VIDEO_DECODER | bits::GPU_TEXTURE, falling(&["reserved", "system"])),
    rgba("default", FB_TO_ENCODER, only(&["system"])),
    rgba("default", TEXTURE, only(&["system"])),
    rgba("default", GPU_ONLY, only(&["system"])),
    blob("default", DATA, only(&["system"])),
];

/// The QEMU ION board: one CMA area for framebuffers and camera buffers.
const QEMU_ION: &[Expect] = &[
    rgba("protected", PROTECTED, Route::Reject),
    rgba("framebuffer", FRAMEBUFFER, only(&["reserved"])),
    rgba("framebuffer", FB_AND_CAMERA, only(&["reserved"])),
    rgba("framebuffer", FRONT_FB, only(&["reserved"])),
    // x86 DMA snoops the CPU caches: the system heap is coherent for every reader.
    rgba("front-buffer", FRONT_CPU, only(&["system"])),
    rgba("front-buffer", FRONT_GPU, only(&["system"])),
    yuv("front-buffer", bits::FRONT_BUFFER | CAMERA_OUT, only(&["system"])),
    rgba("camera", CAMERA_OUT, falling(&["reserved", "system"])),
    yuv("camera", CAMERA_IN, falling(&["reserved", "system"])),
    rgba("default", FB_TO_ENCODER, only(&["system"])),
    rgba("default", TEXTURE, only(&["system"])),
    rgba("default", GPU_ONLY, only(&["system"])),
    blob("default", DATA, only(&["system"])),
];

/// The HiKey960 boards (dma-heap and ION) share rules and heap names.
const HIKEY960: &[Expect] = &[
    rgba("protected", PROTECTED, Route::Reject),
    rgba("framebuffer", FRAMEBUFFER, only(&["cma"])),
    rgba("framebuffer", FB_AND_CAMERA, only(&["cma"])),
    rgba("framebuffer", FRONT_FB, only(&["cma"])),
    // Uncached only: unsupported where `system-uncached` is absent (mainline kernels).
    rgba("cpu-front-buffer", FRONT_CPU, only(&["system-uncached"])),
    yuv("cpu-front-buffer", bits::FRONT_BUFFER | CAMERA_OUT, only(&["system-uncached"])),
    rgba("gpu-only", FRONT_GPU, falling(&["system-uncached", "system"])),
    rgba("camera", CAMERA_OUT, falling(&["camera", "system"])),
    // No CPU usage, but `camera` comes before `gpu-only`.
    yuv("camera", CAMERA_IN, falling(&["camera", "system"])),
    rgba("gpu-only", GPU_ONLY, falling(&["system-uncached", "system"])),
    // Excluded from `framebuffer` and without CPU usage: `gpu-only`.
    rgba("gpu-only", FB_TO_ENCODER, falling(&["system-uncached", "system"])),
    rgba("default", TEXTURE, only(&["system"])),
    blob("default", DATA, only(&["system"])),
];

/// Every board of the repository.
pub const TABLES: &[Table] = &[
    Table {
        board: "host",
        expects: &[
            rgba("protected", PROTECTED, Route::Reject),
            rgba("protected", bits::PROTECTED | bits::COMPOSER_OVERLAY, Route::Reject),
            rgba("front-buffer", FRONT_CPU, only(&["memfd"])),
            rgba("front-buffer", FRONT_FB, only(&["memfd"])),
            rgba("default", TEXTURE, only(&["memfd"])),
            rgba("default", FRAMEBUFFER, only(&["memfd"])),
            yuv("default", CAMERA_OUT, only(&["memfd"])),
            blob("default", DATA, only(&["memfd"])),
        ],
    },
    Table { board: "qemu-x86_64", expects: QEMU },
    Table { board: "qemu-x86_64-ion", expects: QEMU_ION },
    Table { board: "qemu-arm64", expects: QEMU },
    Table { board: "hikey960", expects: HIKEY960 },
    Table { board: "hikey960-ion", expects: HIKEY960 },
    Table {
        board: "fake-exhaustion",
        expects: &[
            rgba("protected", PROTECTED, Route::Reject),
            rgba("display", FRAMEBUFFER, only(&["fake-cma"])),
            rgba("camera", CAMERA_OUT, falling(&["fake-cma", "fake-system"])),
            rgba("encoder", bits::VIDEO_ENCODER | CPU_RW, falling(&["fake-einval", "fake-system"])),
            rgba("default", TEXTURE, only(&["fake-system"])),
        ],
    },
];

/// The table for the board named `board`.
pub fn table(board: &str) -> Option<&'static Table> {
    TABLES.iter().find(|t| t.board == board)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn board_names_are_unique_and_every_table_has_expectations() {
        for (i, t) in TABLES.iter().enumerate() {
            assert!(!t.expects.is_empty(), "{}", t.board);
            assert!(TABLES.iter().skip(i + 1).all(|o| o.board != t.board), "{}", t.board);
        }
        assert_eq!(table("qemu-x86_64").map(|t| t.expects.len()), Some(QEMU.len()));
        assert!(table("no-such-board").is_none());
    }
}
