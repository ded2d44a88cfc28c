//! Arbitrary standard metadata values (`hal_interface::metadata::MetadataValue`), one
//! builder per type, with the namespaces and component types of the standard mostly and
//! any string or number sometimes.

use arbitrary::{Result, Unstructured};
use hal_interface::metadata::{
    Cta861_3, ExtendableType, GrallocPlaneLayout, GrallocPlaneLayoutComponent, MetadataValue,
    PlaneLayoutComponentType, Rect, Smpte2086, StandardMetadataType, XyColor, CHROMA_SITING_NAME,
    COMPRESSION_NAME, INTERLACED_NAME, PLANE_LAYOUT_COMPONENT_TYPE_NAME,
};

fn string(u: &mut Unstructured<'_>, usual: &str) -> Result<String> {
    if u.ratio(3u8, 4u8)? {
        Ok(usual.to_owned())
    } else {
        u.arbitrary()
    }
}

fn extendable(u: &mut Unstructured<'_>, namespace: &str) -> Result<ExtendableType> {
    Ok(ExtendableType { name: string(u, namespace)?, value: u.arbitrary()? })
}

fn component(u: &mut Unstructured<'_>) -> Result<GrallocPlaneLayoutComponent> {
    let component_type = if u.ratio(3u8, 4u8)? {
        ExtendableType::component(*u.choose(&PlaneLayoutComponentType::ALL)?)
    } else {
        extendable(u, PLANE_LAYOUT_COMPONENT_TYPE_NAME)?
    };
    Ok(GrallocPlaneLayoutComponent {
        component_type,
        offset_in_bits: u.arbitrary()?,
        size_in_bits: u.arbitrary()?,
    })
}

fn plane(u: &mut Unstructured<'_>) -> Result<GrallocPlaneLayout> {
    let mut components = Vec::new();
    for _ in 0..u.int_in_range(0u8..=4)? {
        components.push(component(u)?);
    }
    Ok(GrallocPlaneLayout {
        components,
        offset_in_bytes: u.arbitrary()?,
        sample_increment_in_bits: u.arbitrary()?,
        stride_in_bytes: u.arbitrary()?,
        width_in_samples: u.arbitrary()?,
        height_in_samples: u.arbitrary()?,
        total_size_in_bytes: u.arbitrary()?,
        horizontal_subsampling: u.arbitrary()?,
        vertical_subsampling: u.arbitrary()?,
    })
}

fn xy(u: &mut Unstructured<'_>) -> Result<XyColor> {
    Ok(XyColor { x: u.arbitrary()?, y: u.arbitrary()? })
}

fn optional<T>(
    u: &mut Unstructured<'_>,
    build: impl FnOnce(&mut Unstructured<'_>) -> Result<T>,
) -> Result<Option<T>> {
    if u.ratio(1u8, 5u8)? {
        Ok(None)
    } else {
        build(u).map(Some)
    }
}

/// An arbitrary value of type `ty`.
///
/// # Errors
///
/// When `arbitrary` runs out of input in a way it reports.
pub fn value_of(u: &mut Unstructured<'_>, ty: StandardMetadataType) -> Result<MetadataValue> {
    use MetadataValue as V;
    use StandardMetadataType as T;
    Ok(match ty {
        T::BufferId => V::BufferId(u.arbitrary()?),
        T::Name => V::Name(u.arbitrary()?),
        T::Width => V::Width(u.arbitrary()?),
        T::Height => V::Height(u.arbitrary()?),
        T::LayerCount => V::LayerCount(u.arbitrary()?),
        T::PixelFormatRequested => V::PixelFormatRequested(u.arbitrary()?),
        T::PixelFormatFourcc => V::PixelFormatFourcc(u.arbitrary()?),
        T::PixelFormatModifier => V::PixelFormatModifier(u.arbitrary()?),
        T::Usage => V::Usage(u.arbitrary()?),
        T::AllocationSize => V::AllocationSize(u.arbitrary()?),
        T::ProtectedContent => V::ProtectedContent(u.arbitrary()?),
        T::Compression => V::Compression(extendable(u, COMPRESSION_NAME)?),
        T::Interlaced => V::Interlaced(extendable(u, INTERLACED_NAME)?),
        T::ChromaSiting => V::ChromaSiting(extendable(u, CHROMA_SITING_NAME)?),
        T::PlaneLayouts => {
            let mut planes = Vec::new();
            for _ in 0..u.int_in_range(0u8..=4)? {
                planes.push(plane(u)?);
            }
            V::PlaneLayouts(planes)
        }
        T::Crop => {
            let mut rects = Vec::new();
            for _ in 0..u.int_in_range(0u8..=4)? {
                rects.push(Rect {
                    left: u.arbitrary()?,
                    top: u.arbitrary()?,
                    right: u.arbitrary()?,
                    bottom: u.arbitrary()?,
                });
            }
            V::Crop(rects)
        }
        T::Dataspace => V::Dataspace(u.arbitrary()?),
        T::BlendMode => V::BlendMode(u.arbitrary()?),
        T::Smpte2086 => V::Smpte2086(optional(u, |u| {
            Ok(Smpte2086 {
                primary_red: xy(u)?,
                primary_green: xy(u)?,
                primary_blue: xy(u)?,
                white_point: xy(u)?,
                max_luminance: u.arbitrary()?,
                min_luminance: u.arbitrary()?,
            })
        })?),
        T::Cta861_3 => V::Cta861_3(optional(u, |u| {
            Ok(Cta861_3 {
                max_content_light_level: u.arbitrary()?,
                max_frame_average_light_level: u.arbitrary()?,
            })
        })?),
        T::Smpte2094_40 => V::Smpte2094_40(optional(u, |u| u.arbitrary())?),
        T::Smpte2094_10 => V::Smpte2094_10(optional(u, |u| u.arbitrary())?),
        T::Stride => V::Stride(u.arbitrary()?),
    })
}

/// A standard type: mostly by index, so every type is as likely.
///
/// # Errors
///
/// As [`value_of`].
pub fn metadata_type(u: &mut Unstructured<'_>) -> Result<StandardMetadataType> {
    u.choose(&StandardMetadataType::ALL).copied()
}

/// Whether the value holds a NaN, which is not equal to itself (so compare encodings).
pub fn has_nan(value: &MetadataValue) -> bool {
    let nan = |f: f32| f.is_nan();
    match value {
        MetadataValue::Smpte2086(Some(v)) => v.to_floats().into_iter().any(nan),
        MetadataValue::Cta861_3(Some(v)) => {
            nan(v.max_content_light_level) || nan(v.max_frame_average_light_level)
        }
        _ => false,
    }
}
