//! The mapper's PLANE_LAYOUTS and FOURCC (`hal_interface::metadata`) over the layouts this
//! service really computes: every format's component table fits the planes, strides and
//! byte sizes the layout gives it.

#![allow(clippy::unwrap_used)] // test code: fixed small values, unwrap outside #[test] fns

use std::num::NonZeroU32;

use allocator_service::layout::{Layout, StrideUnit};
use allocator_service::request::Image;
use hal_interface::handle::BufferHandle;
use hal_interface::metadata::{
    layout_format, plane_layouts, MetadataValue, PlaneLayoutComponentType as C,
    StandardMetadataType,
};
use hal_interface::shared_metadata;
use hal_interface::usage::bits;
use hal_interface::{Format, Usage};
use usage_map::Alignment;

const PAGE: u64 = 4096;
const GPU: u64 = bits::GPU_TEXTURE | bits::GPU_RENDER_TARGET;
const CPU: u64 = bits::CPU_READ_OFTEN | bits::CPU_WRITE_OFTEN;

/// CPU usage, as a mapper client locking the buffer has, except for IMPLEMENTATION_DEFINED,
/// which the service lays out only without it.
fn usage_for(format: Format) -> u64 {
    if format == Format::ImplementationDefined {
        GPU
    } else {
        CPU
    }
}

fn laid_out(format: Format, usage: u64, width: u32, height: u32) -> (Layout, BufferHandle) {
    let nz = |v| NonZeroU32::new(v).unwrap();
    let image =
        Image::new(format, Usage::from_bits(usage), nz(width), nz(height), nz(1), 0).unwrap();
    let layout = Layout::for_image(&image, &Alignment::NONE, PAGE).unwrap();
    let handle = BufferHandle {
        width,
        height,
        layers: 1,
        format: format.raw(),
        usage,
        stride_pixels: u32::try_from(layout.reported_stride()).unwrap(),
        stride_bytes: layout.stride_bytes(),
        alloc_size: layout.total_size().get(),
        planes: layout.planes().to_vec(),
        buffer_id: 1,
        heap: "system".into(),
        reserved_offset: layout.reserved_offset(),
        reserved_size: layout.reserved_size(),
        metadata_size: shared_metadata::REGION_SIZE,
    };
    handle.validate().unwrap();
    (layout, handle)
}

fn shape(format: Format) -> (u32, u32) {
    if format == Format::Blob {
        (4096, 1)
    } else {
        (64, 32)
    }
}

/// Formats whose samples `PlaneLayoutComponentType` cannot name.
fn has_no_standard_components(format: Format) -> bool {
    matches!(
        format,
        Format::Hsv888
            | Format::Depth16
            | Format::Depth24
            | Format::Depth24Stencil8
            | Format::Depth32f
            | Format::Depth32fStencil8
            | Format::Stencil8
    )
}

#[test]
fn every_format_is_described_over_its_real_layout() {
    for &format in Format::ALL {
        if format == Format::Unspecified {
            continue;
        }
        let (width, height) = shape(format);
        let (layout, handle) = laid_out(format, usage_for(format), width, height);
        let layouts = plane_layouts(&handle);
        assert_eq!(layouts.len(), layout.planes().len(), "{format}");
        for (p, plane) in layouts.iter().zip(layout.planes()) {
            assert_eq!(p.offset_in_bytes, i64::try_from(plane.offset).unwrap());
            assert_eq!(p.stride_in_bytes, i64::from(plane.stride_bytes));
            assert_eq!(p.total_size_in_bytes, i64::try_from(plane.size).unwrap());
            assert_eq!(p.horizontal_subsampling, i64::from(plane.h_subsampling));
            assert_eq!(p.vertical_subsampling, i64::from(plane.v_subsampling));
            assert_eq!(p.width_in_samples * p.horizontal_subsampling, i64::from(width));
            assert_eq!(p.height_in_samples * p.vertical_subsampling, i64::from(height));
            assert_eq!(
                p.components.is_empty(),
                has_no_standard_components(format),
                "{format}: components {:?}",
                p.components
            );
            for c in &p.components {
                assert!(c.component_type.standard_component().is_some(), "{format}");
            }
            // A row of samples fits the row the layout gives the plane, and the rows fit
            // the plane.
            let row_bits = p.width_in_samples * p.sample_increment_in_bits;
            assert!(row_bits <= p.stride_in_bytes * 8, "{format}: {row_bits} bits per row");
            assert!(p.stride_in_bytes * p.height_in_samples <= p.total_size_in_bytes);
        }
        // Packed formats: the sample increment is exactly the layout's bytes per pixel.
        let increment = layouts[0].sample_increment_in_bits;
        if layouts.len() == 1 && increment > 0 && layout.stride_unit() == StrideUnit::Pixels {
            let bytes_per_pixel = layout.stride_bytes() / layout.stride_pixels();
            assert_eq!(increment, i64::from(bytes_per_pixel) * 8, "{format}");
        }
    }
}

#[test]
fn fourcc_getter_agrees_with_the_layout() {
    for &format in Format::ALL {
        if format == Format::Unspecified {
            continue;
        }
        let (width, height) = shape(format);
        let (layout, handle) = laid_out(format, usage_for(format), width, height);
        assert_eq!(
            MetadataValue::from_handle(&handle, StandardMetadataType::PixelFormatFourcc),
            Some(MetadataValue::PixelFormatFourcc(layout.drm_fourcc())),
            "{format}"
        );
    }
}

#[test]
fn implementation_defined_is_described_as_its_resolved_layout() {
    let (layout, handle) = laid_out(Format::ImplementationDefined, GPU, 64, 32);
    assert_eq!(layout_format(&handle), Some(layout.layout_format()));
    assert_eq!(layout.layout_format(), Format::Rgba8888);
    let (layout, handle) = laid_out(Format::ImplementationDefined, bits::VIDEO_ENCODER, 64, 32);
    assert_eq!(layout.layout_format(), Format::Ycbcr420_888);
    assert_eq!(layout_format(&handle), Some(Format::Ycbcr420_888));
    let chroma = &plane_layouts(&handle)[1];
    let kinds: Vec<_> =
        chroma.components.iter().filter_map(|c| c.component_type.standard_component()).collect();
    assert_eq!(kinds, [C::Cb, C::Cr]);
}

#[test]
fn yv12_chroma_planes_follow_the_vts_formula() {
    let (_, handle) = laid_out(Format::Yv12, CPU, 64, 64);
    let layouts = plane_layouts(&handle);
    let (y, cr, cb) = (&layouts[0], &layouts[1], &layouts[2]);
    assert_eq!((y.width_in_samples, y.height_in_samples), (64, 64));
    for (p, kind) in [(cr, C::Cr), (cb, C::Cb)] {
        assert_eq!(p.components[0].component_type.standard_component(), Some(kind));
        assert_eq!((p.width_in_samples, p.height_in_samples), (32, 32));
        assert_eq!((p.horizontal_subsampling, p.vertical_subsampling), (2, 2));
        assert!(p.width_in_samples <= p.stride_in_bytes);
    }
    // Lock_YV12: cb == cr + cstride * height / vsub.
    assert_eq!(cb.offset_in_bytes, cr.offset_in_bytes + cr.stride_in_bytes * 64 / 2);
}
