//! Plane layouts of the YUV formats the mapper VTS locks: what the handle says must match the
//! format's rules (YV12 exactly, the others structurally) and fit the buffer.

use hal_interface::handle::{BufferHandle, PlaneComponent, PlaneLayout};
use hal_interface::Format;

use crate::call;
use crate::check::{align_up, allocate_checked};
use crate::ctx::Ctx;
use crate::desc::{self, describe, CPU_RW};
use crate::runner::{Case, Outcome, Stop};

/// The cases of this area.
pub const CASES: &[Case] = &[
    Case { name: "planes.yv12_layout_matches_the_handle", run: yv12 },
    Case { name: "planes.ycbcr_420_888_layout_is_consistent", run: ycbcr_420_888 },
    Case { name: "planes.nv21_layout_matches_the_handle", run: nv21 },
    Case { name: "planes.p010_layout_matches_the_handle", run: p010 },
    Case { name: "planes.odd_sized_420_formats_round_chroma_up", run: odd_420 },
];

/// Odd 4:2:0 sizes (libui and codecs send e.g. 641×481): YV12, NV12 (YCBCR_420_888), NV21 and
/// P010 allocate, and every plane holds its rows rounded up: chroma planes `ceil(h/2)` rows
/// of at least `ceil(w/2)` samples, disjoint, inside the buffer (never a buffer smaller than
/// the planes it claims). Formats the service does not support at all skip visibly.
fn odd_420(ctx: &Ctx) -> Outcome {
    // (format, bytes per chroma sample position in a chroma row)
    let formats = [
        (Format::Yv12, 1u64),
        (Format::Ycbcr420_888, 2),
        (Format::Ycrcb420Sp, 2),
        (Format::YcbcrP010, 4),
    ];
    let mut checked = 0;
    for (format, chroma_bytes) in formats {
        let even = desc::new(64, 64, format, CPU_RW);
        if !call::is_supported(ctx.allocator(), &even)?.value {
            ctx.note(format!("SKIP: {format} with CPU usage is not supported at all"));
            continue;
        }
        for (width, height) in [(641, 481), (63, 64), (64, 63), (3, 5)] {
            let info = desc::new(width, height, format, CPU_RW);
            let buffer = allocate_checked(ctx.allocator(), &info, 1)?.single()?;
            let h = &buffer.handle;
            let row = |p: &PlaneLayout| {
                if p.h_subsampling == 2 {
                    u64::from(h.width.div_ceil(2)) * chroma_bytes
                } else {
                    u64::from(h.width) * chroma_bytes.div_ceil(2)
                }
            };
            planes_disjoint_and_sized(h, &row).map_err(|s| s.context(describe(&info)))?;
            for p in &h.planes {
                if u64::from(p.stride_bytes) < row(p) {
                    return Err(Stop::failed(format!(
                        "{}: {:?} plane stride {} below one row of {} bytes",
                        describe(&info),
                        p.component,
                        p.stride_bytes,
                        row(p)
                    )));
                }
                if p.offset.saturating_add(p.size) > h.alloc_size {
                    return Err(Stop::failed(format!(
                        "{}: {:?} plane ends past alloc_size {}",
                        describe(&info),
                        p.component,
                        h.alloc_size
                    )));
                }
            }
            checked += 1;
        }
    }
    if checked == 0 {
        return Err(Stop::skipped("no 4:2:0 format is supported"));
    }
    ctx.note(format!("{checked} odd-sized 4:2:0 buffers hold their rounded-up chroma planes"));
    Ok(())
}

/// Even dimensions of several shapes, including widths that are not multiples of 16.
const DIMS: &[(i32, i32)] = &[(64, 64), (100, 50), (176, 144), (1920, 1080), (2, 2)];

fn find(handle: &BufferHandle, component: PlaneComponent) -> Option<&PlaneLayout> {
    handle.planes.iter().find(|p| p.component == component)
}

fn plane_named(handle: &BufferHandle, component: PlaneComponent) -> Result<&PlaneLayout, Stop> {
    find(handle, component).ok_or_else(|| {
        Stop::failed(format!(
            "no {component:?} plane among {:?}",
            handle.planes.iter().map(|p| p.component).collect::<Vec<_>>()
        ))
    })
}

