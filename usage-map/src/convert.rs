//! Step two of the two-step parse: `Raw*` → validated [`UsageMap`], every error carrying its
//! location. This module holds the entry point, the error location helpers, name checks and
//! the `[board]` and `[usage]` sections; each other stage sits beside the types it builds:
//! `heap::convert` (`[heaps.*]`), `limits::convert` (`[limits]`), `rule::convert`
//! (each `[[rules]]` entry on its own), `rule::cross_check` (checks between rules) and
//! `pool::convert` (`[[pools]]`, checked against the finished rule table).

use std::ops::Range;

use hal_interface::usage::bits;
use toml::Spanned;

use crate::error::{ConfigError, ConfigErrorKind as Kind, Location, Subject};
use crate::limits::Limits;
use crate::raw::{Locator, RawBoardFile, RawUsage, SchemaProbe};
use crate::{heap, limits, pool, rule, UsageMap, SCHEMA_VERSION};

/// Longest name of a heap, rule, board or device.
pub(crate) const MAX_NAME_LEN: usize = 64;

/// The board-file text being converted, for locating errors.
pub(crate) struct Ctx<'t> {
    text: &'t str,
    origin: &'t str,
}

impl Ctx<'_> {
    pub(crate) fn line(&self, span: &Range<usize>) -> u32 {
        let before = self.text.get(..span.start).unwrap_or(self.text);
        let newlines = before.bytes().filter(|b| *b == b'\n').count();
        u32::try_from(newlines).unwrap_or(u32::MAX).saturating_add(1)
    }

    pub(crate) fn error(
        &self,
        span: Option<Range<usize>>,
        subject: Subject,
        kind: Kind,
    ) -> ConfigError {
        let line = span.map(|s| self.line(&s));
        ConfigError::new(Location { origin: self.origin.to_owned(), line, subject }, kind)
    }

    fn syntax(&self, err: toml::de::Error) -> ConfigError {
        self.error(err.span(), Subject::File, Kind::Syntax(err))
    }

    /// A shape error of valid TOML (unknown key, wrong type): also names the table it is in.
    fn shape(&self, err: toml::de::Error) -> ConfigError {
        let subject = match (err.span(), toml::from_str::<Locator>(self.text)) {
            (Some(span), Ok(locator)) => subject_at(&locator, span.start),
            _ => Subject::File,
        };
        self.error(err.span(), subject, Kind::Syntax(err))
    }
}

/// Builds the error of one subject at one span; saves repeating both at every check.
pub(crate) struct At<'c, 't> {
    pub(crate) ctx: &'c Ctx<'t>,
    pub(crate) subject: Subject,
}

impl At<'_, '_> {
    pub(crate) fn err(&self, span: Range<usize>, kind: Kind) -> ConfigError {
        self.ctx.error(Some(span), self.subject.clone(), kind)
    }
}

pub(crate) fn parse(text: &str, origin: &str) -> Result<UsageMap, ConfigError> {
    let ctx = Ctx { text, origin };
    let probe: SchemaProbe = toml::from_str(text).map_err(|e| ctx.syntax(e))?;
    let Some(schema) = probe.schema else {
        return Err(ctx.error(Some(0..0), Subject::File, Kind::MissingSchema));
    };
    if schema.get_ref().as_integer() != Some(SCHEMA_VERSION) {
        let found = schema.get_ref().to_string();
        return Err(ctx.error(Some(schema.span()), Subject::File, Kind::Schema(found)));
    }
    let raw: RawBoardFile = toml::from_str(text).map_err(|e| ctx.shape(e))?;
    convert(&ctx, raw)
}

/// The table whose header is the last one before `offset`.
fn subject_at(locator: &Locator, offset: usize) -> Subject {
    let mut best: Option<(usize, Subject)> = None;
    let mut consider = |start: usize, subject: Subject| {
        let later = match &best {
            Some((best_start, _)) => start >= *best_start,
            None => true,
        };
        if start <= offset && later {
            best = Some((start, subject));
        }
    };
    if let Some(board) = &locator.board {
        consider(board.span().start, Subject::Board);
    }
    for (name, heap) in locator.heaps.iter().flatten() {
        consider(heap.span().start.min(name.span().start), Subject::Heap(name.get_ref().clone()));
    }
    for (index, rule) in locator.rules.iter().flatten().enumerate() {
        let name = rule.get_ref().get("name").and_then(toml::Value::as_str).unwrap_or("");
        consider(rule.span().start, Subject::Rule { index, name: name.to_owned() });
    }
    if let Some(limits) = &locator.limits {
        consider(limits.span().start, Subject::Limits);
    }
    if let Some(usage) = &locator.usage {
        consider(usage.span().start, Subject::Usage);
    }
    for (index, pool) in locator.pools.iter().flatten().enumerate() {
        let name = pool.get_ref().get("name").and_then(toml::Value::as_str).unwrap_or("");
        consider(pool.span().start, Subject::Pool { index, name: name.to_owned() });
    }
    best.map_or(Subject::File, |(_, subject)| subject)
}

