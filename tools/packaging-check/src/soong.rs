//! Checks between the Cargo workspace, the tree and `Android.bp`: every path exists, every
//! Cargo target has its module with matching names and edition, rustlibs are exactly the
//! Cargo dependencies, features and build scripts match, every board file is installed, and
//! no Soong-compiled source includes from `CARGO_MANIFEST_DIR`. Each check returns the
//! problems it found, one line each.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::PathBuf;

use android_bp::Value;

use crate::blueprint::{strings_of, Module};
use crate::cargo::{soong_module_for, Crate, Dep, Workspace};
use crate::files::{glob, rust_sources};
use crate::{Tree, DAEMON_MODULE};

/// Cargo binaries whose Soong module is not named like the binary.
const RENAMED_BINARIES: &[(&str, &str)] = &[("gralloc-allocator", DAEMON_MODULE)];

const BOARD_DIR: &str = "usage-map/boards";

/// A fuzz target `T` of the fuzz crate is the `rust_fuzz` module `gralloc_fuzz_T`.
pub(crate) const FUZZ_MODULE_PREFIX: &str = "gralloc_fuzz_";

/// Rust libraries Soong adds to every `rust_fuzz` module itself (`rust/fuzz.go`), so they
/// are Cargo dependencies without a rustlib there.
const IMPLIED_FUZZ_RUSTLIBS: &[&str] = &["libfuzzer-sys"];

/// Blueprint properties that name files relative to the `Android.bp` directory.
const PATH_PROPERTIES: &[&str] = &[
    "srcs",
    "src",
    "init_rc",
    "vintf_fragments",
    "tool_files",
    "data",
    "license_text",
    "corpus",
    "dictionary",
];

/// Every file a module names exists (globs match at least one file) and every `:module`
/// reference names a module of `Android.bp`.
pub(crate) fn check_paths(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    for m in &tree.blueprint.raw.modules {
        let name = m.get_string("name").map_or("<unnamed>", String::as_str);
        let mut entries = Vec::new();
        collect_path_entries(&m.entries, &mut entries);
        for (prop, entry) in entries {
            if let Some(module) = entry.strip_prefix(':') {
                if tree.blueprint.module(module).is_none() {
                    problems.push(format!("{name}: {prop} names unknown module :{module}"));
                }
            } else if entry.contains('*') {
                if glob(&tree.root, &entry).is_empty() {
                    problems.push(format!("{name}: {prop} glob {entry} matches no file"));
                }
            } else if !tree.exists(&entry) {
                problems.push(format!("{name}: {prop} names {entry}, which does not exist"));
            }
        }
    }
    problems
}

fn collect_path_entries(props: &HashMap<String, Value>, out: &mut Vec<(String, String)>) {
    for (key, value) in props {
        if PATH_PROPERTIES.contains(&key.as_str()) {
            out.extend(strings_of(Some(value)).into_iter().map(|e| (key.clone(), e)));
        } else if let Value::Map(map) = value {
            // target: { android: { srcs: [...] } } and similar.
            collect_path_entries(&map.0, out);
        }
    }
}

