//! Routing against the board file (`--board`), checked with the board's golden table
//! ([`crate::golden`], written by hand, not computed by the service's resolver): each request
//! lands on a heap its route names (the handle's heap, cross-checked with the fd's real
//! exporter from fdinfo), fallback happens only where the route allows it and only on
//! exhaustion, and an exhausted heap gives NO_RESOURCES without breaking the next request.
//! The board file is read only for its heap declarations (presence, exporter, fake scripts)
//! and its rule names (the table must cover them). The exhaustion case needs a board with
//! scripted fake heaps (e.g. `usage-map/tests/boards/fake-exhaustion.toml`).

use std::os::fd::AsFd;
use std::path::Path;

use hal_interface::aidl::{AllocationError, BufferDescriptorInfo};
use usage_map::{FakeErrno, HeapBackend, HeapDecl, UsageMap};

use crate::call::{self, Buffer};
use crate::check::{self, reply_matches};
use crate::ctx::{Board, Ctx};
use crate::desc::{self, describe};
use crate::golden::{self, Expect, Route, Table};
use crate::runner::{Case, Outcome, Stop};

/// The cases of this area.
pub const CASES: &[Case] = &[
    Case { name: "routing.each_usage_class_lands_on_its_rule_heap", run: each_rule },
    Case { name: "routing.exhausted_heap_falls_back_only_where_allowed", run: exhaustion },
];

/// The golden table of the board the suite was given; a board without one skips.
fn golden_table(board: &Board) -> Result<&'static Table, Stop> {
    let name = board.map.board_name();
    let table = golden::table(name).ok_or_else(|| {
        Stop::skipped(format!(
            "board {name:?} ({}) has no golden routing table in vts_tests::golden",
            board.path.display()
        ))
    })?;
    // A table that misses a rule, or names one the board lacks, is stale: say so rather than
    // check half the board.
    for rule in board.map.rules() {
        if !table.expects.iter().any(|e| e.rule == rule.name()) {
            return Err(Stop::failed(format!(
                "golden table for {name:?} has no request for rule {:?}",
                rule.name()
            )));
        }
    }
    if let Some(e) =
        table.expects.iter().find(|e| !board.map.rules().iter().any(|r| r.name() == e.rule))
    {
        return Err(Stop::failed(format!(
            "golden table for {name:?} names rule {:?}, which the board lacks",
            e.rule
        )));
    }
    Ok(table)
}

fn info_of(e: &Expect) -> BufferDescriptorInfo {
    let dim = |v: u32| i32::try_from(v).unwrap_or(i32::MAX);
    desc::new(dim(e.width), dim(e.height), e.format, e.usage)
}

/// The declarations of the heaps a golden route names, in order.
fn decls<'a>(map: &'a UsageMap, heaps: &[&str]) -> Result<Vec<&'a HeapDecl>, Stop> {
    heaps
        .iter()
        .map(|name| {
            map.heap(name).ok_or_else(|| {
                Stop::failed(format!("golden table names heap {name:?}, which the board lacks"))
            })
        })
        .collect()
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

