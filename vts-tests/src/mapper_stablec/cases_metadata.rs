//! Metadata cases: every standard getter, the set/get round trips, the supported-type list,
//! the error answers, and metadata shared across processes.

use std::ffi::CString;

use hal_interface::metadata::{
    Cta861_3, ExtendableType, MetadataValue, Rect, Smpte2086, StandardMetadataType as T, XyColor,
    DRM_FORMAT_ABGR8888, DRM_FORMAT_YVU420, STANDARD_METADATA_TYPE_NAME,
};
use hal_interface::usage::bits;
use hal_interface::Format;

use super::cases_formats::{plane_layouts, verify_rgba8888_plane_layouts};
use super::{
    allocate, allocate_ok, error, expect_code, generic_info, get_standard, loaded, mapper, require,
    set_standard, unsupported, vts_info, HandleArg, Import,
};
use crate::ctx::Ctx;
use crate::desc;
use crate::runner::{Case, Outcome, Stop};

/// The cases of this file.
pub const CASES: &[Case] = &[
    Case { name: "mapper_stablec.get_buffer_id", run: get_buffer_id },
    Case { name: "mapper_stablec.get_name", run: get_name },
    Case { name: "mapper_stablec.get_width_height", run: get_width_height },
    Case { name: "mapper_stablec.get_layer_count", run: get_layer_count },
    Case { name: "mapper_stablec.get_pixel_format_requested", run: get_pixel_format_requested },
    Case { name: "mapper_stablec.get_pixel_format_four_cc", run: get_pixel_format_four_cc },
    Case { name: "mapper_stablec.get_pixel_format_modifier", run: get_pixel_format_modifier },
    Case { name: "mapper_stablec.get_usage", run: get_usage },
    Case { name: "mapper_stablec.get_usage64", run: get_usage64 },
    Case { name: "mapper_stablec.get_allocation_size", run: get_allocation_size },
    Case { name: "mapper_stablec.get_protected_content", run: get_protected_content },
    Case { name: "mapper_stablec.get_compression", run: get_compression },
    Case { name: "mapper_stablec.get_interlaced", run: get_interlaced },
    Case { name: "mapper_stablec.get_chroma_siting", run: get_chroma_siting },
    Case { name: "mapper_stablec.get_plane_layouts", run: get_plane_layouts },
    Case { name: "mapper_stablec.get_crop", run: get_crop },
    Case { name: "mapper_stablec.get_stride", run: get_stride },
    Case { name: "mapper_stablec.get_set_dataspace", run: get_set_dataspace },
    Case { name: "mapper_stablec.get_set_blend_mode", run: get_set_blend_mode },
    Case { name: "mapper_stablec.get_set_smpte2086", run: get_set_smpte2086 },
    Case { name: "mapper_stablec.get_cta861_3", run: get_cta861_3 },
    Case { name: "mapper_stablec.get_smpte2094_10", run: get_smpte2094_10 },
    Case { name: "mapper_stablec.get_smpte2094_40", run: get_smpte2094_40 },
    Case {
        name: "mapper_stablec.supports_required_getters_setters",
        run: supports_required_getters_setters,
    },
    Case {
        name: "mapper_stablec.check_required_setters_if_has_getters",
        run: check_required_setters_if_has_getters,
    },
    Case { name: "mapper_stablec.list_supported_works", run: list_supported_works },
    Case { name: "mapper_stablec.get_metadata_bad_value", run: get_metadata_bad_value },
    Case { name: "mapper_stablec.get_unsupported_metadata", run: get_unsupported_metadata },
    Case {
        name: "mapper_stablec.metadata_set_in_a_child_process_is_seen_by_the_parent",
        run: metadata_across_processes,
    },
];

/// `Dataspace::DISPLAY_P3`.
pub const DATASPACE_DISPLAY_P3: i32 = 143_261_696;
/// `Dataspace::BT2020_PQ`.
pub const DATASPACE_BT2020_PQ: i32 = 163_971_072;
/// `Dataspace::SRGB`.
pub const DATASPACE_SRGB: i32 = 142_671_872;
/// `BlendMode::COVERAGE`.
pub const BLEND_COVERAGE: i32 = 3;
/// `BlendMode::PREMULTIPLIED`.
pub const BLEND_PREMULTIPLIED: i32 = 2;
/// One past the last `StandardMetadataType` (`enum_values<StandardMetadataType>.size()`).
const UNKNOWN_STANDARD_TYPE: i64 = 24;

