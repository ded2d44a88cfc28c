//! Formats, strides and sizes: mandatory formats, `isSupported` against `allocate2` over a
//! matrix, `stride >= width`, RGBA_8888 size bounds, `count > 1` on `allocate2`.

use std::os::fd::AsFd;

use hal_interface::aidl::AllocationError;
use hal_interface::usage::bits;
use hal_interface::Format;

use crate::call;
use crate::check::{self, allocate_checked, reply_matches};
use crate::ctx::Ctx;
use crate::desc::{self, describe, CPU_RW};
use crate::mem;
use crate::runner::{Case, Outcome, Stop};

/// The cases of this area.
pub const CASES: &[Case] = &[
    Case { name: "formats.mandatory_formats_allocate_with_cpu_usage", run: mandatory },
    Case { name: "formats.is_supported_agrees_with_allocate2", run: matrix },
    Case { name: "formats.stride_at_least_width_for_every_supported_format", run: strides },
    Case { name: "formats.rgba8888_size_within_one_and_two_times_stride_h_4", run: rgba_size },
    Case { name: "formats.allocate2_count_1_to_4_returns_distinct_buffers", run: counts },
    Case {
        name: "formats.implementation_defined_with_cpu_usage_gets_the_layout_without",
        run: implementation_defined_cpu,
    },
    Case { name: "formats.front_buffer_keeps_bit_32_or_is_unsupported", run: front_buffer },
];

/// FRONT_BUFFER (bit 32) is a board policy: served from a heap the board deems coherent for
/// buffers read while they are drawn, or refused. Either way `isSupported` must agree with
/// `allocate2`; a served buffer keeps bit 32 in the handle's 64-bit usage (checked by
/// `reply_matches`), and a CPU-written one holds what the CPU wrote.
fn front_buffer(ctx: &Ctx) -> Outcome {
    let allocator = ctx.allocator();
    // Usages every suite board routes to a heap that serves any count (a front-buffered
    // client target would meet the fake-exhaustion board's scripted CMA heap).
    let usages = [
        bits::FRONT_BUFFER | bits::GPU_RENDER_TARGET | bits::COMPOSER_OVERLAY,
        bits::FRONT_BUFFER | bits::GPU_RENDER_TARGET | CPU_RW,
        bits::FRONT_BUFFER | CPU_RW,
    ];
    for usage in usages {
        let info = desc::new(256, 64, Format::Rgba8888, usage);
        let supported = call::is_supported(allocator, &info)?.value;
        if !supported {
            check::rejected(ctx, &info, AllocationError::UNSUPPORTED)?;
            ctx.note(format!("{}: unsupported by this board's policy", describe(&info)));
            continue;
        }
        let buffer = allocate_checked(allocator, &info, 1)?.single()?;
        if usage & CPU_RW != 0 {
            let len = buffer.handle.alloc_size;
            mem::write_pattern(&buffer.fd, len, 32)?;
            mem::check_pattern(&buffer.fd, len, 32)?;
        }
        ctx.note(format!("{}: served from {:?}", describe(&info), buffer.handle.heap));
    }
    Ok(())
}

/// Android 15 allows IMPLEMENTATION_DEFINED with CPU usage: it allocates, and the layout
/// (planes, size) is the one the same usage without CPU bits gets, YUV (first plane Y) for
/// camera, video and image-encoder usage and RGBA otherwise.
fn implementation_defined_cpu(ctx: &Ctx) -> Outcome {
    use hal_interface::handle::PlaneComponent;
    let allocator = ctx.allocator();
    let cases = [
        (bits::GPU_TEXTURE, PlaneComponent::Rgba),
        (bits::COMPOSER_OVERLAY, PlaneComponent::Rgba),
        // Usages whose routes serve any count on the suite's boards (camera output and the
        // encoder are scripted to run dry or fail on the fake-exhaustion board).
        (bits::VIDEO_DECODER, PlaneComponent::Y),
        (bits::CAMERA_INPUT | bits::GPU_TEXTURE, PlaneComponent::Y),
    ];
    for (usage, first) in cases {
        let plain = desc::new(64, 64, Format::ImplementationDefined, usage);
        let cpu = desc::new(64, 64, Format::ImplementationDefined, usage | CPU_RW);
        check::supported_is(allocator, &cpu, true)?;
        let with_cpu = allocate_checked(allocator, &cpu, 1)?.single()?;
        let without = allocate_checked(allocator, &plain, 1)?.single()?;
        let component = with_cpu.handle.planes.first().map(|p| p.component);
        if component != Some(first) {
            return Err(Stop::failed(format!(
                "{}: first plane {component:?}, expected {first:?}",
                describe(&cpu)
            )));
        }
        if with_cpu.handle.planes != without.handle.planes
            || with_cpu.handle.alloc_size != without.handle.alloc_size
        {
            return Err(Stop::failed(format!(
                "{}: layout {:?} ({} B) differs from the one without CPU bits {:?} ({} B)",
                describe(&cpu),
                with_cpu.handle.planes,
                with_cpu.handle.alloc_size,
                without.handle.planes,
                without.handle.alloc_size
            )));
        }
        ctx.note(format!("{}: {first:?} layout, {} B", describe(&cpu), with_cpu.handle.alloc_size));
    }
    Ok(())
}