/// Every request of the board's golden table: rejected ones are unsupported and refused;
/// allocated ones come from the first present heap of their route, or (with fallback) a
/// later one; a route with no present heap is unsupported.
fn each_rule(ctx: &Ctx) -> Outcome {
    let board = ctx.require_board()?;
    let table = golden_table(board)?;
    let map = &board.map;
    let mut routed = 0usize;
    for expect in table.expects {
        let info = info_of(expect);
        let what = format!("rule {:?} with {}", expect.rule, describe(&info));
        let Route::Heaps { heaps, fallback } = expect.route else {
            check::rejected(ctx, &info, AllocationError::UNSUPPORTED)
                .map_err(|s| s.context(&what))?;
            continue;
        };
        let present: Vec<&HeapDecl> =
            decls(map, heaps)?.into_iter().filter(|d| present(d)).collect();
        let limit = if fallback { usize::MAX } else { 1 };
        let attempts: Vec<&HeapDecl> = present.iter().copied().take(limit).collect();
        if attempts.is_empty() {
            check::supported_is(ctx.allocator(), &info, false)
                .map_err(|s| s.context(format!("{what}: none of {heaps:?} is present")))?;
            ctx.note(format!("{what}: none of {heaps:?} is present, unsupported"));
            continue;
        }
        match call::allocate2(ctx.allocator(), &info, 1)?.value {
            Ok(allocated) => {
                reply_matches(&info, 1, &allocated)?;
                let buffer = allocated.single()?;
                let decl = heap_of(ctx, &buffer, &attempts).map_err(|s| s.context(&what))?;
                ctx.note(format!("{what} -> {}", decl.name));
                routed += 1;
            }
            Err(r)
                if r.code == AllocationError::NO_RESOURCES
                    && attempts.iter().any(|d| is_scripted_fake(d)) =>
            {
                ctx.note(format!("{what}: {r} (scripted fake heap)"));
            }
            Err(r) => {
                return Err(Stop::failed(format!(
                    "{what}: the golden route is {heaps:?}, but refused: {r}"
                )))
            }
        }
    }
    if routed == 0 {
        return Err(Stop::failed("no request of the golden table could be allocated"));
    }
    Ok(())
}

/// ENOMEM and EBUSY are exhaustion (fallback allowed); any other errno stops at once.
fn exhausts(errno: FakeErrno) -> bool {
    matches!(errno, FakeErrno::Enomem | FakeErrno::Ebusy)
}

/// With scripted fake heaps: drain each heap that fails after N successes, then check every
/// golden request whose route tries it first: with exhaustion and fallback the buffer comes
/// from a later heap; without fallback, NO_RESOURCES while isSupported stays true; a
/// non-exhaustion errno fails the request without trying later heaps. Then a request that
/// avoids the scripted heaps still succeeds.
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
    let table = golden_table(board)?;
    let mut checked = 0usize;
    for heap in scripted {
        let HeapBackend::Fake(script) = &heap.backend else { continue };
        // Golden requests whose route starts with this heap.
        let mut firsts = Vec::new();
        for expect in table.expects {
            if let Route::Heaps { heaps, fallback } = expect.route {
                if heaps.first() == Some(&heap.name.as_str()) {
                    let later = decls(map, heaps.get(1..).unwrap_or(&[]))?;
                    firsts.push((expect, fallback, later));
                }
            }
        }
        let Some(&(drain, _, _)) = firsts.first() else {
            ctx.note(format!("heap {}: no golden route tries it first", heap.name));
            continue;
        };
        // Drain: at most fail_after successes, then every call fails.
        let budget = script.fail_after.unwrap_or(0).saturating_add(1).min(64);
        for _ in 0..budget {
            let answer = call::allocate2(ctx.allocator(), &info_of(drain), 1)?;
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
        for (expect, fallback, later) in &firsts {
            let info = info_of(expect);
            let what = format!(
                "rule {:?} ({}), first heap {} failing with {}",
                expect.rule,
                describe(&info),
                heap.name,
                script.errno
            );
            let answer = call::allocate2(ctx.allocator(), &info, 1)?;
            let healthy_later: Vec<&HeapDecl> =
                later.iter().copied().filter(|d| !is_scripted_fake(d) && present(d)).collect();
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
    // The service still serves requests that avoid the failing heaps.
    let healthy = table.expects.iter().find(|e| match e.route {
        Route::Heaps { heaps, .. } => heaps
            .first()
            .and_then(|name| map.heap(name))
            .is_some_and(|d| !is_scripted_fake(d) && present(d)),
        Route::Reject => false,
    });
    if let Some(expect) = healthy {
        check::allocate_checked(ctx.allocator(), &info_of(expect), 1)
            .map_err(|s| s.context("a request after the failures"))?;
    }
    if checked == 0 {
        return Err(Stop::skipped("no golden route starts with a scripted fake heap"));
    }
    Ok(())
}
