//! The Android packaging stays in step with Cargo and the tree.
//!
//! Soong cannot read Cargo manifests, so the root `Android.bp` restates them: module names,
//! sources, crate names, editions, features and dependencies. These tests parse it with a
//! Blueprint parser (`android_bp`) and compare it with every workspace manifest (`toml`) and
//! the file tree; they also check the init `.rc`, the VINTF fragment (`quick-xml`) and the
//! SELinux file contexts under `service/init/` against each other, against `hal_interface`
//! and against the HiKey960 board's mapper suffix.
//!
//! Any drift fails here, on the host, rather than in somebody's AOSP build: a Cargo
//! dependency without its rustlib, a moved source, a new binary or board file without a
//! module, a VINTF version other than the one `hal_interface` implements. The `*_is_detected`
//! tests run the same checks on deliberately broken copies, so every check is seen failing.
//!
//! This file is host-only (it reads the source tree) and has no Soong module.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::fs;
use std::path::{Path, PathBuf};

use allocator_service::daemon::{ANDROID_DEFAULT_BOARD, BOARD_PROPERTY};
use android_bp::{BluePrint, Value};
use quick_xml::events::{BytesStart, Event};
use quick_xml::{Reader, XmlVersion};

/// AOSP module of each third-party crate the workspace uses, by Cargo dependency key (the
/// names of `external/rust/crates`, or of the crates vendored beside rsbinder). Workspace
/// crates map to `lib<crate>` and need no entry. A new Cargo dependency needs a line here
/// and a rustlib in `Android.bp`.
const AOSP_CRATE_MODULES: &[(&str, &str)] = &[
    ("android_bp", "libandroid_bp"),
    ("android_logger", "libandroid_logger"),
    ("clap", "libclap"),
    ("libc", "liblibc"),
    ("libloading", "liblibloading"),
    ("log", "liblog_rust"),
    ("miette", "libmiette"),
    ("nix", "libnix"),
    ("proptest", "libproptest"),
    ("quick-xml", "libquick_xml"),
    ("rsbinder", "librsbinder"),
    ("rsbinder-aidl", "librsbinder_aidl"),
    ("serde", "libserde"),
    ("serde_json", "libserde_json"),
    ("serial_test", "libserial_test"),
    ("tempfile", "libtempfile"),
    ("thiserror", "libthiserror"),
    ("toml", "libtoml"),
];

/// Soong module of the daemon: the HAL naming convention, not the Cargo binary name.
const DAEMON_MODULE: &str = "android.hardware.graphics.allocator-service.rust";

/// Cargo binaries whose Soong module is not named like the binary.
const RENAMED_BINARIES: &[(&str, &str)] = &[("gralloc-allocator", DAEMON_MODULE)];

const INIT_RC: &str = "service/init/android.hardware.graphics.allocator-service.rust.rc";
const VINTF_XML: &str = "service/init/android.hardware.graphics.allocator-service.rust.xml";
const FILE_CONTEXTS: &str = "service/init/sepolicy/file_contexts";
const PROPERTY_CONTEXTS: &str = "service/init/sepolicy/property_contexts";
/// Sources of the daemon, searched for real-time scheduling calls.
const SERVICE_SOURCES: &str = "service/src";
const BOARD_DIR: &str = "usage-map/boards";
/// The board whose mapper suffix the shipped VINTF fragment declares.
const REFERENCE_BOARD: &str = "usage-map/boards/hikey960.toml";

const ALLOCATOR_PACKAGE: &str = "android.hardware.graphics.allocator";
const ALLOCATOR_FQNAME: &str = "IAllocator/default";
const MAPPER_VERSION: &str = "5.0";

/// Blueprint properties that name files relative to the `Android.bp` directory.
const PATH_PROPERTIES: &[&str] =
    &["srcs", "src", "init_rc", "vintf_fragments", "tool_files", "data", "license_text"];

/// Options init accepts in a `service` section (system/core/init/README.md).
const INIT_SERVICE_OPTIONS: &[&str] = &[
    "capabilities",
    "class",
    "console",
    "critical",
    "disabled",
    "enter_namespace",
    "file",
    "gentle_kill",
    "group",
    "interface",
    "ioprio",
    "keycodes",
    "memcg.limit_in_bytes",
    "memcg.limit_percent",
    "memcg.limit_property",
    "memcg.soft_limit_in_bytes",
    "memcg.swappiness",
    "namespace",
    "oneshot",
    "onrestart",
    "oom_score_adjust",
    "override",
    "priority",
    "reboot_on_failure",
    "restart_period",
    "rlimit",
    "seclabel",
    "setenv",
    "shutdown",
    "sigstop",
    "socket",
    "stdio_to_kmsg",
    "task_profiles",
    "timeout_period",
    "updatable",
    "user",
    "writepid",
];

// ---------------------------------------------------------------------------------------
// The tree under test

/// Everything the checks compare, loaded from the working tree; tests replace parts of it
/// with broken copies.
struct Tree {
    root: PathBuf,
    workspace: Workspace,
    blueprint: Blueprint,
    init_rc: String,
    vintf_xml: String,
    file_contexts: String,
    property_contexts: String,
    reference_board: String,
}

impl Tree {
    fn load() -> Tree {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .expect("the service crate sits inside the workspace")
            .to_path_buf();
        let read = |rel: &str| {
            fs::read_to_string(root.join(rel)).unwrap_or_else(|e| panic!("reading {rel}: {e}"))
        };
        Tree {
            workspace: Workspace::load(&root),
            blueprint: Blueprint::parse(&read("Android.bp")).unwrap_or_else(|e| panic!("{e}")),
            init_rc: read(INIT_RC),
            vintf_xml: read(VINTF_XML),
            file_contexts: read(FILE_CONTEXTS),
            property_contexts: read(PROPERTY_CONTEXTS),
            reference_board: read(REFERENCE_BOARD),
            root,
        }
    }

    fn with_blueprint_edit(mut self, from: &str, to: &str) -> Tree {
        let text = fs::read_to_string(self.root.join("Android.bp")).expect("reading Android.bp");
        assert!(text.contains(from), "Android.bp no longer contains {from:?}: update this test");
        self.blueprint =
            Blueprint::parse(&text.replacen(from, to, 1)).unwrap_or_else(|e| panic!("{e}"));
        self
    }

    fn exists(&self, rel: &str) -> bool {
        self.root.join(rel).exists()
    }
}

fn assert_no_problems(check: &str, problems: &[String]) {
    assert!(
        problems.is_empty(),
        "{check}: {} problem(s):\n  {}",
        problems.len(),
        problems.join("\n  ")
    );
}

