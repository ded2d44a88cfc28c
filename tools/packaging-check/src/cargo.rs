//! The Cargo side: workspace members as Soong needs to know them (targets, dependencies with
//! their features, build scripts), and the AOSP module name of each dependency.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::Path;

use crate::LoadError;

/// AOSP module of each third-party crate the workspace uses, by Cargo dependency key (the
/// names of `external/rust/crates`, or of the crates vendored beside rsbinder). Workspace
/// crates map to `lib<crate>` and need no entry. A new Cargo dependency needs a line here
/// and a rustlib in `Android.bp`.
pub(crate) const AOSP_CRATE_MODULES: &[(&str, &str)] = &[
    ("android_bp", "libandroid_bp"),
    ("android_logger", "libandroid_logger"),
    ("arbitrary", "libarbitrary"),
    ("clap", "libclap"),
    ("libc", "liblibc"),
    ("libfuzzer-sys", "liblibfuzzer_sys"),
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

/// Workspace members Soong does not build: host tools that read the source tree. They have
/// no module, and what they ask of other crates (features) is not what Soong builds, so the
/// checks leave them out of the workspace they compare.
pub(crate) const HOST_ONLY_MEMBERS: &[&str] = &["tools/packaging-check"];

/// The fuzz crate: a workspace of its own (cargo-fuzz, nightly), excluded from the root
/// one, whose library Soong builds as a `rust_library` and whose `[[bin]]` targets are
/// `rust_fuzz` modules (see `soong::FUZZ_MODULE_PREFIX`).
pub(crate) const FUZZ_CRATE: &str = "fuzz";

/// The workspace as Soong must restate it.
#[derive(Debug)]
pub(crate) struct Workspace {
    pub(crate) version: String,
    /// Members Soong builds (all but [`HOST_ONLY_MEMBERS`]), then [`FUZZ_CRATE`] when the
    /// tree has it.
    pub(crate) crates: Vec<Crate>,
}

/// One workspace member, paths relative to the workspace root.
#[derive(Debug)]
pub(crate) struct Crate {
    pub(crate) dir: String,
    pub(crate) package: String,
    pub(crate) edition: String,
    pub(crate) lib: Option<Target>,
    pub(crate) bins: Vec<Target>,
    pub(crate) build_script: Option<String>,
    pub(crate) deps: BTreeMap<String, Dep>,
    /// `[target.'cfg(target_os = "android")'.dependencies]`.
    pub(crate) android_deps: BTreeMap<String, Dep>,
    pub(crate) dev_deps: BTreeMap<String, Dep>,
    pub(crate) build_deps: BTreeMap<String, Dep>,
    pub(crate) features: BTreeMap<String, Vec<String>>,
    /// Manifest constructs this checker does not know how to map to Soong.
    pub(crate) unsupported: Vec<String>,
}

#[derive(Debug)]
pub(crate) struct Target {
    pub(crate) name: String,
    pub(crate) crate_name: String,
    pub(crate) path: String,
}

#[derive(Clone, Debug, Default)]
pub(crate) struct Dep {
    pub(crate) features: BTreeSet<String>,
    pub(crate) default_features: bool,
    pub(crate) optional: bool,
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
    /// Reads the root manifest and every member's.
    ///
    /// # Errors
    /// [`LoadError`] when a manifest is missing, is not TOML, or lacks a key every manifest
    /// of this workspace has (`[workspace]`, `members`, `workspace.package.version`,
    /// `[package]`, `package.name`).
    pub(crate) fn load(root: &Path) -> Result<Workspace, LoadError> {
        let path = root.join("Cargo.toml");
        let manifest = read_toml(&path)?;
        let missing =
            |what: &str| LoadError::Parse { path: path.clone(), reason: format!("no {what}") };
        let ws = manifest
            .get("workspace")
            .and_then(toml::Value::as_table)
            .ok_or_else(|| missing("[workspace]"))?;
        let package = ws.get("package").and_then(toml::Value::as_table);
        let inherited = |key: &str| {
            package.and_then(|p| p.get(key)).and_then(toml::Value::as_str).map(str::to_owned)
        };
        let ws_deps = ws.get("dependencies").and_then(toml::Value::as_table).cloned();
        let ws_deps = ws_deps.unwrap_or_default();
        let members = ws
            .get("members")
            .and_then(toml::Value::as_array)
            .ok_or_else(|| missing("workspace.members"))?;
        let mut crates = Vec::new();
        for m in members {
            let dir = m.as_str().ok_or_else(|| missing("string in workspace.members"))?;
            if !HOST_ONLY_MEMBERS.contains(&dir) {
                crates.push(Crate::load(root, dir, &ws_deps, &inherited)?);
            }
        }
        if root.join(FUZZ_CRATE).join("Cargo.toml").exists() {
            // Its own workspace: nothing inherited from the root one.
            crates.push(Crate::load(root, FUZZ_CRATE, &toml::Table::new(), &|_| None)?);
        }
        let version = inherited("version").ok_or_else(|| missing("workspace.package.version"))?;
        Ok(Workspace { version, crates })
    }

    pub(crate) fn crate_by_package(&self, package: &str) -> Option<&Crate> {
        self.crates.iter().find(|c| c.package == package)
    }
}

impl Crate {
    fn load(
        root: &Path,
        dir: &str,
        ws_deps: &toml::Table,
        inherited: &dyn Fn(&str) -> Option<String>,
    ) -> Result<Crate, LoadError> {
        let path = root.join(dir).join("Cargo.toml");
        let manifest = read_toml(&path)?;
        let missing =
            |what: &str| LoadError::Parse { path: path.clone(), reason: format!("no {what}") };
        let package = manifest
            .get("package")
            .and_then(toml::Value::as_table)
            .ok_or_else(|| missing("[package]"))?;
        let name = package
            .get("name")
            .and_then(toml::Value::as_str)
            .ok_or_else(|| missing("package.name"))?;
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
                        "{dir}: [target.'{cfg}'.{kind}] has no Soong mapping in tools/packaging-check"
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
        Ok(Crate {
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
        })
    }

    /// Whether this is [`FUZZ_CRATE`], whose binaries are fuzz targets.
    pub(crate) fn is_fuzz(&self) -> bool {
        self.dir == FUZZ_CRATE
    }

    pub(crate) fn lib_crate_name(&self) -> String {
        self.lib.as_ref().map_or_else(|| self.package.replace('-', "_"), |l| l.crate_name.clone())
    }

    /// `src/` of the library: where its unit tests live.
    pub(crate) fn lib_dir(&self) -> Option<String> {
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

fn read_toml(path: &Path) -> Result<toml::Table, LoadError> {
    let text = fs::read_to_string(path)
        .map_err(|source| LoadError::Read { path: path.to_path_buf(), source })?;
    toml::from_str(&text)
        .map_err(|e| LoadError::Parse { path: path.to_path_buf(), reason: e.to_string() })
}

fn string_array(v: &toml::Value) -> Vec<String> {
    v.as_array().into_iter().flatten().filter_map(toml::Value::as_str).map(str::to_owned).collect()
}

/// The AOSP module for Cargo dependency `key`, or `None` when the name table lacks it.
pub(crate) fn soong_module_for(key: &str, workspace: &Workspace) -> Option<String> {
    if let Some(c) = workspace.crate_by_package(key) {
        return Some(format!("lib{}", c.lib_crate_name()));
    }
    AOSP_CRATE_MODULES.iter().find(|(k, _)| *k == key).map(|(_, m)| (*m).to_owned())
}
