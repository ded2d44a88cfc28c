//! Per-format lock cases: the plane layouts a client derives `android_ycbcr` from, and data
//! written through them read back.

use hal_interface::aidl::BufferDescriptorInfo;
use hal_interface::metadata::{
    GrallocPlaneLayout, MetadataValue, PlaneLayoutComponentType as C, StandardMetadataType as T,
};
use hal_interface::Format;

use super::cases_buffers::{lock_ok, unlock_ok};
use super::{
    allocate, allocate_ok, mapper, region_of, require, unsupported, vts_info, HandleArg, Import,
    LockedMemory, Mapper,
};
use crate::ctx::Ctx;
use crate::desc;
use crate::runner::{Case, Outcome, Stop};

/// The cases of this file.
pub const CASES: &[Case] = &[
    Case { name: "mapper_stablec.lock_ycrcb_420_sp", run: lock_ycrcb_420_sp },
    Case { name: "mapper_stablec.yv12_subsample_metadata", run: yv12_subsample_metadata },
    Case { name: "mapper_stablec.lock_yv12", run: lock_yv12 },
    Case { name: "mapper_stablec.lock_ycbcr_420_888", run: lock_ycbcr_420_888 },
    Case { name: "mapper_stablec.lock_raw10", run: lock_raw10 },
    Case { name: "mapper_stablec.lock_raw12", run: lock_raw12 },
    Case { name: "mapper_stablec.lock_ycbcr_p010", run: lock_ycbcr_p010 },
];

const SUBSAMPLE: i64 = 2;

fn check(ok: bool, text: impl FnOnce() -> String) -> Outcome {
    if ok {
        Ok(())
    } else {
        Err(Stop::failed(text()))
    }
}

fn info_of(format: Format) -> BufferDescriptorInfo {
    vts_info(b"VTS_TEMP", 64, 64, format.raw(), desc::CPU_RW)
}

/// The PLANE_LAYOUTS of `handle`.
///
/// # Errors
/// Unsupported or undecodable.
pub fn plane_layouts(
    mapper: &Mapper,
    handle: HandleArg<'_>,
) -> Result<Vec<GrallocPlaneLayout>, Stop> {
    match require(mapper, handle, T::PlaneLayouts)? {
        MetadataValue::PlaneLayouts(layouts) => Ok(layouts),
        _ => Err(Stop::failed("PLANE_LAYOUTS decoded to another type")),
    }
}

/// The VTS `verifyRGBA8888PlaneLayouts`.
///
/// # Errors
/// The first broken expectation.
pub fn verify_rgba8888_plane_layouts(layouts: &[GrallocPlaneLayout]) -> Outcome {
    let [plane] = layouts else {
        return Err(Stop::failed(format!("RGBA_8888 has {} planes, expected 1", layouts.len())));
    };
    check(plane.components.len() == 4, || {
        format!("RGBA_8888 plane has {} components, expected 4", plane.components.len())
    })?;
    let (mut r, mut g, mut b, mut a) = (-1, -1, -1, -1);
    for component in &plane.components {
        let Some(kind) = component.component_type.standard_component() else { continue };
        check(component.size_in_bits == 8, || {
            format!("{kind:?} is {} bits, expected 8", component.size_in_bits)
        })?;
        match kind {
            C::R => r = component.offset_in_bits,
            C::G => g = component.offset_in_bits,
            C::B => b = component.offset_in_bits,
            C::A => a = component.offset_in_bits,
            _ => {}
        }
    }
    check((r, g, b, a) == (0, 8, 16, 24), || {
        format!("R/G/B/A at bits {r}/{g}/{b}/{a}, expected 0/8/16/24")
    })?;
    check(plane.offset_in_bytes == 0, || format!("offsetInBytes {}", plane.offset_in_bytes))?;
    check(plane.sample_increment_in_bits == 32, || {
        format!("sampleIncrementInBits {}, expected 32", plane.sample_increment_in_bits)
    })?;
    let least = plane.width_in_samples.saturating_mul(plane.height_in_samples).saturating_mul(4);
    check(least <= plane.total_size_in_bytes, || {
        format!(
            "totalSizeInBytes {} < widthInSamples {} × heightInSamples {} × 4",
            plane.total_size_in_bytes, plane.width_in_samples, plane.height_in_samples
        )
    })?;
    check(plane.horizontal_subsampling == 1 && plane.vertical_subsampling == 1, || {
        format!(
            "subsampling {}×{}, expected 1×1",
            plane.horizontal_subsampling, plane.vertical_subsampling
        )
    })
}

