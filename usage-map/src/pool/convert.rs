//! `[[pools]]` → [`Pool`]s: the heap is declared, the class is one of the two forms and
//! complete, the count and low-water mark are in range, and requests of the class reach the
//! pool's heap first (else the pool would pin memory nobody is served from).

use hal_interface::format::Format;
use hal_interface::usage::Usage;
use toml::Spanned;

use crate::convert::{check_name, At, Ctx, MAX_NAME_LEN};
use crate::cubes::flag_universe;
use crate::error::{ConfigError, ConfigErrorKind as Kind, Subject};
use crate::limits::convert::one_to_max;
use crate::pool::{Pool, PoolClass, MAX_POOLS, MAX_POOL_COUNT};
use crate::raw::RawPool;
use crate::rule::Action;
use crate::UsageMap;

/// Pool sizes are whole pages (the service page-rounds every request before matching).
const POOL_SIZE_ALIGN: u64 = 4096;

/// Converts the pools of `map` (already converted without them).
pub(crate) fn pools(
    ctx: &Ctx<'_>,
    raw: &[Spanned<RawPool>],
    map: &UsageMap,
) -> Result<Vec<Pool>, ConfigError> {
    if raw.len() > MAX_POOLS {
        let span = raw.get(MAX_POOLS).map(Spanned::span);
        let kind = Kind::TooMany { what: "pools", count: raw.len(), max: MAX_POOLS };
        return Err(ctx.error(span, Subject::File, kind));
    }
    let mut out: Vec<Pool> = Vec::with_capacity(raw.len());
    for (index, spanned) in raw.iter().enumerate() {
        let pool = spanned.get_ref();
        let name = pool.name.get_ref();
        let at = At { ctx, subject: Subject::Pool { index, name: name.clone() } };
        check_name(&at, pool.name.span(), "pool name", name, MAX_NAME_LEN, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
        })?;
        if let Some(first) = out.iter().position(|p| p.name == *name) {
            return Err(at.err(pool.name.span(), Kind::DuplicatePoolName { first }));
        }
        let converted = one_pool(&at, ctx, spanned, map)?;
        if let Some(first) =
            out.iter().position(|p| p.heap == converted.heap && p.class == converted.class)
        {
            return Err(at.err(spanned.span(), Kind::DuplicatePool { first }));
        }
        out.push(converted);
    }
    Ok(out)
}

fn one_pool(
    at: &At<'_, '_>,
    ctx: &Ctx<'_>,
    spanned: &Spanned<RawPool>,
    map: &UsageMap,
) -> Result<Pool, ConfigError> {
    let raw = spanned.get_ref();
    let heap_name = raw.heap.get_ref();
    let heap = map
        .heap(heap_name)
        .ok_or_else(|| at.err(raw.heap.span(), Kind::UndeclaredHeap(heap_name.clone())))?
        .id;
    let count = one_to_max(at, "count", &raw.count, MAX_POOL_COUNT)?;
    let low_water = match &raw.low_water {
        None => count,
        Some(low) => one_to_max(at, "low_water", low, count)?,
    };
    let class = class(at, spanned, map, heap_name)?;
    Ok(Pool {
        name: raw.name.get_ref().clone(),
        line: ctx.line(&spanned.span()),
        heap,
        class,
        count,
        low_water,
    })
}

