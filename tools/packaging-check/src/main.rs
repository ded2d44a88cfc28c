//! `packaging-check [REPO_ROOT]`: prints every problem the packaging checks find in the
//! repository at `REPO_ROOT` (default: the current directory), one per line as
//! `<check>: <problem>`. Exits 0 when there is none, 1 when there are, 2 when the tree
//! cannot be read.

#![forbid(unsafe_code)]

use std::path::PathBuf;
use std::process::ExitCode;

use packaging_check::{run_all, Tree};

const USAGE: &str = "usage: packaging-check [REPO_ROOT]";

fn main() -> ExitCode {
    let args: Vec<_> = std::env::args_os().skip(1).collect();
    let root = match args.as_slice() {
        [] => PathBuf::from("."),
        [flag] if flag == "-h" || flag == "--help" => {
            println!("{USAGE}");
            return ExitCode::SUCCESS;
        }
        [root] => PathBuf::from(root),
        _ => {
            eprintln!("{USAGE}");
            return ExitCode::from(2);
        }
    };
    let tree = match Tree::load(&root) {
        Ok(tree) => tree,
        Err(e) => {
            eprintln!("packaging-check: {e}");
            return ExitCode::from(2);
        }
    };
    let findings = run_all(&tree);
    for finding in &findings {
        println!("{}: {}", finding.check, finding.problem);
    }
    if findings.is_empty() {
        eprintln!("packaging-check: no problems in {}", root.display());
        ExitCode::SUCCESS
    } else {
        eprintln!("packaging-check: {} problem(s) in {}", findings.len(), root.display());
        ExitCode::FAILURE
    }
}