/// No two planes share a byte, and each covers its rows: `size >= stride × (rows − 1) +
/// row bytes`.
fn planes_disjoint_and_sized(
    handle: &BufferHandle,
    row_bytes: &dyn Fn(&PlaneLayout) -> u64,
) -> Outcome {
    let height = u64::from(handle.height);
    let mut extents = Vec::new();
    for plane in &handle.planes {
        let rows = height.div_ceil(u64::from(plane.v_subsampling.max(1)));
        let needed = u64::from(plane.stride_bytes)
            .saturating_mul(rows.saturating_sub(1))
            .saturating_add(row_bytes(plane));
        if plane.size < needed {
            return Err(Stop::failed(format!(
                "{:?} plane of {} bytes cannot hold {rows} rows of stride {} ({needed} needed)",
                plane.component, plane.size, plane.stride_bytes
            )));
        }
        extents.push((plane.offset, plane.offset.saturating_add(plane.size), plane.component));
    }
    extents.sort_by_key(|&(start, end, _)| (start, end));
    for pair in extents.windows(2) {
        if let [(_, end, a), (start, _, b)] = pair {
            if start < end {
                return Err(Stop::failed(format!("{a:?} and {b:?} planes overlap")));
            }
        }
    }
    Ok(())
}

/// Allocates `format` at each of [`DIMS`] with CPU usage, or skips when it is optional and
/// consistently unsupported (isSupported false and allocation refused).
fn for_each_buffer(
    ctx: &Ctx,
    format: Format,
    mandatory: bool,
    check: &dyn Fn(&BufferHandle) -> Outcome,
) -> Outcome {
    let probe = desc::new(64, 64, format, CPU_RW);
    if !mandatory && !call::is_supported(ctx.allocator(), &probe)?.value {
        match call::allocate2(ctx.allocator(), &probe, 1)?.value {
            Ok(_) => {
                return Err(Stop::failed(format!(
                    "{}: isSupported false but allocation succeeded",
                    describe(&probe)
                )))
            }
            Err(_) => {
                return Err(Stop::skipped(format!("{format} with CPU usage is not supported")))
            }
        }
    }
    for &(width, height) in DIMS {
        let info = desc::new(width, height, format, CPU_RW);
        let buffer = allocate_checked(ctx.allocator(), &info, 1)?.single()?;
        check(&buffer.handle).map_err(|s| s.context(describe(&info)))?;
    }
    Ok(())
}

/// Lock_YV12 / YV12SubsampleMetadata: stride a multiple of 16; Y at 0; Cr at `y_size`; Cb at
/// `y_size + c_stride × h/2`; `c_stride = align(stride / 2, 16)`; chroma subsampled 2×2.
fn yv12(ctx: &Ctx) -> Outcome {
    for_each_buffer(ctx, Format::Yv12, true, &|h| {
        let stride = u64::from(h.stride_pixels);
        let height = u64::from(h.height);
        if stride % 16 != 0 {
            return Err(Stop::failed(format!("stride {stride} is not a multiple of 16")));
        }
        let c_stride = align_up(stride / 2, 16).unwrap_or(0);
        let y_size = stride * height;
        let c_size = c_stride * (height / 2);
        let expect = [
            (PlaneComponent::Y, 0, stride, 1),
            (PlaneComponent::Cr, y_size, c_stride, 2),
            (PlaneComponent::Cb, y_size + c_size, c_stride, 2),
        ];
        if h.planes.len() != 3 {
            return Err(Stop::failed(format!("{} planes, YV12 has 3", h.planes.len())));
        }
        for (component, offset, plane_stride, subsampling) in expect {
            let p = plane_named(h, component)?;
            let found = (p.offset, u64::from(p.stride_bytes), p.h_subsampling, p.v_subsampling);
            let wanted = (offset, plane_stride, subsampling, subsampling);
            if found != wanted {
                return Err(Stop::failed(format!(
                    "{component:?} plane (offset, stride, h sub, v sub) = {found:?}, expected \
                     {wanted:?} (stride {stride}, c_stride {c_stride})"
                )));
            }
        }
        if h.alloc_size < y_size + 2 * c_size {
            return Err(Stop::failed(format!(
                "alloc_size {} < y_size + 2 × c_size = {}",
                h.alloc_size,
                y_size + 2 * c_size
            )));
        }
        planes_disjoint_and_sized(h, &|p| u64::from(h.width) / u64::from(p.h_subsampling))
    })
}

