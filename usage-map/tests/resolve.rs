//! Behaviour of loading, resolving, availability and explanations, on small inline boards and
//! on the shipped ones.

mod common;

use hal_interface::format::Format;
use hal_interface::usage::{bits, Usage};
use usage_map::{
    Action, ConfigErrorKind, FakeErrno, HeapBackend, Limits, Mismatch, Refusal, UsageMap,
};

const HEAD: &str = r#"
schema = 1

[board]
name = "t"
mapper_suffix = "t"

[heaps.system]
kind = "dma-heap"
names = ["system"]

[heaps.cma]
kind = "dma-heap"
names = ["linux,cma", "reserved"]
contiguous = true

[heaps.secure]
kind = "dma-heap"
names = ["secure"]
protected = true
zeroed = false
"#;

fn board(rules: &str) -> Result<UsageMap, usage_map::ConfigError> {
    UsageMap::from_toml_str(&format!("{HEAD}{rules}"), "inline.toml")
}

fn usage(names: &str) -> Usage {
    names.parse().expect("usage names")
}

fn shipped(name: &str) -> UsageMap {
    UsageMap::load(&common::crate_dir().join("boards").join(name)).expect("shipped board loads")
}

const SECURE_BOARD: &str = r#"
[[rules]]
name = "protected-cpu"
all = ["PROTECTED"]
cpu = "any"
reject = "protected buffers cannot be CPU-mapped"

[[rules]]
name = "protected"
all = ["PROTECTED"]
heaps = ["secure"]

[[rules]]
name = "display"
all = ["COMPOSER_CLIENT_TARGET"]
heaps = ["cma", "system"]
fallback = true
stride_align_bytes = 64
size_align_bytes = 4096

[[rules]]
name = "default"
heaps = ["system"]
"#;

#[test]
fn default_rule_may_use_unprotected_heap_once_earlier_rules_take_all_protected_usage() {
    let map = board(SECURE_BOARD).expect("valid board");
    assert_eq!(map.rules().len(), 4);
}

#[test]
fn protected_excluded_by_none_allows_an_unprotected_heap() {
    let rules = r#"
[[rules]]
name = "display"
all = ["COMPOSER_CLIENT_TARGET"]
none = ["PROTECTED"]
heaps = ["cma"]

[[rules]]
name = "default"
cpu = "none"
all = ["PROTECTED"]
heaps = ["secure"]

[[rules]]
name = "rest"
heaps = ["system"]
"#;
    let err = board(rules).expect_err("PROTECTED with CPU access still reaches `rest`");
    assert!(
        matches!(err.kind(), ConfigErrorKind::ProtectedToUnprotectedHeap { heap } if heap == "system")
    );
}

#[test]
fn first_matching_rule_wins_and_carries_its_plan() {
    let map = board(SECURE_BOARD).unwrap();
    let plan = map.resolve(usage("HW_FB|GPU_RENDER_TARGET"), Format::Rgba8888, 1920, 1080).unwrap();
    assert_eq!((plan.rule.index, plan.rule.name), (2, "display"));
    let names: Vec<&str> = plan.heaps.iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["cma", "system"]);
    assert!(plan.fallback);
    assert_eq!(plan.align.stride_bytes, 64);
    assert_eq!(plan.align.stride_pixels, 1);
    assert_eq!(plan.align.size_bytes, 4096);
}