/// `android_ycbcr` with byte offsets from the lock's data pointer.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
struct YCbCr {
    y: Option<i64>,
    cb: Option<i64>,
    cr: Option<i64>,
    ystride: i64,
    cstride: i64,
    chroma_step: i64,
    h_sub: i64,
    v_sub: i64,
}

/// The VTS `getAndroidYCbCr`; `sub` carries the subsampling found by an earlier call of the
/// same case (both 0 the first time).
fn android_ycbcr(layouts: &[GrallocPlaneLayout], sub: (i64, i64)) -> Result<YCbCr, Stop> {
    check(!layouts.is_empty(), || "PLANE_LAYOUTS is empty".to_owned())?;
    let mut out = YCbCr { h_sub: sub.0, v_sub: sub.1, ..YCbCr::default() };
    for plane in layouts {
        for component in &plane.components {
            let Some(kind) = component.component_type.standard_component() else { continue };
            check(component.offset_in_bits % 8 == 0, || {
                format!("{kind:?} offsetInBits {} is not whole bytes", component.offset_in_bits)
            })?;
            let at = plane.offset_in_bytes.saturating_add(component.offset_in_bits / 8);
            match kind {
                C::Y => {
                    check(out.y.is_none(), || "two Y components".to_owned())?;
                    check(component.size_in_bits == 8, || {
                        format!("Y is {} bits, expected 8", component.size_in_bits)
                    })?;
                    check(plane.sample_increment_in_bits == 8, || {
                        format!("Y increment {} bits, expected 8", plane.sample_increment_in_bits)
                    })?;
                    out.y = Some(at);
                    out.ystride = plane.stride_in_bytes;
                }
                C::Cb | C::Cr => {
                    check(plane.sample_increment_in_bits % 8 == 0, || {
                        format!("{kind:?} increment {} bits", plane.sample_increment_in_bits)
                    })?;
                    let step = plane.sample_increment_in_bits / 8;
                    check(step == 1 || step == 2, || {
                        format!("{kind:?} increment {step} bytes, expected 1 or 2")
                    })?;
                    chroma(&mut out, plane, step)?;
                    let slot = if kind == C::Cb { &mut out.cb } else { &mut out.cr };
                    check(slot.is_none(), || format!("two {kind:?} components"))?;
                    *slot = Some(at);
                }
                _ => {}
            }
        }
    }
    check(out.y.is_some() && out.cb.is_some() && out.cr.is_some(), || {
        format!("missing planes: y {:?} cb {:?} cr {:?}", out.y, out.cb, out.cr)
    })?;
    Ok(out)
}

/// Chroma stride, step and subsampling: set by the first chroma plane, equal in the others.
fn chroma(out: &mut YCbCr, plane: &GrallocPlaneLayout, step: i64) -> Outcome {
    if out.cstride == 0 && out.chroma_step == 0 {
        out.cstride = plane.stride_in_bytes;
        out.chroma_step = step;
    } else {
        check(out.cstride == plane.stride_in_bytes && out.chroma_step == step, || {
            format!(
                "chroma planes disagree: stride {} vs {}, step {} vs {step}",
                out.cstride, plane.stride_in_bytes, out.chroma_step
            )
        })?;
    }
    if out.h_sub == 0 && out.v_sub == 0 {
        out.h_sub = plane.horizontal_subsampling;
        out.v_sub = plane.vertical_subsampling;
    } else {
        check(
            out.h_sub == plane.horizontal_subsampling && out.v_sub == plane.vertical_subsampling,
            || {
                format!(
                    "chroma subsampling disagrees: {}×{} vs {}×{}",
                    out.h_sub, out.v_sub, plane.horizontal_subsampling, plane.vertical_subsampling
                )
            },
        )?;
    }
    Ok(())
}

