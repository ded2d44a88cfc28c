//! Latency isolation: who may be inside a slow heap at once, and at which priority.
//!
//! A contiguous heap (CMA, carveout) is slow under load: the kernel serialises contiguous
//! range allocation under one mutex and zeroes every page on the CPU. Without a bound, every
//! Binder thread can end up in that ioctl and a 64x64 request from the compositor waits for a
//! thread or a CPU. So each contiguous heap gets a [`Gate`] of [`CONTIGUOUS_PERMITS`] permits,
//! made with the heap table ([`crate::heap_table::HeapTable`]):
//!
//! - A call takes a permit for each contiguous-heap attempt and gives it back when the ioctl
//!   returns (the [`Permit`] guard; nothing else is held across the ioctl). Calls to
//!   non-contiguous heaps never touch a gate.
//! - Waiting is not refusal: a call waits for a permit however long it takes, so no request
//!   fails because the service is busy.
//! - The compositor's uids ([`COMPOSITOR_UIDS`]) take the next free permit before anyone else;
//!   within a priority, first come first served.
//!
//! The gate bounds how many threads the slow heap can hold, and with a Binder pool larger
//! than the permits (the daemon's [`crate::daemon::DEFAULT_THREADS`]) there is always a thread
//! for a small request. CPU time is the other half: see [`crate::realtime`].

use std::collections::VecDeque;
use std::num::NonZeroU32;
use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};

/// Permits of each contiguous heap's gate.
pub const CONTIGUOUS_PERMITS: NonZeroU32 = match NonZeroU32::new(2) {
    Some(permits) => permits,
    None => unreachable!(),
};

/// Uids served first: `AID_SYSTEM` (1000, SurfaceFlinger's uid on older releases and
/// system_server) and `AID_GRAPHICS` (1003, SurfaceFlinger).
pub const COMPOSITOR_UIDS: [u32; 2] = [1000, 1003];

/// How urgent a caller's requests are.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Priority {
    /// The compositor: takes the next free permit first.
    Compositor,
    /// Everyone else.
    Normal,
}

impl Priority {
    /// The priority of a caller's uid.
    pub fn of_uid(uid: u32) -> Self {
        if COMPOSITOR_UIDS.contains(&uid) {
            Priority::Compositor
        } else {
            Priority::Normal
        }
    }

    fn queue(self) -> usize {
        match self {
            Priority::Compositor => 0,
            Priority::Normal => 1,
        }
    }
}

/// A counting gate with two priority queues.
#[derive(Debug)]
pub struct Gate {
    permits: NonZeroU32,
    state: Mutex<GateState>,
    turn: Condvar,
}

#[derive(Debug, Default)]
struct GateState {
    in_use: u32,
    next_ticket: u64,
    /// Tickets waiting, per priority (compositor first), oldest first.
    queues: [VecDeque<u64>; 2],
    /// Entries that had to wait for a permit.
    waited: u64,
}

impl GateState {
    /// Whether `ticket` of `priority` is the one the next free permit goes to.
    fn is_next(&self, priority: Priority, ticket: u64) -> bool {
        let head = |queue: usize| self.queues.get(queue).and_then(VecDeque::front).copied();
        match priority {
            Priority::Compositor => head(0) == Some(ticket),
            Priority::Normal => head(0).is_none() && head(1) == Some(ticket),
        }
    }
}

/// One permit of a [`Gate`]; given back on drop.
#[derive(Debug)]
#[must_use = "the permit is given back when dropped"]
pub struct Permit<'a> {
    gate: &'a Gate,
}

impl Drop for Permit<'_> {
    fn drop(&mut self) {
        let mut state = self.gate.lock();
        state.in_use = state.in_use.saturating_sub(1);
        drop(state);
        // Every waiter re-checks whether it is next; the queues are a handful long.
        self.gate.turn.notify_all();
    }
}

impl Gate {
    /// A gate of `permits` permits.
    pub fn new(permits: NonZeroU32) -> Self {
        Self { permits, state: Mutex::new(GateState::default()), turn: Condvar::new() }
    }