/// libui passes the retired gralloc0 bits 10 and 13 through; they route as if absent, on
/// every shipped board and on a board whose rule excludes any bit outside a set.
#[test]
fn retired_gralloc0_bits_route_as_if_absent() {
    let boards = ["host.toml", "hikey960.toml", "hikey960-ion.toml", "qemu-x86_64.toml"];
    let requests = [
        "GPU_TEXTURE|CPU_READ_OFTEN|CPU_WRITE_OFTEN",
        "HW_FB|GPU_RENDER_TARGET",
        "PROTECTED|COMPOSER_OVERLAY",
        "PROTECTED|CPU_READ_RARELY",
        "VIDEO_DECODER|GPU_TEXTURE",
        "CAMERA_OUTPUT|CPU_READ_OFTEN",
    ];
    let describe = |outcome: Result<usage_map::Plan<'_>, Refusal<'_>>| match outcome {
        Ok(plan) => format!("rule {} heaps {:?}", plan.rule.index, plan.heaps.iter().count()),
        Err(refusal) => refusal.to_string(),
    };
    let mut maps: Vec<UsageMap> = boards.iter().map(|b| shipped(b)).collect();
    maps.push(board(SECURE_BOARD).unwrap());
    for map in &maps {
        for request in requests {
            let plain = usage(request);
            for retired in [bits::HW_2D, bits::EXTERNAL_DISP, bits::RETIRED] {
                let with = plain.with(retired);
                assert_eq!(
                    describe(map.resolve(with, Format::Rgba8888, 256, 256)),
                    describe(map.resolve(plain, Format::Rgba8888, 256, 256)),
                    "{} {request} | {retired:#x}",
                    map.origin()
                );
                let explained = map.explain(with, Format::Rgba8888, 256, 256);
                assert_eq!(explained.usage, plain, "explain shows the routed word");
            }
        }
    }
}

#[test]
fn reject_rule_refuses_with_its_reason() {
    let map = board(SECURE_BOARD).unwrap();
    let refusal =
        map.resolve(usage("PROTECTED|CPU_READ_RARELY"), Format::Rgba8888, 64, 64).unwrap_err();
    assert_eq!(
        refusal.to_string(),
        r#"rules[0] "protected-cpu" rejects the request: protected buffers cannot be CPU-mapped"#
    );
}

#[test]
fn protected_usage_without_cpu_goes_to_the_secure_heap() {
    let map = board(SECURE_BOARD).unwrap();
    let plan =
        map.resolve(usage("PROTECTED|COMPOSER_OVERLAY"), Format::YcbcrP010, 3840, 2160).unwrap();
    assert_eq!(plan.heaps.first().map(|h| h.name.as_str()), Some("secure"));
}

#[test]
fn undefined_cpu_field_values_never_satisfy_a_cpu_condition() {
    let map = board(SECURE_BOARD).unwrap();
    // CPU read field 1 is undefined: "protected-cpu" (cpu = any) must not match it.
    let plan =
        map.resolve(Usage::from_bits(bits::PROTECTED | 1), Format::Rgba8888, 64, 64).unwrap();
    assert_eq!(plan.rule.name, "protected");
}

#[test]
fn without_fallback_only_the_first_present_heap_is_attempted() {
    let map = shipped("hikey960.toml");
    // `cma` absent (no CMA in this kernel): the framebuffer rule has nothing to try.
    let availability = map.check_available(|h| h.name != "cma");
    let fb = usage("COMPOSER_CLIENT_TARGET");
    let refusal =
        map.resolve_available(&availability, fb, Format::Rgba8888, 1920, 1080).unwrap_err();
    assert!(matches!(refusal, Refusal::NoHeapPresent { rule } if rule.name == "framebuffer"));
    assert!(!availability.rule_usable(1));
}

#[test]
fn absent_heaps_are_skipped_and_fallback_walks_the_rest() {
    let map = shipped("hikey960.toml");
    let availability = map.check_available(|h| h.name != "system-uncached" && h.name != "camera");
    let gpu = map
        .resolve_available(&availability, usage("GPU_TEXTURE"), Format::Rgba8888, 64, 64)
        .unwrap();
    let attempts: Vec<&str> = gpu.attempts().map(|h| h.name.as_str()).collect();
    assert_eq!(attempts, ["system"]);
    let cam = usage("CAMERA_OUTPUT|CPU_READ_OFTEN");
    let plan = map.resolve_available(&availability, cam, Format::Ycbcr420_888, 640, 480).unwrap();
    assert_eq!(plan.heaps.listed().len(), 2);
    assert_eq!(plan.attempts().map(|h| h.name.as_str()).collect::<Vec<_>>(), ["system"]);
}

