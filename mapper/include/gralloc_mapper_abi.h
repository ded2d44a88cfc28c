/*
 * The C ABI of the IMapper 5 stable-C mapper, written from
 * android/hardware/graphics/mapper/IMapper.h (hardware/interfaces graphics/mapper/stable-c)
 * for checking this library's Rust layout with a C compiler (see ../build.rs). Only the
 * types; the functions are reached through AIMapper_loadIMapper.
 */
#ifndef GRALLOC_MAPPER_ABI_H
#define GRALLOC_MAPPER_ABI_H

#include <stdalign.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef struct native_handle {
    int version; /* sizeof(native_handle_t) */
    int numFds;
    int numInts;
    int data[0]; /* numFds fds, then numInts ints */
} native_handle_t;

typedef const native_handle_t* buffer_handle_t;

typedef struct ARect {
    int32_t left;
    int32_t top;
    int32_t right;
    int32_t bottom;
} ARect;

typedef uint32_t AIMapper_Version;
enum { AIMAPPER_VERSION_5 = 5 };

typedef int32_t AIMapper_Error;
enum {
    AIMAPPER_ERROR_NONE = 0,
    AIMAPPER_ERROR_BAD_DESCRIPTOR = 1,
    AIMAPPER_ERROR_BAD_BUFFER = 2,
    AIMAPPER_ERROR_BAD_VALUE = 3,
    AIMAPPER_ERROR_NO_RESOURCES = 5,
    AIMAPPER_ERROR_UNSUPPORTED = 7,
};

typedef struct AIMapper_MetadataType {
    const char* name;
    int64_t value;
} AIMapper_MetadataType;

typedef struct AIMapper_MetadataTypeDescription {
    AIMapper_MetadataType metadataType;
    const char* description;
    bool isGettable;
    bool isSettable;
    uint8_t reserved[32];
} AIMapper_MetadataTypeDescription;

typedef void (*AIMapper_DumpBufferCallback)(void* context, AIMapper_MetadataType metadataType,
                                            const void* value, size_t valueSize);
typedef void (*AIMapper_BeginDumpBufferCallback)(void* context);

typedef struct AIMapperV5 {
    AIMapper_Error (*importBuffer)(const native_handle_t* handle, buffer_handle_t* outBufferHandle);
    AIMapper_Error (*freeBuffer)(buffer_handle_t buffer);
    AIMapper_Error (*getTransportSize)(buffer_handle_t buffer, uint32_t* outNumFds,
                                       uint32_t* outNumInts);
    AIMapper_Error (*lock)(buffer_handle_t buffer, uint64_t cpuUsage, ARect accessRegion,
                           int acquireFence, void** outData);
    AIMapper_Error (*unlock)(buffer_handle_t buffer, int* releaseFence);
    AIMapper_Error (*flushLockedBuffer)(buffer_handle_t buffer);
    AIMapper_Error (*rereadLockedBuffer)(buffer_handle_t buffer);
    int32_t (*getMetadata)(buffer_handle_t buffer, AIMapper_MetadataType metadataType,
                           void* destBuffer, size_t destBufferSize);
    int32_t (*getStandardMetadata)(buffer_handle_t buffer, int64_t standardMetadataType,
                                   void* destBuffer, size_t destBufferSize);
    AIMapper_Error (*setMetadata)(buffer_handle_t buffer, AIMapper_MetadataType metadataType,
                                  const void* metadata, size_t metadataSize);
    AIMapper_Error (*setStandardMetadata)(buffer_handle_t buffer, int64_t standardMetadataType,
                                          const void* metadata, size_t metadataSize);
    AIMapper_Error (*listSupportedMetadataTypes)(
            const AIMapper_MetadataTypeDescription** outDescriptionList, size_t* outNumberOfDescriptions);
    AIMapper_Error (*dumpBuffer)(buffer_handle_t buffer, AIMapper_DumpBufferCallback dumpBufferCallback,
                                 void* context);
    AIMapper_Error (*dumpAllBuffers)(AIMapper_BeginDumpBufferCallback beginDumpBufferCallback,
                                     AIMapper_DumpBufferCallback dumpBufferCallback, void* context);
    AIMapper_Error (*getReservedRegion)(buffer_handle_t buffer, void** outReservedRegion,
                                        uint64_t* outReservedSize);
} AIMapperV5;

typedef struct AIMapper {
    alignas(alignof(max_align_t)) AIMapper_Version version;
    AIMapperV5 v5;
} AIMapper;

typedef AIMapper_Error (*AIMapper_loadIMapperFn)(AIMapper** outImplementation);

#ifdef __cplusplus
}
#endif

#endif /* GRALLOC_MAPPER_ABI_H */