fn assert_reported(problems: &[String], needle: &str) {
    assert!(
        problems.iter().any(|p| p.contains(needle)),
        "expected a problem mentioning {needle:?}, got: {problems:#?}"
    );
}

// ---------------------------------------------------------------------------------------
// Cargo side

struct Workspace {
    version: String,
    crates: Vec<Crate>,
}

/// One workspace member, paths relative to the workspace root.
struct Crate {
    dir: String,
    package: String,
    edition: String,
    lib: Option<Target>,
    bins: Vec<Target>,
    build_script: Option<String>,
    deps: BTreeMap<String, Dep>,
    /// `[target.'cfg(target_os = "android")'.dependencies]`.
    android_deps: BTreeMap<String, Dep>,
    dev_deps: BTreeMap<String, Dep>,
    build_deps: BTreeMap<String, Dep>,
    features: BTreeMap<String, Vec<String>>,
    /// Manifest constructs this test does not know how to map to Soong.
    unsupported: Vec<String>,
}

struct Target {
    name: String,
    crate_name: String,
    path: String,
}

#[derive(Clone, Default)]
struct Dep {
    features: BTreeSet<String>,
    default_features: bool,
    optional: bool,
}

impl Dep {
    /// Folds in one dependency spec (the workspace entry, then the member's own).
    fn apply(&mut self, spec: &toml::Value) {
        let Some(t) = spec.as_table() else { return };
        self.features.extend(t.get("features").map(string_array).unwrap_or_default());
        if t.get("default-features") == Some(&toml::Value::Boolean(false)) {
            self.default_features = false;
        }
        if t.get("optional") == Some(&toml::Value::Boolean(true)) {
            self.optional = true;
        }
    }
}

impl Workspace {
    fn load(root: &Path) -> Workspace {
        let manifest = read_toml(&root.join("Cargo.toml"));
        let ws = manifest.get("workspace").and_then(toml::Value::as_table).expect("[workspace]");
        let package = ws.get("package").and_then(toml::Value::as_table);
        let inherited = |key: &str| {
            package.and_then(|p| p.get(key)).and_then(toml::Value::as_str).map(str::to_owned)
        };
        let ws_deps = ws.get("dependencies").and_then(toml::Value::as_table).cloned();
        let ws_deps = ws_deps.unwrap_or_default();
        let members = ws.get("members").and_then(toml::Value::as_array).expect("members");
        let crates = members
            .iter()
            .map(|m| {
                let dir = m.as_str().expect("member paths are strings");
                Crate::load(root, dir, &ws_deps, &inherited)
            })
            .collect();
        Workspace { version: inherited("version").expect("workspace.package.version"), crates }
    }

    fn crate_by_package(&self, package: &str) -> Option<&Crate> {
        self.crates.iter().find(|c| c.package == package)
    }
}

impl Crate {
    fn load(
        root: &Path,
        dir: &str,
        ws_deps: &toml::Table,
        inherited: &dyn Fn(&str) -> Option<String>,
    ) -> Crate {
        let manifest = read_toml(&root.join(dir).join("Cargo.toml"));
        let package = manifest.get("package").and_then(toml::Value::as_table).expect("[package]");
        let name = package.get("name").and_then(toml::Value::as_str).expect("package.name");
        let field = |key: &str| match package.get(key) {
            Some(toml::Value::String(s)) => Some(s.clone()),
            Some(toml::Value::Table(t))
                if t.get("workspace") == Some(&toml::Value::Boolean(true)) =>
            {
                inherited(key)
            }
            _ => None,
        };
        let mut unsupported = Vec::new();
        let deps_of = |table: Option<&toml::Value>, unsupported: &mut Vec<String>| {
            parse_deps(table.and_then(toml::Value::as_table), ws_deps, dir, unsupported)
        };
        let deps = deps_of(manifest.get("dependencies"), &mut unsupported);
        let dev_deps = deps_of(manifest.get("dev-dependencies"), &mut unsupported);
        let build_deps = deps_of(manifest.get("build-dependencies"), &mut unsupported);
        let mut android_deps = BTreeMap::new();
        for (cfg, section) in
            manifest.get("target").and_then(toml::Value::as_table).into_iter().flatten()
        {
            let section = section.as_table().cloned().unwrap_or_default();
            for (kind, table) in &section {
                if cfg.replace(' ', "") == "cfg(target_os=\"android\")" && kind == "dependencies" {
                    android_deps = deps_of(Some(table), &mut unsupported);
                } else {
                    unsupported.push(format!(
                        "{dir}: [target.'{cfg}'.{kind}] has no Soong mapping in android_packaging.rs"
                    ));
                }
            }
        }
        let features = manifest
            .get("features")
            .and_then(toml::Value::as_table)
            .map(|t| {
                t.iter().map(|(k, v)| (k.clone(), string_array(v))).collect::<BTreeMap<_, _>>()
            })
            .unwrap_or_default();

        let lib = match manifest.get("lib").and_then(toml::Value::as_table) {
            Some(lib) => Some(Target {
                name: lib.get("name").and_then(toml::Value::as_str).unwrap_or(name).to_owned(),
                crate_name: lib
                    .get("name")
                    .and_then(toml::Value::as_str)
                    .unwrap_or(name)
                    .replace('-', "_"),
                path: format!(
                    "{dir}/{}",
                    lib.get("path").and_then(toml::Value::as_str).unwrap_or("src/lib.rs")
                ),
            }),
            None => root.join(dir).join("src/lib.rs").exists().then(|| Target {
                name: name.to_owned(),
                crate_name: name.replace('-', "_"),
                path: format!("{dir}/src/lib.rs"),
            }),
        };
        let bins = cargo_bins(root, dir, name, &manifest, package);
        let build_script = match package.get("build") {
            Some(toml::Value::String(path)) => Some(format!("{dir}/{path}")),
            Some(toml::Value::Boolean(false)) => None,
            _ => root.join(dir).join("build.rs").exists().then(|| format!("{dir}/build.rs")),
        };
        Crate {
            dir: dir.to_owned(),
            package: name.to_owned(),
            edition: field("edition").unwrap_or_else(|| "2015".to_owned()),
            lib,
            bins,
            build_script,
            deps,
            android_deps,
            dev_deps,
            build_deps,
            features,
            unsupported,
        }
    }

    fn lib_crate_name(&self) -> String {
        self.lib.as_ref().map_or_else(|| self.package.replace('-', "_"), |l| l.crate_name.clone())
    }