/// FRONT_BUFFER is read while it is drawn. HiKey960 (no consumer snoops the CPU caches):
/// CPU-touched front buffers only from the uncached heap, refused where it is absent;
/// GPU-only ones like any GPU buffer. The x86 VM (DMA snoops): the system heap. A front-
/// buffered client target stays a framebuffer everywhere.
#[test]
fn front_buffers_follow_each_boards_coherence_policy() {
    let cpu_front = usage("FRONT_BUFFER|GPU_RENDER_TARGET|CPU_WRITE_OFTEN");
    let gpu_front = usage("FRONT_BUFFER|GPU_RENDER_TARGET|COMPOSER_OVERLAY");
    let fb_front = usage("FRONT_BUFFER|COMPOSER_CLIENT_TARGET");
    let attempts = |plan: usage_map::Plan<'_>| {
        (plan.rule.name.to_string(), plan.attempts().map(|h| h.name.clone()).collect::<Vec<_>>())
    };
    for name in ["hikey960.toml", "hikey960-ion.toml"] {
        let map = shipped(name);
        let everything = map.check_available(|_| true);
        let mainline = map.check_available(|h| h.name != "system-uncached");
        let resolve = |a, u| map.resolve_available(a, u, Format::Rgba8888, 1920, 1080);
        let (rule, heaps) = attempts(resolve(&everything, cpu_front).unwrap());
        assert_eq!((rule, heaps), ("cpu-front-buffer".into(), vec!["system-uncached".into()]));
        let refusal = resolve(&mainline, cpu_front).unwrap_err();
        assert!(
            matches!(refusal, Refusal::NoHeapPresent { rule } if rule.name == "cpu-front-buffer"),
            "{name}: {refusal}"
        );
        let (rule, heaps) = attempts(resolve(&mainline, gpu_front).unwrap());
        assert_eq!((rule, heaps), ("gpu-only".into(), vec!["system".into()]), "{name}");
        assert_eq!(attempts(resolve(&everything, fb_front).unwrap()).0, "framebuffer", "{name}");
    }
    for name in ["qemu-x86_64.toml", "qemu-x86_64-ion.toml", "qemu-arm64.toml"] {
        let map = shipped(name);
        for front in [cpu_front, gpu_front] {
            let plan = map.resolve(front, Format::Rgba8888, 1920, 1080).unwrap();
            assert_eq!(attempts(plan), ("front-buffer".to_owned(), vec!["system".to_owned()]));
        }
        let plan = map.resolve(fb_front, Format::Rgba8888, 1920, 1080).unwrap();
        assert_eq!(plan.rule.name, "framebuffer", "{name}");
    }
}

#[test]
fn attempts_stop_after_the_first_heap_without_fallback() {
    let map = board(
        r#"
[[rules]]
name = "protected"
all = ["PROTECTED"]
reject = "no"

[[rules]]
name = "default"
heaps = ["cma", "system"]
"#,
    )
    .unwrap();
    let plan = map.resolve(usage("GPU_TEXTURE"), Format::Rgba8888, 64, 64).unwrap();
    assert_eq!(plan.heaps.len(), 2);
    assert_eq!(plan.attempts().map(|h| h.name.as_str()).collect::<Vec<_>>(), ["cma"]);
}