/// Usages of the matrix: what real clients ask for (SurfaceFlinger, apps, codecs, camera,
/// sensors, Vulkan), plus PROTECTED and front-buffer mixes.
const MATRIX_USAGES: &[u64] = &[
    CPU_RW,
    bits::GPU_TEXTURE,
    bits::GPU_RENDER_TARGET | bits::COMPOSER_OVERLAY | bits::GPU_TEXTURE,
    bits::COMPOSER_CLIENT_TARGET | bits::GPU_RENDER_TARGET | bits::COMPOSER_OVERLAY,
    bits::VIDEO_DECODER | bits::GPU_TEXTURE | bits::COMPOSER_OVERLAY,
    bits::VIDEO_ENCODER | bits::CPU_WRITE_OFTEN,
    bits::CAMERA_OUTPUT | bits::CPU_READ_OFTEN,
    bits::CAMERA_OUTPUT | bits::CAMERA_INPUT,
    bits::GPU_DATA_BUFFER,
    bits::SENSOR_DIRECT_DATA | bits::CPU_READ_RARELY,
    bits::PROTECTED | bits::COMPOSER_OVERLAY,
    bits::FRONT_BUFFER | bits::GPU_RENDER_TARGET | bits::CPU_READ_OFTEN,
    bits::GPU_CUBE_MAP | bits::GPU_TEXTURE,
    bits::HW_IMAGE_ENCODER | bits::CPU_READ_OFTEN,
];

/// Bytes per pixel of the single-plane packed formats (`None` for the others).
pub fn packed_bpp(format: Format) -> Option<u32> {
    Some(match format {
        Format::Rgba8888
        | Format::Rgbx8888
        | Format::Bgra8888
        | Format::Rgba1010102
        | Format::Rg1616Uint => 4,
        Format::Rgb888 => 3,
        Format::Rgb565 | Format::Raw16 | Format::Y16 | Format::R16Uint | Format::Depth16 => 2,
        Format::RgbaFp16 => 8,
        Format::R8 | Format::Y8 => 1,
        _ => return None,
    })
}

/// Dimensions used for `format` in the matrix (BLOB is one row of bytes).
fn dims_for(format: Format) -> (i32, i32) {
    if format == Format::Blob {
        (4096, 1)
    } else {
        (64, 64)
    }
}

/// Mandatory: RGBA_8888, YV12 and YCBCR_420_888 with CPU read/write (mapper VTS
/// IsSupportedRGBA8888/YV12, Lock_YV12, Lock_YCBCR_420_888 are strict), plus the two mixes
/// CTS requires to allocate (BLOB + GPU_DATA_BUFFER, GPU_MIPMAP_COMPLETE).
fn mandatory(ctx: &Ctx) -> Outcome {
    let required = [
        desc::new(64, 64, Format::Rgba8888, CPU_RW),
        desc::new(64, 64, Format::Yv12, CPU_RW),
        desc::new(64, 64, Format::Ycbcr420_888, CPU_RW),
        desc::new(4096, 1, Format::Blob, bits::GPU_DATA_BUFFER),
        desc::new(64, 64, Format::Rgba8888, bits::GPU_TEXTURE | bits::GPU_MIPMAP_COMPLETE),
    ];
    for info in &required {
        check::supported_is(ctx.allocator(), info, true)?;
        let allocated = allocate_checked(ctx.allocator(), info, 1)?;
        ctx.note(format!("{}: stride {}", describe(info), allocated.stride));
    }
    Ok(())
}