/// The VTS `traverseYCbCrData` as (offset, value) pairs.
fn traverse(ycbcr: &YCbCr, width: i64, height: i64) -> Result<Vec<(usize, u8)>, Stop> {
    let (Some(y0), Some(cb0), Some(cr0)) = (ycbcr.y, ycbcr.cb, ycbcr.cr) else {
        return Err(Stop::failed("no Y/Cb/Cr planes"));
    };
    let (hs, vs) = (ycbcr.h_sub, ycbcr.v_sub);
    check(hs > 0 && vs > 0, || format!("subsampling {hs}×{vs}"))?;
    // Plane offsets and strides come from the mapper: every step is checked.
    let offset = |v: Option<i64>| {
        v.and_then(|v| usize::try_from(v).ok())
            .ok_or_else(|| Stop::failed("a plane layout points outside the buffer"))
    };
    let at = |base: i64, stride: i64, row: i64, step: i64, col: i64| {
        stride
            .checked_mul(row)
            .and_then(|r| step.checked_mul(col).and_then(|c| r.checked_add(c)))
            .and_then(|d| base.checked_add(d))
    };
    let mut out = Vec::new();
    for y in 0..height {
        for x in 0..width {
            let value = (height * y + x).to_le_bytes()[0];
            out.push((offset(at(y0, ycbcr.ystride, y, 1, x))?, value));
            if y % vs == 0 && x % hs == 0 {
                let (sx, sy) = (x / hs, y / vs);
                let sub_value = (height * sy + sx).to_le_bytes()[0];
                let cb = at(cb0, ycbcr.cstride, sy, ycbcr.chroma_step, sx);
                let cr = at(cr0, ycbcr.cstride, sy, ycbcr.chroma_step, sx);
                out.push((offset(cb)?, sub_value));
                out.push((offset(cr)?, sub_value.wrapping_add(1)));
            }
        }
    }
    Ok(out)
}

fn span(points: &[(usize, u8)]) -> usize {
    points.iter().map(|(at, _)| at + 1).max().unwrap_or(0)
}

fn fill(mem: &LockedMemory, points: &[(usize, u8)]) -> Outcome {
    for &(at, value) in points {
        check(mem.write(at, value), || format!("offset {at} is outside the locked buffer"))?;
    }
    Ok(())
}

fn verify(mem: &LockedMemory, points: &[(usize, u8)]) -> Outcome {
    for &(at, value) in points {
        let found = mem.read(at);
        check(found == Some(value), || {
            format!("offset {at} reads {found:?}, {value} was written")
        })?;
    }
    Ok(())
}

