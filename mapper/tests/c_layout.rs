//! The Rust layout of the ABI types equals what a C compiler makes of the project's header
//! (`include/gralloc_mapper_abi.h`, compiled and run by build.rs).

use std::mem::{align_of, offset_of, size_of};

use gralloc_mapper::abi::{ARect, MetadataType, NativeHandleHeader};
use gralloc_mapper::{AIMapper, AIMapperV5, MetadataTypeDescription};

#[allow(dead_code, non_upper_case_globals)]
mod c {
    include!(concat!(env!("OUT_DIR"), "/c_layout.rs"));
}

#[test]
fn rust_layout_matches_the_c_header() {
    if let Some(why) = c::SKIPPED {
        println!("SKIP: {why}");
        return;
    }
    #[cfg(c_layout_checked)]
    {
        assert_eq!(size_of::<AIMapper>(), c::SIZE_AIMapper);
        assert_eq!(align_of::<AIMapper>(), c::ALIGN_AIMapper);
        assert_eq!(size_of::<AIMapperV5>(), c::SIZE_AIMapperV5);
        assert_eq!(size_of::<MetadataType>(), c::SIZE_AIMapper_MetadataType);
        assert_eq!(size_of::<MetadataTypeDescription>(), c::SIZE_AIMapper_MetadataTypeDescription);
        assert_eq!(
            align_of::<MetadataTypeDescription>(),
            c::ALIGN_AIMapper_MetadataTypeDescription
        );
        assert_eq!(size_of::<ARect>(), c::SIZE_ARect);
        assert_eq!(size_of::<NativeHandleHeader>(), c::SIZE_native_handle_t);
        assert_eq!(offset_of!(AIMapper, version), c::OFFSET_AIMapper_version);
        assert_eq!(offset_of!(AIMapper, v5), c::OFFSET_AIMapper_v5);
        assert_eq!(offset_of!(AIMapperV5, import_buffer), c::OFFSET_AIMapperV5_importBuffer);
        assert_eq!(offset_of!(AIMapperV5, lock), c::OFFSET_AIMapperV5_lock);
        assert_eq!(offset_of!(AIMapperV5, get_metadata), c::OFFSET_AIMapperV5_getMetadata);
        assert_eq!(
            offset_of!(AIMapperV5, list_supported_metadata_types),
            c::OFFSET_AIMapperV5_listSupportedMetadataTypes
        );
        assert_eq!(
            offset_of!(AIMapperV5, get_reserved_region),
            c::OFFSET_AIMapperV5_getReservedRegion
        );
        assert_eq!(offset_of!(MetadataType, value), c::OFFSET_AIMapper_MetadataType_value);
        assert_eq!(
            offset_of!(MetadataTypeDescription, description),
            c::OFFSET_AIMapper_MetadataTypeDescription_description
        );
        assert_eq!(
            offset_of!(MetadataTypeDescription, is_gettable),
            c::OFFSET_AIMapper_MetadataTypeDescription_isGettable
        );
        assert_eq!(
            offset_of!(MetadataTypeDescription, is_settable),
            c::OFFSET_AIMapper_MetadataTypeDescription_isSettable
        );
        assert_eq!(
            offset_of!(MetadataTypeDescription, reserved),
            c::OFFSET_AIMapper_MetadataTypeDescription_reserved
        );
    }
}
