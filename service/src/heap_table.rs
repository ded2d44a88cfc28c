//! The heaps opened for a board, indexed by the board's heap ids.
//!
//! [`crate::startup`] fills the table once; the allocator reads it from every binder thread.
//! A slot left empty is a declared heap that is absent on this device. A contiguous heap
//! (`HeapCaps::contiguous`) gets its admission [`Gate`] when it is installed.

use std::sync::Arc;

use heaps::Heap;
use usage_map::{HeapId, UsageMap};

use crate::admission::{Gate, CONTIGUOUS_PERMITS};

/// The opened heaps, indexed like [`UsageMap::heaps`] (by [`HeapId`]).
#[derive(Clone, Debug)]
pub struct HeapTable {
    slots: Vec<Option<Slot>>,
}

#[derive(Clone, Debug)]
struct Slot {
    heap: Arc<dyn Heap>,
    /// Bounds the calls inside a contiguous heap; `None` for the others.
    gate: Option<Arc<Gate>>,
}

/// A heap name the board does not declare.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("the board declares no heap {0:?}")]
pub struct UnknownHeap(pub String);

impl HeapTable {
    /// A table for `map` with every heap absent.
    pub fn empty(map: &UsageMap) -> Self {
        Self { slots: map.heaps().iter().map(|_| None).collect() }
    }

    /// Installs `heap` as the board heap called `name` (tests, and callers that open heaps
    /// themselves).
    ///
    /// # Errors
    /// [`UnknownHeap`] when `map` declares no heap of that name.
    pub fn insert(
        &mut self,
        map: &UsageMap,
        name: &str,
        heap: Arc<dyn Heap>,
    ) -> Result<(), UnknownHeap> {
        let decl = map.heap(name).ok_or_else(|| UnknownHeap(name.to_owned()))?;
        if self.set(decl.id, heap) {
            Ok(())
        } else {
            Err(UnknownHeap(name.to_owned()))
        }
    }

    /// Installs `heap` in the slot of `id`; false when the table has no such slot (an id of
    /// another board).
    pub(crate) fn set(&mut self, id: HeapId, heap: Arc<dyn Heap>) -> bool {
        match self.slots.get_mut(id.index()) {
            Some(slot) => {
                let gate = heap.caps().contiguous.then(|| Arc::new(Gate::new(CONTIGUOUS_PERMITS)));
                *slot = Some(Slot { heap, gate });
                true
            }
            None => false,
        }
    }

    /// The heap opened for `id`, if it is present.
    pub fn get(&self, id: HeapId) -> Option<&Arc<dyn Heap>> {
        self.slot(id).map(|slot| &slot.heap)
    }

    /// The admission gate of `id`: `Some` for a present contiguous heap.
    pub fn gate(&self, id: HeapId) -> Option<&Gate> {
        self.slot(id).and_then(|slot| slot.gate.as_deref())
    }

    /// Drops every admission gate: calls enter heaps unbounded (`--latency-isolation off`,
    /// the configuration before gates existed, for comparisons).
    #[must_use]
    pub fn without_gates(mut self) -> Self {
        for slot in self.slots.iter_mut().flatten() {
            slot.gate = None;
        }
        self
    }

    fn slot(&self, id: HeapId) -> Option<&Slot> {
        self.slots.get(id.index()).and_then(Option::as_ref)
    }

    /// Number of heaps present.
    pub fn present(&self) -> usize {
        self.slots.iter().flatten().count()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn inserting_an_undeclared_heap_is_refused() {
        let board = concat!(env!("CARGO_MANIFEST_DIR"), "/../usage-map/boards/host.toml");
        let map = UsageMap::load(std::path::Path::new(board)).unwrap();
        let mut table = HeapTable::empty(&map);
        let heap = Arc::new(heaps::MemfdHeap::new("memfd").unwrap());
        assert_eq!(table.present(), 0);
        assert_eq!(table.insert(&map, "camra", heap.clone()), Err(UnknownHeap("camra".into())));
        table.insert(&map, "memfd", heap).unwrap();
        assert_eq!(table.present(), 1);
    }

    #[test]
    fn only_contiguous_heaps_get_a_gate() {
        let board = concat!(env!("CARGO_MANIFEST_DIR"), "/../usage-map/boards/host.toml");
        let map = UsageMap::load(std::path::Path::new(board)).unwrap();
        let id = map.heap("memfd").unwrap().id;
        let plain = heaps::MemfdHeap::new("memfd").unwrap();
        let contiguous = heaps::MemfdHeap::new("memfd")
            .unwrap()
            .with_caps(heaps::HeapCaps { contiguous: true, ..Default::default() });
        let mut table = HeapTable::empty(&map);
        table.insert(&map, "memfd", Arc::new(plain)).unwrap();
        assert!(table.gate(id).is_none());
        table.insert(&map, "memfd", Arc::new(contiguous)).unwrap();
        assert_eq!(table.gate(id).map(Gate::permits), Some(CONTIGUOUS_PERMITS.get()));
        assert!(table.without_gates().gate(id).is_none());
    }
}
