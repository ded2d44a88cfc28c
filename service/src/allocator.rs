//! The allocator core: validate → plan → layout → heaps → handles, without Binder.
//!
//! Order of work in [`Allocator::allocate2`], each step before any heap is touched:
//! the count's sign, the descriptor ([`Request::from_descriptor`]), the usage-map plan over
//! the heaps present, the layout, the per-buffer size cap, the count cap and the per-call
//! byte cap. Then, for each of the `count` buffers, the plan's heaps are tried in order: a
//! heap that is exhausted (ENOMEM, EBUSY) passes to the next only when the rule allows
//! fallback; any other error stops the call at once. All or nothing: the fds made so far
//! live in a `Vec<OwnedFd>`-like list that an early return drops, closing them.
//!
//! Each buffer is named for accounting (`DMA_BUF_SET_NAME`, [`dmabuf_label`]: the start of
//! the descriptor name, or the heap name when it has none, usage class, size, format), gets
//! a buffer id unique across allocator restarts ([`BufferIds`]) and a shared metadata region
//! ([`MetadataRegions::create`]: the full name and the Dataspace option, or UNKNOWN). Both
//! fds live in the same owned list, so a failure at any buffer closes every fd made so far.
//!
//! A heap with an admission gate (contiguous heaps, [`crate::admission`]) is entered with a
//! permit, taken in the caller's [`Priority`] order and given back as soon as its ioctl
//! returns; inside it a real-time Binder thread runs `SCHED_OTHER`
//! ([`crate::realtime::SlowSection`]). Heaps without a gate are called directly.
//!
//! [`Allocator::check_supported`] runs the same checks as `allocate2` with `count = 1` up to
//! the first heap call, so `Ok` means "succeeds unless resources run out".
//!
//! A board's reserve pools ([`Pools`], injected with [`Allocator::with_pools`]) come first:
//! a buffer whose plan starts on a pool's heap with the pool's size is taken from the pool
//! when one is ready, else allocated as above.

use std::os::fd::{AsFd, OwnedFd};

use hal_interface::aidl::BufferDescriptorInfo;
use hal_interface::decode_descriptor;
use hal_interface::handle::BufferHandle;
use heaps::dmabuf;
use usage_map::{Availability, Plan, UsageMap};

use crate::admission::Priority;
use crate::error::{AllocError, BoardRefusal, Cap, DescriptorError};
use crate::heap_table::HeapTable;
use crate::layout::Layout;
use crate::pool::Pools;
use crate::realtime::SlowSection;
use crate::region::{dmabuf_label, BufferIds, MetadataRegions};
use crate::request::{parse_count, Request};
use crate::stats::{Stats, StatsSnapshot};

/// The buffers of one successful call.
#[derive(Debug)]
pub struct Allocation {
    /// `AllocationResult.stride`: common to all buffers; pixels (bytes for RAW10/RAW12).
    pub stride: i32,
    /// Per buffer, `count` of them: the handle description, the dma-buf fd and the shared
    /// metadata region fd (the handle's fds 0 and 1).
    pub buffers: Vec<(BufferHandle, OwnedFd, OwnedFd)>,
}

/// The allocator service core. Shared by every binder thread (`&self` only).
#[derive(Debug)]
pub struct Allocator {
    map: UsageMap,
    heaps: HeapTable,
    availability: Availability,
    stats: Stats,
    regions: MetadataRegions,
    ids: BufferIds,
    pools: Pools,
}

/// Everything decided before the first heap call.
struct Prepared<'a> {
    request: Request,
    plan: Plan<'a>,
    layout: Layout,
    /// The reply handle without its per-buffer fields (id, heap name).
    template: BufferHandle,
}

impl Allocator {
    /// Joins a board's usage map with the heaps opened for it.
    pub fn new(map: UsageMap, heaps: HeapTable) -> Allocator {
        let availability = map.check_available(|decl| heaps.get(decl.id).is_some());
        let stats = Stats::new(map.heaps().iter().map(|h| h.name.clone()).collect());
        let regions = MetadataRegions::for_board(&map, &heaps);
        log::info!("metadata regions from {}", regions.source());
        Allocator {
            map,
            heaps,
            availability,
            stats,
            regions,
            ids: BufferIds::new(),
            pools: Pools::none(),
        }
    }

    /// Replaces where metadata regions come from (tests inject failing heaps).
    #[must_use]
    pub fn with_regions(mut self, regions: MetadataRegions) -> Self {
        self.regions = regions;
        self
    }

    /// Serves matching requests from `pools` first (the daemon passes [`Pools::start`]'s).
    #[must_use]
    pub fn with_pools(mut self, pools: Pools) -> Self {
        self.pools = pools;
        self
    }

    /// What serves the buffers' metadata regions (`memfd`, `heap system`, ...).
    pub fn metadata_source(&self) -> &str {
        self.regions.source()
    }

    /// The board's usage map.
    pub fn map(&self) -> &UsageMap {
        &self.map
    }

    /// The heaps opened for the board, with their admission gates.
    pub fn heap_table(&self) -> &HeapTable {
        &self.heaps
    }