/// Luma plane first in memory, one byte (or `bytes` bytes) per sample, stride ≥ width.
fn check_luma(h: &BufferHandle, bytes: u64) -> Outcome {
    let y = plane_named(h, PlaneComponent::Y)?;
    let min = u64::from(h.width) * bytes;
    if (y.h_subsampling, y.v_subsampling) != (1, 1) || u64::from(y.stride_bytes) < min {
        return Err(Stop::failed(format!(
            "Y plane subsampling {}x{}, stride {} (need 1x1 and ≥ {min})",
            y.h_subsampling, y.v_subsampling, y.stride_bytes
        )));
    }
    Ok(())
}

/// One interleaved chroma plane of `component`, 2×2 subsampled, after the luma rows, with a
/// stride of at least `width × bytes` (w/2 pairs of two samples).
fn check_interleaved_chroma(h: &BufferHandle, component: PlaneComponent, bytes: u64) -> Outcome {
    let y = plane_named(h, PlaneComponent::Y)?;
    let c = plane_named(h, component)?;
    let min_stride = u64::from(h.width) * bytes;
    let luma_end = u64::from(y.stride_bytes) * u64::from(h.height);
    if (c.h_subsampling, c.v_subsampling) != (2, 2)
        || u64::from(c.stride_bytes) < min_stride
        || c.offset < y.offset.saturating_add(luma_end)
    {
        return Err(Stop::failed(format!(
            "{component:?} plane subsampling {}x{}, stride {}, offset {} (need 2x2, stride ≥ \
             {min_stride}, offset ≥ {luma_end})",
            c.h_subsampling, c.v_subsampling, c.stride_bytes, c.offset
        )));
    }
    if h.planes.len() != 2 {
        return Err(Stop::failed(format!(
            "{} planes, expected Y and {component:?}",
            h.planes.len()
        )));
    }
    // Luma rows and interleaved chroma rows (w/2 pairs of two samples) are both w × bytes.
    planes_disjoint_and_sized(h, &|_| u64::from(h.width) * bytes)
}

/// Lock_YCBCR_420_888 (mandatory): a Y plane, then chroma either interleaved (CbCr or CrCb,
/// NV12/NV21) or as separate Cb and Cr planes, 2×2 subsampled, disjoint, inside the buffer.
fn ycbcr_420_888(ctx: &Ctx) -> Outcome {
    for_each_buffer(ctx, Format::Ycbcr420_888, true, &|h| {
        check_luma(h, 1)?;
        if let Some(c) = find(h, PlaneComponent::CbCr).or_else(|| find(h, PlaneComponent::CrCb)) {
            return check_interleaved_chroma(h, c.component, 1);
        }
        for component in [PlaneComponent::Cb, PlaneComponent::Cr] {
            let c = plane_named(h, component)?;
            let min = u64::from(h.width) / 2;
            if (c.h_subsampling, c.v_subsampling) != (2, 2) || u64::from(c.stride_bytes) < min {
                return Err(Stop::failed(format!(
                    "{component:?} plane subsampling {}x{}, stride {} (need 2x2, ≥ {min})",
                    c.h_subsampling, c.v_subsampling, c.stride_bytes
                )));
            }
        }
        planes_disjoint_and_sized(h, &|p| u64::from(h.width) / u64::from(p.h_subsampling))
    })
}

/// Lock_YCRCB_420_SP (optional): Y, then interleaved Cr/Cb (`cr + 1 == cb`, step 2).
fn nv21(ctx: &Ctx) -> Outcome {
    for_each_buffer(ctx, Format::Ycrcb420Sp, false, &|h| {
        check_luma(h, 1)?;
        check_interleaved_chroma(h, PlaneComponent::CrCb, 1)
    })
}

/// Lock_YCBCR_P010 (strict on api level 33+, optional here): 16-bit samples, Y then
/// interleaved Cb/Cr.
fn p010(ctx: &Ctx) -> Outcome {
    for_each_buffer(ctx, Format::YcbcrP010, false, &|h| {
        check_luma(h, 2)?;
        check_interleaved_chroma(h, PlaneComponent::CbCr, 2)
    })
}
