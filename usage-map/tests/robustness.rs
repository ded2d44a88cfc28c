//! The loader never panics on damaged input, and `explain` always agrees with `resolve`.

mod common;

use std::fs;

use hal_interface::format::Format;
use hal_interface::usage::{Usage, UsageFlag};
use usage_map::UsageMap;

/// Line-level mutations of every shipped board: each must load or fail with an error, never
/// panic. A deterministic stand-in for fuzzing the TOML loader.
#[test]
fn mutated_board_files_fail_cleanly() {
    let boards = common::files_with_ext("boards", "toml");
    assert!(!boards.is_empty(), "no board files found under boards/");
    let replacements = [
        "",
        "x = 1",
        "[[rules]]",
        "[heaps.x]",
        "heaps = []",
        "all = [\"PROTECTED\"]",
        "= =",
        "name = \"\u{0}\"",
    ];
    let mut outcomes = (0usize, 0usize);
    for board in &boards {
        let text = fs::read_to_string(board).unwrap();
        let lines: Vec<&str> = text.lines().collect();
        for i in 0..lines.len() {
            for replacement in replacements {
                let mut mutated = lines.clone();
                mutated[i] = replacement;
                match UsageMap::from_toml_str(&mutated.join("\n"), "mutated.toml") {
                    Ok(_) => outcomes.0 += 1,
                    Err(err) => {
                        assert!(err.to_string().starts_with("mutated.toml"), "{err}");
                        outcomes.1 += 1;
                    }
                }
            }
            let truncated: String =
                text.chars().take(text.len() * i / lines.len().max(1)).collect();
            let _ = UsageMap::from_toml_str(&truncated, "truncated.toml");
        }
    }
    assert!(outcomes.1 > 0, "some mutations must be rejected");
}

fn sample_usages() -> Vec<Usage> {
    let flags: Vec<u64> = UsageFlag::ALL.iter().map(|f| f.bit()).collect();
    let mut out = Vec::new();
    for cpu in [0x00, 0x02, 0x03, 0x20, 0x30, 0x33, 0x01] {
        out.push(Usage::from_bits(cpu));
        for (i, a) in flags.iter().enumerate() {
            out.push(Usage::from_bits(cpu | a));
            for b in flags.iter().skip(i + 1) {
                out.push(Usage::from_bits(cpu | a | b));
            }
        }
    }
    out
}

#[test]
fn explain_agrees_with_resolve_on_every_board() {
    let boards = common::files_with_ext("boards", "toml");
    assert!(!boards.is_empty(), "no board files found under boards/");
    let usages = sample_usages();
    let formats = [Format::Rgba8888, Format::Yv12, Format::Blob, Format::ImplementationDefined];
    for board in &boards {
        let map = UsageMap::load(board).unwrap();
        for &usage in &usages {
            for format in formats {
                for (w, h) in [(1, 1), (1920, 1080), (65536, 1)] {
                    let resolved = map.resolve(usage, format, w, h);
                    let explanation = map.explain(usage, format, w, h);
                    let index = match &resolved {
                        Ok(plan) => plan.rule.index,
                        Err(refusal) => {
                            refusal.rule().expect("a default rule always matches").index
                        }
                    };
                    assert_eq!(explanation.skipped.len(), index, "{usage:?} {format}");
                    assert!(explanation.skipped.iter().all(|s| !s.reasons.is_empty()));
                    let rule = &map.rules()[index];
                    assert!(rule.matcher().mismatches(usage, format, w, h).is_empty());
                    assert!(rule.matcher().matches(usage, format, w, h));
                }
            }
        }
    }
}
