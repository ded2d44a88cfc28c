//! One `[[rules]]` entry → [`Rule`]: usage lists, CPU and format sets, size bounds, the
//! action and alignment, each checked on its own; then `rule::cross_check` relates them.

use std::ops::Range;

use hal_interface::format::Format;
use hal_interface::usage::{bits, CpuAccess, Usage};
use toml::Spanned;

use crate::convert::{check_name, At, Ctx, MAX_NAME_LEN};
use crate::cubes::flag_universe;
use crate::error::{ConfigError, ConfigErrorKind as Kind, Subject};
use crate::heap::HeapDecl;
use crate::raw::{RawCpuAccess, RawCpuMode, RawRule, SpannedList};
use crate::rule::cross_check::cross_check;
use crate::rule::{
    bit_names, Action, Alignment, CpuMatch, CpuMode, CpuSet, FormatSet, Match, Rule,
};

/// Most rules a board may have.
pub(crate) const MAX_RULES: usize = 64;
/// Largest `stride_align_bytes`.
pub(crate) const MAX_STRIDE_ALIGN_BYTES: u64 = 4096;
/// Largest `stride_align_pixels`.
pub(crate) const MAX_STRIDE_ALIGN_PIXELS: u64 = 1024;
/// Largest `size_align_bytes` (1 GiB).
pub(crate) const MAX_SIZE_ALIGN_BYTES: u64 = 1 << 30;

/// A rule after its own checks, before the checks against other rules.
pub(crate) struct Checked {
    pub(crate) rule: Rule,
    pub(crate) span: Range<usize>,
    /// Spans of the `heaps` entries, parallel to the action's heap list.
    pub(crate) heap_spans: Vec<Range<usize>>,
}

pub(crate) fn rules(
    ctx: &Ctx<'_>,
    raw: &[Spanned<RawRule>],
    heaps: &[HeapDecl],
    vendor_bits: u64,
) -> Result<Vec<Rule>, ConfigError> {
    if raw.is_empty() {
        return Err(ctx.error(None, Subject::File, Kind::NoRules));
    }
    if raw.len() > MAX_RULES {
        let span = raw.get(MAX_RULES).map(Spanned::span);
        let kind = Kind::TooMany { what: "rules", count: raw.len(), max: MAX_RULES };
        return Err(ctx.error(span, Subject::File, kind));
    }
    let mut checked: Vec<Checked> = Vec::with_capacity(raw.len());
    for (index, spanned) in raw.iter().enumerate() {
        let rule = spanned.get_ref();
        let name = rule.name.get_ref();
        let at = At { ctx, subject: Subject::Rule { index, name: name.clone() } };
        check_name(&at, rule.name.span(), "rule name", name, MAX_NAME_LEN, |c| !c.is_control())?;
        if let Some(first) = checked.iter().position(|c| c.rule.name == *name) {
            return Err(at.err(rule.name.span(), Kind::DuplicateRuleName { first }));
        }
        checked.push(one_rule(&at, spanned, heaps, vendor_bits)?);
    }
    cross_check(ctx, &checked, heaps, vendor_bits)?;
    Ok(checked.into_iter().map(|c| c.rule).collect())
}

fn usage_list(
    at: &At<'_, '_>,
    key: &'static str,
    list: Option<&SpannedList>,
    vendor_bits: u64,
) -> Result<u64, ConfigError> {
    let Some(list) = list else { return Ok(0) };
    if list.get_ref().is_empty() {
        return Err(at.err(list.span(), Kind::EmptyList(key)));
    }
    let cpu_fields = bits::CPU_READ_MASK | bits::CPU_WRITE_MASK;
    let mut acc = 0u64;
    for entry in list.get_ref() {
        let name = entry.get_ref();
        let value = Usage::parse_one(name)
            .map_err(|_| at.err(entry.span(), Kind::UnknownUsage { key, name: name.clone() }))?
            .bits();
        if value == 0 || value & cpu_fields != 0 {
            return Err(at.err(entry.span(), Kind::CpuNameInFlags { key, name: name.clone() }));
        }
        let unclaimed = value & !flag_universe(vendor_bits);
        if unclaimed != 0 {
            let kind = Kind::UnclaimedBits { key, name: name.clone(), bits: unclaimed };
            return Err(at.err(entry.span(), kind));
        }
        if value & acc != 0 {
            return Err(at.err(entry.span(), Kind::Duplicate { key, name: name.clone() }));
        }
        acc |= value;
    }
    Ok(acc)
}