/// Every crate has `lib<crate>` and a unit-test module compiling its library root, every
/// Cargo binary a `rust_binary` compiling the same file; names, crate names, editions and
/// the Cargo version agree; no Rust module compiles a file that is no Cargo target.
pub(crate) fn check_modules(tree: &Tree) -> Vec<String> {
    let ws = &tree.workspace;
    let bp = &tree.blueprint;
    let mut problems = Vec::new();
    for krate in &ws.crates {
        if let Some(lib) = &krate.lib {
            let libs: Vec<&Module> = bp
                .rust_modules()
                .filter(|m| m.typ == "rust_library" && m.crate_root().as_deref() == Some(&lib.path))
                .collect();
            match libs.as_slice() {
                [m] => {
                    let expected = format!("lib{}", lib.crate_name);
                    if m.name != expected {
                        problems.push(format!(
                            "{}: library module is {}, expected {expected}",
                            krate.dir, m.name
                        ));
                    }
                    check_crate_name(m, &lib.crate_name, true, &mut problems);
                }
                [] => {
                    problems.push(format!("{}: no rust_library compiles {}", krate.dir, lib.path))
                }
                _ => problems.push(format!(
                    "{}: several rust_library modules compile {}",
                    krate.dir, lib.path
                )),
            }
            let unit_tests: Vec<&Module> = bp
                .of_type("rust_test")
                .filter(|m| m.crate_root().as_deref() == Some(&lib.path))
                .collect();
            if unit_tests.is_empty() {
                problems.push(format!(
                    "{}: no rust_test runs the unit tests of {}",
                    krate.dir, lib.path
                ));
            }
            for m in unit_tests {
                check_crate_name(m, &lib.crate_name, false, &mut problems);
            }
        }
        if krate.is_fuzz() {
            check_fuzz_targets(bp, krate, &mut problems);
            continue;
        }
        for bin in &krate.bins {
            let expected = RENAMED_BINARIES
                .iter()
                .find(|(cargo, _)| *cargo == bin.name)
                .map_or(bin.name.as_str(), |(_, soong)| soong);
            match bp.module(expected) {
                Some(m) if m.typ == "rust_binary" || m.typ == "rust_binary_host" => {
                    if m.crate_root().as_deref() != Some(&bin.path) {
                        problems.push(format!(
                            "{expected}: compiles {:?}, Cargo binary {} is {}",
                            m.crate_root(),
                            bin.name,
                            bin.path
                        ));
                    }
                    check_crate_name(m, &bin.crate_name, true, &mut problems);
                }
                Some(m) => problems
                    .push(format!("{expected}: is a {}, expected rust_binary(_host)", m.typ)),
                None => problems.push(format!(
                    "{}: Cargo binary {} ({}) has no rust_binary named {expected}",
                    krate.dir, bin.name, bin.path
                )),
            }
        }
    }
    for m in bp.rust_modules() {
        let Some(krate) = owning_crate(ws, m) else {
            problems.push(format!(
                "{}: compiles {:?}, which is no Cargo target",
                m.name,
                m.crate_root()
            ));
            continue;
        };
        match m.string("edition") {
            Some(e) if e == krate.edition => {}
            other => problems.push(format!(
                "{}: edition {other:?}, {} uses {}",
                m.name, krate.dir, krate.edition
            )),
        }
        if m.bool("cargo_env_compat") == Some(true)
            && m.string("cargo_pkg_version") != Some(ws.version.as_str())
        {
            problems.push(format!(
                "{}: cargo_pkg_version {:?}, the workspace is {}",
                m.name,
                m.string("cargo_pkg_version"),
                ws.version
            ));
        }
    }
    problems
}

/// Every fuzz target has a `rust_fuzz` named `gralloc_fuzz_<target>` compiling it, with
/// its seed corpus; no `rust_fuzz` compiles anything else.
fn check_fuzz_targets(bp: &crate::blueprint::Blueprint, krate: &Crate, problems: &mut Vec<String>) {
    for bin in &krate.bins {
        let expected = format!("{FUZZ_MODULE_PREFIX}{}", bin.name);
        match bp.module(&expected) {
            Some(m) if m.typ == "rust_fuzz" => {
                if m.crate_root().as_deref() != Some(&bin.path) {
                    problems.push(format!(
                        "{expected}: compiles {:?}, fuzz target {} is {}",
                        m.crate_root(),
                        bin.name,
                        bin.path
                    ));
                }
                let corpus = format!("{}/corpus/{}/*", krate.dir, bin.name);
                if !m.strings(&["corpus"]).contains(&corpus) {
                    problems.push(format!("{expected}: corpus lacks {corpus}"));
                }
            }
            Some(m) => problems.push(format!("{expected}: is a {}, expected rust_fuzz", m.typ)),
            None => problems.push(format!(
                "{}: fuzz target {} ({}) has no rust_fuzz named {expected}",
                krate.dir, bin.name, bin.path
            )),
        }
    }
}

