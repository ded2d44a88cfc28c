//! The typed values of the gralloc4 standard metadata types.
//!
//! Upstream: `android/hardware/graphics/common/{StandardMetadataType, ExtendableType,
//! PlaneLayout, PlaneLayoutComponent, PlaneLayoutComponentType, Rect, XyColor, Smpte2086,
//! Cta861_3}.aidl`. Two AIDL comments disagree with what every decoder does, and this module
//! follows the decoders: `Rect` fields are `i32`, and `PlaneLayout.heightInSamples` is
//! encoded.

/// Name of the standard metadata type namespace: the first field of every encoded value.
pub const STANDARD_METADATA_TYPE_NAME: &str =
    "android.hardware.graphics.common.StandardMetadataType";
/// `ExtendableType` name of the standard COMPRESSION values.
pub const COMPRESSION_NAME: &str = "android.hardware.graphics.common.Compression";
/// `ExtendableType` name of the standard INTERLACED values.
pub const INTERLACED_NAME: &str = "android.hardware.graphics.common.Interlaced";
/// `ExtendableType` name of the standard CHROMA_SITING values.
pub const CHROMA_SITING_NAME: &str = "android.hardware.graphics.common.ChromaSiting";
/// `ExtendableType` name of the standard plane component types.
pub const PLANE_LAYOUT_COMPONENT_TYPE_NAME: &str =
    "android.hardware.graphics.common.PlaneLayoutComponentType";

macro_rules! standard_types {
    ($($variant:ident = $value:literal, $name:literal;)*) => {
        /// A standard metadata type (`StandardMetadataType.aidl`); INVALID (0) is not one.
        #[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
        #[allow(missing_docs)]
        pub enum StandardMetadataType {
            $($variant,)*
        }

        impl StandardMetadataType {
            /// Every standard type, in value order (1..=23).
            pub const ALL: [StandardMetadataType; 23] = [$(Self::$variant,)*];

            /// The `i64` value carried in the header and in `AIMapper_MetadataType.value`.
            pub const fn value(self) -> i64 {
                match self {
                    $(Self::$variant => $value,)*
                }
            }

            /// The AIDL enumerator name (`"BUFFER_ID"`).
            pub const fn name(self) -> &'static str {
                match self {
                    $(Self::$variant => $name,)*
                }
            }

            /// The standard type with this value; `None` for INVALID (0) and unknown values.
            pub const fn from_i64(value: i64) -> Option<Self> {
                match value {
                    $($value => Some(Self::$variant),)*
                    _ => None,
                }
            }
        }
    };
}

standard_types! {
    BufferId = 1, "BUFFER_ID";
    Name = 2, "NAME";
    Width = 3, "WIDTH";
    Height = 4, "HEIGHT";
    LayerCount = 5, "LAYER_COUNT";
    PixelFormatRequested = 6, "PIXEL_FORMAT_REQUESTED";
    PixelFormatFourcc = 7, "PIXEL_FORMAT_FOURCC";
    PixelFormatModifier = 8, "PIXEL_FORMAT_MODIFIER";
    Usage = 9, "USAGE";
    AllocationSize = 10, "ALLOCATION_SIZE";
    ProtectedContent = 11, "PROTECTED_CONTENT";
    Compression = 12, "COMPRESSION";
    Interlaced = 13, "INTERLACED";
    ChromaSiting = 14, "CHROMA_SITING";
    PlaneLayouts = 15, "PLANE_LAYOUTS";
    Crop = 16, "CROP";
    Dataspace = 17, "DATASPACE";
    BlendMode = 18, "BLEND_MODE";
    Smpte2086 = 19, "SMPTE2086";
    Cta861_3 = 20, "CTA861_3";
    Smpte2094_40 = 21, "SMPTE2094_40";
    Smpte2094_10 = 22, "SMPTE2094_10";
    Stride = 23, "STRIDE";
}

impl StandardMetadataType {
    /// Whether the type's value is optional: unset encodes to 0 bytes (no header), and 0
    /// bytes decode to `None`.
    pub const fn is_optional(self) -> bool {
        matches!(self, Self::Smpte2086 | Self::Cta861_3 | Self::Smpte2094_40 | Self::Smpte2094_10)
    }
}

/// An open enumeration value: a namespace name plus a value in it (`ExtendableType.aidl`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct ExtendableType {
    /// Namespace, e.g. [`COMPRESSION_NAME`] or a vendor's own.
    pub name: String,
    /// Value within the namespace.
    pub value: i64,
}

impl ExtendableType {
    /// A value of namespace `name`.
    pub fn new(name: &str, value: i64) -> Self {
        Self { name: name.to_owned(), value }
    }

    /// `Compression::NONE`.
    pub fn compression_none() -> Self {
        Self::new(COMPRESSION_NAME, 0)
    }