    /// `src/` of the library: where its unit tests live.
    fn lib_dir(&self) -> Option<String> {
        self.lib.as_ref().and_then(|l| l.path.rsplit_once('/').map(|(d, _)| d.to_owned()))
    }
}

/// Explicit `[[bin]]` targets plus the ones Cargo infers from `src/main.rs` and `src/bin/`.
fn cargo_bins(
    root: &Path,
    dir: &str,
    package: &str,
    manifest: &toml::Table,
    package_table: &toml::Table,
) -> Vec<Target> {
    let mut bins: Vec<Target> = manifest
        .get("bin")
        .and_then(toml::Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(toml::Value::as_table)
        .map(|bin| {
            let name = bin.get("name").and_then(toml::Value::as_str).unwrap_or(package).to_owned();
            let default_path = if name == package {
                "src/main.rs".to_owned()
            } else {
                format!("src/bin/{name}.rs")
            };
            let path =
                bin.get("path").and_then(toml::Value::as_str).map_or(default_path, str::to_owned);
            Target { crate_name: name.replace('-', "_"), path: format!("{dir}/{path}"), name }
        })
        .collect();
    if package_table.get("autobins") == Some(&toml::Value::Boolean(false)) {
        return bins;
    }
    let mut inferred = Vec::new();
    if root.join(dir).join("src/main.rs").exists() {
        inferred.push((package.to_owned(), format!("{dir}/src/main.rs")));
    }
    if let Ok(entries) = fs::read_dir(root.join(dir).join("src/bin")) {
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if let Some(stem) = file.strip_suffix(".rs") {
                inferred.push((stem.to_owned(), format!("{dir}/src/bin/{file}")));
            }
        }
    }
    for (name, path) in inferred {
        if !bins.iter().any(|b| b.name == name || b.path == path) {
            bins.push(Target { crate_name: name.replace('-', "_"), name, path });
        }
    }
    bins
}

fn parse_deps(
    table: Option<&toml::Table>,
    ws_deps: &toml::Table,
    dir: &str,
    unsupported: &mut Vec<String>,
) -> BTreeMap<String, Dep> {
    let mut deps = BTreeMap::new();
    for (key, spec) in table.into_iter().flatten() {
        let mut dep = Dep { default_features: true, ..Dep::default() };
        if spec.get("workspace").and_then(toml::Value::as_bool) == Some(true) {
            match ws_deps.get(key) {
                Some(ws_spec) => dep.apply(ws_spec),
                None => unsupported.push(format!("{dir}: {key} not in [workspace.dependencies]")),
            }
        }
        dep.apply(spec);
        if spec.get("package").is_some() {
            unsupported.push(format!("{dir}: renamed dependency {key} (package = ...)"));
        }
        deps.insert(key.clone(), dep);
    }
    deps
}

fn read_toml(path: &Path) -> toml::Table {
    let text =
        fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()));
    toml::from_str(&text).unwrap_or_else(|e| panic!("parsing {}: {e}", path.display()))
}

fn string_array(v: &toml::Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(toml::Value::as_str).map(str::to_owned).collect()
}

/// The AOSP module for Cargo dependency `key`, or `None` when the name table lacks it.
fn soong_module_for(key: &str, workspace: &Workspace) -> Option<String> {
    if let Some(c) = workspace.crate_by_package(key) {
        return Some(format!("lib{}", c.lib_crate_name()));
    }
    AOSP_CRATE_MODULES.iter().find(|(k, _)| *k == key).map(|(_, m)| (*m).to_owned())
}

// ---------------------------------------------------------------------------------------
// Soong side

/// `Android.bp` with each module's `defaults` merged in (lists append, maps merge, scalars
/// of the module win), as Soong does.
struct Blueprint {
    raw: BluePrint,
    modules: Vec<Module>,
}

struct Module {
    typ: String,
    name: String,
    props: HashMap<String, Value>,
}

impl Blueprint {
    fn parse(text: &str) -> Result<Blueprint, String> {
        let raw = BluePrint::parse(text).map_err(|e| format!("Android.bp does not parse: {e}"))?;
        let by_name: HashMap<&str, &android_bp::Module> =
            raw.modules.iter().filter_map(|m| Some((m.get_string("name")?.as_str(), m))).collect();
        let mut modules = Vec::new();
        for m in &raw.modules {
            let Some(name) = m.get_string("name") else { continue };
            let props = resolve_defaults(m, &by_name, 0)?;
            modules.push(Module { typ: m.typ.clone(), name: name.clone(), props });
        }
        Ok(Blueprint { raw, modules })
    }

    fn module(&self, name: &str) -> Option<&Module> {
        self.modules.iter().find(|m| m.name == name)
    }

    fn of_type<'a>(&'a self, typ: &'a str) -> impl Iterator<Item = &'a Module> + 'a {
        self.modules.iter().filter(move |m| m.typ == typ)
    }

    fn rust_modules(&self) -> impl Iterator<Item = &Module> {
        self.modules.iter().filter(|m| m.typ.starts_with("rust_") && m.typ != "rust_defaults")
    }
}

fn resolve_defaults(
    module: &android_bp::Module,
    by_name: &HashMap<&str, &android_bp::Module>,
    depth: usize,
) -> Result<HashMap<String, Value>, String> {
    if depth > 8 {
        return Err("defaults nest deeper than 8 levels (a cycle?)".to_owned());
    }
    let mut props = HashMap::new();
    for default in module.get_array("defaults").into_iter().flatten() {
        let Value::String(default) = default else {
            return Err(format!("non-string entry in defaults: {default:?}"));
        };
        let d =
            by_name.get(default.as_str()).ok_or_else(|| format!("unknown defaults {default:?}"))?;
        let inherited = resolve_defaults(d, by_name, depth + 1)?;
        merge_props(&mut props, &inherited);
    }
    let own: HashMap<String, Value> = module
        .entries
        .iter()
        .filter(|(k, _)| *k != "defaults")
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    merge_props(&mut props, &own);
    Ok(props)
}

fn merge_props(base: &mut HashMap<String, Value>, over: &HashMap<String, Value>) {
    for (key, value) in over {
        match (base.get_mut(key), value) {
            (Some(Value::Array(a)), Value::Array(b)) => a.extend(b.iter().cloned()),
            (Some(Value::Map(a)), Value::Map(b)) => merge_props(&mut a.0, &b.0),
            _ => {
                base.insert(key.clone(), value.clone());
            }
        }
    }
}

