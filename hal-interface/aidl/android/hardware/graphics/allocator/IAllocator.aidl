// Vendored for hal_interface: android.hardware.graphics.allocator, frozen V2
// (hash 9499fec09c544e9de5be3c87125721600f8ade66). Names, types, order and annotations
// follow AOSP hardware/interfaces; method order fixes the transaction codes (1..4).
// Do not edit without moving to a new frozen version.

package android.hardware.graphics.allocator;

import android.hardware.graphics.allocator.AllocationResult;
import android.hardware.graphics.allocator.BufferDescriptorInfo;

@VintfStability
interface IAllocator {
    /**
     * V1 entry point: `descriptor` is the opaque blob from IMapper 4.0 createDescriptor.
     * @deprecated As of android.hardware.graphics.allocator-V2, this is deprecated & replaced with
     *         allocate2
     */
    AllocationResult allocate(in byte[] descriptor, in int count);

    /** Allocates `count` buffers described by `descriptor`; errors are AllocationError. */
    AllocationResult allocate2(in BufferDescriptorInfo descriptor, in int count);

    /** true: allocation succeeds unless resources run out; false: it never will. */
    boolean isSupported(in BufferDescriptorInfo descriptor);

    /** Suffix of the stable-C mapper library: /vendor/lib[64]/hw/mapper.<suffix>.so */
    String getIMapperLibrarySuffix();
}