/// The common body of Lock_YCRCB_420_SP / Lock_YV12 / Lock_YCBCR_420_888: lock, derive
/// YCbCr, check subsampling 2 and `extra`, fill, unlock, lock with the release fence,
/// derive again, verify, unlock.
fn lock_ycbcr(
    ctx: &Ctx,
    format: Format,
    optional: bool,
    extra: fn(&YCbCr, &BufferDescriptorInfo) -> Outcome,
) -> Outcome {
    let mapper = mapper(ctx)?;
    let info = info_of(format);
    let allocation = if optional {
        match allocate(ctx, &info)? {
            Some(allocation) => allocation,
            None => return unsupported(ctx, &info, format.name()),
        }
    } else {
        allocate_ok(ctx, &info)?
    };
    let inode = allocation.inode()?;
    let region = region_of(&info);
    let (w, h) = (i64::from(info.width), i64::from(info.height));
    let import = Import::new(mapper, &allocation)?;
    let data = lock_ok(mapper, import.arg(), desc::usage_of(&info), region, None)?;
    let first = (|| -> Result<YCbCr, Stop> {
        let ycbcr = android_ycbcr(&plane_layouts(mapper, import.arg())?, (0, 0))?;
        check(ycbcr.h_sub == SUBSAMPLE && ycbcr.v_sub == SUBSAMPLE, || {
            format!("subsampling {}×{}, expected 2×2", ycbcr.h_sub, ycbcr.v_sub)
        })?;
        extra(&ycbcr, &info)?;
        let points = traverse(&ycbcr, w, h)?;
        let mem = LockedMemory::new(data, span(&points), inode, true).map_err(Stop::failed)?;
        fill(&mem, &points)?;
        Ok(ycbcr)
    })();
    let fence = unlock_ok(mapper, import.arg())?;
    let ycbcr = first?;
    let data = lock_ok(mapper, import.arg(), desc::usage_of(&info), region, fence)?;
    let second = (|| {
        let again =
            android_ycbcr(&plane_layouts(mapper, import.arg())?, (ycbcr.h_sub, ycbcr.v_sub))?;
        let points = traverse(&again, w, h)?;
        let mem = LockedMemory::new(data, span(&points), inode, false).map_err(Stop::failed)?;
        verify(&mem, &points)
    })();
    let unlocked = unlock_ok(mapper, import.arg());
    second?;
    unlocked?;
    import.free()
}

/// Lock_YCRCB_420_SP (optional format): Cb right after Cr, chroma step 2.
fn lock_ycrcb_420_sp(ctx: &Ctx) -> Outcome {
    lock_ycbcr(ctx, Format::Ycrcb420Sp, true, |ycbcr, _| {
        check(ycbcr.cr.and_then(|cr| cr.checked_add(1)) == ycbcr.cb, || {
            format!("cb at {:?} is not cr {:?} + 1", ycbcr.cb, ycbcr.cr)
        })?;
        check(ycbcr.chroma_step == 2, || format!("chroma step {}", ycbcr.chroma_step))
    })
}

/// Lock_YV12 (mandatory): Cb plane right after the Cr plane, chroma step 1.
fn lock_yv12(ctx: &Ctx) -> Outcome {
    lock_ycbcr(ctx, Format::Yv12, false, |ycbcr, info| {
        let plane = ycbcr
            .cstride
            .checked_mul(i64::from(info.height))
            .and_then(|n| n.checked_div(ycbcr.v_sub));
        let expected = ycbcr.cr.zip(plane).and_then(|(cr, plane)| cr.checked_add(plane));
        check(expected == ycbcr.cb, || {
            format!("cb at {:?}, expected cr + cstride × height / vsub = {expected:?}", ycbcr.cb)
        })?;
        check(ycbcr.chroma_step == 1, || format!("chroma step {}", ycbcr.chroma_step))
    })
}

/// Lock_YCBCR_420_888 (mandatory).
fn lock_ycbcr_420_888(ctx: &Ctx) -> Outcome {
    lock_ycbcr(ctx, Format::Ycbcr420_888, false, |_, _| Ok(()))
}