    /// Waits for a permit (never gives up), compositor callers first.
    pub fn enter(&self, priority: Priority) -> Permit<'_> {
        let mut state = self.lock();
        let queued_nobody = state.queues.iter().all(VecDeque::is_empty);
        if queued_nobody && state.in_use < self.permits.get() {
            state.in_use = state.in_use.saturating_add(1);
            return Permit { gate: self };
        }
        let ticket = state.next_ticket;
        state.next_ticket = state.next_ticket.wrapping_add(1);
        state.waited = state.waited.saturating_add(1);
        if let Some(queue) = state.queues.get_mut(priority.queue()) {
            queue.push_back(ticket);
        }
        while !(state.in_use < self.permits.get() && state.is_next(priority, ticket)) {
            state = self.turn.wait(state).unwrap_or_else(PoisonError::into_inner);
        }
        if let Some(queue) = state.queues.get_mut(priority.queue()) {
            queue.pop_front();
        }
        state.in_use = state.in_use.saturating_add(1);
        drop(state);
        // The next waiter may be admitted too if another permit is free.
        self.turn.notify_all();
        Permit { gate: self }
    }

    /// Permits of this gate.
    pub fn permits(&self) -> u32 {
        self.permits.get()
    }

    /// Permits held now.
    pub fn in_use(&self) -> u32 {
        self.lock().in_use
    }

    /// Calls waiting for a permit now.
    pub fn waiting(&self) -> usize {
        self.lock().queues.iter().map(VecDeque::len).sum()
    }

    /// Entries so far that had to wait.
    pub fn waited(&self) -> u64 {
        self.lock().waited
    }

    fn lock(&self) -> MutexGuard<'_, GateState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use std::sync::mpsc;
    use std::sync::Arc;
    use std::thread;
    use std::time::{Duration, Instant};

    use super::*;

    fn gate(permits: u32) -> Arc<Gate> {
        Arc::new(Gate::new(NonZeroU32::new(permits).unwrap()))
    }

    /// Spins until `gate` has `n` waiters (the test threads have queued).
    fn until_waiting(gate: &Gate, n: usize) {
        let deadline = Instant::now() + Duration::from_secs(10);
        while gate.waiting() != n {
            assert!(Instant::now() < deadline, "{} waiting, expected {n}", gate.waiting());
            thread::sleep(Duration::from_millis(1));
        }
    }

    #[test]
    fn compositor_uids_are_system_and_graphics() {
        assert_eq!(Priority::of_uid(1000), Priority::Compositor);
        assert_eq!(Priority::of_uid(1003), Priority::Compositor);
        assert_eq!(Priority::of_uid(0), Priority::Normal);
        assert_eq!(Priority::of_uid(10_057), Priority::Normal);
    }

    #[test]
    fn permits_are_free_until_all_are_held() {
        let gate = gate(2);
        let first = gate.enter(Priority::Normal);
        let second = gate.enter(Priority::Normal);
        assert_eq!((gate.in_use(), gate.waiting(), gate.waited()), (2, 0, 0));
        drop(first);
        drop(second);
        assert_eq!(gate.in_use(), 0);
    }

    #[test]
    fn a_compositor_waiter_overtakes_earlier_normal_waiters() {
        let gate = gate(1);
        let held = gate.enter(Priority::Normal);
        let (order_tx, order) = mpsc::channel();
        let mut waiters = Vec::new();
        for (n, priority) in
            [Priority::Normal, Priority::Normal, Priority::Compositor].into_iter().enumerate()
        {
            let (waiter_gate, order_tx) = (Arc::clone(&gate), order_tx.clone());
            waiters.push(thread::spawn(move || {
                let _permit = waiter_gate.enter(priority);
                order_tx.send(priority).unwrap();
            }));
            until_waiting(&gate, n + 1);
        }
        drop(held);
        let admitted: Vec<Priority> = (0..3).map(|_| order.recv().unwrap()).collect();
        assert_eq!(admitted, [Priority::Compositor, Priority::Normal, Priority::Normal]);
        for waiter in waiters {
            waiter.join().unwrap();
        }
        assert_eq!((gate.in_use(), gate.waiting(), gate.waited()), (0, 0, 3));
    }

    #[test]
    fn normal_waiters_are_admitted_in_arrival_order() {
        let gate = gate(1);
        let held = gate.enter(Priority::Normal);
        let (order_tx, order) = mpsc::channel();
        let mut waiters = Vec::new();
        for n in 0..3usize {
            let (waiter_gate, order_tx) = (Arc::clone(&gate), order_tx.clone());
            waiters.push(thread::spawn(move || {
                let _permit = waiter_gate.enter(Priority::Normal);
                order_tx.send(n).unwrap();
            }));
            until_waiting(&gate, n + 1);
        }
        drop(held);
        let admitted: Vec<usize> = (0..3).map(|_| order.recv().unwrap()).collect();
        assert_eq!(admitted, [0, 1, 2]);
        for waiter in waiters {
            waiter.join().unwrap();
        }
    }
}