/// `isSupported` true ⇒ `allocate2(d, 1)` succeeds (or NO_RESOURCES) with a conforming reply;
/// false ⇒ it is refused as UNSUPPORTED or BAD_DESCRIPTOR. Over every V5 format × the usages
/// above.
fn matrix(ctx: &Ctx) -> Outcome {
    let (mut supported, mut unsupported, mut transient) = (0usize, 0usize, 0usize);
    for &format in Format::ALL {
        let (width, height) = dims_for(format);
        for &usage in MATRIX_USAGES {
            let info = desc::new(width, height, format, usage);
            let what = describe(&info);
            let is_supported =
                call::is_supported(ctx.allocator(), &info).map_err(|s| s.context(&what))?.value;
            let answer =
                call::allocate2(ctx.allocator(), &info, 1).map_err(|s| s.context(&what))?;
            match (is_supported, answer.value) {
                (true, Ok(allocated)) => {
                    reply_matches(&info, 1, &allocated)?;
                    supported += 1;
                }
                (true, Err(refused)) if refused.code == AllocationError::NO_RESOURCES => {
                    ctx.note(format!("{what}: supported, NO_RESOURCES now ({refused})"));
                    transient += 1;
                }
                (true, Err(refused)) => {
                    return Err(Stop::failed(format!(
                        "{what}: isSupported true but allocate2 refused: {refused}"
                    )))
                }
                (false, Ok(_)) => {
                    return Err(Stop::failed(format!(
                        "{what}: isSupported false but allocate2 succeeded"
                    )))
                }
                (false, Err(refused))
                    if refused.code == AllocationError::UNSUPPORTED
                        || refused.code == AllocationError::BAD_DESCRIPTOR =>
                {
                    unsupported += 1;
                }
                (false, Err(refused)) => {
                    return Err(Stop::failed(format!(
                        "{what}: isSupported false (never satisfiable) but refused as {refused}"
                    )))
                }
            }
        }
    }
    ctx.note(format!(
        "{supported} supported and allocated, {unsupported} unsupported and refused, \
         {transient} supported but out of resources"
    ));
    if supported == 0 {
        return Err(Stop::failed("no combination of the matrix is supported"));
    }
    Ok(())
}

/// For every format the service supports (with CPU or GPU usage), odd and large widths give
/// `stride >= width`, and packed formats a byte stride of at least `width × bpp`.
fn strides(ctx: &Ctx) -> Outcome {
    const WIDTHS: &[i32] = &[1, 2, 3, 17, 63, 65, 100, 333, 1000, 1921, 4000];
    let mut checked = 0usize;
    for &format in Format::ALL {
        let usage = [CPU_RW, bits::GPU_TEXTURE].into_iter().find(|&usage| {
            let (w, h) = dims_for(format);
            call::is_supported(ctx.allocator(), &desc::new(w, h, format, usage))
                .is_ok_and(|t| t.value)
        });
        let Some(usage) = usage else { continue };
        for &width in WIDTHS {
            let height = if format == Format::Blob { 1 } else { 2 };
            let info = desc::new(width, height, format, usage);
            if !call::is_supported(ctx.allocator(), &info)?.value {
                continue; // e.g. odd widths of 4:2:0 formats
            }
            let allocated = allocate_checked(ctx.allocator(), &info, 1)?;
            if let (Some(bpp), Some(buffer)) = (packed_bpp(format), allocated.buffers.first()) {
                let min = u64::from(bpp) * u64::try_from(width).unwrap_or(0);
                if u64::from(buffer.handle.stride_bytes) < min {
                    return Err(Stop::failed(format!(
                        "{}: byte stride {} < width × {bpp} = {min}",
                        describe(&info),
                        buffer.handle.stride_bytes
                    )));
                }
            }
            checked += 1;
        }
    }
    ctx.note(format!("{checked} (format, width) pairs checked"));
    if checked == 0 {
        return Err(Stop::failed("no format was supported at any width"));
    }
    Ok(())
}

/// GetAllocationSize: `stride*h*4 <= size < 2*stride*h*4`, for the size from lseek and the
/// one in the handle, at sizes of a page and up.
fn rgba_size(ctx: &Ctx) -> Outcome {
    const DIMS: &[(i32, i32)] = &[(64, 64), (100, 100), (333, 17), (1920, 1080), (4096, 4096)];
    for &(width, height) in DIMS {
        let info = desc::new(width, height, Format::Rgba8888, CPU_RW);
        let buffer = allocate_checked(ctx.allocator(), &info, 1)?.single()?;
        let stride = u64::from(buffer.handle.stride_pixels);
        let min = stride * u64::try_from(height).unwrap_or(0) * 4;
        let lseek = mem::size(buffer.fd.as_fd())?;
        for (source, size) in [("lseek", lseek), ("handle alloc_size", buffer.handle.alloc_size)] {
            if size < min || size >= 2 * min {
                return Err(Stop::failed(format!(
                    "{}: {source} size {size} outside [{min}, {}) (stride {stride})",
                    describe(&info),
                    2 * min
                )));
            }
        }
    }
    Ok(())
}

/// `count` 1 to 4 on `allocate2` (VTS only asks for 1 there): exactly `count` distinct
/// buffers sharing one stride.
fn counts(ctx: &Ctx) -> Outcome {
    for count in 1..=4 {
        let info = desc::new(128, 32, Format::Rgba8888, CPU_RW | bits::GPU_TEXTURE);
        allocate_checked(ctx.allocator(), &info, count)?;
    }
    Ok(())
}