/// YV12SubsampleMetadata: three planes Y, Cr, Cb; chroma subsampled by 2 with half the
/// samples; chroma stride at least its width.
fn yv12_subsample_metadata(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let info = info_of(Format::Yv12);
    let allocation = allocate_ok(ctx, &info)?;
    let import = Import::new(mapper, &allocation)?;
    lock_ok(mapper, import.arg(), desc::usage_of(&info), region_of(&info), None)?;
    let checked = (|| {
        let layouts = plane_layouts(mapper, import.arg())?;
        let [y, cr, cb] = layouts.as_slice() else {
            return Err(Stop::failed(format!("YV12 has {} planes, expected 3", layouts.len())));
        };
        for (name, plane) in [("Cr", cr), ("Cb", cb)] {
            check(
                plane.horizontal_subsampling == SUBSAMPLE
                    && plane.vertical_subsampling == SUBSAMPLE,
                || {
                    format!(
                        "{name} subsampling {}×{}",
                        plane.horizontal_subsampling, plane.vertical_subsampling
                    )
                },
            )?;
        }
        let (w, h) = (i64::from(info.width), i64::from(info.height));
        check(y.width_in_samples == w && y.height_in_samples == h, || {
            format!("Y plane {}×{} samples", y.width_in_samples, y.height_in_samples)
        })?;
        for (name, plane) in [("Cr", cr), ("Cb", cb)] {
            check(
                plane.width_in_samples == w / SUBSAMPLE && plane.height_in_samples == h / SUBSAMPLE,
                || {
                    format!(
                        "{name} plane {}×{} samples, expected {}×{}",
                        plane.width_in_samples,
                        plane.height_in_samples,
                        w / SUBSAMPLE,
                        h / SUBSAMPLE
                    )
                },
            )?;
            check(plane.width_in_samples <= plane.stride_in_bytes, || {
                format!(
                    "{name} stride {} < width {}",
                    plane.stride_in_bytes, plane.width_in_samples
                )
            })?;
        }
        Ok(())
    })();
    let unlocked = unlock_ok(mapper, import.arg());
    checked?;
    unlocked?;
    import.free()
}

/// Lock_RAW10 / Lock_RAW12 (optional): one plane, one RAW component of unknown size.
fn lock_raw(ctx: &Ctx, format: Format) -> Outcome {
    let mapper = mapper(ctx)?;
    let info = info_of(format);
    let Some(allocation) = allocate(ctx, &info)? else {
        return unsupported(ctx, &info, format.name());
    };
    let import = Import::new(mapper, &allocation)?;
    lock_ok(mapper, import.arg(), desc::usage_of(&info), region_of(&info), None)?;
    let checked = (|| {
        let layouts = plane_layouts(mapper, import.arg())?;
        let [plane] = layouts.as_slice() else {
            return Err(Stop::failed(format!("{} planes, expected 1", layouts.len())));
        };
        check(plane.sample_increment_in_bits == 0, || {
            format!("sampleIncrementInBits {}, expected 0", plane.sample_increment_in_bits)
        })?;
        check(plane.horizontal_subsampling == 1 && plane.vertical_subsampling == 1, || {
            format!("subsampling {}×{}", plane.horizontal_subsampling, plane.vertical_subsampling)
        })?;
        let [component] = plane.components.as_slice() else {
            return Err(Stop::failed(format!("{} components, expected 1", plane.components.len())));
        };
        check(component.component_type.value == C::Raw.value(), || {
            format!("component type {}, expected RAW", component.component_type.value)
        })?;
        check(component.offset_in_bits % 8 == 0, || {
            format!("offsetInBits {}", component.offset_in_bits)
        })?;
        check(component.size_in_bits == -1, || {
            format!("sizeInBits {}, expected -1", component.size_in_bits)
        })
    })();
    let unlocked = unlock_ok(mapper, import.arg());
    checked?;
    unlocked?;
    import.free()
}

fn lock_raw10(ctx: &Ctx) -> Outcome {
    lock_raw(ctx, Format::Raw10)
}

fn lock_raw12(ctx: &Ctx) -> Outcome {
    lock_raw(ctx, Format::Raw12)
}