    /// `Interlaced::NONE`.
    pub fn interlaced_none() -> Self {
        Self::new(INTERLACED_NAME, 0)
    }

    /// `ChromaSiting::NONE`.
    pub fn chroma_siting_none() -> Self {
        Self::new(CHROMA_SITING_NAME, 0)
    }

    /// A standard plane component type.
    pub fn component(component: PlaneLayoutComponentType) -> Self {
        Self::new(PLANE_LAYOUT_COMPONENT_TYPE_NAME, component.value())
    }

    /// The standard plane component type this is, if it is one.
    pub fn standard_component(&self) -> Option<PlaneLayoutComponentType> {
        if self.name == PLANE_LAYOUT_COMPONENT_TYPE_NAME {
            PlaneLayoutComponentType::from_i64(self.value)
        } else {
            None
        }
    }
}

/// A standard plane component (`PlaneLayoutComponentType.aidl`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum PlaneLayoutComponentType {
    /// Luma.
    Y,
    /// Blue-difference chroma.
    Cb,
    /// Red-difference chroma.
    Cr,
    /// Red.
    R,
    /// Green.
    G,
    /// Blue.
    B,
    /// Raw sensor (or otherwise unstructured) data.
    Raw,
    /// Alpha.
    A,
}

impl PlaneLayoutComponentType {
    /// Every standard component, in value order.
    pub const ALL: [PlaneLayoutComponentType; 8] =
        [Self::Y, Self::Cb, Self::Cr, Self::R, Self::G, Self::B, Self::Raw, Self::A];

    /// The AIDL value.
    pub const fn value(self) -> i64 {
        match self {
            Self::Y => 1,
            Self::Cb => 1 << 1,
            Self::Cr => 1 << 2,
            Self::R => 1 << 10,
            Self::G => 1 << 11,
            Self::B => 1 << 12,
            Self::Raw => 1 << 20,
            Self::A => 1 << 30,
        }
    }

    /// The component with this AIDL value, if any.
    pub const fn from_i64(value: i64) -> Option<Self> {
        Some(match value {
            1 => Self::Y,
            2 => Self::Cb,
            4 => Self::Cr,
            1024 => Self::R,
            2048 => Self::G,
            4096 => Self::B,
            0x10_0000 => Self::Raw,
            0x4000_0000 => Self::A,
            _ => return None,
        })
    }
}

/// One component of a plane (`PlaneLayoutComponent.aidl`).
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GrallocPlaneLayoutComponent {
    /// What the component is (usually a [`PlaneLayoutComponentType`]).
    pub component_type: ExtendableType,
    /// Bits from the start of a sample to the component.
    pub offset_in_bits: i64,
    /// Bits of the component; -1 when variable (RAW10, RAW12).
    pub size_in_bits: i64,
}

impl GrallocPlaneLayoutComponent {
    /// A standard component at `offset_in_bits` of `size_in_bits`.
    pub fn standard(
        component: PlaneLayoutComponentType,
        offset_in_bits: i64,
        size_in_bits: i64,
    ) -> Self {
        Self { component_type: ExtendableType::component(component), offset_in_bits, size_in_bits }
    }
}

/// One plane as the mapper describes it (`PlaneLayout.aidl`); distinct from the handle's
/// own [`crate::handle::PlaneLayout`].
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct GrallocPlaneLayout {
    /// Every component of the plane.
    pub components: Vec<GrallocPlaneLayoutComponent>,
    /// Bytes from the start of the allocation to the plane.
    pub offset_in_bytes: i64,
    /// Bits from one sample to the next on a row; 0 when undefined or variable.
    pub sample_increment_in_bits: i64,
    /// Bytes from one row to the next.
    pub stride_in_bytes: i64,
    /// Samples per row (the image width divided by the horizontal subsampling).
    pub width_in_samples: i64,
    /// Rows of samples (the image height divided by the vertical subsampling).
    pub height_in_samples: i64,
    /// Bytes of the plane including padding.
    pub total_size_in_bytes: i64,
    /// Horizontal subsampling (1, 2 or 4).
    pub horizontal_subsampling: i64,
    /// Vertical subsampling (1, 2 or 4).
    pub vertical_subsampling: i64,
}

/// A rectangle (`Rect.aidl`; `i32` fields in every encoder, whatever the comment says).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Default)]
pub struct Rect {
    /// Left edge, inclusive.
    pub left: i32,
    /// Top edge, inclusive.
    pub top: i32,
    /// Right edge, exclusive.
    pub right: i32,
    /// Bottom edge, exclusive.
    pub bottom: i32,
}

/// A CIE 1931 chromaticity (`XyColor.aidl`).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct XyColor {
    /// x.
    pub x: f32,
    /// y.
    pub y: f32,
}

