//! `packaging_check`: the Android packaging stays in step with Cargo and the tree.
//!
//! Soong cannot read Cargo manifests, so the root `Android.bp` restates them: module names,
//! sources, crate names, editions, features and dependencies. This crate parses it with a
//! Blueprint parser (`android_bp`) and compares it with every workspace manifest (`toml`) and
//! the file tree; it also checks the init `.rc`, the VINTF fragment (`quick-xml`) and the
//! SELinux contexts under `service/init/` against each other, against `hal_interface`, the
//! daemon's constants and the HiKey960 board's mapper suffix.
//!
//! Any drift fails `cargo test` on the host rather than somebody's AOSP build: a Cargo
//! dependency without its rustlib, a moved source, a new binary or board file without a
//! module, a VINTF version other than the one `hal_interface` implements. The unit tests run
//! every check on the real tree and on deliberately broken copies, so every check is seen
//! failing. The `packaging-check` binary prints the findings for a given repository root.
//!
//! One module per format: `cargo` (workspace manifests), `blueprint` (`Android.bp` with
//! defaults merged), `vintf`, `rc` (init script) and `sepolicy`; `soong` holds the checks
//! between Cargo and Soong.
//!
//! The fuzz crate (`fuzz/`, a Cargo workspace of its own) is compared too: its library is
//! `libgralloc_fuzz` and each fuzz target the `rust_fuzz` module `gralloc_fuzz_<target>`
//! with its seed corpus.
//!
//! This crate is host-only (it reads the source tree): it has no Soong module, and the
//! checks leave it out of the workspace they compare (`cargo::HOST_ONLY_MEMBERS`).

#![forbid(unsafe_code)]

mod blueprint;
mod cargo;
mod rc;
mod sepolicy;
mod soong;
mod vintf;

mod files;
#[cfg(test)]
mod tests;

use std::fs;
use std::path::{Path, PathBuf};

use blueprint::Blueprint;
use cargo::Workspace;

/// Soong module of the daemon: the HAL naming convention, not the Cargo binary name.
pub(crate) const DAEMON_MODULE: &str = "android.hardware.graphics.allocator-service.rust";

/// The init script of the daemon, relative to the repository root.
pub(crate) const INIT_RC: &str = "service/init/android.hardware.graphics.allocator-service.rust.rc";
/// The VINTF manifest fragment of the daemon.
pub(crate) const VINTF_XML: &str =
    "service/init/android.hardware.graphics.allocator-service.rust.xml";
/// The device `file_contexts` additions.
pub(crate) const FILE_CONTEXTS: &str = "service/init/sepolicy/file_contexts";
/// The vendor `property_contexts` additions.
pub(crate) const PROPERTY_CONTEXTS: &str = "service/init/sepolicy/property_contexts";
/// The board whose mapper suffix the shipped VINTF fragment declares.
pub(crate) const REFERENCE_BOARD: &str = "usage-map/boards/hikey960.toml";

/// Why a tree could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum LoadError {
    /// A file the checks compare could not be read.
    #[error("reading {path}: {source}")]
    Read {
        /// The file, as joined to the root.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// A manifest or `Android.bp` is not what the checks can compare.
    #[error("{path}: {reason}")]
    Parse {
        /// The file, as joined to the root.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
}

/// Everything the checks compare, loaded from a repository root; the unit tests replace
/// parts of it with broken copies.
#[derive(Debug)]
pub struct Tree {
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
    /// Reads the workspace manifests, `Android.bp` and the init, VINTF, SELinux and
    /// reference board files under `root`.
    ///
    /// # Errors
    /// [`LoadError`] when a file is missing or a manifest or `Android.bp` does not parse.
    pub fn load(root: &Path) -> Result<Tree, LoadError> {
        Ok(Tree {
            workspace: Workspace::load(root)?,
            blueprint: Blueprint::parse(&read(root, "Android.bp")?)
                .map_err(|reason| LoadError::Parse { path: root.join("Android.bp"), reason })?,
            init_rc: read(root, INIT_RC)?,
            vintf_xml: read(root, VINTF_XML)?,
            file_contexts: read(root, FILE_CONTEXTS)?,
            property_contexts: read(root, PROPERTY_CONTEXTS)?,
            reference_board: read(root, REFERENCE_BOARD)?,
            root: root.to_path_buf(),
        })
    }

    /// The repository root the tree was loaded from.
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn exists(&self, rel: &str) -> bool {
        self.root.join(rel).exists()
    }
}

fn read(root: &Path, rel: &str) -> Result<String, LoadError> {
    let path = root.join(rel);
    fs::read_to_string(&path).map_err(|source| LoadError::Read { path, source })
}

/// A check: its name and the function returning its problems, one line each.
pub type Check = (&'static str, fn(&Tree) -> Vec<String>);

/// Every check, in the order [`run_all`] runs them.
pub const CHECKS: &[Check] = &[
    ("paths", soong::check_paths),
    ("modules", soong::check_modules),
    ("dependencies", soong::check_dependencies),
    ("features", soong::check_features),
    ("build scripts", soong::check_build_scripts),
    ("boards", soong::check_boards),
    ("vintf", vintf::check_vintf),
    ("init rc", rc::check_init_rc),
    ("file_contexts", sepolicy::check_file_contexts),
    ("property_contexts", sepolicy::check_property_contexts),
    ("CARGO_MANIFEST_DIR", soong::check_manifest_dir_includes),
];

/// One problem one check found.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Finding {
    /// The check's name in [`CHECKS`].
    pub check: &'static str,
    /// What is wrong, naming the file or module.
    pub problem: String,
}

/// Runs every check of [`CHECKS`] on `tree`.
pub fn run_all(tree: &Tree) -> Vec<Finding> {
    CHECKS
        .iter()
        .flat_map(|(check, run)| run(tree).into_iter().map(|problem| Finding { check, problem }))
        .collect()
}