impl Module {
    fn get(&self, path: &[&str]) -> Option<&Value> {
        let (first, rest) = path.split_first()?;
        let mut value = self.props.get(*first)?;
        for key in rest {
            let Value::Map(map) = value else { return None };
            value = map.get(*key)?;
        }
        Some(value)
    }

    fn string(&self, key: &str) -> Option<&str> {
        match self.get(&[key]) {
            Some(Value::String(s)) => Some(s),
            _ => None,
        }
    }

    fn bool(&self, key: &str) -> Option<bool> {
        match self.get(&[key]) {
            Some(Value::Boolean(b)) => Some(*b),
            _ => None,
        }
    }

    fn strings(&self, path: &[&str]) -> Vec<String> {
        strings_of(self.get(path))
    }

    /// The crate root: the first `srcs` entry that is a file, not a `:module`.
    fn crate_root(&self) -> Option<String> {
        self.strings(&["srcs"]).into_iter().find(|s| !s.starts_with(':'))
    }

    /// Rust dependencies at the top level (any linkage).
    fn rust_deps(&self, prefix: &[&str]) -> BTreeSet<String> {
        ["rustlibs", "rlibs", "dylibs", "proc_macros"]
            .iter()
            .flat_map(|key| {
                let mut path = prefix.to_vec();
                path.push(key);
                self.strings(&path)
            })
            .collect()
    }
}

fn strings_of(value: Option<&Value>) -> Vec<String> {
    match value {
        Some(Value::Array(items)) => items
            .iter()
            .filter_map(|v| match v {
                Value::String(s) => Some(s.clone()),
                _ => None,
            })
            .collect(),
        Some(Value::String(s)) => vec![s.clone()],
        _ => Vec::new(),
    }
}

// ---------------------------------------------------------------------------------------
// Checks: each returns the problems it found, one line each.

/// Every file a module names exists (globs match at least one file) and every `:module`
/// reference names a module of this file.
fn check_paths(tree: &Tree) -> Vec<String> {
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

/// Files under `root` matching `pattern` (`*` within a component, `**` across directories).
fn glob(root: &Path, pattern: &str) -> Vec<PathBuf> {
    fn walk(dir: &Path, parts: &[&str], out: &mut Vec<PathBuf>) {
        let Some((first, rest)) = parts.split_first() else {
            if dir.is_file() {
                out.push(dir.to_path_buf());
            }
            return;
        };
        if *first == "**" {
            walk(dir, rest, out);
        }
        let Ok(entries) = fs::read_dir(dir) else { return };
        for entry in entries.flatten() {
            let file = entry.file_name().to_string_lossy().into_owned();
            if *first == "**" {
                if entry.path().is_dir() {
                    walk(&entry.path(), parts, out);
                }
            } else if wildcard_match(first, &file) {
                walk(&entry.path(), rest, out);
            }
        }
    }
    let parts: Vec<&str> = pattern.split('/').collect();
    let mut out = Vec::new();
    walk(root, &parts, &mut out);
    out
}

fn wildcard_match(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((prefix, rest)) => {
            let Some(tail) = name.strip_prefix(prefix) else { return false };
            (0..=tail.len()).any(|i| tail.is_char_boundary(i) && wildcard_match(rest, &tail[i..]))
        }
    }
}

/// Every crate has `lib<crate>` and a unit-test module compiling its library root, every
/// Cargo binary a `rust_binary` compiling the same file; names, crate names, editions and
/// the Cargo version agree; no Rust module compiles a file that is no Cargo target.
fn check_modules(tree: &Tree) -> Vec<String> {
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

fn check_crate_name(m: &Module, expected: &str, required: bool, problems: &mut Vec<String>) {
    match m.string("crate_name") {
        Some(name) if name == expected => {}
        None if !required => {}
        other => problems.push(format!("{}: crate_name {other:?}, expected {expected:?}", m.name)),
    }
}

/// What a Rust module builds, in Cargo terms.
enum Role<'a> {
    Library(&'a Crate),
    UnitTests(&'a Crate),
    IntegrationTest(&'a Crate, String),
    Binary(&'a Crate),
    BuildScript(&'a Crate),
}

fn role<'a>(ws: &'a Workspace, m: &Module) -> Option<Role<'a>> {
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
            "rust_binary" | "rust_binary_host" if krate.bins.iter().any(|b| b.path == root) => {
                return Some(Role::Binary(krate))
            }
            "rust_binary_host" if krate.build_script.as_deref() == Some(root.as_str()) => {
                return Some(Role::BuildScript(krate))
            }
            _ => {}
        }
    }
    None
}

fn owning_crate<'a>(ws: &'a Workspace, m: &Module) -> Option<&'a Crate> {
    match role(ws, m)? {
        Role::Library(c)
        | Role::UnitTests(c)
        | Role::IntegrationTest(c, _)
        | Role::Binary(c)
        | Role::BuildScript(c) => Some(c),
    }
}

/// Each Rust module's rustlibs are exactly the Cargo dependencies of what it builds, mapped
/// through [`AOSP_CRATE_MODULES`]: `[dependencies]` for a library; plus the library itself
/// for binaries and integration tests; plus the dev-dependencies the tested sources name for
/// test modules; `[build-dependencies]` for a build script compiled as a host tool.
/// Android-only dependencies go under `target: { android: { ... } }`.
fn check_dependencies(tree: &Tree) -> Vec<String> {
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
                         AOSP_CRATE_MODULES in android_packaging.rs and to {} in Android.bp",
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
        let before = &code[..i];
        let prev = before.chars().next_back();
        !prev.is_some_and(|c| c.is_alphanumeric() || c == '_') && !before.ends_with("::")
    })
}

fn rust_sources(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = fs::read_dir(dir) else { return out };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            out.extend(rust_sources(&path));
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
    out.sort();
    out
}

