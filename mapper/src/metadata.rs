//! Standard metadata of an imported buffer: what the handle fixes (geometry, format, usage,
//! layouts) comes from the decoded handle; what processes may change (DATASPACE,
//! BLEND_MODE, HDR metadata) and the full NAME come from the shared region, so a value set
//! in one process is read in every other.

use hal_interface::metadata::{
    decode, encode, Cta861_3, MetadataValue, Smpte2086, StandardMetadataType,
};
use hal_interface::shared_metadata::{FieldValue, SharedMetadata};

use crate::abi::MapperError;
use crate::buffer::Imported;

type T = StandardMetadataType;

/// Whether `getMetadata` answers for `ty` (every standard type).
pub const fn is_gettable(_ty: StandardMetadataType) -> bool {
    true
}

/// Whether `setMetadata` accepts `ty`.
pub const fn is_settable(ty: StandardMetadataType) -> bool {
    matches!(
        ty,
        T::Dataspace
            | T::BlendMode
            | T::Smpte2086
            | T::Cta861_3
            | T::Smpte2094_40
            | T::Smpte2094_10
    )
}

/// Types fixed at allocation whose set is `BAD_VALUE` (the others that are not settable
/// are `UNSUPPORTED`, as minigbm does).
const fn is_read_only(ty: StandardMetadataType) -> bool {
    matches!(
        ty,
        T::BufferId
            | T::Name
            | T::Width
            | T::Height
            | T::LayerCount
            | T::PixelFormatRequested
            | T::Usage
    )
}

fn from_region(shared: SharedMetadata, ty: StandardMetadataType) -> Option<MetadataValue> {
    Some(match ty {
        T::Name => MetadataValue::Name(String::from_utf8_lossy(&shared.name).into_owned()),
        T::Dataspace => MetadataValue::Dataspace(shared.dataspace),
        T::BlendMode => MetadataValue::BlendMode(shared.blend_mode),
        T::Smpte2086 => MetadataValue::Smpte2086(shared.smpte2086.map(Smpte2086::from_floats)),
        T::Cta861_3 => MetadataValue::Cta861_3(shared.cta861_3.map(|[max_cll, max_fall]| {
            Cta861_3 { max_content_light_level: max_cll, max_frame_average_light_level: max_fall }
        })),
        T::Smpte2094_40 => MetadataValue::Smpte2094_40(shared.smpte2094_40),
        T::Smpte2094_10 => MetadataValue::Smpte2094_10(shared.smpte2094_10),
        _ => return None,
    })
}

/// The current value of `ty`.
///
/// # Errors
///
/// `UNSUPPORTED` for a type without a value; `NO_RESOURCES` when the region cannot be read.
pub fn value(buffer: &Imported, ty: StandardMetadataType) -> Result<MetadataValue, MapperError> {
    // What the handle does not fix (NAME, DATASPACE, BLEND_MODE, the HDR values) lives in the
    // shared region.
    let value = match MetadataValue::from_handle(buffer.handle(), ty) {
        Some(value) => Some(value),
        None => from_region(buffer.metadata().read()?, ty),
    };
    value.ok_or(MapperError::Unsupported)
}

/// `getStandardMetadata`: the encoded value of the type numbered `ty`.
///
/// # Errors
///
/// `UNSUPPORTED` for an unknown type; as [`value`].
pub fn get(buffer: &Imported, ty: i64) -> Result<Vec<u8>, MapperError> {
    let ty = StandardMetadataType::from_i64(ty).ok_or(MapperError::Unsupported)?;
    Ok(encode(&value(buffer, ty)?))
}

/// `setStandardMetadata`: stores the encoded `bytes` as the value of the type numbered `ty`.
///
/// # Errors
///
/// `BAD_VALUE` for a type fixed at allocation or a value the region cannot hold;
/// `UNSUPPORTED` for other types and malformed encodings; `NO_RESOURCES` when the region
/// cannot be written.
pub fn set(buffer: &Imported, ty: i64, bytes: &[u8]) -> Result<(), MapperError> {
    let ty = StandardMetadataType::from_i64(ty).ok_or(MapperError::Unsupported)?;
    if is_read_only(ty) {
        return Err(MapperError::BadValue);
    }
    if !is_settable(ty) {
        return Err(MapperError::Unsupported);
    }
    let value = decode(ty, bytes).map_err(|error| {
        log::warn!("setMetadata {}: {error}", ty.name());
        MapperError::Unsupported
    })?;
    let floats2086;
    let field = match &value {
        MetadataValue::Dataspace(v) => FieldValue::Dataspace(*v),
        MetadataValue::BlendMode(v) => FieldValue::BlendMode(*v),
        MetadataValue::Smpte2086(v) => {
            floats2086 = v.as_ref().map(Smpte2086::to_floats);
            FieldValue::Smpte2086(floats2086)
        }
        MetadataValue::Cta861_3(v) => FieldValue::Cta861_3(
            v.as_ref().map(|c| [c.max_content_light_level, c.max_frame_average_light_level]),
        ),
        MetadataValue::Smpte2094_40(v) => FieldValue::Smpte2094_40(v.as_deref()),
        MetadataValue::Smpte2094_10(v) => FieldValue::Smpte2094_10(v.as_deref()),
        _ => return Err(MapperError::Unsupported),
    };
    buffer.metadata().write(&field)
}

/// Every gettable value, encoded, in type order (for `dumpBuffer`).
pub fn dump(buffer: &Imported) -> Vec<(StandardMetadataType, Vec<u8>)> {
    StandardMetadataType::ALL
        .into_iter()
        .filter(|&ty| is_gettable(ty))
        .filter_map(|ty| value(buffer, ty).ok().map(|v| (ty, encode(&v))))
        .collect()
}
