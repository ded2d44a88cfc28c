// Vendored for hal_interface: android.hardware.graphics.common V5.

package android.hardware.graphics.common;

@VintfStability
parcelable ExtendableType {
    /** Stable AIDL name of the type whose value this holds. */
    @utf8InCpp String name;

    /** Value of that type. */
    long value = 0;
}
