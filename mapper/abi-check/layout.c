/* Prints the layout of the mapper ABI as a C compiler sees it, as Rust constants that the
 * library's layout test compares with its own size_of/offset_of (see ../build.rs). */
#include <stdio.h>

#include "gralloc_mapper_abi.h"

#define FIELD(type, field) printf("pub const OFFSET_%s_%s: usize = %zu;\n", #type, #field, offsetof(type, field))
#define SIZE(type) \
    printf("pub const SIZE_%s: usize = %zu;\npub const ALIGN_%s: usize = %zu;\n", #type, sizeof(type), #type, alignof(type))

int main(void) {
    SIZE(AIMapper);
    SIZE(AIMapperV5);
    SIZE(AIMapper_MetadataType);
    SIZE(AIMapper_MetadataTypeDescription);
    SIZE(ARect);
    SIZE(native_handle_t);
    FIELD(AIMapper, version);
    FIELD(AIMapper, v5);
    FIELD(AIMapperV5, importBuffer);
    FIELD(AIMapperV5, lock);
    FIELD(AIMapperV5, getMetadata);
    FIELD(AIMapperV5, listSupportedMetadataTypes);
    FIELD(AIMapperV5, getReservedRegion);
    FIELD(AIMapper_MetadataType, value);
    FIELD(AIMapper_MetadataTypeDescription, description);
    FIELD(AIMapper_MetadataTypeDescription, isGettable);
    FIELD(AIMapper_MetadataTypeDescription, isSettable);
    FIELD(AIMapper_MetadataTypeDescription, reserved);
    return 0;
}