fn cpu_set(
    at: &At<'_, '_>,
    key: &'static str,
    list: Option<&Spanned<Vec<RawCpuAccess>>>,
) -> Result<CpuSet, ConfigError> {
    let Some(list) = list else { return Ok(CpuSet::ALL) };
    if list.get_ref().is_empty() {
        return Err(at.err(list.span(), Kind::EmptyList(key)));
    }
    let mut set = CpuSet::empty();
    for raw in list.get_ref() {
        let access = match raw {
            RawCpuAccess::Never => CpuAccess::Never,
            RawCpuAccess::Rarely => CpuAccess::Rarely,
            RawCpuAccess::Often => CpuAccess::Often,
        };
        if set.contains(access) {
            let kind = Kind::Duplicate { key, name: access.name().to_owned() };
            return Err(at.err(list.span(), kind));
        }
        set.insert(access);
    }
    Ok(set)
}

fn alignment(
    at: &At<'_, '_>,
    key: &'static str,
    value: Option<(u64, Range<usize>)>,
    max: u64,
) -> Result<u64, ConfigError> {
    let Some((v, span)) = value else { return Ok(1) };
    if !v.is_power_of_two() || v > max {
        return Err(at.err(span, Kind::BadAlignment { key, value: v, max }));
    }
    Ok(v)
}

fn bounds(
    at: &At<'_, '_>,
    dim: &'static str,
    min: Option<&Spanned<u32>>,
    max: Option<&Spanned<u32>>,
) -> Result<(u32, u32), ConfigError> {
    let lo = min.map_or(0, |m| *m.get_ref());
    let hi = max.map_or(u32::MAX, |m| *m.get_ref());
    if let (Some(min_span), true) = (min, lo > hi) {
        return Err(at.err(min_span.span(), Kind::BadSizeBounds { dim, min: lo, max: hi }));
    }
    Ok((lo, hi))
}

fn one_rule(
    at: &At<'_, '_>,
    spanned: &Spanned<RawRule>,
    heaps: &[HeapDecl],
    vendor_bits: u64,
) -> Result<Checked, ConfigError> {
    let raw = spanned.get_ref();
    let span = spanned.span();
    let all = usage_list(at, "all", raw.all.as_ref(), vendor_bits)?;
    let any = usage_list(at, "any", raw.any.as_ref(), vendor_bits)?;
    let none = usage_list(at, "none", raw.none.as_ref(), vendor_bits)?;
    for (first, a, second, b, list) in [
        ("all", all, "none", none, &raw.none),
        ("any", any, "none", none, &raw.none),
        ("all", all, "any", any, &raw.any),
    ] {
        let shared = a & b;
        if shared != 0 {
            let span = list.as_ref().map_or(span.clone(), Spanned::span);
            let kind = Kind::ConflictingUsage { first, second, bits: bit_names(shared) };
            return Err(at.err(span, kind));
        }
    }

    let cpu = if raw.cpu.is_some() || raw.cpu_read.is_some() || raw.cpu_write.is_some() {
        let mode = raw.cpu.as_ref().map(|m| match m.get_ref() {
            RawCpuMode::None => CpuMode::None,
            RawCpuMode::Any => CpuMode::Any,
        });
        let read = cpu_set(at, "cpu_read", raw.cpu_read.as_ref())?;
        let write = cpu_set(at, "cpu_write", raw.cpu_write.as_ref())?;
        let cpu = CpuMatch::new(mode, read, write);
        if cpu.pairs == 0 {
            let first = raw.cpu.as_ref().map(Spanned::span);
            let first = first.or_else(|| raw.cpu_read.as_ref().map(Spanned::span));
            return Err(at.err(first.unwrap_or(span), Kind::EmptyCpuMatch));
        }
        Some(cpu)
    } else {
        None
    };

    let formats = match &raw.formats {
        None => None,
        Some(list) => {
            if list.get_ref().is_empty() {
                return Err(at.err(list.span(), Kind::EmptyList("formats")));
            }
            let mut set = FormatSet::empty();
            for entry in list.get_ref() {
                let name = entry.get_ref();
                let format = Format::from_name(name)
                    .ok_or_else(|| at.err(entry.span(), Kind::UnknownFormat(name.clone())))?;
                if set.contains(format) {
                    let kind = Kind::Duplicate { key: "formats", name: name.clone() };
                    return Err(at.err(entry.span(), kind));
                }
                set.insert(format);
            }
            Some(set)
        }
    };

    let width = bounds(at, "width", raw.min_width.as_ref(), raw.max_width.as_ref())?;
    let height = bounds(at, "height", raw.min_height.as_ref(), raw.max_height.as_ref())?;
    let matcher = Match { all, any, none, cpu, formats, width, height };

    let (action, heap_spans) = action(at, raw, span.clone(), heaps)?;
    let align = if matches!(action, Action::Reject { .. }) {
        Alignment::NONE
    } else {
        let sp = |v: &Option<Spanned<u32>>| v.as_ref().map(|v| (u64::from(*v.get_ref()), v.span()));
        let size = raw.size_align_bytes.as_ref().map(|v| (*v.get_ref(), v.span()));
        let stride_bytes = alignment(
            at,
            "stride_align_bytes",
            sp(&raw.stride_align_bytes),
            MAX_STRIDE_ALIGN_BYTES,
        )?;
        let stride_pixels = alignment(
            at,
            "stride_align_pixels",
            sp(&raw.stride_align_pixels),
            MAX_STRIDE_ALIGN_PIXELS,
        )?;
        let size_bytes = alignment(at, "size_align_bytes", size, MAX_SIZE_ALIGN_BYTES)?;
        Alignment {
            stride_bytes: u32::try_from(stride_bytes).unwrap_or(1),
            stride_pixels: u32::try_from(stride_pixels).unwrap_or(1),
            size_bytes,
        }
    };
    let rule =
        Rule { name: raw.name.get_ref().clone(), line: at.ctx.line(&span), matcher, action, align };
    Ok(Checked { rule, span, heap_spans })
}

