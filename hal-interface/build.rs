//! Generates the rsbinder bindings of the vendored AIDL into `$OUT_DIR/gralloc.rs`.
//!
//! One Builder for both packages: two outputs that each contain graphics.common would make
//! two distinct Rust types for the same AIDL type. `.version()`/`.hash()` stamp the most
//! recently added file, so they follow `IAllocator.aidl` directly.

use std::path::PathBuf;

/// Frozen hash of android.hardware.graphics.allocator V2 (`aidl_api/.../2/.hash`).
const ALLOCATOR_V2_HASH: &str = "9499fec09c544e9de5be3c87125721600f8ade66";

fn main() {
    let aidl = PathBuf::from("aidl/android/hardware/graphics");
    let common = aidl.join("common");
    let allocator = aidl.join("allocator");
    let builder = rsbinder_aidl::Builder::new()
        .set_async_support(false)
        .source(common.join("BufferUsage.aidl"))
        .source(common.join("ExtendableType.aidl"))
        .source(common.join("PixelFormat.aidl"))
        .source(allocator.join("AllocationError.aidl"))
        .source(allocator.join("AllocationResult.aidl"))
        .source(allocator.join("BufferDescriptorInfo.aidl"))
        .source(allocator.join("IAllocator.aidl"))
        .version(2)
        .hash(ALLOCATOR_V2_HASH)
        .output(PathBuf::from("gralloc.rs"));
    if let Err(err) = builder.generate() {
        eprintln!("AIDL code generation failed: {err:?}");
        std::process::exit(1);
    }
}