/// SMPTE ST 2086 mastering display colour volume (`Smpte2086.aidl`).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Smpte2086 {
    /// Red primary.
    pub primary_red: XyColor,
    /// Green primary.
    pub primary_green: XyColor,
    /// Blue primary.
    pub primary_blue: XyColor,
    /// White point.
    pub white_point: XyColor,
    /// Maximum luminance in cd/m².
    pub max_luminance: f32,
    /// Minimum luminance in cd/m².
    pub min_luminance: f32,
}

impl Smpte2086 {
    /// The ten floats in wire order: red, green, blue and white x/y, then max and min
    /// luminance (how the shared metadata region stores them).
    pub fn to_floats(&self) -> [f32; 10] {
        [
            self.primary_red.x,
            self.primary_red.y,
            self.primary_green.x,
            self.primary_green.y,
            self.primary_blue.x,
            self.primary_blue.y,
            self.white_point.x,
            self.white_point.y,
            self.max_luminance,
            self.min_luminance,
        ]
    }

    /// The inverse of [`to_floats`](Self::to_floats).
    pub fn from_floats(f: [f32; 10]) -> Self {
        let [rx, ry, gx, gy, bx, by, wx, wy, max, min] = f;
        Smpte2086 {
            primary_red: XyColor { x: rx, y: ry },
            primary_green: XyColor { x: gx, y: gy },
            primary_blue: XyColor { x: bx, y: by },
            white_point: XyColor { x: wx, y: wy },
            max_luminance: max,
            min_luminance: min,
        }
    }
}

/// CTA-861.3 content light level (`Cta861_3.aidl`).
#[derive(Clone, Copy, Debug, PartialEq, Default)]
pub struct Cta861_3 {
    /// Maximum content light level in cd/m².
    pub max_content_light_level: f32,
    /// Maximum frame-average light level in cd/m².
    pub max_frame_average_light_level: f32,
}

/// A decoded standard metadata value: one variant per [`StandardMetadataType`].
#[derive(Clone, Debug, PartialEq)]
#[allow(missing_docs)]
pub enum MetadataValue {
    BufferId(u64),
    Name(String),
    Width(u64),
    Height(u64),
    LayerCount(u64),
    /// `PixelFormat` wire value as requested.
    PixelFormatRequested(i32),
    /// DRM fourcc (0 = `DRM_FORMAT_INVALID`).
    PixelFormatFourcc(u32),
    /// DRM format modifier (0 = `DRM_FORMAT_MOD_LINEAR`).
    PixelFormatModifier(u64),
    Usage(u64),
    AllocationSize(u64),
    /// 0 or 1.
    ProtectedContent(u64),
    Compression(ExtendableType),
    Interlaced(ExtendableType),
    ChromaSiting(ExtendableType),
    PlaneLayouts(Vec<GrallocPlaneLayout>),
    Crop(Vec<Rect>),
    /// `Dataspace` wire value.
    Dataspace(i32),
    /// `BlendMode` wire value.
    BlendMode(i32),
    Smpte2086(Option<Smpte2086>),
    Cta861_3(Option<Cta861_3>),
    Smpte2094_40(Option<Vec<u8>>),
    Smpte2094_10(Option<Vec<u8>>),
    /// Stride of the first plane in pixels.
    Stride(u32),
}

impl MetadataValue {
    /// The type this value is of.
    pub const fn metadata_type(&self) -> StandardMetadataType {
        use StandardMetadataType as T;
        match self {
            Self::BufferId(_) => T::BufferId,
            Self::Name(_) => T::Name,
            Self::Width(_) => T::Width,
            Self::Height(_) => T::Height,
            Self::LayerCount(_) => T::LayerCount,
            Self::PixelFormatRequested(_) => T::PixelFormatRequested,
            Self::PixelFormatFourcc(_) => T::PixelFormatFourcc,
            Self::PixelFormatModifier(_) => T::PixelFormatModifier,
            Self::Usage(_) => T::Usage,
            Self::AllocationSize(_) => T::AllocationSize,
            Self::ProtectedContent(_) => T::ProtectedContent,
            Self::Compression(_) => T::Compression,
            Self::Interlaced(_) => T::Interlaced,
            Self::ChromaSiting(_) => T::ChromaSiting,
            Self::PlaneLayouts(_) => T::PlaneLayouts,
            Self::Crop(_) => T::Crop,
            Self::Dataspace(_) => T::Dataspace,
            Self::BlendMode(_) => T::BlendMode,
            Self::Smpte2086(_) => T::Smpte2086,
            Self::Cta861_3(_) => T::Cta861_3,
            Self::Smpte2094_40(_) => T::Smpte2094_40,
            Self::Smpte2094_10(_) => T::Smpte2094_10,
            Self::Stride(_) => T::Stride,
        }
    }
}
