// Vendored for hal_interface: android.hardware.graphics.allocator, frozen V2.
// Returned as a service-specific error code; values are implicit (0, 1, 2).

package android.hardware.graphics.allocator;

@VintfStability
@Backing(type="int")
enum AllocationError {
    /** The descriptor is invalid. */
    BAD_DESCRIPTOR,

    /** Resources are unavailable right now. */
    NO_RESOURCES,

    /** The properties are not supported (permanent). */
    UNSUPPORTED
}
