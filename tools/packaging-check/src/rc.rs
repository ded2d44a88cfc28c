//! The init script: a small parser of init's `.rc` language (sections at column 0, their
//! options indented below) and the check that it starts the installed daemon as the
//! instance the VINTF fragment declares.

use std::fs;
use std::path::Path;

use allocator_service::daemon::{ANDROID_DEFAULT_BOARD, BOARD_PROPERTY};

use crate::files::rust_sources;
use crate::vintf::{parse_vintf, ALLOCATOR_FQNAME, ALLOCATOR_PACKAGE};
use crate::{Tree, DAEMON_MODULE, INIT_RC};

/// Sources of the daemon, searched for real-time scheduling calls.
const SERVICE_SOURCES: &str = "service/src";

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

#[derive(Debug)]
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
        let line_no = n.saturating_add(1);
        let words: Vec<String> = line.split_whitespace().map(str::to_owned).collect();
        let Some(first) = words.first() else { continue };
        if first.starts_with('#') {
            continue;
        }
        if !line.starts_with(char::is_whitespace) {
            in_service = first == "service";
            in_section = matches!(first.as_str(), "service" | "on" | "import");
            match (first.as_str(), words.get(1), words.get(2..)) {
                ("service", Some(name), Some(argv)) if !argv.is_empty() => {
                    services.push(RcService {
                        name: name.clone(),
                        argv: argv.to_vec(),
                        options: Vec::new(),
                    })
                }
                ("service", ..) => {
                    problems.push(format!("{INIT_RC}:{line_no}: service needs a name and a path"))
                }
                ("on" | "import", ..) => {}
                (other, ..) => {
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
/// declares, with the AOSP HAL conventions (class hal, user system, restart of SurfaceFlinger,
/// not critical).
pub(crate) fn check_init_rc(tree: &Tree) -> Vec<String> {
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
    let interfaces: Vec<String> =
        option("interface").map(|o| o.get(1..).unwrap_or_default().join(" ")).collect();
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
    if !option("onrestart")
        .any(|o| o.get(1..).is_some_and(|rest| *rest == ["restart", "surfaceflinger"]))
    {
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
        service.argv.windows(2).filter(|w| w.first().is_some_and(|f| f == "--board")).collect();
    match board_args.as_slice() {
        [] => {}
        [[_, value]] if *value == expected => {}
        other => problems.push(format!(
            "{INIT_RC}: service {} passes --board {:?}, expected --board {expected}",
            service.name,
            other.iter().map(|w| w.get(1).map_or("", String::as_str)).collect::<Vec<_>>()
        )),
    }
}

/// Whether the daemon's sources switch to a real-time policy (comments ignored): a raw
/// call, or a real-time class of `heaps::sched`.
fn uses_realtime_scheduling(dir: &Path) -> bool {
    const REAL_TIME: [&str; 4] = ["sched_setscheduler", "SCHED_FIFO", "SCHED_RR", "Policy::Fifo"];
    rust_sources(dir).iter().filter_map(|p| fs::read_to_string(p).ok()).any(|text| {
        text.lines()
            .map(|l| l.split("//").next().unwrap_or(""))
            .any(|code| REAL_TIME.iter().any(|call| code.contains(call)))
    })
}
