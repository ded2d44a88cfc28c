//! The SELinux additions under `service/init/sepolicy/`: the daemon's executable label and
//! the board property's context.

use allocator_service::daemon::BOARD_PROPERTY;

use crate::{Tree, DAEMON_MODULE, FILE_CONTEXTS, PROPERTY_CONTEXTS};

/// The device `file_contexts` labels the installed daemon `hal_graphics_allocator_default_exec`
/// (AOSP's own regex covers only `...allocator-V[1-2]-service` and `...allocator-service`).
pub(crate) fn check_file_contexts(tree: &Tree) -> Vec<String> {
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
pub(crate) fn check_property_contexts(tree: &Tree) -> Vec<String> {
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
