//! Every check on the real tree (this repository, found from `CARGO_MANIFEST_DIR`), and on
//! deliberately broken copies of it so that every check is seen failing.

use std::fs;
use std::path::Path;

use allocator_service::daemon::{ANDROID_DEFAULT_BOARD, BOARD_PROPERTY};

use crate::blueprint::Blueprint;
use crate::cargo::{Dep, HOST_ONLY_MEMBERS};
use crate::rc::check_init_rc;
use crate::sepolicy::{check_file_contexts, check_property_contexts};
use crate::soong::{
    check_boards, check_build_scripts, check_dependencies, check_features,
    check_manifest_dir_includes, check_modules, check_paths,
};
use crate::vintf::check_vintf;
use crate::{Tree, DAEMON_MODULE, INIT_RC};

impl Tree {
    /// The repository this crate sits in (`tools/packaging-check/` under the root).
    fn load_repo() -> Tree {
        let root = Path::new(env!("CARGO_MANIFEST_DIR"))
            .parent()
            .and_then(Path::parent)
            .expect("the crate sits two levels below the workspace root");
        Tree::load(root).unwrap_or_else(|e| panic!("{e}"))
    }

    fn with_blueprint_edit(mut self, from: &str, to: &str) -> Tree {
        let text = fs::read_to_string(self.root.join("Android.bp")).expect("reading Android.bp");
        assert!(text.contains(from), "Android.bp no longer contains {from:?}: update this test");
        self.blueprint =
            Blueprint::parse(&text.replacen(from, to, 1)).unwrap_or_else(|e| panic!("{e}"));
        self
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
// Tests on the real tree

#[test]
fn every_path_in_android_bp_exists() {
    assert_no_problems("paths", &check_paths(&Tree::load_repo()));
}

#[test]
fn every_cargo_target_has_a_soong_module_with_matching_names_and_edition() {
    assert_no_problems("modules", &check_modules(&Tree::load_repo()));
}

#[test]
fn rustlibs_are_exactly_the_cargo_dependencies() {
    assert_no_problems("dependencies", &check_dependencies(&Tree::load_repo()));
}

#[test]
fn library_features_match_what_the_workspace_requests() {
    assert_no_problems("features", &check_features(&Tree::load_repo()));
}

#[test]
fn build_scripts_run_as_genrules_feeding_their_library() {
    assert_no_problems("build scripts", &check_build_scripts(&Tree::load_repo()));
}

#[test]
fn every_board_file_is_installed_by_a_prebuilt_etc() {
    assert_no_problems("boards", &check_boards(&Tree::load_repo()));
}

#[test]
fn vintf_fragment_declares_allocator_v2_and_the_board_mapper() {
    assert_no_problems("vintf", &check_vintf(&Tree::load_repo()));
}

#[test]
fn init_rc_starts_the_installed_daemon_as_the_vintf_instance() {
    assert_no_problems("init rc", &check_init_rc(&Tree::load_repo()));
}

#[test]
fn file_contexts_label_the_installed_daemon() {
    assert_no_problems("file_contexts", &check_file_contexts(&Tree::load_repo()));
}

#[test]
fn property_contexts_declare_the_board_property() {
    assert_no_problems("property_contexts", &check_property_contexts(&Tree::load_repo()));
}

#[test]
fn soong_compiled_sources_do_not_include_from_cargo_manifest_dir() {
    assert_no_problems("CARGO_MANIFEST_DIR", &check_manifest_dir_includes(&Tree::load_repo()));
}

#[test]
fn host_only_members_are_workspace_members_without_soong_modules() {
    let tree = Tree::load_repo();
    let manifest: toml::Table =
        toml::from_str(&fs::read_to_string(tree.root.join("Cargo.toml")).unwrap()).unwrap();
    let members = manifest["workspace"]["members"].as_array().unwrap();

    for dir in HOST_ONLY_MEMBERS {
        assert!(members.iter().any(|m| m.as_str() == Some(dir)), "{dir} is no workspace member");
        assert!(
            tree.blueprint
                .rust_modules()
                .all(|m| !m.strings(&["srcs"]).iter().any(|s| s.starts_with(&format!("{dir}/")))),
            "{dir} is host-only, yet a Soong module compiles its sources"
        );
    }
}

// ---------------------------------------------------------------------------------------
// The checks fail on drift

#[test]
fn new_cargo_dependency_without_rustlib_is_detected() {
    let mut tree = Tree::load_repo();
    let usage_map =
        tree.workspace.crates.iter_mut().find(|c| c.package == "usage_map").expect("usage_map");
    usage_map.deps.insert("nix".to_owned(), Dep { default_features: true, ..Dep::default() });

    let problems = check_dependencies(&tree);

    assert_reported(&problems, "libusage_map: rustlibs lacks libnix");
}

#[test]
fn dependency_without_aosp_name_is_detected() {
    let mut tree = Tree::load_repo();
    let heaps = tree.workspace.crates.iter_mut().find(|c| c.package == "heaps").expect("heaps");
    heaps.deps.insert("memmap2".to_owned(), Dep { default_features: true, ..Dep::default() });

    let problems = check_dependencies(&tree);

    assert_reported(&problems, "Cargo dependency memmap2 has no AOSP module name");
}

#[test]
fn removed_rustlib_is_detected() {
    let tree = Tree::load_repo().with_blueprint_edit("\"libtoml\",", "");

    let problems = check_dependencies(&tree);

    assert_reported(&problems, "lacks libtoml");
}

#[test]
fn moved_source_is_detected() {
    let tree = Tree::load_repo()
        .with_blueprint_edit("\"usage-map/src/lib.rs\"", "\"usage-map/src/usage_map.rs\"");

    let paths = check_paths(&tree);
    let modules = check_modules(&tree);

    assert_reported(&paths, "usage-map/src/usage_map.rs, which does not exist");
    assert_reported(&modules, "no rust_library compiles usage-map/src/lib.rs");
}

#[test]
fn wrong_edition_is_detected() {
    let tree = Tree::load_repo().with_blueprint_edit("edition: \"2021\"", "edition: \"2018\"");

    let problems = check_modules(&tree);

    assert_reported(&problems, "edition Some(\"2018\")");
}

#[test]
fn board_without_prebuilt_etc_is_detected() {
    let tree = Tree::load_repo()
        .with_blueprint_edit("name: \"gralloc_board.hikey960\"", "name: \"gralloc_board.other\"");

    let problems = check_boards(&tree);

    assert_reported(&problems, "no prebuilt_etc named gralloc_board.hikey960");
}

#[test]
fn vintf_version_other_than_hal_interface_is_detected() {
    let mut tree = Tree::load_repo();
    tree.vintf_xml = tree.vintf_xml.replacen("<version>2</version>", "<version>3</version>", 1);

    let problems = check_vintf(&tree);

    assert_reported(&problems, "allocator <version> Some(\"3\")");
}

#[test]
fn malformed_vintf_is_detected() {
    let mut tree = Tree::load_repo();
    tree.vintf_xml = tree.vintf_xml.replacen("</fqname>", "</fqnam>", 1);

    let problems = check_vintf(&tree);

    assert_reported(&problems, "not well-formed");
}

#[test]
fn mapper_suffix_other_than_the_board_is_detected() {
    let mut tree = Tree::load_repo();
    tree.reference_board =
        tree.reference_board.replacen("mapper_suffix = \"", "mapper_suffix = \"not-", 1);

    let problems = check_vintf(&tree);

    assert_reported(&problems, "mapper_suffix Some(\"not-");
}

#[test]
fn rc_instance_other_than_vintf_is_detected() {
    let mut tree = Tree::load_repo();
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
    let mut tree = Tree::load_repo();
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
    let mut tree = Tree::load_repo();
    tree.init_rc = tree.init_rc.replacen("    task_profiles", "    task_profile", 1);

    let problems = check_init_rc(&tree);

    assert_reported(&problems, "unknown service option \"task_profile\"");
}

#[test]
fn library_built_without_a_requested_feature_is_detected() {
    let mut tree = Tree::load_repo();
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
    let tree = Tree::load_repo().with_blueprint_edit(
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
        Tree::load_repo().with_blueprint_edit("out: [\"gralloc.rs\"],", "out: [\"bindings.rs\"],");

    let problems = check_build_scripts(&tree);

    assert_reported(&problems, "hal_interface_aidl_rs: out lacks gralloc.rs");
}

#[test]
fn unlabelled_daemon_path_is_detected() {
    let mut tree = Tree::load_repo();
    tree.file_contexts = tree.file_contexts.replace("service\\.rust", "service\\.rs");

    let problems = check_file_contexts(&tree);

    assert_reported(
        &problems,
        "no literal line labels /vendor/bin/hw/android.hardware.graphics.allocator-service.rust",
    );
}

#[test]
fn rc_board_argument_other_than_the_daemon_default_is_detected() {
    let mut tree = Tree::load_repo();
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
fn real_time_scheduling_without_sys_nice_is_detected() {
    let mut tree = Tree::load_repo();
    assert!(tree.init_rc.contains("    capabilities SYS_NICE\n"), "update this test");
    tree.init_rc = tree.init_rc.replacen("    capabilities SYS_NICE\n", "", 1);

    let problems = check_init_rc(&tree);

    assert_reported(&problems, "capabilities SYS_NICE is missing, but the daemon uses");
}

#[test]
fn sys_nice_without_real_time_scheduling_is_detected() {
    let mut tree = Tree::load_repo();
    let sources = tempfile::tempdir().unwrap();
    fs::create_dir_all(sources.path().join("service/src")).unwrap();
    fs::write(sources.path().join("service/src/lib.rs"), "// SCHED_FIFO in a comment\n").unwrap();
    tree.root = sources.path().to_owned();

    let problems = check_init_rc(&tree);

    assert_reported(&problems, "capabilities SYS_NICE is granted, but the daemon does not use");
}

#[test]
fn vintf_instance_other_than_the_registered_name_is_detected() {
    let mut tree = Tree::load_repo();
    tree.vintf_xml =
        tree.vintf_xml.replacen("<fqname>IAllocator/default<", "<fqname>IAllocator/other<", 1);

    let problems = check_vintf(&tree);

    assert_reported(
        &problems,
        "but the daemon registers android.hardware.graphics.allocator.IAllocator/default",
    );
}

#[test]
fn fuzz_target_without_its_rust_fuzz_module_is_detected() {
    let tree = Tree::load_repo()
        .with_blueprint_edit("name: \"gralloc_fuzz_allocate\"", "name: \"gralloc_fuzz_alloc\"");

    let problems = check_modules(&tree);

    assert_reported(
        &problems,
        "fuzz target allocate (fuzz/fuzz_targets/allocate.rs) has no rust_fuzz",
    );
}

#[test]
fn rust_fuzz_module_without_its_library_is_detected() {
    let tree = Tree::load_repo().with_blueprint_edit(
        "srcs: [\"fuzz/fuzz_targets/board_toml.rs\"],\n    rustlibs: [\"libgralloc_fuzz\"],",
        "srcs: [\"fuzz/fuzz_targets/board_toml.rs\"],",
    );

    let problems = check_dependencies(&tree);

    assert_reported(&problems, "gralloc_fuzz_board_toml: rustlibs lacks libgralloc_fuzz");
}
