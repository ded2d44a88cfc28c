//! Routing against the board file (`--board`): each rule's requests land on the heap the rule
//! names (the handle's heap, cross-checked with the fd's real exporter from fdinfo), fallback
//! happens only where the rule allows it and only on exhaustion, and an exhausted heap gives
//! NO_RESOURCES without breaking the next request. The exhaustion case needs a board with
//! scripted fake heaps (e.g. `usage-map/tests/boards/fake-exhaustion.toml`).

use std::os::fd::AsFd;
use std::path::Path;

use hal_interface::aidl::{AllocationError, BufferDescriptorInfo};
use hal_interface::usage::{bits, Usage};
use hal_interface::Format;
use usage_map::{Action, Availability, FakeErrno, HeapBackend, HeapDecl, Refusal, UsageMap};

use crate::call::{self, Buffer};
use crate::check::{self, reply_matches};
use crate::ctx::Ctx;
use crate::desc::{self, describe, CPU_RW};
use crate::runner::{Case, Outcome, Stop};

/// The cases of this area.
pub const CASES: &[Case] = &[
    Case { name: "routing.each_usage_class_lands_on_its_rule_heap", run: each_rule },
    Case { name: "routing.exhausted_heap_falls_back_only_where_allowed", run: exhaustion },
];

/// A request that the board resolves to one particular rule.
#[derive(Debug, Clone, Copy)]
struct Probe {
    usage: u64,
    format: Format,
    width: u32,
    height: u32,
}

impl Probe {
    fn info(&self) -> BufferDescriptorInfo {
        let dim = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
        desc::new(dim(self.width), dim(self.height), self.format, self.usage)
    }
}

/// Whether a declared heap exists on this machine, judged from the client side the way the
/// service's probe does: dma-heap nodes and `/dev/ion` by path; memfd and fake always.
fn present(decl: &HeapDecl) -> bool {
    match &decl.backend {
        HeapBackend::DmaHeap { names } => {
            names.iter().any(|n| Path::new("/dev/dma_heap").join(n).exists())
        }
        HeapBackend::Ion { .. } => Path::new("/dev/ion").exists(),
        HeapBackend::Memfd | HeapBackend::Fake(_) => true,
    }
}

/// The rule index a request resolves to (allocating or rejecting).
fn rule_of(map: &UsageMap, avail: &Availability, p: &Probe) -> Option<usize> {
    match map.resolve_available(avail, Usage::from_bits(p.usage), p.format, p.width, p.height) {
        Ok(plan) => Some(plan.rule.index),
        Err(Refusal::Rejected { rule, .. } | Refusal::NoHeapPresent { rule }) => Some(rule.index),
        Err(Refusal::NoRule) => None,
    }
}

/// Candidate requests for rule `index`: its `all` bits plus one of its `any` bits, several CPU
/// patterns and formats, dimensions inside its bounds; only those that really resolve to it.
fn probes_for(map: &UsageMap, avail: &Availability, index: usize) -> Vec<Probe> {
    let Some(rule) = map.rules().get(index) else { return Vec::new() };
    let m = rule.matcher();
    let any: Vec<u64> = if m.any == 0 {
        vec![0]
    } else {
        (0..64).map(|b| 1u64 << b).filter(|b| m.any & b != 0).collect()
    };
    let cpus = [CPU_RW, 0, bits::CPU_READ_OFTEN, bits::CPU_WRITE_RARELY | bits::CPU_READ_RARELY];
    let formats: Vec<Format> = match m.formats {
        Some(set) => set.iter().collect(),
        None => vec![Format::Rgba8888, Format::Ycbcr420_888, Format::Rgb565, Format::Blob],
    };
    let clamp = |v: u32, (lo, hi): (u32, u32)| v.clamp(lo, hi.max(lo));
    let mut probes = Vec::new();
    for &format in &formats {
        let height = if format == Format::Blob { 1 } else { 64 };
        let width = if format == Format::Blob { 4096 } else { 64 };
        for &a in &any {
            for &cpu in &cpus {
                let usage = (m.all | a) & !(bits::CPU_READ_MASK | bits::CPU_WRITE_MASK) | cpu;
                let extra = if format == Format::Blob { bits::GPU_DATA_BUFFER } else { 0 };
                for usage in [usage, usage | extra] {
                    let probe = Probe {
                        usage,
                        format,
                        width: clamp(width, m.width),
                        height: clamp(height, m.height),
                    };
                    if rule_of(map, avail, &probe) == Some(index) {
                        probes.push(probe);
                    }
                }
            }
        }
    }
    probes
}

/// The first candidate for rule `index` the service supports.
fn supported_probe(
    ctx: &Ctx,
    map: &UsageMap,
    avail: &Availability,
    index: usize,
) -> Result<Option<Probe>, Stop> {
    for probe in probes_for(map, avail, index) {
        if call::is_supported(ctx.allocator(), &probe.info())?.value {
            return Ok(Some(probe));
        }
    }
    Ok(None)
}