fn check_crate_name(m: &Module, expected: &str, required: bool, problems: &mut Vec<String>) {
    match m.string("crate_name") {
        Some(name) if name == expected => {}
        None if !required => {}
        other => problems.push(format!("{}: crate_name {other:?}, expected {expected:?}", m.name)),
    }
}

/// What a Rust module builds, in Cargo terms.
pub(crate) enum Role<'a> {
    Library(&'a Crate),
    UnitTests(&'a Crate),
    IntegrationTest(&'a Crate, String),
    Binary(&'a Crate),
    /// A fuzz target of the fuzz crate.
    Fuzz(&'a Crate),
    BuildScript(&'a Crate),
}

pub(crate) fn role<'a>(ws: &'a Workspace, m: &Module) -> Option<Role<'a>> {
    let root = m.crate_root()?;
    for krate in &ws.crates {
        let is_lib = krate.lib.as_ref().is_some_and(|l| l.path == root);
        match m.typ.as_str() {
            // rust_ffi_shared: the same library as a C shared object (the mapper).
            "rust_library" | "rust_library_rlib" | "rust_library_dylib" | "rust_ffi_shared"
                if is_lib =>
            {
                return Some(Role::Library(krate))
            }
            "rust_test" | "rust_test_host" if is_lib => return Some(Role::UnitTests(krate)),
            "rust_test" | "rust_test_host"
                if root.starts_with(&format!("{}/tests/", krate.dir)) =>
            {
                return Some(Role::IntegrationTest(krate, root))
            }
            "rust_binary" | "rust_binary_host"
                if !krate.is_fuzz() && krate.bins.iter().any(|b| b.path == root) =>
            {
                return Some(Role::Binary(krate))
            }
            "rust_fuzz" | "rust_fuzz_host"
                if krate.is_fuzz() && krate.bins.iter().any(|b| b.path == root) =>
            {
                return Some(Role::Fuzz(krate))
            }
            "rust_binary_host" if krate.build_script.as_deref() == Some(root.as_str()) => {
                return Some(Role::BuildScript(krate))
            }
            _ => {}
        }
    }
    None
}

pub(crate) fn owning_crate<'a>(ws: &'a Workspace, m: &Module) -> Option<&'a Crate> {
    match role(ws, m)? {
        Role::Library(c)
        | Role::UnitTests(c)
        | Role::IntegrationTest(c, _)
        | Role::Binary(c)
        | Role::Fuzz(c)
        | Role::BuildScript(c) => Some(c),
    }
}

/// Each Rust module's rustlibs are exactly the Cargo dependencies of what it builds, mapped
/// through `AOSP_CRATE_MODULES`: `[dependencies]` for a library; plus the library itself
/// for binaries and integration tests; plus the dev-dependencies the tested sources name for
/// test modules; `[build-dependencies]` for a build script compiled as a host tool.
/// Android-only dependencies go under `target: { android: { ... } }`.
pub(crate) fn check_dependencies(tree: &Tree) -> Vec<String> {
    let ws = &tree.workspace;
    let mut problems: Vec<String> = ws.crates.iter().flat_map(|c| c.unsupported.clone()).collect();
    for m in tree.blueprint.rust_modules() {
        let Some(role) = role(ws, m) else { continue };
        let enabled = m.strings(&["features"]);
        let (krate, mut common, android): (&Crate, Vec<String>, Vec<String>) = match &role {
            Role::Library(c) => {
                (c, active_deps(&c.deps, c, &enabled), active_deps(&c.android_deps, c, &enabled))
            }
            Role::UnitTests(c) => {
                let mut deps = active_deps(&c.deps, c, &enabled);
                let sources =
                    c.lib_dir().map(|d| rust_sources(&tree.root.join(d))).unwrap_or_default();
                deps.extend(dev_deps_named_in(c, &sources));
                (c, deps, active_deps(&c.android_deps, c, &enabled))
            }
            Role::IntegrationTest(c, file) => {
                let mut deps = active_deps(&c.deps, c, &enabled);
                deps.push(c.package.clone());
                deps.extend(dev_deps_named_in(c, &[tree.root.join(file)]));
                (c, deps, active_deps(&c.android_deps, c, &enabled))
            }
            Role::Binary(c) => {
                let mut deps = active_deps(&c.deps, c, &enabled);
                deps.push(c.package.clone());
                (c, deps, active_deps(&c.android_deps, c, &enabled))
            }
            Role::Fuzz(c) => {
                let mut deps = active_deps(&c.deps, c, &enabled);
                deps.retain(|d| !IMPLIED_FUZZ_RUSTLIBS.contains(&d.as_str()));
                deps.push(c.package.clone());
                (c, deps, active_deps(&c.android_deps, c, &enabled))
            }
            Role::BuildScript(c) => (c, c.build_deps.keys().cloned().collect(), Vec::new()),
        };
        common.sort();
        common.dedup();
        let mut compare = |cargo_keys: &[String], actual: BTreeSet<String>, where_: &str| {
            let mut expected = BTreeSet::new();
            for key in cargo_keys {
                match soong_module_for(key, ws) {
                    Some(module) => {
                        expected.insert(module);
                    }
                    None => problems.push(format!(
                        "{}: Cargo dependency {key} has no AOSP module name; add it to \
                         AOSP_CRATE_MODULES in tools/packaging-check/src/cargo.rs and to {} in Android.bp",
                        krate.dir, m.name
                    )),
                }
            }
            for missing in expected.difference(&actual) {
                problems.push(format!(
                    "{}: {where_} lacks {missing} (a Cargo dependency of {})",
                    m.name, krate.dir
                ));
            }
            for extra in actual.difference(&expected) {
                problems.push(format!(
                    "{}: {where_} has {extra}, which {} does not depend on",
                    m.name, krate.dir
                ));
            }
        };
        compare(&common, m.rust_deps(&[]), "rustlibs");
        compare(&android, m.rust_deps(&["target", "android"]), "target.android rustlibs");
        if let Some(Value::Map(targets)) = m.get(&["target"]) {
            for (target, props) in targets.iter() {
                let has_deps = matches!(props, Value::Map(p) if p.keys().any(|k| k.ends_with("libs") || k == "proc_macros"));
                if target != "android" && has_deps {
                    problems.push(format!(
                        "{}: target.{target} dependencies have no Cargo counterpart",
                        m.name
                    ));
                }
            }
        }
    }
    problems
}

/// Keys of `deps` the module compiles: non-optional ones, and optional ones a Soong feature
/// of the module turns on.
fn active_deps(deps: &BTreeMap<String, Dep>, krate: &Crate, enabled: &[String]) -> Vec<String> {
    let mut turned_on = BTreeSet::new();
    for feature in enabled {
        for item in krate.features.get(feature).into_iter().flatten() {
            let dep = item.strip_prefix("dep:").unwrap_or(item);
            turned_on.insert(dep.split('/').next().unwrap_or(dep).trim_end_matches('?').to_owned());
        }
    }
    deps.iter()
        .filter(|(key, dep)| !dep.optional || turned_on.contains(*key))
        .map(|(key, _)| key.clone())
        .collect()
}

/// Dev-dependencies that `sources` refer to (`name::` or `extern crate name`, comments
/// ignored): the ones a test module needs.
fn dev_deps_named_in(krate: &Crate, sources: &[PathBuf]) -> Vec<String> {
    let code: String = sources
        .iter()
        .filter_map(|p| fs::read_to_string(p).ok())
        .flat_map(|text| {
            text.lines()
                .filter(|l| !l.trim_start().starts_with("//"))
                .map(|l| format!("{l}\n"))
                .collect::<Vec<_>>()
        })
        .collect();
    krate
        .dev_deps
        .keys()
        // A crate's dev-dependency on itself only turns on features for its host tests.
        .filter(|key| **key != krate.package)
        .filter(|key| {
            let ident = key.replace('-', "_");
            mentions_path(&code, &format!("{ident}::"))
                || code.contains(&format!("extern crate {ident}"))
        })
        .cloned()
        .collect()
}

/// `needle` occurs in `code` not preceded by an identifier character or `::` (so `toml::`
/// does not match `my_toml::` or `serde::toml::`).
fn mentions_path(code: &str, needle: &str) -> bool {
    code.match_indices(needle).any(|(i, _)| {
        let before = code.get(..i).unwrap_or_default();
        let prev = before.chars().next_back();
        !prev.is_some_and(|c| c.is_alphanumeric() || c == '_') && !before.ends_with("::")
    })
}

/// A workspace library is built with exactly the features its dependents ask Cargo for
/// (Soong builds one configuration per module), and every Soong feature exists in Cargo.
/// Dev-dependency features do not count: they serve host `cargo test` builds (the fake heap
/// of `allocator_service/fake-heap`), which must not reach the device.
pub(crate) fn check_features(tree: &Tree) -> Vec<String> {
    let ws = &tree.workspace;
    let mut problems = Vec::new();
    for m in tree.blueprint.rust_modules() {
        let Some(krate) = owning_crate(ws, m) else { continue };
        for feature in m.strings(&["features"]) {
            if !krate.features.contains_key(&feature) {
                problems.push(format!(
                    "{}: feature {feature:?} is not in {}'s [features]",
                    m.name, krate.dir
                ));
            }
        }
        let Some(Role::Library(_)) = role(ws, m) else { continue };
        let mut requested = BTreeSet::new();
        for other in &ws.crates {
            let tables = [&other.deps, &other.android_deps, &other.build_deps];
            for dep in tables.iter().filter_map(|t| t.get(&krate.package)) {
                requested.extend(dep.features.iter().cloned());
                if dep.default_features {
                    requested.extend(krate.features.get("default").into_iter().flatten().cloned());
                }
            }
        }
        let actual: BTreeSet<String> = m.strings(&["features"]).into_iter().collect();
        if actual != requested {
            problems.push(format!(
                "{}: features {actual:?}, but the workspace builds {} with {requested:?}",
                m.name, krate.dir
            ));
        }
    }
    problems
}

/// A crate with a build script has it compiled as a host tool, run by a genrule whose
/// outputs are the files the build script writes and the library includes, and the
/// library compiles that genrule's output.
pub(crate) fn check_build_scripts(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    for krate in &tree.workspace.crates {
        let Some(script) = &krate.build_script else { continue };
        // A build script whose output only Cargo tests read (the mapper's C layout check)
        // has nothing for Soong to generate.
        let lib_reads_out_dir = krate.lib_dir().is_some_and(|d| {
            rust_sources(&tree.root().join(d)).iter().any(|f| {
                let text = fs::read_to_string(f).unwrap_or_default();
                text.contains("include_aidl!(") || text.contains("env!(\"OUT_DIR\")")
            })
        });
        if !lib_reads_out_dir {
            continue;
        }
        let tools: Vec<&Module> = tree
            .blueprint
            .of_type("rust_binary_host")
            .filter(|m| m.crate_root().as_deref() == Some(script.as_str()))
            .collect();
        let [tool] = tools.as_slice() else {
            problems
                .push(format!("{}: expected one rust_binary_host compiling {script}", krate.dir));
            continue;
        };
        let genrules: Vec<&Module> = tree
            .blueprint
            .of_type("genrule")
            .filter(|g| g.strings(&["tools"]).contains(&tool.name))
            .collect();
        let [genrule] = genrules.as_slice() else {
            problems.push(format!("{}: expected one genrule running {}", krate.dir, tool.name));
            continue;
        };
        let outs: BTreeSet<String> = genrule.strings(&["out"]).into_iter().collect();
        let script_text = fs::read_to_string(tree.root.join(script)).unwrap_or_default();
        let mut wanted: BTreeSet<String> =
            quoted_after(&script_text, ".output(PathBuf::from(\"").into_iter().collect();
        let lib_sources =
            krate.lib_dir().map(|d| rust_sources(&tree.root.join(d))).unwrap_or_default();
        for source in &lib_sources {
            let text = fs::read_to_string(source).unwrap_or_default();
            wanted.extend(
                quoted_after(&text, "include_aidl!(\"")
                    .into_iter()
                    .map(|stem| format!("{stem}.rs")),
            );
        }
        if wanted.is_empty() {
            problems.push(format!(
                "{}: found no output named in {script} or include_aidl! calls",
                krate.dir
            ));
        }
        for file in wanted.difference(&outs) {
            problems.push(format!(
                "{}: out lacks {file}, which {} writes or includes",
                genrule.name, krate.dir
            ));
        }
        let reference = format!(":{}", genrule.name);
        for m in tree.blueprint.rust_modules() {
            if matches!(role(&tree.workspace, m), Some(Role::Library(c) | Role::UnitTests(c)) if c.dir == krate.dir)
                && !m.strings(&["srcs"]).contains(&reference)
            {
                problems
                    .push(format!("{}: srcs lacks {reference} (generated by {script})", m.name));
            }
        }
    }
    problems
}

/// Every `"..."` string following `prefix` in `text`.
fn quoted_after(text: &str, prefix: &str) -> Vec<String> {
    text.match_indices(prefix)
        .filter_map(|(i, _)| {
            let rest = text.get(i.saturating_add(prefix.len())..)?;
            rest.split_once('"').map(|(s, _)| s.to_owned())
        })
        .collect()
}

/// Every board file is installed by a `prebuilt_etc` named `gralloc_board.<stem>` under
/// `/vendor/etc/gralloc/`.
pub(crate) fn check_boards(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    let boards = glob(&tree.root, &format!("{BOARD_DIR}/*.toml"));
    if boards.is_empty() {
        problems.push(format!("no board files under {BOARD_DIR}"));
    }
    for board in boards {
        let file = board.file_name().map(|f| f.to_string_lossy().into_owned()).unwrap_or_default();
        let stem = file.trim_end_matches(".toml");
        let src = format!("{BOARD_DIR}/{file}");
        let expected = format!("gralloc_board.{stem}");
        match tree.blueprint.module(&expected) {
            None => problems.push(format!("{src}: no prebuilt_etc named {expected}")),
            Some(m) => {
                if m.typ != "prebuilt_etc" {
                    problems.push(format!("{expected}: is a {}, expected prebuilt_etc", m.typ));
                }
                if m.string("src") != Some(src.as_str()) {
                    problems.push(format!("{expected}: src {:?}, expected {src}", m.string("src")));
                }
                if m.string("sub_dir") != Some("gralloc") || m.bool("vendor") != Some(true) {
                    problems.push(format!(
                        "{expected}: must be vendor: true with sub_dir: \"gralloc\""
                    ));
                }
            }
        }
    }
    problems
}

/// Soong's `cargo_env_compat` sets CARGO_MANIFEST_DIR to the `Android.bp` directory, not
/// the crate's, so a compile-time include built from it breaks the Soong build.
pub(crate) fn check_manifest_dir_includes(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    let mut files = BTreeSet::new();
    for m in tree.blueprint.rust_modules() {
        match role(&tree.workspace, m) {
            Some(Role::Library(c) | Role::UnitTests(c)) => {
                files.extend(
                    c.lib_dir().map(|d| rust_sources(&tree.root.join(d))).unwrap_or_default(),
                );
            }
            Some(
                Role::Binary(_) | Role::Fuzz(_) | Role::IntegrationTest(..) | Role::BuildScript(_),
            ) => {
                files.extend(m.crate_root().map(|r| tree.root.join(r)));
            }
            None => {}
        }
    }
    for file in files {
        let text = fs::read_to_string(&file).unwrap_or_default();
        for (n, line) in text.lines().enumerate() {
            let code = line.split("//").next().unwrap_or("");
            if code.contains("CARGO_MANIFEST_DIR")
                && (code.contains("include_str!") || code.contains("include_bytes!"))
            {
                let rel = file.strip_prefix(&tree.root).unwrap_or(&file);
                problems.push(format!(
                    "{}:{}: include from CARGO_MANIFEST_DIR (under Soong that is the Android.bp directory); \
                     use a path relative to the source file",
                    rel.display(),
                    n.saturating_add(1)
                ));
            }
        }
    }
    problems
}