/// A workspace library is built with exactly the features its dependents ask Cargo for
/// (Soong builds one configuration per module), and every Soong feature exists in Cargo.
/// Dev-dependency features do not count: they serve host `cargo test` builds (the fake heap
/// of `allocator_service/fake-heap`), which must not reach the device.
fn check_features(tree: &Tree) -> Vec<String> {
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
fn check_build_scripts(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    for krate in &tree.workspace.crates {
        let Some(script) = &krate.build_script else { continue };
        // A build script whose output only Cargo tests read (the mapper's C layout check)
        // has nothing for Soong to generate.
        let lib_reads_out_dir = krate.lib_dir().is_some_and(|d| {
            rust_sources(&tree.root.join(d)).iter().any(|f| {
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
            let rest = &text[i + prefix.len()..];
            rest.split_once('"').map(|(s, _)| s.to_owned())
        })
        .collect()
}

/// Every board file is installed by a `prebuilt_etc` named `gralloc_board.<stem>` under
/// `/vendor/etc/gralloc/`.
fn check_boards(tree: &Tree) -> Vec<String> {
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

// ---------------------------------------------------------------------------------------
// VINTF, init and SELinux

/// A parsed XML element: enough structure for the VINTF fragment.
#[derive(Debug, Default)]
struct Element {
    name: String,
    attrs: BTreeMap<String, String>,
    children: Vec<Element>,
    text: String,
}

impl Element {
    fn child(&self, name: &str) -> Option<&Element> {
        self.children.iter().find(|c| c.name == name)
    }

    fn child_text(&self, name: &str) -> Option<&str> {
        self.child(name).map(|c| c.text.trim())
    }

    fn attr(&self, name: &str) -> Option<&str> {
        self.attrs.get(name).map(String::as_str)
    }
}

/// Parses a well-formed XML document: balanced, matching tags, one root, no stray text.
fn parse_xml(text: &str) -> Result<Element, String> {
    let mut reader = Reader::from_str(text);
    let mut stack: Vec<Element> = Vec::new();
    let mut root: Option<Element> = None;
    fn attach(
        stack: &mut [Element],
        root: &mut Option<Element>,
        el: Element,
    ) -> Result<(), String> {
        match stack.last_mut() {
            Some(parent) => parent.children.push(el),
            None if root.is_none() => *root = Some(el),
            None => return Err(format!("second root element <{}>", el.name)),
        }
        Ok(())
    }
    fn element(start: &BytesStart<'_>) -> Result<Element, String> {
        let mut el = Element { name: start.name().as_ref().to_owned(), ..Element::default() };
        for attr in start.attributes() {
            let attr = attr.map_err(|e| format!("bad attribute in <{}>: {e}", el.name))?;
            let value =
                attr.normalized_value(XmlVersion::Implicit1_0).map_err(|e| e.to_string())?;
            el.attrs.insert(attr.key.as_ref().to_owned(), value.into_owned());
        }
        Ok(el)
    }
    loop {
        let event =
            reader.read_event().map_err(|e| format!("at byte {}: {e}", reader.error_position()))?;
        match event {
            Event::Start(start) => stack.push(element(&start)?),
            Event::Empty(start) => attach(&mut stack, &mut root, element(&start)?)?,
            Event::End(_) => {
                let el = stack.pop().ok_or("end tag without a start tag")?;
                attach(&mut stack, &mut root, el)?;
            }
            Event::Text(text) => match stack.last_mut() {
                Some(top) => top.text.push_str(&text.xml10_content()),
                None if text.trim().is_empty() => {}
                None => return Err(format!("text outside the root element: {:?}", &*text)),
            },
            Event::CData(_) | Event::GeneralRef(_) => {
                return Err(
                    "CDATA and entity references are not expected in a VINTF fragment".to_owned()
                )
            }
            Event::Eof => break,
            Event::Comment(_) | Event::Decl(_) | Event::PI(_) | Event::DocType(_) => {}
        }
    }
    if let Some(open) = stack.last() {
        return Err(format!("<{}> is never closed", open.name));
    }
    root.ok_or_else(|| "no root element".to_owned())
}

/// What the fragment declares: the allocator instance (`<package>.<fqname>`) and the
/// mapper instance.
struct Vintf {
    allocator_instance: String,
    mapper_instance: Option<String>,
}

fn parse_vintf(xml: &str, problems: &mut Vec<String>) -> Option<Vintf> {
    let root = match parse_xml(xml) {
        Ok(root) => root,
        Err(e) => {
            problems.push(format!("{VINTF_XML}: not well-formed: {e}"));
            return None;
        }
    };
    if root.name != "manifest"
        || root.attr("version") != Some("1.0")
        || root.attr("type") != Some("device")
    {
        problems
            .push(format!("{VINTF_XML}: root must be <manifest version=\"1.0\" type=\"device\">"));
    }
    let hals: Vec<&Element> = root.children.iter().filter(|c| c.name == "hal").collect();
    let allocator: Vec<&&Element> = hals
        .iter()
        .filter(|h| {
            h.attr("format") == Some("aidl") && h.child_text("name") == Some(ALLOCATOR_PACKAGE)
        })
        .collect();
    let [allocator] = allocator.as_slice() else {
        problems.push(format!(
            "{VINTF_XML}: expected one <hal format=\"aidl\"> named {ALLOCATOR_PACKAGE}"
        ));
        return None;
    };
    let version = hal_interface::aidl::INTERFACE_VERSION.to_string();
    if allocator.child_text("version") != Some(version.as_str()) {
        problems.push(format!(
            "{VINTF_XML}: allocator <version> {:?}, hal_interface implements {version}",
            allocator.child_text("version")
        ));
    }
    let fqname = match (allocator.child_text("fqname"), allocator.child("interface")) {
        (Some(fq), None) => fq.to_owned(),
        (None, Some(i)) => format!(
            "{}/{}",
            i.child_text("name").unwrap_or(""),
            i.child_text("instance").unwrap_or("")
        ),
        _ => {
            problems.push(format!(
                "{VINTF_XML}: allocator needs exactly one of <fqname> or <interface>"
            ));
            String::new()
        }
    };
    if fqname != ALLOCATOR_FQNAME {
        problems.push(format!(
            "{VINTF_XML}: allocator instance {fqname:?}, expected {ALLOCATOR_FQNAME}"
        ));
    }
    let mapper: Vec<&&Element> = hals
        .iter()
        .filter(|h| h.attr("format") == Some("native") && h.child_text("name") == Some("mapper"))
        .collect();
    let mapper_instance = match mapper.as_slice() {
        [m] => {
            if m.child_text("version") != Some(MAPPER_VERSION) {
                problems.push(format!("{VINTF_XML}: mapper <version> must be {MAPPER_VERSION}"));
            }
            m.child("interface").and_then(|i| i.child_text("instance")).map(str::to_owned)
        }
        _ => {
            problems
                .push(format!("{VINTF_XML}: expected one <hal format=\"native\"> named mapper"));
            None
        }
    };
    Some(Vintf { allocator_instance: format!("{ALLOCATOR_PACKAGE}.{fqname}"), mapper_instance })
}

fn check_vintf(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    let Some(vintf) = parse_vintf(&tree.vintf_xml, &mut problems) else { return problems };
    if vintf.allocator_instance != hal_interface::transport::SERVICE_NAME {
        problems.push(format!(
            "{VINTF_XML}: declares {}, but the daemon registers {}",
            vintf.allocator_instance,
            hal_interface::transport::SERVICE_NAME
        ));
    }
    let board: toml::Table = match toml::from_str(&tree.reference_board) {
        Ok(t) => t,
        Err(e) => {
            problems.push(format!("{REFERENCE_BOARD}: {e}"));
            return problems;
        }
    };
    let suffix =
        board.get("board").and_then(|b| b.get("mapper_suffix")).and_then(toml::Value::as_str);
    match (suffix, vintf.mapper_instance.as_deref()) {
        (Some(s), Some(i)) if s == i => {}
        (suffix, instance) => problems.push(format!(
            "{VINTF_XML}: mapper instance {instance:?}, but {REFERENCE_BOARD} has mapper_suffix {suffix:?} \
             (getIMapperLibrarySuffix must name the declared mapper)"
        )),
    }
    let daemon = tree.blueprint.module(DAEMON_MODULE);
    if !daemon.is_some_and(|d| d.strings(&["vintf_fragments"]).contains(&VINTF_XML.to_owned())) {
        problems.push(format!("{DAEMON_MODULE}: vintf_fragments must list {VINTF_XML}"));
    }
    problems
}

struct RcService {
    name: String,
    argv: Vec<String>,
    options: Vec<Vec<String>>,
}

impl RcService {
    /// Every line of option `name`, as words (the option name first).
    fn option<'a>(&'a self, name: &'a str) -> impl Iterator<Item = &'a Vec<String>> + 'a {
        self.options.iter().filter(move |o| o.first().is_some_and(|f| f == name))
    }
}

/// Parses an init script: sections (`service`, `on`, `import`) at column 0, their commands
/// or options indented below them.
fn parse_rc(text: &str, problems: &mut Vec<String>) -> Vec<RcService> {
    let mut services: Vec<RcService> = Vec::new();
    let mut in_service = false;
    let mut in_section = false;
    for (n, line) in text.lines().enumerate() {
        let line_no = n + 1;
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        let Some(first) = words.first() else { continue };
        if first.starts_with('#') {
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            in_service = first == "service";
            in_section = matches!(first.as_str(), "service" | "on" | "import");
            match first.as_str() {
                "service" if words.len() >= 3 => services.push(RcService {
                    name: words[1].clone(),
                    argv: words[2..].to_vec(),
                    options: Vec::new(),
                }),
                "service" => {
                    problems.push(format!("{INIT_RC}:{line_no}: service needs a name and a path"))
                }
                "on" | "import" => {}
                other => {
                    problems.push(format!("{INIT_RC}:{line_no}: unknown section keyword {other:?}"))
                }
            }
        } else if !in_section {
            problems.push(format!("{INIT_RC}:{line_no}: indented line outside a section"));
        } else if in_service {
            if !INIT_SERVICE_OPTIONS.contains(&first.as_str()) {
                problems.push(format!("{INIT_RC}:{line_no}: unknown service option {first:?}"));
            }
            if let Some(service) = services.last_mut() {
                service.options.push(words);
            }
        }
    }
    services
}

/// The init script starts the installed daemon under the instance the VINTF fragment
/// declares, with the §9.2 conventions (class hal, user system, restart of SurfaceFlinger,
/// not critical).
fn check_init_rc(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    let mut vintf_problems = Vec::new();
    let instance = parse_vintf(&tree.vintf_xml, &mut vintf_problems).map_or_else(
        || format!("{ALLOCATOR_PACKAGE}.{ALLOCATOR_FQNAME}"),
        |v| v.allocator_instance,
    );
    let services = parse_rc(&tree.init_rc, &mut problems);
    let path = format!("/vendor/bin/hw/{DAEMON_MODULE}");
    let daemon: Vec<&RcService> =
        services.iter().filter(|s| s.argv.first() == Some(&path)).collect();
    let [service] = daemon.as_slice() else {
        let found: Vec<&str> =
            services.iter().filter_map(|s| s.argv.first().map(String::as_str)).collect();
        problems.push(format!("{INIT_RC}: expected one service running {path}, found {found:?}"));
        return problems;
    };
    let option = |name: &'static str| service.option(name);
    let interfaces: Vec<String> = option("interface").map(|o| o[1..].join(" ")).collect();
    if interfaces != [format!("aidl {instance}")] {
        problems.push(format!(
            "{INIT_RC}: service {} declares interfaces {interfaces:?}, the VINTF fragment declares aidl {instance}",
            service.name
        ));
    }
    if !option("class").any(|o| o.iter().any(|w| w == "hal")) {
        problems.push(format!("{INIT_RC}: service {} must be in class hal", service.name));
    }
    if !option("user").any(|o| o.get(1).is_some_and(|u| u == "system")) {
        problems.push(format!("{INIT_RC}: service {} must run as user system", service.name));
    }
    if option("critical").next().is_some() {
        problems.push(format!(
            "{INIT_RC}: service {} must not be critical (reboots to bootloader)",
            service.name
        ));
    }
    if !option("onrestart").any(|o| o[1..] == ["restart", "surfaceflinger"]) {
        problems.push(format!(
            "{INIT_RC}: service {} must restart surfaceflinger when it restarts",
            service.name
        ));
    }
    check_board_argument(service, &mut problems);
    let realtime = uses_realtime_scheduling(&tree.root.join(SERVICE_SOURCES));
    let sys_nice = service.option("capabilities").any(|o| o.iter().any(|w| w == "SYS_NICE"));
    if realtime != sys_nice {
        problems.push(format!(
            "{INIT_RC}: capabilities SYS_NICE is {}, but the daemon {} real-time scheduling",
            if sys_nice { "granted" } else { "missing" },
            if realtime { "uses" } else { "does not use" }
        ));
    }
    let daemon_module = tree.blueprint.module(DAEMON_MODULE);
    match daemon_module {
        None => problems.push(format!("Android.bp: no module {DAEMON_MODULE}")),
        Some(m) => {
            if m.bool("vendor") != Some(true) || m.string("relative_install_path") != Some("hw") {
                problems.push(format!("{DAEMON_MODULE}: must be vendor: true with relative_install_path: \"hw\" to land at {path}"));
            }
            if !m.strings(&["init_rc"]).contains(&INIT_RC.to_owned()) {
                problems.push(format!("{DAEMON_MODULE}: init_rc must list {INIT_RC}"));
            }
        }
    }
    problems
}

/// A `--board` argument is the board property with the daemon's default as fallback, so
/// init expands it and an unset property still starts the daemon.
fn check_board_argument(service: &RcService, problems: &mut Vec<String>) {
    let expected = format!("${{{BOARD_PROPERTY}:-{ANDROID_DEFAULT_BOARD}}}");
    let board_args: Vec<&[String]> =
        service.argv.windows(2).filter(|w| w[0] == "--board").collect();
    match board_args.as_slice() {
        [] => {}
        [[_, value]] if *value == expected => {}
        other => problems.push(format!(
            "{INIT_RC}: service {} passes --board {:?}, expected --board {expected}",
            service.name,
            other.iter().map(|w| w[1].as_str()).collect::<Vec<_>>()
        )),
    }
}

/// Whether the daemon's sources switch to a real-time policy (comments ignored).
fn uses_realtime_scheduling(dir: &Path) -> bool {
    rust_sources(dir).iter().filter_map(|p| fs::read_to_string(p).ok()).any(|text| {
        text.lines().map(|l| l.split("//").next().unwrap_or("")).any(|code| {
            ["sched_setscheduler", "SCHED_FIFO", "SCHED_RR"].iter().any(|call| code.contains(call))
        })
    })
}

/// The device `file_contexts` labels the installed daemon `hal_graphics_allocator_default_exec`
/// (AOSP's own regex covers only `...allocator-V[1-2]-service` and `...allocator-service`).
fn check_file_contexts(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    let path = format!("/vendor/bin/hw/{DAEMON_MODULE}");
    let labelled: Vec<String> = tree
        .file_contexts
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .filter_map(|l| {
            let mut words = l.split_whitespace();
            let regex = words.next()?;
            let context = words.last()?;
            context
                .contains(":hal_graphics_allocator_default_exec:")
                .then(|| regex.replace("\\.", "."))
        })
        .collect();
    if !labelled.contains(&path) {
        problems.push(format!(
            "{FILE_CONTEXTS}: no literal line labels {path} hal_graphics_allocator_default_exec (found {labelled:?})"
        ));
    }
    problems
}

/// The vendor `property_contexts` gives the daemon's board property a context.
fn check_property_contexts(tree: &Tree) -> Vec<String> {
    let declared = tree
        .property_contexts
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .any(|l| l.split_whitespace().next() == Some(BOARD_PROPERTY));
    if declared {
        Vec::new()
    } else {
        vec![format!("{PROPERTY_CONTEXTS}: no line for {BOARD_PROPERTY}")]
    }
}

/// Soong's `cargo_env_compat` sets CARGO_MANIFEST_DIR to the `Android.bp` directory, not
/// the crate's, so a compile-time include built from it breaks the Soong build.
fn check_manifest_dir_includes(tree: &Tree) -> Vec<String> {
    let mut problems = Vec::new();
    let mut files = BTreeSet::new();
    for m in tree.blueprint.rust_modules() {
        match role(&tree.workspace, m) {
            Some(Role::Library(c) | Role::UnitTests(c)) => {
                files.extend(
                    c.lib_dir().map(|d| rust_sources(&tree.root.join(d))).unwrap_or_default(),
                );
            }
            Some(Role::Binary(_) | Role::IntegrationTest(..) | Role::BuildScript(_)) => {
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
                    n + 1
                ));
            }
        }
    }
    problems
}

// ---------------------------------------------------------------------------------------
// Tests on the real tree

#[test]
fn every_path_in_android_bp_exists() {
    assert_no_problems("paths", &check_paths(&Tree::load()));
}

#[test]
fn every_cargo_target_has_a_soong_module_with_matching_names_and_edition() {
    assert_no_problems("modules", &check_modules(&Tree::load()));
}

#[test]
fn rustlibs_are_exactly_the_cargo_dependencies() {
    assert_no_problems("dependencies", &check_dependencies(&Tree::load()));
}

#[test]
fn library_features_match_what_the_workspace_requests() {
    assert_no_problems("features", &check_features(&Tree::load()));
}

#[test]
fn build_scripts_run_as_genrules_feeding_their_library() {
    assert_no_problems("build scripts", &check_build_scripts(&Tree::load()));
}

#[test]
fn every_board_file_is_installed_by_a_prebuilt_etc() {
    assert_no_problems("boards", &check_boards(&Tree::load()));
}

#[test]
fn vintf_fragment_declares_allocator_v2_and_the_board_mapper() {
    assert_no_problems("vintf", &check_vintf(&Tree::load()));
}

#[test]
fn init_rc_starts_the_installed_daemon_as_the_vintf_instance() {
    assert_no_problems("init rc", &check_init_rc(&Tree::load()));
}

#[test]
fn file_contexts_label_the_installed_daemon() {
    assert_no_problems("file_contexts", &check_file_contexts(&Tree::load()));
}

#[test]
fn property_contexts_declare_the_board_property() {
    assert_no_problems("property_contexts", &check_property_contexts(&Tree::load()));
}

#[test]
fn soong_compiled_sources_do_not_include_from_cargo_manifest_dir() {
    assert_no_problems("CARGO_MANIFEST_DIR", &check_manifest_dir_includes(&Tree::load()));
}

// ---------------------------------------------------------------------------------------
// The checks fail on drift

#[test]
fn new_cargo_dependency_without_rustlib_is_detected() {
    let mut tree = Tree::load();
    let usage_map =
        tree.workspace.crates.iter_mut().find(|c| c.package == "usage_map").expect("usage_map");
    usage_map.deps.insert("nix".to_owned(), Dep { default_features: true, ..Dep::default() });

    let problems = check_dependencies(&tree);

    assert_reported(&problems, "libusage_map: rustlibs lacks libnix");
}

#[test]
fn dependency_without_aosp_name_is_detected() {
    let mut tree = Tree::load();
    let heaps = tree.workspace.crates.iter_mut().find(|c| c.package == "heaps").expect("heaps");
    heaps.deps.insert("memmap2".to_owned(), Dep { default_features: true, ..Dep::default() });

    let problems = check_dependencies(&tree);

    assert_reported(&problems, "Cargo dependency memmap2 has no AOSP module name");
}

#[test]
fn removed_rustlib_is_detected() {
    let tree = Tree::load().with_blueprint_edit("\"libtoml\",", "");

    let problems = check_dependencies(&tree);

    assert_reported(&problems, "lacks libtoml");
}

#[test]
fn moved_source_is_detected() {
    let tree = Tree::load()
        .with_blueprint_edit("\"usage-map/src/lib.rs\"", "\"usage-map/src/usage_map.rs\"");

    let paths = check_paths(&tree);
    let modules = check_modules(&tree);

    assert_reported(&paths, "usage-map/src/usage_map.rs, which does not exist");
    assert_reported(&modules, "no rust_library compiles usage-map/src/lib.rs");
}

#[test]
fn wrong_edition_is_detected() {
    let tree = Tree::load().with_blueprint_edit("edition: \"2021\"", "edition: \"2018\"");

    let problems = check_modules(&tree);

    assert_reported(&problems, "edition Some(\"2018\")");
}

#[test]
fn board_without_prebuilt_etc_is_detected() {
    let tree = Tree::load()
        .with_blueprint_edit("name: \"gralloc_board.hikey960\"", "name: \"gralloc_board.other\"");

    let problems = check_boards(&tree);

    assert_reported(&problems, "no prebuilt_etc named gralloc_board.hikey960");
}

#[test]
fn vintf_version_other_than_hal_interface_is_detected() {
    let mut tree = Tree::load();
    tree.vintf_xml = tree.vintf_xml.replacen("<version>2</version>", "<version>3</version>", 1);

    let problems = check_vintf(&tree);

    assert_reported(&problems, "allocator <version> Some(\"3\")");
}

#[test]
fn malformed_vintf_is_detected() {
    let mut tree = Tree::load();
    tree.vintf_xml = tree.vintf_xml.replacen("</fqname>", "</fqnam>", 1);

    let problems = check_vintf(&tree);

    assert_reported(&problems, "not well-formed");
}

#[test]
fn mapper_suffix_other_than_the_board_is_detected() {
    let mut tree = Tree::load();
    tree.reference_board =
        tree.reference_board.replacen("mapper_suffix = \"", "mapper_suffix = \"not-", 1);

    let problems = check_vintf(&tree);

    assert_reported(&problems, "mapper_suffix Some(\"not-");
}

#[test]
fn rc_instance_other_than_vintf_is_detected() {
    let mut tree = Tree::load();
    let line = "interface aidl android.hardware.graphics.allocator.IAllocator/default";
    assert!(tree.init_rc.contains(line), "{INIT_RC} lost its interface line: update this test");
    tree.init_rc = tree.init_rc.replacen(
        line,
        "interface aidl android.hardware.graphics.allocator.IAllocator/other",
        1,
    );

    let problems = check_init_rc(&tree);

    assert_reported(
        &problems,
        "declares interfaces [\"aidl android.hardware.graphics.allocator.IAllocator/other\"]",
    );
}

#[test]
fn rc_binary_path_other_than_the_module_is_detected() {
    let mut tree = Tree::load();
    let path = format!("/vendor/bin/hw/{DAEMON_MODULE}");
    tree.init_rc = tree.init_rc.replacen(
        &path,
        "/vendor/bin/hw/android.hardware.graphics.allocator-service.rs",
        1,
    );

    let problems = check_init_rc(&tree);

    assert_reported(&problems, "expected one service running /vendor/bin/hw/android.hardware.graphics.allocator-service.rust");
}

#[test]
fn misspelled_rc_option_is_detected() {
    let mut tree = Tree::load();
    tree.init_rc = tree.init_rc.replacen("    task_profiles", "    task_profile", 1);

    let problems = check_init_rc(&tree);

    assert_reported(&problems, "unknown service option \"task_profile\"");
}

#[test]
fn library_built_without_a_requested_feature_is_detected() {
    let mut tree = Tree::load();
    let service =
        tree.workspace.crates.iter_mut().find(|c| c.package == "allocator_service").unwrap();
    service.deps.get_mut("heaps").unwrap().features.insert("fake".to_owned());

    let problems = check_features(&tree);

    assert_reported(
        &problems,
        "libheaps: features {}, but the workspace builds heaps with {\"fake\"}",
    );
}

#[test]
fn test_only_feature_in_a_production_library_is_detected() {
    let tree = Tree::load().with_blueprint_edit(
        "name: \"heaps_defaults\",",
        "name: \"heaps_defaults\",\n    features: [\"fake\"],",
    );

    let problems = check_features(&tree);

    assert_reported(
        &problems,
        "libheaps: features {\"fake\"}, but the workspace builds heaps with {}",
    );
}

#[test]
fn library_without_its_generated_bindings_is_detected() {
    let tree =
        Tree::load().with_blueprint_edit("out: [\"gralloc.rs\"],", "out: [\"bindings.rs\"],");

    let problems = check_build_scripts(&tree);

    assert_reported(&problems, "hal_interface_aidl_rs: out lacks gralloc.rs");
}

#[test]
fn unlabelled_daemon_path_is_detected() {
    let mut tree = Tree::load();
    tree.file_contexts = tree.file_contexts.replace("service\\.rust", "service\\.rs");

    let problems = check_file_contexts(&tree);

    assert_reported(
        &problems,
        "no literal line labels /vendor/bin/hw/android.hardware.graphics.allocator-service.rust",
    );
}

#[test]
fn rc_board_argument_other_than_the_daemon_default_is_detected() {
    let mut tree = Tree::load();
    let argument = format!("${{{BOARD_PROPERTY}:-{ANDROID_DEFAULT_BOARD}}}");
    assert!(
        tree.init_rc.contains(&argument),
        "{INIT_RC} lost its --board argument: update this test"
    );
    tree.init_rc = tree.init_rc.replacen(&argument, "${ro.vendor.gralloc.board}", 1);

    let problems = check_init_rc(&tree);

    assert_reported(&problems, "passes --board [\"${ro.vendor.gralloc.board}\"]");
}

#[test]
fn sys_nice_without_real_time_scheduling_is_detected() {
    let mut tree = Tree::load();
    tree.init_rc = tree.init_rc.replacen(
        "    user system\n",
        "    user system\n    capabilities SYS_NICE\n",
        1,
    );

    let problems = check_init_rc(&tree);

    assert_reported(&problems, "capabilities SYS_NICE is granted, but the daemon does not use");
}

#[test]
fn vintf_instance_other_than_the_registered_name_is_detected() {
    let mut tree = Tree::load();
    tree.vintf_xml =
        tree.vintf_xml.replacen("<fqname>IAllocator/default<", "<fqname>IAllocator/other<", 1);

    let problems = check_vintf(&tree);

    assert_reported(
        &problems,
        "but the daemon registers android.hardware.graphics.allocator.IAllocator/default",
    );
}