fn class(
    at: &At<'_, '_>,
    spanned: &Spanned<RawPool>,
    map: &UsageMap,
    heap_name: &str,
) -> Result<PoolClass, ConfigError> {
    let raw = spanned.get_ref();
    let image_keys = [
        ("width", raw.width.as_ref().map(Spanned::span)),
        ("height", raw.height.as_ref().map(Spanned::span)),
        ("usage", raw.usage.as_ref().map(Spanned::span)),
    ];
    match (&raw.size, &raw.format) {
        (Some(_), Some(format)) => Err(at.err(format.span(), Kind::PoolClassBoth)),
        (None, None) => Err(at.err(spanned.span(), Kind::PoolClassMissing)),
        (Some(size), None) => {
            if let Some((key, Some(span))) = image_keys.iter().find(|(_, s)| s.is_some()) {
                return Err(at.err(span.clone(), Kind::PoolKeyWithoutFormat(key)));
            }
            let bytes = *size.get_ref();
            if bytes == 0 || bytes % POOL_SIZE_ALIGN != 0 {
                return Err(at.err(size.span(), Kind::BadPoolSize { bytes }));
            }
            let limit = map.limits().max_bytes_per_buffer;
            if bytes > limit {
                return Err(at.err(size.span(), Kind::PoolOverCap { bytes, limit }));
            }
            // Some rule must try the pool's heap first, or no request could be served.
            let routed = map.rules().iter().any(|rule| match rule.action() {
                Action::Allocate { heaps, .. } => {
                    heaps.first().and_then(|id| map.heap_by_id(*id)).map(|h| h.name.as_str())
                        == Some(heap_name)
                }
                Action::Reject { .. } => false,
            });
            if !routed {
                return Err(at.err(raw.heap.span(), Kind::PoolHeapUnrouted(heap_name.to_owned())));
            }
            Ok(PoolClass::Size { bytes })
        }
        (None, Some(format_name)) => image_class(at, spanned, map, heap_name, format_name),
    }
}

fn image_class(
    at: &At<'_, '_>,
    spanned: &Spanned<RawPool>,
    map: &UsageMap,
    heap_name: &str,
    format_name: &Spanned<String>,
) -> Result<PoolClass, ConfigError> {
    let raw = spanned.get_ref();
    let format = Format::from_name(format_name.get_ref()).ok_or_else(|| {
        at.err(format_name.span(), Kind::UnknownFormat(format_name.get_ref().clone()))
    })?;
    let limits = map.limits();
    let dimension = |key: &'static str, value: &Option<Spanned<u32>>, max: u32| match value {
        None => Err(at.err(spanned.span(), Kind::PoolClassIncomplete(key))),
        Some(v) => one_to_max(at, key, v, max),
    };
    let width = dimension("width", &raw.width, limits.max_width)?;
    let height = dimension("height", &raw.height, limits.max_height)?;
    let list = raw
        .usage
        .as_ref()
        .ok_or_else(|| at.err(spanned.span(), Kind::PoolClassIncomplete("usage")))?;
    let mut bits = 0u64;
    for entry in list.get_ref() {
        let name = entry.get_ref();
        let unknown =
            || at.err(entry.span(), Kind::UnknownUsage { key: "usage", name: name.clone() });
        let value = Usage::parse_one(name).map_err(|_| unknown())?.bits();
        let unclaimed = value & !flag_universe(map.claimed_vendor_bits()) & !cpu_fields();
        if unclaimed != 0 {
            let kind = Kind::UnclaimedBits { key: "usage", name: name.clone(), bits: unclaimed };
            return Err(at.err(entry.span(), kind));
        }
        bits |= value;
    }
    let wire = i64::from_ne_bytes(bits.to_ne_bytes());
    let usage = Usage::from_wire(wire).map_err(|err| {
        at.err(list.span(), Kind::UnknownUsage { key: "usage", name: err.to_string() })
    })?;
    match map.resolve(usage, format, width, height) {
        Err(refusal) => {
            Err(at.err(format_name.span(), Kind::PoolClassRefused(refusal.to_string())))
        }
        Ok(plan) => {
            let first = plan.heaps.listed().first().and_then(|id| map.heap_by_id(*id));
            if first.map(|h| h.name.as_str()) != Some(heap_name) {
                let kind = Kind::PoolClassElsewhere {
                    rule: plan.rule.to_string(),
                    first: first.map(|h| h.name.clone()).unwrap_or_default(),
                    heap: heap_name.to_owned(),
                };
                return Err(at.err(raw.heap.span(), kind));
            }
            Ok(PoolClass::Image { format, width, height, usage, rule: plan.rule.index })
        }
    }
}

fn cpu_fields() -> u64 {
    hal_interface::usage::bits::CPU_READ_MASK | hal_interface::usage::bits::CPU_WRITE_MASK
}
