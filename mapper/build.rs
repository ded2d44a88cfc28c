//! Compiles `abi-check/layout.c` against `include/gralloc_mapper_abi.h` with the target's C
//! compiler and, when the target can run on this host, runs it: its output (the C layout
//! of `AIMapper`, `AIMapperV5`, `AIMapper_MetadataTypeDescription`, ...) becomes
//! `$OUT_DIR/c_layout.rs`, which `tests/c_layout.rs` compares with the Rust layout. A
//! cross build only compiles the header (so a C syntax slip still fails) and records why
//! the comparison is skipped.

use std::env;
use std::fs;
use std::path::PathBuf;
use std::process::Command;

fn main() {
    println!("cargo::rerun-if-changed=include/gralloc_mapper_abi.h");
    println!("cargo::rerun-if-changed=abi-check/layout.c");
    println!("cargo::rustc-check-cfg=cfg(c_layout_checked)");
    let out = PathBuf::from(env::var_os("OUT_DIR").expect("OUT_DIR"));
    let generated = out.join("c_layout.rs");
    let host = env::var("HOST").unwrap_or_default();
    let target = env::var("TARGET").unwrap_or_default();
    let compiler = cc::Build::new().include("include").get_compiler();
    let exe = out.join("abi-layout");
    let mut compile = compiler.to_command();
    compile.arg("-std=c11").arg("-Iinclude").arg("abi-check/layout.c").arg("-o").arg(&exe);
    let compiled = compile.status().map(|s| s.success()).unwrap_or(false);
    if !compiled {
        panic!("compiling abi-check/layout.c failed: {compile:?}");
    }
    if host != target {
        let why = format!("cross build ({host} -> {target}): C layout compiled, not run");
        fs::write(&generated, format!("pub const SKIPPED: Option<&str> = Some({why:?});\n"))
            .expect("write c_layout.rs");
        return;
    }
    let output = Command::new(&exe).output().expect("run the C layout program");
    assert!(output.status.success(), "abi-layout failed: {output:?}");
    let mut text = String::from("pub const SKIPPED: Option<&str> = None;\n");
    text.push_str(&String::from_utf8(output.stdout).expect("UTF-8 layout output"));
    fs::write(&generated, text).expect("write c_layout.rs");
    println!("cargo::rustc-cfg=c_layout_checked");
}
