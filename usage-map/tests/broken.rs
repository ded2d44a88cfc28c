//! Every file in `tests/broken/` fails to load with exactly the text of the `.expected` file
//! beside it (`origin:line: subject: problem`). `UPDATE_GOLDEN=1` rewrites the files.

mod common;

use std::fs;

use usage_map::{ConfigErrorKind, UsageMap};

#[test]
fn every_broken_board_fails_with_its_expected_error() {
    let files = common::files_with_ext("tests/broken", "toml");
    assert!(files.len() >= 10, "expected the broken-board corpus, found {} files", files.len());
    let mut failures = Vec::new();
    for file in &files {
        let origin = common::relative(file);
        let text = fs::read_to_string(file).expect("readable");
        let err = match UsageMap::from_toml_str(&text, &origin) {
            Ok(_) => {
                failures.push(format!("{origin}: loaded, but it is in tests/broken"));
                continue;
            }
            Err(err) => err,
        };
        // Only "the file has no rules at all" has no line to point at.
        if err.line().is_none() && !matches!(err.kind(), ConfigErrorKind::NoRules) {
            failures.push(format!("{origin}: error has no line: {err}"));
        }
        if let Err(diff) =
            common::check_golden(&file.with_extension("expected"), &format!("{err}\n"))
        {
            failures.push(diff);
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