/// The exporter names a buffer of `decl` may show in fdinfo.
fn expected_exporters(decl: &HeapDecl) -> Vec<String> {
    match &decl.backend {
        HeapBackend::DmaHeap { names } => names.clone(),
        HeapBackend::Ion { .. } => vec!["ion".to_owned()],
        HeapBackend::Memfd => vec!["memfd".to_owned(), "udmabuf".to_owned()],
        HeapBackend::Fake(_) => vec!["memfd".to_owned()],
    }
}

/// Names under which the handle may report `decl` (its board name, or a kernel name).
fn handle_names(decl: &HeapDecl) -> Vec<String> {
    let mut names = vec![decl.name.clone()];
    match &decl.backend {
        HeapBackend::DmaHeap { names: kernel } => names.extend(kernel.iter().cloned()),
        HeapBackend::Ion { heap_name: Some(n), .. } => names.push(n.clone()),
        _ => {}
    }
    names
}

/// Which of `allowed` heaps the buffer came from: by handle name, confirmed by the exporter.
fn heap_of<'a>(ctx: &Ctx, buffer: &Buffer, allowed: &[&'a HeapDecl]) -> Result<&'a HeapDecl, Stop> {
    let name = &buffer.handle.heap;
    let decl =
        allowed.iter().copied().find(|d| handle_names(d).contains(name)).ok_or_else(|| {
            Stop::failed(format!(
                "buffer came from heap {name:?}, the rule allows only {:?}",
                allowed.iter().map(|d| d.name.as_str()).collect::<Vec<_>>()
            ))
        })?;
    let exporter = heaps::dmabuf::exporter(buffer.fd.as_fd())
        .map_err(|e| Stop::failed(format!("cannot tell the fd's exporter: {e}")))?;
    let expected = expected_exporters(decl);
    if expected.contains(&exporter) {
        Ok(decl)
    } else if matches!(exporter.as_str(), "dmabuf" | "heap_helpers") {
        ctx.note(format!("kernel reports exporter {exporter:?}: heap name not checkable"));
        Ok(decl)
    } else {
        Err(Stop::failed(format!(
            "handle says heap {name:?} ({} backend) but fdinfo exporter is {exporter:?} \
             (expected one of {expected:?})",
            decl.backend.kind()
        )))
    }
}

fn is_scripted_fake(decl: &HeapDecl) -> bool {
    matches!(&decl.backend, HeapBackend::Fake(b) if b.fail_after.is_some())
}

/// Every rule of the board, probed: rejecting rules are unsupported and refused; allocating
/// rules give buffers from their first present heap, or (with fallback) a later one.
fn each_rule(ctx: &Ctx) -> Outcome {
    let board = ctx.require_board()?;
    let map = &board.map;
    let avail = map.check_available(present);
    let mut routed = 0usize;
    for (index, rule) in map.rules().iter().enumerate() {
        let label = format!("rule[{index}] {:?}", rule.name());
        match rule.action() {
            Action::Reject { .. } => {
                let Some(probe) = probes_for(map, &avail, index).into_iter().next() else {
                    ctx.note(format!("{label}: no probe request reaches it"));
                    continue;
                };
                check::rejected(ctx, &probe.info(), AllocationError::UNSUPPORTED)
                    .map_err(|s| s.context(&label))?;
            }
            Action::Allocate { .. } => {
                let Some(probe) = supported_probe(ctx, map, &avail, index)? else {
                    ctx.note(format!("{label}: no supported probe request reaches it"));
                    continue;
                };
                let info = probe.info();
                let plan = map
                    .resolve_available(
                        &avail,
                        Usage::from_bits(probe.usage),
                        probe.format,
                        probe.width,
                        probe.height,
                    )
                    .map_err(|r| Stop::failed(format!("{label}: {r}")))?;
                let attempts: Vec<&HeapDecl> = plan.attempts().collect();
                let what = format!("{label} with {}", describe(&info));
                match call::allocate2(ctx.allocator(), &info, 1)?.value {
                    Ok(allocated) => {
                        reply_matches(&info, 1, &allocated)?;
                        let buffer = allocated.single()?;
                        let decl =
                            heap_of(ctx, &buffer, &attempts).map_err(|s| s.context(&what))?;
                        ctx.note(format!("{what} -> {} ({})", decl.name, plan));
                        routed += 1;
                    }
                    Err(r)
                        if r.code == AllocationError::NO_RESOURCES
                            && attempts.iter().any(|d| is_scripted_fake(d)) =>
                    {
                        ctx.note(format!("{what}: {r} (scripted fake heap)"));
                    }
                    Err(r) => {
                        return Err(Stop::failed(format!("{what}: supported but refused: {r}")))
                    }
                }
            }
        }
    }
    if routed == 0 {
        return Err(Stop::failed("no rule of the board could be exercised"));
    }
    Ok(())
}

/// ENOMEM and EBUSY are exhaustion (fallback allowed); any other errno stops at once.
fn exhausts(errno: FakeErrno) -> bool {
    matches!(errno, FakeErrno::Enomem | FakeErrno::Ebusy)
}

