// Vendored for hal_interface: android.hardware.graphics.allocator, frozen V2.
// Field names, types, order and defaults follow AOSP hardware/interfaces.

package android.hardware.graphics.allocator;

import android.hardware.graphics.common.BufferUsage;
import android.hardware.graphics.common.ExtendableType;
import android.hardware.graphics.common.PixelFormat;

@VintfStability
parcelable BufferDescriptorInfo {
    /** Debug name, NUL-terminated; servers force name[127] = 0 before use. */
    byte[128] name;

    /** Columns of pixels (bytes for BLOB); rows may be padded. */
    int width;

    /** Rows of pixels. */
    int height;

    /** Number of image layers. */
    int layerCount;

    /** Pixel format (graphics.common PixelFormat). */
    PixelFormat format = PixelFormat.UNSPECIFIED;

    /** Usage mask; unrecognised bits mean isSupported false and rejection. */
    BufferUsage usage = BufferUsage.CPU_READ_NEVER;

    /** Bytes of the per-buffer reserved region (mapper getReservedRegion). */
    long reservedSize;

    /** Extra options; unrecognised ones mean isSupported false and rejection. */
    ExtendableType[] additionalOptions;
}