    /// Which rules can allocate on this device.
    pub fn availability(&self) -> &Availability {
        &self.availability
    }

    /// What `getIMapperLibrarySuffix` returns.
    pub fn mapper_suffix(&self) -> &str {
        self.map.mapper_suffix()
    }

    /// Counters since start-up.
    pub fn stats(&self) -> StatsSnapshot {
        let mut snapshot = self.stats.snapshot();
        snapshot.pools = self.pools.stats();
        snapshot
    }

    /// `allocate2`: `count` buffers of the described kind, or nothing, for a caller of
    /// [`Priority::Normal`].
    ///
    /// # Errors
    /// Any [`AllocError`]; [`AllocError::code`] gives the wire code. No fd is left open on
    /// error.
    pub fn allocate2(
        &self,
        info: &BufferDescriptorInfo,
        count: i32,
    ) -> Result<Allocation, AllocError> {
        self.allocate2_as(Priority::Normal, info, count)
    }

    /// [`allocate2`](Self::allocate2) for a caller of `priority` (the order in which callers
    /// waiting at a contiguous heap's gate get in).
    ///
    /// # Errors
    /// As [`allocate2`](Self::allocate2).
    pub fn allocate2_as(
        &self,
        priority: Priority,
        info: &BufferDescriptorInfo,
        count: i32,
    ) -> Result<Allocation, AllocError> {
        let result = self.allocate_inner(priority, info, count);
        self.stats.record_call(result.as_ref().map(|_| ()).map_err(AllocError::code));
        result
    }

    /// V1 `allocate(byte[])`: decodes an IMapper 4.0 (libgralloctypes) descriptor and
    /// allocates as [`allocate2`](Self::allocate2). Any decode failure is `BAD_DESCRIPTOR`.
    ///
    /// # Errors
    /// [`DescriptorError::Undecodable`], then as `allocate2`.
    pub fn allocate_v1(&self, descriptor: &[u8], count: i32) -> Result<Allocation, AllocError> {
        self.allocate_v1_as(Priority::Normal, descriptor, count)
    }

    /// [`allocate_v1`](Self::allocate_v1) for a caller of `priority`.
    ///
    /// # Errors
    /// As [`allocate_v1`](Self::allocate_v1).
    pub fn allocate_v1_as(
        &self,
        priority: Priority,
        descriptor: &[u8],
        count: i32,
    ) -> Result<Allocation, AllocError> {
        let result = decode_descriptor(descriptor)
            .map_err(|err| AllocError::from(DescriptorError::Undecodable(err)))
            .and_then(|v1| self.allocate_inner(priority, &v1.to_descriptor_info(), count));
        self.stats.record_call(result.as_ref().map(|_| ()).map_err(AllocError::code));
        result
    }

    /// `isSupported`: `Ok` when `allocate2(info, 1)` would succeed given enough memory,
    /// else the error it would fail with. Touches no heap.
    ///
    /// # Errors
    /// The [`AllocError`] `allocate2(info, 1)` would return before its first heap call.
    pub fn check_supported(&self, info: &BufferDescriptorInfo) -> Result<(), AllocError> {
        self.prepare(info).and_then(|p| self.check_call(&p.layout, 1)).map(|_| ())
    }

    fn allocate_inner(
        &self,
        priority: Priority,
        info: &BufferDescriptorInfo,
        count: i32,
    ) -> Result<Allocation, AllocError> {
        let count = parse_count(count)?;
        let Prepared { request, plan, layout, template } = self.prepare(info)?;
        let count = self.check_call(&layout, count)?;
        let len = layout.total_size();
        let name = request.name().to_str_lossy();
        let mut buffers = Vec::with_capacity(usize::try_from(count).unwrap_or(0));
        let mut template = Some(template);
        // The dma-buf name, made again only when a fallback changes the heap it names.
        let mut label: Option<(&str, String)> = None;
        for index in 0..count {
            let (fd, heap_name) = match self.pools.take(&plan, len) {
                Some((fd, decl)) => {
                    self.stats.record_buffer(decl.id.index(), len.get(), false);
                    (fd, decl.name.as_str())
                }
                None => self.allocate_one(priority, &plan, len)?,
            };
            let requester = if name.is_empty() { heap_name } else { &name };
            if label.as_ref().is_none_or(|(made_for, _)| *made_for != requester) {
                let text = dmabuf_label(
                    requester,
                    request.width(),
                    request.height(),
                    request.format(),
                    request.usage().bits(),
                );
                label = Some((requester, text));
            }
            dmabuf::set_name_best_effort(fd.as_fd(), label.as_ref().map_or("", |(_, t)| t));
            let metadata = self
                .regions
                .create(request.name().as_bytes(), request.dataspace().unwrap_or(0))
                .map_err(AllocError::MetadataRegion)?;
            self.stats.record_region(u64::from(hal_interface::shared_metadata::REGION_SIZE));
            let buffer_id = self.ids.next_id();
            // The last buffer takes the template itself: one handle allocation per buffer.
            let mut handle = match template.as_ref() {
                Some(t) if index.saturating_add(1) < count => t.clone(),
                _ => template.take().unwrap_or_else(|| template_handle(&request, &layout)),
            };
            handle.buffer_id = buffer_id;
            dmabuf::truncate_name(heap_name).clone_into(&mut handle.heap);
            buffers.push((handle, fd, metadata));
        }
        log::debug!(
            "allocated {count} x {len} bytes, {} {}x{}x{}, {plan}",
            request.format(),
            request.width(),
            request.height(),
            request.layers(),
        );
        Ok(Allocation { stride: layout.reported_stride(), buffers })
    }