#[test]
fn availability_report_names_unusable_rules() {
    let map = shipped("qemu-x86_64.toml");
    let availability = map.check_available(|h| h.name == "system");
    let unusable: Vec<&str> = availability.unusable_rules().map(|r| r.name.as_str()).collect();
    assert_eq!(unusable, ["framebuffer"]);
    assert!(availability.rule_usable(2), "front-buffer has system");
    assert!(availability.rule_usable(3), "camera still has system");
    assert!(!availability.rule_usable(0), "a reject rule is not usable");
    assert!(!availability.rule_usable(99));
    let report = availability.to_string();
    assert!(
        report.contains(r#"rules[1] "framebuffer": UNUSABLE, no heap present; absent [reserved]"#),
        "{report}"
    );
    assert!(report.contains(r#"rules[3] "camera": uses [system]; absent [camera]"#), "{report}");
    assert!(report.contains(r#"rules[4] "video": uses [system]; absent [reserved]"#), "{report}");
}

#[test]
fn explanation_lists_why_each_earlier_rule_did_not_match() {
    let map = shipped("hikey960.toml");
    let explanation = map.explain(usage("GPU_TEXTURE|CPU_READ_OFTEN"), Format::Rgba8888, 640, 480);
    assert_eq!(explanation.skipped.len(), 5);
    assert_eq!(explanation.skipped[0].reasons, [Mismatch::MissingBits(bits::PROTECTED)]);
    assert_eq!(
        explanation.skipped[1].reasons,
        [Mismatch::MissingBits(bits::COMPOSER_CLIENT_TARGET)]
    );
    assert_eq!(
        explanation.to_string(),
        "request: CPU_READ_OFTEN|GPU_TEXTURE RGBA_8888 640x480\n\
         \x20 skip rules[0] \"protected\": missing PROTECTED\n\
         \x20 skip rules[1] \"framebuffer\": missing COMPOSER_CLIENT_TARGET\n\
         \x20 skip rules[2] \"cpu-front-buffer\": missing FRONT_BUFFER\n\
         \x20 skip rules[3] \"camera\": has none of CAMERA_OUTPUT|CAMERA_INPUT\n\
         \x20 skip rules[4] \"gpu-only\": cpu read often / write never not allowed (cpu = \"none\")\n\
         => rules[5] \"default\": heaps [system], no fallback, align stride 64 B\n"
    );
}

#[test]
fn explanation_reports_format_and_size_mismatches() {
    let map = board(
        r#"
[[rules]]
name = "protected"
all = ["PROTECTED"]
reject = "no"

[[rules]]
name = "small-rgba"
formats = ["RGBA_8888", "RGBX_8888"]
max_width = 256
min_height = 16
heaps = ["cma"]

[[rules]]
name = "default"
heaps = ["system"]
"#,
    )
    .unwrap();
    let explanation = map.explain(usage("GPU_TEXTURE"), Format::Yv12, 1024, 8);
    let reasons: Vec<String> =
        explanation.skipped[1].reasons.iter().map(ToString::to_string).collect();
    assert_eq!(
        reasons,
        [
            "format YV12 not in [RGBA_8888, RGBX_8888]",
            "width 1024 above max_width 256",
            "height 8 below min_height 16"
        ]
    );
    assert_eq!(explanation.outcome.unwrap().rule.name, "default");
}

#[test]
fn heap_declarations_keep_file_order_kind_and_properties() {
    let map = shipped("hikey960-ion.toml");
    let names: Vec<&str> = map.heaps().iter().map(|h| h.name.as_str()).collect();
    assert_eq!(names, ["system", "system-uncached", "cma", "camera"]);
    for (i, heap) in map.heaps().iter().enumerate() {
        assert_eq!(heap.id.index(), i);
        assert_eq!(map.heap_by_id(heap.id), Some(heap));
    }
    let cma = map.heap("cma").unwrap();
    assert_eq!(
        cma.backend,
        HeapBackend::Ion { heap_name: Some("linux,cma".into()), mask: Some(16), flags: 0 }
    );
    assert!(cma.props.contiguous && !cma.props.cached && !cma.props.protected && cma.props.zeroed);
    assert!(map.heap("system").unwrap().props.cached);
}

#[test]
fn fake_board_scripts_its_failures() {
    let map =
        UsageMap::load(&common::crate_dir().join("tests/boards/fake-exhaustion.toml")).unwrap();
    let HeapBackend::Fake(cma) = &map.heap("fake-cma").unwrap().backend else { panic!("fake") };
    assert_eq!((cma.fail_after, cma.errno, cma.delay_ms), (Some(2), FakeErrno::Enomem, 0));
    assert_eq!(cma.errno.raw(), 12);
    let HeapBackend::Fake(einval) = &map.heap("fake-einval").unwrap().backend else {
        panic!("fake")
    };
    assert_eq!((einval.fail_after, einval.errno.raw()), (Some(0), 22));
    let display = map.resolve(usage("COMPOSER_CLIENT_TARGET"), Format::Rgba8888, 64, 64).unwrap();
    assert!(!display.fallback);
    let camera = map.resolve(usage("CAMERA_OUTPUT"), Format::Rgba8888, 64, 64).unwrap();
    assert!(camera.fallback);
    assert_eq!(camera.attempts().count(), 2);
}

#[test]
fn limits_default_when_absent_and_read_when_present() {
    let map = board(SECURE_BOARD).unwrap();
    assert_eq!(*map.limits(), Limits::default());
    assert_eq!(map.limits().max_bytes_per_buffer, 400 << 20);
    assert_eq!(map.limits().max_buffers_per_call, 32);
    assert!(map.limits().uid_allowed(12345));
    let with_limits = board(&format!(
        "{SECURE_BOARD}\n[limits]\nmax_width = 4096\nmax_buffers_per_call = 4\nallowed_uids = [1000, 1013]\n"
    ))
    .unwrap();
    assert_eq!(with_limits.limits().max_width, 4096);
    assert_eq!(with_limits.limits().max_buffers_per_call, 4);
    assert!(with_limits.limits().uid_allowed(1013));
    assert!(!with_limits.limits().uid_allowed(10001));
}

#[test]
fn claimed_vendor_bits_can_be_matched() {
    let map = board(&format!(
        r#"
[usage]
vendor_bits = ["0x10000000", "0x1000000000000"]
{}
[[rules]]
name = "vendor"
all = ["0x10000000"]
heaps = ["cma"]

[[rules]]
name = "default"
heaps = ["system"]
"#,
        "[[rules]]\nname = \"protected\"\nall = [\"PROTECTED\"]\nreject = \"no\"\n"
    ))
    .unwrap();
    assert_eq!(map.claimed_vendor_bits(), 0x1_0000_1000_0000);
    let plan = map
        .resolve(Usage::from_bits(0x1000_0000 | bits::GPU_TEXTURE), Format::Rgba8888, 8, 8)
        .unwrap();
    assert_eq!(plan.rule.name, "vendor");
}

#[test]
fn rule_accessors_expose_the_validated_table() {
    let map = shipped("hikey960.toml");
    assert_eq!(map.board_name(), "hikey960");
    assert_eq!(map.mapper_suffix(), "hikey960");
    let fb = &map.rules()[1];
    assert_eq!(fb.name(), "framebuffer");
    assert_eq!(fb.matcher().all, bits::COMPOSER_CLIENT_TARGET);
    assert_eq!(fb.matcher().none, bits::VIDEO_ENCODER);
    let Action::Allocate { heaps, fallback } = fb.action() else { panic!("allocating rule") };
    assert!(!fallback);
    assert_eq!(heaps.len(), 1);
    assert!(map.rules().last().unwrap().matcher().is_everything());
}

#[test]
fn load_reports_a_missing_file_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("absent.toml");
    let err = UsageMap::load(&path).unwrap_err();
    assert!(matches!(err.kind(), ConfigErrorKind::Io(_)));
    assert!(err.to_string().ends_with("absent.toml: cannot read the board file"), "{err}");
    assert!(std::error::Error::source(&err).is_some(), "the io::Error is kept as the source");
}

#[test]
fn load_and_from_toml_str_agree() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("b.toml");
    std::fs::write(&path, format!("{HEAD}{SECURE_BOARD}")).unwrap();
    let loaded = UsageMap::load(&path).unwrap();
    let parsed = board(SECURE_BOARD).unwrap();
    assert_eq!(loaded.rules(), parsed.rules());
    assert_eq!(loaded.heaps(), parsed.heaps());
    assert_eq!(loaded.origin(), path.display().to_string());
}

#[test]
fn every_board_file_loads_through_the_file_path() {
    let boards = common::files_with_ext("boards", "toml");
    assert!(!boards.is_empty(), "no board files found under boards/");
    let mut test_boards = common::files_with_ext("tests/boards", "toml");
    assert!(!test_boards.is_empty(), "no test boards found under tests/boards/");
    test_boards.extend(boards);
    for path in &test_boards {
        let map = UsageMap::load(path).unwrap_or_else(|e| panic!("{e}"));
        assert!(
            map.rules().last().is_some_and(|r| r.matcher().is_everything()),
            "{}",
            path.display()
        );
    }
}