/// The VTS `awesomeHdr` SMPTE 2086 value.
pub fn awesome_hdr() -> Smpte2086 {
    let xy = |x, y| XyColor { x, y };
    Smpte2086 {
        primary_red: xy(1.0, 1.0),
        primary_green: xy(2.0, 2.0),
        primary_blue: xy(3.0, 3.0),
        white_point: xy(400.0, 1000.0),
        max_luminance: 100_000.0,
        min_luminance: 0.0001,
    }
}

/// The VTS `genericHlgish` CTA 861.3 value.
pub fn generic_hlgish() -> Cta861_3 {
    Cta861_3 { max_content_light_level: 1000.0, max_frame_average_light_level: 140.0 }
}

fn mismatch<V: std::fmt::Debug>(kind: T, found: V, expected: V) -> Stop {
    Stop::failed(format!("{}: got {found:?}, expected {expected:?}", kind.name()))
}

fn equal<V: std::fmt::Debug + PartialEq>(kind: T, found: V, expected: V) -> Outcome {
    if found == expected {
        Ok(())
    } else {
        Err(mismatch(kind, found, expected))
    }
}

fn wrong_type(kind: T) -> Stop {
    Stop::failed(format!("{} decoded to another type", kind.name()))
}

/// Allocates `info`, imports it and runs `body` on the imported handle.
fn with_import(
    ctx: &Ctx,
    info: &hal_interface::aidl::BufferDescriptorInfo,
    body: impl FnOnce(&super::Mapper, HandleArg<'static>, &super::Allocation) -> Outcome,
) -> Outcome {
    let mapper = mapper(ctx)?;
    let allocation = allocate_ok(ctx, info)?;
    let import = Import::new(mapper, &allocation)?;
    body(mapper, import.arg(), &allocation)?;
    import.free()
}

/// GetBufferId: two buffers have different ids.
fn get_buffer_id(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let (a, b) = (allocate_ok(ctx, &generic_info())?, allocate_ok(ctx, &generic_info())?);
    let (ia, ib) = (Import::new(mapper, &a)?, Import::new(mapper, &b)?);
    let ida = require(mapper, ia.arg(), T::BufferId)?;
    let idb = require(mapper, ib.arg(), T::BufferId)?;
    if ida == idb {
        return Err(Stop::failed(format!("two buffers share BUFFER_ID {ida:?}")));
    }
    ia.free()?;
    ib.free()
}

/// GetName: "Hello, World!".
fn get_name(ctx: &Ctx) -> Outcome {
    let info = vts_info(b"Hello, World!", 64, 64, Format::Rgba8888.raw(), desc::CPU_RW);
    with_import(ctx, &info, |m, h, _| {
        let MetadataValue::Name(name) = require(m, h, T::Name)? else {
            return Err(wrong_type(T::Name));
        };
        equal(T::Name, name.as_str(), "Hello, World!")
    })
}

/// GetWidthHeight: 64 × 128.
fn get_width_height(ctx: &Ctx) -> Outcome {
    let info = vts_info(b"Hello, World!", 64, 128, Format::Rgba8888.raw(), desc::CPU_RW);
    with_import(ctx, &info, |m, h, _| {
        equal(T::Width, require(m, h, T::Width)?, MetadataValue::Width(64))?;
        equal(T::Height, require(m, h, T::Height)?, MetadataValue::Height(128))
    })
}

/// GetLayerCount: the requested layer count.
fn get_layer_count(ctx: &Ctx) -> Outcome {
    with_import(ctx, &generic_info(), |m, h, a| {
        let expected = MetadataValue::LayerCount(u64::try_from(a.info.layerCount).unwrap_or(0));
        equal(T::LayerCount, require(m, h, T::LayerCount)?, expected)
    })
}

/// GetPixelFormatRequested: the requested format.
fn get_pixel_format_requested(ctx: &Ctx) -> Outcome {
    with_import(ctx, &generic_info(), |m, h, a| {
        let expected = MetadataValue::PixelFormatRequested(a.info.format.0);
        equal(T::PixelFormatRequested, require(m, h, T::PixelFormatRequested)?, expected)
    })
}

/// GetPixelFormatFourCC: RGBA_8888 is ABGR8888, YV12 is YVU420.
fn get_pixel_format_four_cc(ctx: &Ctx) -> Outcome {
    for (name, format, expected) in [
        (&b"Hello, World!"[..], Format::Rgba8888, DRM_FORMAT_ABGR8888),
        (&b"yv12"[..], Format::Yv12, DRM_FORMAT_YVU420),
    ] {
        let info = vts_info(name, 64, 128, format.raw(), desc::CPU_RW);
        with_import(ctx, &info, |m, h, _| {
            let found = require(m, h, T::PixelFormatFourcc)?;
            equal(T::PixelFormatFourcc, found, MetadataValue::PixelFormatFourcc(expected))
                .map_err(|s| s.context(format.name()))
        })?;
    }
    Ok(())
}

/// GetPixelFormatModifier: a value (vendor-specific, nothing else to assert).
fn get_pixel_format_modifier(ctx: &Ctx) -> Outcome {
    with_import(ctx, &generic_info(), |m, h, _| require(m, h, T::PixelFormatModifier).map(|_| ()))
}

/// GetUsage: the requested usage.
fn get_usage(ctx: &Ctx) -> Outcome {
    with_import(ctx, &generic_info(), |m, h, a| {
        equal(T::Usage, require(m, h, T::Usage)?, MetadataValue::Usage(desc::usage_of(&a.info)))
    })
}

/// GetUsage64: FRONT_BUFFER (bit 32) survives into USAGE; skipped when isSupported says no.
fn get_usage64(ctx: &Ctx) -> Outcome {
    mapper(ctx)?;
    let usage =
        bits::FRONT_BUFFER | bits::GPU_RENDER_TARGET | bits::COMPOSER_OVERLAY | bits::GPU_TEXTURE;
    let info = vts_info(b"VTS_TEMP", 64, 64, Format::Rgba8888.raw(), usage);
    if !super::is_supported(ctx, &info)? {
        let reason = format!("SKIP: isSupported({}) is false", desc::describe(&info));
        ctx.note(&reason);
        return Err(Stop::skipped(reason));
    }
    with_import(ctx, &info, |m, h, _| {
        equal(T::Usage, require(m, h, T::Usage)?, MetadataValue::Usage(usage))
    })
}

/// GetAllocationSize: at least stride × height × 4, less than twice that.
fn get_allocation_size(ctx: &Ctx) -> Outcome {
    with_import(ctx, &generic_info(), |m, h, a| {
        let MetadataValue::AllocationSize(size) = require(m, h, T::AllocationSize)? else {
            return Err(wrong_type(T::AllocationSize));
        };
        // The stride comes from the allocator (at most i32::MAX): u128 cannot overflow.
        let estimated = u128::from(u32::try_from(a.stride).unwrap_or(0))
            * u128::from(u32::try_from(a.info.height).unwrap_or(0))
            * 4;
        let size_wide = u128::from(size);
        if size_wide < estimated || size_wide >= estimated * 2 {
            return Err(Stop::failed(format!(
                "ALLOCATION_SIZE {size}: expected at least stride × height × 4 = {estimated} \
                 and less than twice that"
            )));
        }
        Ok(())
    })
}

/// GetProtectedContent: a PROTECTED buffer reports 1 (skipped when unsupported).
fn get_protected_content(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    let info = vts_info(
        b"prot8888",
        64,
        64,
        Format::Rgba8888.raw(),
        bits::PROTECTED | bits::COMPOSER_OVERLAY,
    );
    let Some(allocation) = allocate(ctx, &info)? else {
        return unsupported(ctx, &info, "PROTECTED RGBA_8888");
    };
    let import = Import::new(mapper, &allocation)?;
    let found = require(mapper, import.arg(), T::ProtectedContent)?;
    equal(T::ProtectedContent, found, MetadataValue::ProtectedContent(1))?;
    import.free()
}

/// GetCompression / GetInterlaced / GetChromaSiting: the standard "None".
fn get_extendable(ctx: &Ctx, kind: T, expected: MetadataValue) -> Outcome {
    with_import(ctx, &generic_info(), |m, h, _| equal(kind, require(m, h, kind)?, expected))
}

fn get_compression(ctx: &Ctx) -> Outcome {
    get_extendable(
        ctx,
        T::Compression,
        MetadataValue::Compression(ExtendableType::compression_none()),
    )
}

fn get_interlaced(ctx: &Ctx) -> Outcome {
    get_extendable(ctx, T::Interlaced, MetadataValue::Interlaced(ExtendableType::interlaced_none()))
}

fn get_chroma_siting(ctx: &Ctx) -> Outcome {
    get_extendable(
        ctx,
        T::ChromaSiting,
        MetadataValue::ChromaSiting(ExtendableType::chroma_siting_none()),
    )
}

/// GetPlaneLayouts: the RGBA_8888 layout.
fn get_plane_layouts(ctx: &Ctx) -> Outcome {
    with_import(ctx, &generic_info(), |m, h, _| {
        verify_rgba8888_plane_layouts(&plane_layouts(m, h)?)
    })
}

/// GetCrop: one rectangle, the whole buffer.
fn get_crop(ctx: &Ctx) -> Outcome {
    with_import(ctx, &generic_info(), |m, h, a| {
        let expected = Rect { left: 0, top: 0, right: a.info.width, bottom: a.info.height };
        equal(T::Crop, require(m, h, T::Crop)?, MetadataValue::Crop(vec![expected]))
    })
}

/// GetStride: `AllocationResult.stride`.
fn get_stride(ctx: &Ctx) -> Outcome {
    with_import(ctx, &generic_info(), |m, h, a| {
        let expected = MetadataValue::Stride(u32::try_from(a.stride).unwrap_or(0));
        equal(T::Stride, require(m, h, T::Stride)?, expected)
    })
}

/// Get `initial`, set `changed` (NONE), get `changed`.
fn round_trip(ctx: &Ctx, initial: MetadataValue, changed: MetadataValue) -> Outcome {
    let kind = initial.metadata_type();
    with_import(ctx, &generic_info(), |m, h, _| {
        equal(kind, require(m, h, kind)?, initial.clone())
            .map_err(|s| s.context("before any set"))?;
        expect_code(
            &format!("setStandardMetadata({})", kind.name()),
            set_standard(m, h, &changed)?,
            0,
        )?;
        equal(kind, require(m, h, kind)?, changed.clone()).map_err(|s| s.context("after the set"))
    })
}

/// GetSetDataspace: UNKNOWN, then DISPLAY_P3.
fn get_set_dataspace(ctx: &Ctx) -> Outcome {
    round_trip(ctx, MetadataValue::Dataspace(0), MetadataValue::Dataspace(DATASPACE_DISPLAY_P3))
}

/// GetSetBlendMode: INVALID, then COVERAGE.
fn get_set_blend_mode(ctx: &Ctx) -> Outcome {
    round_trip(ctx, MetadataValue::BlendMode(0), MetadataValue::BlendMode(BLEND_COVERAGE))
}

/// GetSetSmpte2086 / GetCta861_3: unset, set, read back, clear (0 bytes), unset again.
fn set_and_clear(ctx: &Ctx, unset: MetadataValue, value: MetadataValue) -> Outcome {
    let kind = unset.metadata_type();
    with_import(ctx, &generic_info(), |m, h, _| {
        equal(kind, require(m, h, kind)?, unset.clone())
            .map_err(|s| s.context("before any set"))?;
        let what = format!("setStandardMetadata({})", kind.name());
        expect_code(&what, set_standard(m, h, &value)?, 0)?;
        equal(kind, require(m, h, kind)?, value.clone()).map_err(|s| s.context("after the set"))?;
        expect_code(&format!("{what} with 0 bytes (clear)"), set_standard(m, h, &unset)?, 0)?;
        equal(kind, require(m, h, kind)?, unset.clone()).map_err(|s| s.context("after clearing"))
    })
}

fn get_set_smpte2086(ctx: &Ctx) -> Outcome {
    set_and_clear(
        ctx,
        MetadataValue::Smpte2086(None),
        MetadataValue::Smpte2086(Some(awesome_hdr())),
    )
}

fn get_cta861_3(ctx: &Ctx) -> Outcome {
    set_and_clear(
        ctx,
        MetadataValue::Cta861_3(None),
        MetadataValue::Cta861_3(Some(generic_hlgish())),
    )
}

/// GetSmpte2094_10 / GetSmpte2094_40: optional getters; when present, unset.
fn get_optional_unset(ctx: &Ctx, kind: T, unset: MetadataValue) -> Outcome {
    with_import(ctx, &generic_info(), |m, h, _| match get_standard(m, h, kind)? {
        Some(value) => equal(kind, value, unset),
        None => {
            ctx.note(format!("{} is not supported (optional)", kind.name()));
            Ok(())
        }
    })
}

fn get_smpte2094_10(ctx: &Ctx) -> Outcome {
    get_optional_unset(ctx, T::Smpte2094_10, MetadataValue::Smpte2094_10(None))
}

fn get_smpte2094_40(ctx: &Ctx) -> Outcome {
    get_optional_unset(ctx, T::Smpte2094_40, MetadataValue::Smpte2094_40(None))
}

fn descriptions(mapper: &super::Mapper) -> Result<Vec<super::ffi::Description>, Stop> {
    let (code, list) = mapper.list_supported_metadata_types().map_err(Stop::failed)?;
    expect_code("listSupportedMetadataTypes", code, error::NONE)?;
    Ok(list)
}

fn is_standard(d: &super::ffi::Description) -> bool {
    d.name.as_deref() == Some(STANDARD_METADATA_TYPE_NAME)
}

fn names(types: &[T]) -> String {
    types.iter().map(|t| t.name()).collect::<Vec<_>>().join(", ")
}

/// SupportsRequiredGettersSetters: types 1–20 and 23 gettable; DATASPACE, BLEND_MODE,
/// SMPTE2086, CTA861_3 settable; standard values in range; vendor types described.
fn supports_required_getters_setters(ctx: &Ctx) -> Outcome {
    with_import(ctx, &generic_info(), |m, _, _| {
        let mut getters: Vec<T> = T::ALL
            .into_iter()
            .filter(|t| !matches!(t, T::Smpte2094_40 | T::Smpte2094_10))
            .collect();
        let mut setters = vec![T::Dataspace, T::BlendMode, T::Smpte2086, T::Cta861_3];
        for d in descriptions(m)? {
            if is_standard(&d) {
                if d.value <= 0 || d.value >= UNKNOWN_STANDARD_TYPE {
                    return Err(Stop::failed(format!(
                        "standard type value {} out of range",
                        d.value
                    )));
                }
                if d.gettable != 0 {
                    getters.retain(|t| t.value() != d.value);
                }
                if d.settable != 0 {
                    setters.retain(|t| t.value() != d.value);
                }
            } else if d.description.is_none() {
                return Err(Stop::failed(format!(
                    "non-standard metadata {:?}/{} has no description",
                    d.name, d.value
                )));
            }
        }
        if !getters.is_empty() {
            return Err(Stop::failed(format!("missing required getters [{}]", names(&getters))));
        }
        if !setters.is_empty() {
            return Err(Stop::failed(format!("missing required setters [{}]", names(&setters))));
        }
        Ok(())
    })
}

/// CheckRequiredSettersIfHasGetters: SMPTE2094_10/40 settable when gettable.
fn check_required_setters_if_has_getters(ctx: &Ctx) -> Outcome {
    with_import(ctx, &generic_info(), |m, _, _| {
        for d in descriptions(m)?.iter().filter(|d| is_standard(d)) {
            let kind = T::from_i64(d.value);
            if matches!(kind, Some(T::Smpte2094_10 | T::Smpte2094_40))
                && d.gettable != 0
                && d.settable == 0
            {
                return Err(Stop::failed(format!(
                    "type {} must be settable if gettable",
                    kind.map_or("?", T::name)
                )));
            }
        }
        Ok(())
    })
}

/// ListSupportedWorks: every listed gettable type answers `getMetadata(NULL, 0)` with a size
/// that a second call fills exactly; what is gettable and settable takes back what it gave;
/// nothing is settable without being gettable.
fn list_supported_works(ctx: &Ctx) -> Outcome {
    with_import(ctx, &generic_info(), |m, h, _| {
        let name =
            CString::new(STANDARD_METADATA_TYPE_NAME).map_err(|e| Stop::failed(e.to_string()))?;
        for d in descriptions(m)?.iter().filter(|d| is_standard(d)) {
            let label =
                T::from_i64(d.value).map_or_else(|| d.value.to_string(), |t| t.name().to_owned());
            if d.gettable == 0 {
                if d.settable != 0 {
                    return Err(Stop::failed(format!(
                        "{label}: standard metadata that isn't gettable must not be settable"
                    )));
                }
                continue;
            }
            let size = m.get_metadata(h, &name, d.value, None)?;
            let Ok(len) = usize::try_from(size) else {
                return Err(Stop::failed(format!(
                    "{label}: get failed for a claimed supported getter ({size})"
                )));
            };
            let mut buffer = vec![0u8; len];
            let again = m.get_metadata(h, &name, d.value, Some(&mut buffer))?;
            if usize::try_from(again).ok() != Some(len) {
                return Err(Stop::failed(format!(
                    "{label}: getMetadata(NULL, 0) said {size}, a {len}-byte buffer got {again}"
                )));
            }
            if d.settable != 0 {
                let code = m.set_metadata(h, &name, d.value, &buffer)?;
                expect_code(
                    &format!("{label}: setting back what get returned"),
                    code,
                    error::NONE,
                )?;
            }
        }
        Ok(())
    })
}

/// GetMetadataBadValue: a null handle is BAD_BUFFER for every standard type.
fn get_metadata_bad_value(ctx: &Ctx) -> Outcome {
    let mapper = mapper(ctx)?;
    for kind in T::ALL {
        let answer = mapper.get_standard_metadata(HandleArg::Null, kind.value(), None)?;
        let code = if answer < 0 { -answer } else { error::NONE };
        expect_code(
            &format!("getStandardMetadata(nullptr, {})", kind.name()),
            code,
            error::BAD_BUFFER,
        )?;
    }
    Ok(())
}

/// GetUnsupportedMetadata: `{"Fake", 1}`, INVALID and type 24 are UNSUPPORTED.
fn get_unsupported_metadata(ctx: &Ctx) -> Outcome {
    with_import(ctx, &generic_info(), |m, h, _| {
        let fake = CString::new("Fake").map_err(|e| Stop::failed(e.to_string()))?;
        let result = m.get_metadata(h, &fake, 1, None)?;
        expect_code("getMetadata({\"Fake\", 1})", -result, error::UNSUPPORTED)?;
        let result = m.get_standard_metadata(h, 0, None)?;
        expect_code("getStandardMetadata(INVALID)", -result, error::UNSUPPORTED)?;
        let result = m.get_standard_metadata(h, UNKNOWN_STANDARD_TYPE, None)?;
        expect_code("getStandardMetadata(24)", -result, error::UNSUPPORTED)
    })
}

/// Metadata is global: a child process imports the same buffer, sees what the parent set,
/// sets its own values, and the parent's own import reads them.
fn metadata_across_processes(ctx: &Ctx) -> Outcome {
    let loaded = loaded(ctx)?;
    let Some(exe) = ctx.helper_exe() else {
        return Err(Stop::skipped("SKIP: no helper executable for the child process"));
    };
    let m = loaded.mapper();
    let allocation = allocate_ok(ctx, &generic_info())?;
    let import = Import::new(m, &allocation)?;
    let h = import.arg();
    let code = set_standard(m, h, &MetadataValue::Dataspace(DATASPACE_BT2020_PQ))?;
    expect_code("parent setStandardMetadata(DATASPACE)", code, error::NONE)?;
    super::child::run_child(exe, loaded.library().path(), &allocation)?;
    equal(T::Dataspace, require(m, h, T::Dataspace)?, MetadataValue::Dataspace(DATASPACE_SRGB))
        .map_err(|s| s.context("after the child set it"))?;
    equal(
        T::BlendMode,
        require(m, h, T::BlendMode)?,
        MetadataValue::BlendMode(BLEND_PREMULTIPLIED),
    )
    .map_err(|s| s.context("after the child set it"))?;
    equal(
        T::Cta861_3,
        require(m, h, T::Cta861_3)?,
        MetadataValue::Cta861_3(Some(generic_hlgish())),
    )
    .map_err(|s| s.context("after the child set it"))?;
    import.free()
}