/// With scripted fake heaps: drain each heap that fails after N successes, then check every
/// rule that tries it first: with exhaustion and fallback the buffer comes from a later
/// heap; without fallback, NO_RESOURCES while isSupported stays true; a non-exhaustion errno
/// fails the request without trying later heaps. Then an unrelated request still succeeds.
fn exhaustion(ctx: &Ctx) -> Outcome {
    let board = ctx.require_board()?;
    let map = &board.map;
    let scripted: Vec<&HeapDecl> = map.heaps().iter().filter(|d| is_scripted_fake(d)).collect();
    if scripted.is_empty() {
        return Err(Stop::skipped(format!(
            "board {} has no fake heap with a failure script",
            board.path.display()
        )));
    }
    let avail = map.check_available(present);
    let mut checked = 0usize;
    for heap in scripted {
        let HeapBackend::Fake(script) = &heap.backend else { continue };
        // Rules whose first heap is this one, with a supported probe each.
        let mut rules = Vec::new();
        for (index, rule) in map.rules().iter().enumerate() {
            if let Action::Allocate { heaps, fallback } = rule.action() {
                if heaps.first() == Some(&heap.id) {
                    if let Some(probe) = supported_probe(ctx, map, &avail, index)? {
                        let later: Vec<&HeapDecl> =
                            heaps.iter().skip(1).filter_map(|id| map.heap_by_id(*id)).collect();
                        rules.push((rule.name().to_owned(), *fallback, probe, later));
                    }
                }
            }
        }
        if rules.is_empty() {
            ctx.note(format!("heap {}: no rule tries it first", heap.name));
            continue;
        }
        // Drain: at most fail_after successes, then every call fails.
        let budget = script.fail_after.unwrap_or(0).saturating_add(1).min(64);
        let drain = rules.first().map(|r| r.2).ok_or_else(|| Stop::failed("no rule"))?;
        for _ in 0..budget {
            let answer = call::allocate2(ctx.allocator(), &drain.info(), 1)?;
            match answer.value {
                Ok(allocated) => {
                    let buffer = allocated.single()?;
                    if buffer.handle.heap != heap.name {
                        break; // fell back: the heap is exhausted already
                    }
                }
                Err(_) => break,
            }
        }
        for (rule, fallback, probe, later) in &rules {
            let info = probe.info();
            let what = format!(
                "rule {rule:?} ({}), first heap {} failing with {}",
                describe(&info),
                heap.name,
                script.errno
            );
            let answer = call::allocate2(ctx.allocator(), &info, 1)?;
            let healthy_later: Vec<&HeapDecl> =
                later.iter().copied().filter(|d| !is_scripted_fake(d)).collect();
            match (exhausts(script.errno) && *fallback && !healthy_later.is_empty(), answer.value) {
                (true, Ok(allocated)) => {
                    let buffer = allocated.single()?;
                    let decl =
                        heap_of(ctx, &buffer, &healthy_later).map_err(|s| s.context(&what))?;
                    ctx.note(format!("{what}: fell back to {}", decl.name));
                }
                (true, Err(r)) => {
                    return Err(Stop::failed(format!("{what}: fallback allowed, refused: {r}")))
                }
                (false, Ok(allocated)) => {
                    let from = allocated
                        .buffers
                        .first()
                        .map(|b| b.handle.heap.clone())
                        .unwrap_or_default();
                    return Err(Stop::failed(format!(
                        "{what}: must fail (fallback {}), but got a buffer from {from:?}",
                        if *fallback { "not allowed for this errno" } else { "off" }
                    )));
                }
                (false, Err(r)) => {
                    if exhausts(script.errno) && r.code != AllocationError::NO_RESOURCES {
                        return Err(Stop::failed(format!(
                            "{what}: exhaustion must be NO_RESOURCES, got {r}"
                        )));
                    }
                    if r.code == AllocationError::BAD_DESCRIPTOR {
                        return Err(Stop::failed(format!(
                            "{what}: a heap failure is not BAD_DESCRIPTOR: {r}"
                        )));
                    }
                    check::supported_is(ctx.allocator(), &info, true).map_err(|s| {
                        s.context("a transient failure must not change isSupported")
                    })?;
                    ctx.note(format!("{what}: {r}"));
                }
            }
            checked += 1;
        }
    }
    // D1: the service still serves requests that avoid the failing heaps.
    let healthy_rule =
        map.rules().iter().enumerate().find_map(|(index, rule)| match rule.action() {
            Action::Allocate { heaps, .. } => heaps
                .first()
                .and_then(|id| map.heap_by_id(*id))
                .filter(|d| !is_scripted_fake(d))
                .map(|_| index),
            Action::Reject { .. } => None,
        });
    if let Some(index) = healthy_rule {
        if let Some(probe) = supported_probe(ctx, map, &avail, index)? {
            check::allocate_checked(ctx.allocator(), &probe.info(), 1)
                .map_err(|s| s.context("a request after the failures"))?;
        }
    }
    if checked == 0 {
        return Err(Stop::skipped("no rule starts with a scripted fake heap"));
    }
    Ok(())
}