    /// Validation, plan, layout and the per-buffer cap: everything that does not depend on
    /// `count`.
    fn prepare(&self, info: &BufferDescriptorInfo) -> Result<Prepared<'_>, AllocError> {
        let request = Request::from_descriptor(info, &self.map)?;
        let plan = self
            .map
            .resolve_available(
                &self.availability,
                request.usage(),
                request.format(),
                request.width(),
                request.height(),
            )
            .map_err(|refusal| AllocError::Refused(BoardRefusal::from(refusal)))?;
        let layout = Layout::compute(request.image(), &plan.align)?;
        let limits = self.map.limits();
        let size = layout.total_size().get();
        if size > limits.max_bytes_per_buffer {
            return Err(AllocError::OverCap {
                cap: Cap::BytesPerBuffer,
                value: size,
                limit: limits.max_bytes_per_buffer,
            });
        }
        let template = template_handle(&request, &layout);
        template.validate().map_err(AllocError::Handle)?;
        Ok(Prepared { request, plan, layout, template })
    }

    /// The count cap and the per-call byte cap.
    fn check_call(&self, layout: &Layout, count: u32) -> Result<u32, AllocError> {
        let limits = self.map.limits();
        if count > limits.max_buffers_per_call {
            return Err(AllocError::OverCap {
                cap: Cap::BuffersPerCall,
                value: u64::from(count),
                limit: u64::from(limits.max_buffers_per_call),
            });
        }
        let size = layout.total_size().get();
        let total = size.checked_mul(u64::from(count));
        match total {
            Some(total) if total <= limits.max_bytes_per_call => Ok(count),
            _ => Err(AllocError::OverCap {
                cap: Cap::BytesPerCall,
                value: total.unwrap_or(u64::MAX),
                limit: limits.max_bytes_per_call,
            }),
        }
    }

    /// One buffer from the plan's heaps; returns the fd and the board name of the heap that
    /// served it.
    fn allocate_one<'p>(
        &self,
        priority: Priority,
        plan: &Plan<'p>,
        len: std::num::NonZeroU64,
    ) -> Result<(OwnedFd, &'p str), AllocError> {
        let mut attempts = 0usize;
        let mut last_exhaustion = None;
        for decl in plan.attempts() {
            let Some(heap) = self.heaps.get(decl.id) else { continue };
            attempts = attempts.saturating_add(1);
            let result = match self.heaps.gate(decl.id) {
                Some(gate) => {
                    let _permit = gate.enter(priority);
                    let _slow = SlowSection::enter();
                    heap.allocate(len)
                }
                None => heap.allocate(len),
            };
            match result {
                Ok(fd) => {
                    let after_fallback = last_exhaustion.is_some();
                    if after_fallback {
                        log::info!(
                            "{}: served {len} bytes from fallback heap {}",
                            plan.rule,
                            decl.name
                        );
                    }
                    self.stats.record_buffer(decl.id.index(), len.get(), after_fallback);
                    return Ok((fd, decl.name.as_str()));
                }
                Err(err) => {
                    self.stats.record_failure(decl.id.index());
                    if err.is_exhausted() {
                        last_exhaustion = Some(err);
                    } else if err.is_transient() {
                        return Err(AllocError::Exhausted { attempts, source: err });
                    } else {
                        return Err(AllocError::HeapFailed(err));
                    }
                }
            }
        }
        match last_exhaustion {
            Some(source) => Err(AllocError::Exhausted { attempts, source }),
            // resolve_available never returns a plan without a present heap.
            None => {
                Err(AllocError::Refused(BoardRefusal::NoHeapPresent { rule: plan.rule.into() }))
            }
        }
    }
}

/// The reply handle of a layout, with buffer id 0 and no heap name yet.
fn template_handle(request: &Request, layout: &Layout) -> BufferHandle {
    let stride = u32::try_from(layout.reported_stride()).unwrap_or(0);
    BufferHandle {
        width: request.width(),
        height: request.height(),
        layers: request.layers(),
        format: request.format().raw(),
        usage: request.usage().bits(),
        stride_pixels: stride,
        stride_bytes: layout.stride_bytes(),
        alloc_size: layout.total_size().get(),
        planes: layout.planes().to_vec(),
        buffer_id: 0,
        heap: String::new(),
        reserved_offset: layout.reserved_offset(),
        reserved_size: layout.reserved_size(),
        metadata_size: hal_interface::shared_metadata::REGION_SIZE,
    }
}
