//! Reserve pools of a board (`[[pools]]`): `count` buffers of one class kept ready on one
//! heap, so requests of that class skip the heap's allocation latency (CMA) and still get a
//! buffer when the area is fragmented. This crate only describes them; the service fills,
//! hands out and refills them.

pub(crate) mod convert;

use std::fmt;

use hal_interface::format::Format;
use hal_interface::usage::Usage;

use crate::heap::HeapId;

/// Most pools a board may declare.
pub const MAX_POOLS: usize = 16;
/// Most buffers one pool may keep.
pub const MAX_POOL_COUNT: u32 = 64;

/// The buffers a pool keeps: a size, or an image whose layout gives the size.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum PoolClass {
    /// `size = N`: buffers of exactly `bytes` (a multiple of 4096).
    Size {
        /// Bytes per buffer.
        bytes: u64,
    },
    /// `format`, `width`, `height`, `usage`: the size the service's layout gives that
    /// request under the rule it resolves to.
    Image {
        /// Pixel format.
        format: Format,
        /// Width in pixels.
        width: u32,
        /// Height in pixels.
        height: u32,
        /// The request's usage word.
        usage: Usage,
        /// Index of the rule the request resolves to (its first heap is the pool's heap).
        rule: usize,
    },
}

impl fmt::Display for PoolClass {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Size { bytes } => write!(f, "{bytes} B"),
            Self::Image { format, width, height, usage, rule } => {
                write!(f, "{format} {width}x{height} {usage} (rules[{rule}])")
            }
        }
    }
}

/// One validated pool.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Pool {
    pub(crate) name: String,
    pub(crate) line: u32,
    pub(crate) heap: HeapId,
    pub(crate) class: PoolClass,
    pub(crate) count: u32,
    pub(crate) low_water: u32,
}

impl Pool {
    /// The pool's `name`.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// 1-based line of the pool in its board file.
    pub fn line(&self) -> u32 {
        self.line
    }

    /// The heap the pool is filled from (and the only one).
    pub fn heap(&self) -> HeapId {
        self.heap
    }

    /// What buffers it keeps.
    pub fn class(&self) -> PoolClass {
        self.class
    }

    /// `count`: buffers kept ready; the pool never holds more (1..=[`MAX_POOL_COUNT`]).
    pub fn count(&self) -> u32 {
        self.count
    }

    /// `low_water`: refilling starts when fewer than this many are ready (1..=count,
    /// default `count`: after every hand-out).
    pub fn low_water(&self) -> u32 {
        self.low_water
    }
}