/// The VTS `getAndroidYCbCr_P010`.
fn android_ycbcr_p010(layouts: &[GrallocPlaneLayout]) -> Result<YCbCr, Stop> {
    check(layouts.len() == 2, || format!("P010 has {} planes, expected 2", layouts.len()))?;
    let counts: Vec<usize> = layouts.iter().map(|p| p.components.len()).collect();
    check(counts == [1, 2], || format!("P010 component counts {counts:?}, expected [1, 2]"))?;
    let mut out = YCbCr::default();
    let (mut cb_bits, mut cr_bits) = (0, 0);
    for plane in layouts {
        for component in &plane.components {
            let Some(kind) = component.component_type.standard_component() else { continue };
            let at = plane.offset_in_bytes.saturating_add(component.offset_in_bits / 8);
            match kind {
                C::Y => {
                    check(component.offset_in_bits == 6, || {
                        format!("Y offsetInBits {}, expected 6", component.offset_in_bits)
                    })?;
                    check(out.y.is_none(), || "two Y components".to_owned())?;
                    check(component.size_in_bits == 10, || {
                        format!("Y sizeInBits {}, expected 10", component.size_in_bits)
                    })?;
                    check(plane.sample_increment_in_bits == 16, || {
                        format!("Y increment {} bits, expected 16", plane.sample_increment_in_bits)
                    })?;
                    out.y = Some(at);
                    out.ystride = plane.stride_in_bytes;
                }
                C::Cb | C::Cr => {
                    let step = plane.sample_increment_in_bits / 8;
                    check(step == 4, || format!("{kind:?} increment {step} bytes, expected 4"))?;
                    chroma(&mut out, plane, step)?;
                    let (slot, bits) = if kind == C::Cb {
                        (&mut out.cb, &mut cb_bits)
                    } else {
                        (&mut out.cr, &mut cr_bits)
                    };
                    check(slot.is_none(), || format!("two {kind:?} components"))?;
                    *slot = Some(at);
                    *bits = component.offset_in_bits;
                }
                _ => {}
            }
        }
    }
    check(cb_bits.checked_add(16) == Some(cr_bits), || {
        format!("Cb at bit {cb_bits}, Cr at {cr_bits}")
    })?;
    check(out.y.is_some() && out.cb.is_some() && out.cr.is_some(), || {
        format!("missing planes: y {:?} cb {:?} cr {:?}", out.y, out.cb, out.cr)
    })?;
    Ok(out)
}

/// Lock_YCBCR_P010 (optional): P010 layout; data filled and verified under one lock.
fn lock_ycbcr_p010(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let info = info_of(Format::YcbcrP010);
    let Some(allocation) = allocate(ctx, &info)? else {
        return unsupported(ctx, &info, "YCBCR_P010");
    };
    let inode = allocation.inode()?;
    let import = Import::new(mapper, &allocation)?;
    let data = lock_ok(mapper, import.arg(), desc::usage_of(&info), region_of(&info), None)?;
    let checked = (|| {
        let ycbcr = android_ycbcr_p010(&plane_layouts(mapper, import.arg())?)?;
        check(ycbcr.h_sub == SUBSAMPLE && ycbcr.v_sub == SUBSAMPLE, || {
            format!("subsampling {}×{}, expected 2×2", ycbcr.h_sub, ycbcr.v_sub)
        })?;
        check(info.height % 2 == 0, || "odd height".to_owned())?;
        let points = traverse(&ycbcr, i64::from(info.width), i64::from(info.height))?;
        let mem = LockedMemory::new(data, span(&points), inode, true).map_err(Stop::failed)?;
        fill(&mem, &points)?;
        verify(&mem, &points)
    })();
    let unlocked = unlock_ok(mapper, import.arg());
    checked?;
    unlocked?;
    import.free()
}

#[cfg(test)]
mod tests {
    use hal_interface::metadata::GrallocPlaneLayoutComponent;

    use super::*;

    fn plane(
        components: &[(C, i64, i64)],
        offset: i64,
        increment: i64,
        stride: i64,
        samples: (i64, i64),
        sub: i64,
    ) -> GrallocPlaneLayout {
        GrallocPlaneLayout {
            components: components
                .iter()
                .map(|&(c, at, size)| GrallocPlaneLayoutComponent::standard(c, at, size))
                .collect(),
            offset_in_bytes: offset,
            sample_increment_in_bits: increment,
            stride_in_bytes: stride,
            width_in_samples: samples.0,
            height_in_samples: samples.1,
            total_size_in_bytes: stride * samples.1,
            horizontal_subsampling: sub,
            vertical_subsampling: sub,
        }
    }

