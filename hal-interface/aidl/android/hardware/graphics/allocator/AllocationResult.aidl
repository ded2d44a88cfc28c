// Vendored for hal_interface: android.hardware.graphics.allocator, frozen V2.

package android.hardware.graphics.allocator;

import android.hardware.common.NativeHandle;

@VintfStability
parcelable AllocationResult {
    /** Row stride in pixels, common to every buffer of the call. */
    int stride;
    NativeHandle[] buffers;
}
