//! `[heaps.<name>]` → [`HeapDecl`]: names, back-end keys and properties checked per heap.

use std::collections::BTreeMap;

use toml::Spanned;

use crate::convert::{check_name, device_char, At, Ctx, MAX_NAME_LEN};
use crate::error::{ConfigError, ConfigErrorKind as Kind, Subject};
use crate::heap::{FakeBehaviour, FakeErrno, HeapBackend, HeapDecl, HeapId, HeapProps};
use crate::raw::RawHeap;

/// Most heaps a board may declare (a heap is one bit of a `u64` presence mask).
pub(crate) const MAX_HEAPS: usize = 64;
/// ION heap names are `char name[32]` in `struct ion_heap_data`, NUL included.
const MAX_ION_NAME_LEN: usize = 31;
/// Longest scripted delay of a fake heap.
const MAX_FAKE_DELAY_MS: u32 = 60_000;
/// `ION_FLAG_CACHED`.
const ION_FLAG_CACHED: u32 = 1;

pub(crate) fn heaps(
    ctx: &Ctx<'_>,
    raw: BTreeMap<Spanned<String>, Spanned<RawHeap>>,
) -> Result<Vec<HeapDecl>, ConfigError> {
    let mut entries: Vec<_> = raw.into_iter().collect();
    entries.sort_by_key(|(key, _)| key.span().start);
    if entries.len() > MAX_HEAPS {
        let span = entries.get(MAX_HEAPS).map(|(key, _)| key.span());
        let kind = Kind::TooMany { what: "heaps", count: entries.len(), max: MAX_HEAPS };
        return Err(ctx.error(span, Subject::File, kind));
    }
    let mut out = Vec::with_capacity(entries.len());
    for (index, (key, value)) in entries.into_iter().enumerate() {
        let name = key.get_ref().clone();
        let at = At { ctx, subject: Subject::Heap(name.clone()) };
        check_name(&at, key.span(), "heap name", &name, MAX_NAME_LEN, device_char)?;
        let span = value.span();
        let raw_heap = value.into_inner();
        let props = raw_heap.props();
        let mut decl_props = HeapProps::default();
        let backend = match raw_heap {
            RawHeap::DmaHeap(h) => {
                if h.names.is_empty() {
                    return Err(at.err(span, Kind::EmptyList("names")));
                }
                for (i, dev) in h.names.iter().enumerate() {
                    check_name(&at, span.clone(), "dma-heap name", dev, MAX_NAME_LEN, device_char)?;
                    if h.names.iter().take(i).any(|earlier| earlier == dev) {
                        let kind = Kind::Duplicate { key: "names", name: dev.clone() };
                        return Err(at.err(span, kind));
                    }
                }
                HeapBackend::DmaHeap { names: h.names }
            }
            RawHeap::Ion(h) => {
                if let Some(heap_name) = &h.heap_name {
                    let what = "ion heap_name";
                    check_name(&at, span.clone(), what, heap_name, MAX_ION_NAME_LEN, device_char)?;
                }
                match (&h.heap_name, h.mask) {
                    (None, None) => return Err(at.err(span, Kind::IonWithoutHeap)),
                    (_, Some(0)) => return Err(at.err(span, Kind::ZeroIonMask)),
                    _ => {}
                }
                let flags = h.flags.unwrap_or(0);
                let flag_cached = flags & ION_FLAG_CACHED != 0;
                // The ION flag decides; `cached` may restate it but not contradict it.
                decl_props.cached = flag_cached;
                if let Some(cached) = props.cached {
                    if cached != flag_cached {
                        let has = if flag_cached { "has" } else { "lacks" };
                        return Err(at.err(span, Kind::IonCachedMismatch { flags, has, cached }));
                    }
                }
                HeapBackend::Ion { heap_name: h.heap_name, mask: h.mask, flags }
            }
            RawHeap::Memfd(_) => HeapBackend::Memfd,
            RawHeap::Fake(h) => {
                if h.errno.is_some() && h.fail_after.is_none() {
                    return Err(at.err(span, Kind::ErrnoWithoutFailAfter));
                }
                let delay_ms = h.delay_ms.unwrap_or(0);
                let hold_ms = h.hold_ms.unwrap_or(0);
                let too_long = [("delay_ms", delay_ms), ("hold_ms", hold_ms)]
                    .into_iter()
                    .find(|&(_, ms)| ms > MAX_FAKE_DELAY_MS);
                if let Some((key, value)) = too_long {
                    let kind = Kind::DelayTooLong { key, value, max: MAX_FAKE_DELAY_MS };
                    return Err(at.err(span, kind));
                }
                HeapBackend::Fake(FakeBehaviour {
                    fail_after: h.fail_after,
                    errno: h.errno.unwrap_or(FakeErrno::Enomem),
                    delay_ms,
                    hold_ms,
                })
            }
        };
        let props = HeapProps {
            contiguous: props.contiguous.unwrap_or(decl_props.contiguous),
            cached: props.cached.unwrap_or(decl_props.cached),
            protected: props.protected.unwrap_or(decl_props.protected),
            zeroed: props.zeroed.unwrap_or(decl_props.zeroed),
        };
        let id = HeapId(u8::try_from(index).unwrap_or(u8::MAX));
        out.push(HeapDecl { id, name, backend, props });
    }
    Ok(out)
}