fn convert(ctx: &Ctx<'_>, raw: RawBoardFile) -> Result<UsageMap, ConfigError> {
    let (board_name, mapper_suffix) = board(ctx, &raw.board)?;
    let vendor_bits = match &raw.usage {
        Some(usage) => vendor_bits(ctx, usage)?,
        None => 0,
    };
    let heaps = heap::convert::heaps(ctx, raw.heaps)?;
    // `[board] metadata_heap`: the declared heap that serves buffers' metadata regions.
    let metadata_heap = match &raw.board.get_ref().metadata_heap {
        Some(name) if !heaps.iter().any(|h| h.name == *name.get_ref()) => {
            let at = At { ctx, subject: Subject::Board };
            return Err(at.err(name.span(), Kind::UndeclaredHeap(name.get_ref().clone())));
        }
        other => other.as_ref().map(|name| name.get_ref().clone()),
    };
    let limits = match &raw.limits {
        Some(raw_limits) => limits::convert::limits_of(ctx, raw_limits)?,
        None => Limits::default(),
    };
    let rules = rule::convert::rules(ctx, &raw.rules, &heaps, vendor_bits)?;
    let mut map = UsageMap {
        origin: ctx.origin.to_owned(),
        board_name,
        mapper_suffix,
        metadata_heap,
        heaps,
        rules,
        limits,
        vendor_bits,
        pools: Vec::new(),
    };
    // Pools resolve their class through the finished rule table.
    map.pools = pool::convert::pools(ctx, &raw.pools, &map)?;
    Ok(map)
}

pub(crate) fn check_name(
    at: &At<'_, '_>,
    span: Range<usize>,
    what: &'static str,
    name: &str,
    max_len: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<(), ConfigError> {
    let reason = if name.is_empty() {
        Some("must not be empty")
    } else if name.len() > max_len {
        Some("is too long")
    } else if !name.chars().all(allowed) {
        Some("has characters outside [A-Za-z0-9_.,-]")
    } else if name == "." || name == ".." {
        Some("is not a name")
    } else {
        None
    };
    match reason {
        Some(reason) => Err(at.err(span, Kind::BadName { what, name: name.to_owned(), reason })),
        None => Ok(()),
    }
}

/// Heap and device names: what `/dev/dma_heap` and ION use (`linux,cma`, `ion_system_heap`).
pub(crate) fn device_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.' | ',')
}

fn board(
    ctx: &Ctx<'_>,
    board: &Spanned<crate::raw::RawBoard>,
) -> Result<(String, String), ConfigError> {
    let at = At { ctx, subject: Subject::Board };
    let raw = board.get_ref();
    let name = raw.name.get_ref();
    check_name(&at, raw.name.span(), "board name", name, MAX_NAME_LEN, |c| !c.is_control())?;
    let suffix = raw.mapper_suffix.get_ref();
    check_name(&at, raw.mapper_suffix.span(), "mapper_suffix", suffix, MAX_NAME_LEN, |c| {
        c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '.')
    })?;
    Ok((name.clone(), suffix.clone()))
}

fn vendor_bits(ctx: &Ctx<'_>, usage: &Spanned<RawUsage>) -> Result<u64, ConfigError> {
    let at = At { ctx, subject: Subject::Usage };
    let mut claimed = 0u64;
    for entry in &usage.get_ref().vendor_bits {
        let text = entry.get_ref().trim();
        let bad = |reason| {
            at.err(entry.span(), Kind::BadVendorBits { value: entry.get_ref().clone(), reason })
        };
        let value = match text.strip_prefix("0x").or_else(|| text.strip_prefix("0X")) {
            Some(hex) => u64::from_str_radix(&hex.replace('_', ""), 16),
            None => text.replace('_', "").parse(),
        }
        .map_err(|_| bad("is not a number (write it as \"0x10000000\")"))?;
        if value == 0 {
            return Err(bad("is zero"));
        }
        if value & !bits::VENDOR != 0 {
            return Err(bad(
                "has bits outside the vendor ranges 0xf0000000 and 0xffff000000000000",
            ));
        }
        if value & claimed != 0 {
            return Err(bad("claims bits already claimed"));
        }
        claimed |= value;
    }
    Ok(claimed)
}
