//! Golden tests: every shipped board resolves a fixed table of requests to the expected plans,
//! and prints the expected `board check` summary. `UPDATE_GOLDEN=1` rewrites the files.
//!
//! `tests/golden/<board>.cases`: one request per line, `USAGE FORMAT WxH` (USAGE as names
//! joined by `|`, or a number); `#` starts a comment. `<board>.expected`: each case followed
//! by ` => ` and the plan or refusal. `<board>.report`: the `check_report` text.

mod common;

use std::fs;
use std::path::Path;

use hal_interface::format::Format;
use hal_interface::usage::Usage;
use usage_map::{check_report, parse_size, UsageMap};

fn load_board(path: &Path) -> UsageMap {
    let text = fs::read_to_string(path).expect("board file readable");
    UsageMap::from_toml_str(&text, &common::relative(path))
        .unwrap_or_else(|e| panic!("shipped board does not load: {e}"))
}

fn resolve_cases(map: &UsageMap, cases: &str) -> String {
    let mut out = String::new();
    for (n, line) in cases.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split_whitespace().collect();
        let [usage, format, size] = fields[..] else {
            panic!("case line {}: expected `USAGE FORMAT WxH`, got {line:?}", n + 1)
        };
        let usage: Usage = usage.parse().unwrap_or_else(|e| panic!("case line {}: {e}", n + 1));
        let format: Format = format.parse().unwrap_or_else(|e| panic!("case line {}: {e}", n + 1));
        let (w, h) = parse_size(size).unwrap_or_else(|e| panic!("case line {}: {e}", n + 1));
        let outcome = match map.resolve(usage, format, w, h) {
            Ok(plan) => plan.to_string(),
            Err(refusal) => format!("refused: {refusal}"),
        };
        out.push_str(&format!("{line} => {outcome}\n"));
    }
    out
}

#[test]
fn every_shipped_board_resolves_its_golden_cases() {
    let boards = common::files_with_ext("boards", "toml");
    assert!(!boards.is_empty(), "no board files found under boards/");
    let mut failures = Vec::new();
    for board in &boards {
        let stem = board.file_stem().expect("file name").to_string_lossy().into_owned();
        let golden = common::crate_dir().join("tests/golden");
        let cases_path = golden.join(format!("{stem}.cases"));
        let cases = fs::read_to_string(&cases_path)
            .unwrap_or_else(|e| panic!("every board needs tests/golden/{stem}.cases: {e}"));
        let map = load_board(board);
        let actual = resolve_cases(&map, &cases);
        assert!(!actual.is_empty(), "{stem}.cases has no case");
        if let Err(diff) = common::check_golden(&golden.join(format!("{stem}.expected")), &actual) {
            failures.push(diff);
        }
        if let Err(diff) =
            common::check_golden(&golden.join(format!("{stem}.report")), &check_report(&map))
        {
            failures.push(diff);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
