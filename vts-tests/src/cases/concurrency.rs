//! Many clients at once, then the health check every run ends with.

use std::sync::mpsc;
use std::time::{Duration, Instant};

use hal_interface::aidl::{AllocationError, IAllocator};
use hal_interface::Format;

use crate::call;
use crate::check::{self, reply_matches, PROMPT};
use crate::ctx::{Ctx, SETTLE_TIMEOUT};
use crate::desc::{self, CPU_RW};
use crate::procfs::{self, Proc};
use crate::runner::{Case, Outcome, Stop};

/// The cases of this area.
pub const CASES: &[Case] =
    &[Case { name: "concurrency.many_clients_at_once_then_healthy", run: many_clients }];

/// The last case of every run.
pub const HEALTH: Case = Case { name: "health.final_ping_and_64x64_allocation", run: health };

const CLIENTS: usize = 16;
const ROUNDS: usize = 60;

/// One client's loop: a valid allocation, a malformed one, an isSupported, `ROUNDS` times.
fn client_loop(allocator: &dyn IAllocator) -> Result<usize, Stop> {
    let good = desc::new(64, 64, Format::Rgba8888, CPU_RW);
    let bad = desc::new(0, 64, Format::Rgba8888, CPU_RW);
    for round in 0..ROUNDS {
        let allocated = call::allocate2_ok(allocator, &good, 1)?;
        reply_matches(&good, 1, &allocated)?;
        match call::allocate2(allocator, &bad, 1)?.value {
            Err(r) if r.code == AllocationError::BAD_DESCRIPTOR => {}
            Err(r) => return Err(Stop::failed(format!("round {round}: width 0 refused as {r}"))),
            Ok(_) => return Err(Stop::failed(format!("round {round}: width 0 allocated"))),
        }
        if !call::is_supported(allocator, &good)?.value {
            return Err(Stop::failed(format!("round {round}: 64x64 RGBA unsupported")));
        }
    }
    Ok(ROUNDS * 3)
}

/// 16 separate connections hammer the service at once with valid and invalid calls; all
/// answers are right, no client hangs, and afterwards the service's threads come back down
/// and a fresh client is served at once.
fn many_clients(ctx: &Ctx) -> Outcome {
    const WATCHDOG: Duration = Duration::from_secs(60);
    let threads_before = ctx.service().and_then(|s| procfs::thread_count(Proc::Pid(s.pid)).ok());
    let mut connections = Vec::with_capacity(CLIENTS);
    for _ in 0..CLIENTS {
        connections.push(ctx.connect()?);
    }
    let (tx, rx) = mpsc::channel();
    let start = Instant::now();
    for (client, allocator) in connections.into_iter().enumerate() {
        let tx = tx.clone();
        std::thread::spawn(move || {
            let result = client_loop(&*allocator);
            drop(allocator);
            // The receiver is gone only when the case already gave up.
            let _ = tx.send((client, result));
        });
    }
    drop(tx);
    let mut calls = 0usize;
    for _ in 0..CLIENTS {
        let left = WATCHDOG.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok((_, Ok(n))) => calls += n,
            Ok((client, Err(stop))) => return Err(stop.context(format!("client {client}"))),
            Err(_) => return Err(Stop::failed(format!("a client hung for {WATCHDOG:?}"))),
        }
    }
    ctx.note(format!("{calls} calls by {CLIENTS} clients in {:?}", start.elapsed()));
    if let (Some(service), Some(before)) = (ctx.service(), threads_before) {
        let deadline = Instant::now() + SETTLE_TIMEOUT;
        let after = loop {
            let now = procfs::thread_count(Proc::Pid(service.pid)).unwrap_or(usize::MAX);
            if now <= before + 1 || Instant::now() >= deadline {
                break now;
            }
            std::thread::sleep(Duration::from_millis(20));
        };
        ctx.note(format!("service threads {before} before, {after} after"));
        if after >= before + CLIENTS {
            return Err(Stop::failed(format!(
                "service threads grew from {before} to {after}: one per finished client kept"
            )));
        }
    }
    health_of(ctx, &*ctx.connect()?)
}

fn health_of(ctx: &Ctx, allocator: &dyn IAllocator) -> Outcome {
    let start = Instant::now();
    allocator.getInterfaceVersion().map_err(|s| Stop::failed(format!("ping: {s}")))?;
    let info = desc::new(64, 64, Format::Rgba8888, CPU_RW);
    check::allocate_checked(allocator, &info, 1)?;
    let elapsed = start.elapsed();
    if elapsed > PROMPT {
        return Err(Stop::failed(format!("ping and 64x64 allocation took {elapsed:?}")));
    }
    ctx.check_service_alive().map_err(Stop::failed)?;
    ctx.note(format!("ping and 64x64 allocation in {:.3} ms", check::millis(elapsed)));
    Ok(())
}

/// After everything, the same service process answers a ping and
/// allocates 64×64 at once, on the shared connection and on a new one.
fn health(ctx: &Ctx) -> Outcome {
    health_of(ctx, ctx.allocator())?;
    health_of(ctx, &*ctx.connect()?)
}
