//! `[limits]` → [`Limits`]: each cap within its ceiling, the per-call byte cap not below the
//! per-buffer one.

use toml::Spanned;

use crate::convert::{At, Ctx};
use crate::error::{ConfigError, ConfigErrorKind as Kind, Subject};
use crate::limits::Limits;
use crate::raw::RawLimits;

fn limit_u64(
    at: &At<'_, '_>,
    key: &'static str,
    value: Option<&Spanned<u64>>,
    default: u64,
    max: u64,
) -> Result<u64, ConfigError> {
    let Some(value) = value else { return Ok(default) };
    let v = *value.get_ref();
    if v == 0 || v > max {
        return Err(at.err(value.span(), Kind::LimitOutOfRange { key, value: v, min: 1, max }));
    }
    Ok(v)
}

fn limit_u32(
    at: &At<'_, '_>,
    key: &'static str,
    value: Option<&Spanned<u32>>,
    default: u32,
    max: u32,
) -> Result<u32, ConfigError> {
    value.map_or(Ok(default), |value| one_to_max(at, key, value, max))
}

/// `value` when it is within `1..=max`, else a `LimitOutOfRange` error located at it.
pub(crate) fn one_to_max(
    at: &At<'_, '_>,
    key: &'static str,
    value: &Spanned<u32>,
    max: u32,
) -> Result<u32, ConfigError> {
    let v = *value.get_ref();
    if v == 0 || v > max {
        let kind = Kind::LimitOutOfRange { key, value: v.into(), min: 1, max: max.into() };
        return Err(at.err(value.span(), kind));
    }
    Ok(v)
}

pub(crate) fn limits_of(ctx: &Ctx<'_>, limits: &Spanned<RawLimits>) -> Result<Limits, ConfigError> {
    let at = At { ctx, subject: Subject::Limits };
    let raw = limits.get_ref();
    let d = Limits::default();
    let max_dim = Limits::CEILING_MAX_DIMENSION;
    let out = Limits {
        max_width: limit_u32(&at, "max_width", raw.max_width.as_ref(), d.max_width, max_dim)?,
        max_height: limit_u32(&at, "max_height", raw.max_height.as_ref(), d.max_height, max_dim)?,
        max_bytes_per_buffer: limit_u64(
            &at,
            "max_bytes_per_buffer",
            raw.max_bytes_per_buffer.as_ref(),
            d.max_bytes_per_buffer,
            Limits::CEILING_MAX_BYTES_PER_BUFFER,
        )?,
        max_buffers_per_call: limit_u32(
            &at,
            "max_buffers_per_call",
            raw.max_buffers_per_call.as_ref(),
            d.max_buffers_per_call,
            Limits::CEILING_MAX_BUFFERS_PER_CALL,
        )?,
        max_reserved_size: limit_u64(
            &at,
            "max_reserved_size",
            raw.max_reserved_size.as_ref(),
            d.max_reserved_size,
            Limits::CEILING_MAX_RESERVED_SIZE,
        )?,
        max_bytes_per_call: limit_u64(
            &at,
            "max_bytes_per_call",
            raw.max_bytes_per_call.as_ref(),
            d.max_bytes_per_call,
            Limits::CEILING_MAX_BYTES_PER_CALL,
        )?,
        max_options: limit_u32(
            &at,
            "max_options",
            raw.max_options.as_ref(),
            d.max_options,
            Limits::CEILING_MAX_OPTIONS,
        )?,
        allowed_uids: match &raw.allowed_uids {
            None => None,
            Some(uids) => {
                let list = uids.get_ref();
                if list.is_empty() {
                    return Err(at.err(uids.span(), Kind::EmptyList("allowed_uids")));
                }
                for (i, uid) in list.iter().enumerate() {
                    if list.iter().take(i).any(|u| u == uid) {
                        let kind = Kind::Duplicate { key: "allowed_uids", name: uid.to_string() };
                        return Err(at.err(uids.span(), kind));
                    }
                }
                Some(list.clone())
            }
        },
    };
    if out.max_bytes_per_call < out.max_bytes_per_buffer {
        let span = raw.max_bytes_per_call.as_ref().map_or(limits.span(), Spanned::span);
        let kind = Kind::CallCapBelowBufferCap {
            per_call: out.max_bytes_per_call,
            per_buffer: out.max_bytes_per_buffer,
        };
        return Err(at.err(span, kind));
    }
    Ok(out)
}