fn action(
    at: &At<'_, '_>,
    raw: &RawRule,
    span: Range<usize>,
    heaps: &[HeapDecl],
) -> Result<(Action, Vec<Range<usize>>), ConfigError> {
    match (&raw.heaps, &raw.reject) {
        (None, None) => Err(at.err(span, Kind::NoAction)),
        (Some(_), Some(reject)) => Err(at.err(reject.span(), Kind::HeapsAndReject)),
        (None, Some(reason)) => {
            let options = [
                ("fallback", raw.fallback.as_ref().map(Spanned::span)),
                ("stride_align_bytes", raw.stride_align_bytes.as_ref().map(Spanned::span)),
                ("stride_align_pixels", raw.stride_align_pixels.as_ref().map(Spanned::span)),
                ("size_align_bytes", raw.size_align_bytes.as_ref().map(Spanned::span)),
            ];
            if let Some((key, Some(span))) = options.into_iter().find(|(_, s)| s.is_some()) {
                return Err(at.err(span, Kind::OptionOnReject(key)));
            }
            if reason.get_ref().trim().is_empty() {
                return Err(at.err(reason.span(), Kind::EmptyReason));
            }
            Ok((Action::Reject { reason: reason.get_ref().clone() }, Vec::new()))
        }
        (Some(list), None) => {
            if list.get_ref().is_empty() {
                return Err(at.err(list.span(), Kind::EmptyList("heaps")));
            }
            let mut ids = Vec::with_capacity(list.get_ref().len());
            let mut spans = Vec::with_capacity(ids.capacity());
            for entry in list.get_ref() {
                let name = entry.get_ref();
                let decl = heaps
                    .iter()
                    .find(|h| h.name == *name)
                    .ok_or_else(|| at.err(entry.span(), Kind::UndeclaredHeap(name.clone())))?;
                if ids.contains(&decl.id) {
                    let kind = Kind::Duplicate { key: "heaps", name: name.clone() };
                    return Err(at.err(entry.span(), kind));
                }
                ids.push(decl.id);
                spans.push(entry.span());
            }
            let fallback = raw.fallback.as_ref().is_some_and(|f| *f.get_ref());
            if let (true, Some(f)) = (fallback && ids.len() < 2, &raw.fallback) {
                return Err(at.err(f.span(), Kind::FallbackWithoutAlternative));
            }
            Ok((Action::Allocate { heaps: ids, fallback }, spans))
        }
    }
}