    fn rgba(g_at: i64) -> Vec<GrallocPlaneLayout> {
        let parts = [(C::R, 0, 8), (C::G, g_at, 8), (C::B, 16, 8), (C::A, 24, 8)];
        vec![plane(&parts, 0, 32, 256, (64, 64), 1)]
    }

    fn yv12(cb_offset: i64) -> Vec<GrallocPlaneLayout> {
        vec![
            plane(&[(C::Y, 0, 8)], 0, 8, 64, (64, 64), 1),
            plane(&[(C::Cr, 0, 8)], 4096, 8, 32, (32, 32), 2),
            plane(&[(C::Cb, 0, 8)], cb_offset, 8, 32, (32, 32), 2),
        ]
    }

    #[test]
    fn rgba_layout_check_accepts_the_standard_layout_and_catches_a_moved_channel() {
        assert!(verify_rgba8888_plane_layouts(&rgba(8)).is_ok());
        let err = verify_rgba8888_plane_layouts(&rgba(16)).unwrap_err();
        assert!(err.reason().contains("0/16/16/24"), "{err}");
        let mut two = rgba(8);
        two.extend(rgba(8));
        assert!(verify_rgba8888_plane_layouts(&two).is_err());
    }

    #[test]
    fn yv12_layout_gives_android_ycbcr_and_the_cb_after_cr_rule() {
        let ycbcr = android_ycbcr(&yv12(4096 + 1024), (0, 0)).unwrap();
        assert_eq!((ycbcr.y, ycbcr.cr, ycbcr.cb), (Some(0), Some(4096), Some(5120)));
        assert_eq!((ycbcr.cstride, ycbcr.chroma_step, ycbcr.h_sub, ycbcr.v_sub), (32, 1, 2, 2));
        // Earlier subsampling must agree.
        assert!(android_ycbcr(&yv12(5120), (1, 1)).is_err());
        // Lock_YV12's rule: Cb right after the Cr plane.
        let info = info_of(Format::Yv12);
        let moved = android_ycbcr(&yv12(8192), (0, 0)).unwrap();
        let rule =
            |y: &YCbCr| y.cr.map(|cr| cr + y.cstride * i64::from(info.height) / y.v_sub) == y.cb;
        assert!(rule(&ycbcr) && !rule(&moved));
        // A missing plane or a 3-byte chroma step is refused.
        assert!(android_ycbcr(&yv12(5120)[..2], (0, 0)).is_err());
        let mut wide = yv12(5120);
        wide[1].sample_increment_in_bits = 24;
        assert!(android_ycbcr(&wide, (0, 0)).is_err());
    }

    #[test]
    fn traversal_covers_every_sample_and_rejects_negative_offsets() {
        let ycbcr = android_ycbcr(&yv12(5120), (0, 0)).unwrap();
        let points = traverse(&ycbcr, 64, 64).unwrap();
        assert_eq!(points.len(), 64 * 64 + 2 * 32 * 32);
        assert_eq!(span(&points), 5120 + 31 * 32 + 31 + 1);
        let bad = YCbCr { y: Some(-1), ..ycbcr };
        assert!(traverse(&bad, 64, 64).is_err());
    }

    #[test]
    fn p010_layout_needs_cr_two_bytes_after_cb() {
        let layouts = |cr_at| {
            vec![
                plane(&[(C::Y, 6, 10)], 0, 16, 128, (64, 64), 1),
                plane(&[(C::Cb, 6, 10), (C::Cr, cr_at, 10)], 8192, 32, 128, (32, 32), 2),
            ]
        };
        let ok = android_ycbcr_p010(&layouts(22)).unwrap();
        assert_eq!((ok.cb, ok.cr, ok.chroma_step), (Some(8192), Some(8194), 4));
        assert!(android_ycbcr_p010(&layouts(14)).is_err());
    }
}
