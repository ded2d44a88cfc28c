//! The process-wide registry of imported buffers, keyed by the address of the handle
//! `importBuffer` returned. One registry per process, whatever the number of `AIMapper`
//! loads, so a handle imported through one is valid through every other.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, OnceLock, PoisonError};

use crate::abi::MapperError;
use crate::buffer::Imported;

type Map = HashMap<usize, Arc<Imported>>;

fn map() -> MutexGuard<'static, Map> {
    static REGISTRY: OnceLock<Mutex<Map>> = OnceLock::new();
    REGISTRY.get_or_init(Mutex::default).lock().unwrap_or_else(PoisonError::into_inner)
}

/// Registers `buffer`; returns it shared.
pub fn insert(buffer: Imported) -> Arc<Imported> {
    let buffer = Arc::new(buffer);
    map().insert(buffer.key(), Arc::clone(&buffer));
    buffer
}

/// The buffer whose handle is at `key`.
///
/// # Errors
///
/// `BAD_BUFFER` for an address `importBuffer` did not return (or that was freed).
pub fn get(key: usize) -> Result<Arc<Imported>, MapperError> {
    map().get(&key).cloned().ok_or(MapperError::BadBuffer)
}

/// Unregisters the buffer at `key`; its fds close and its mapping goes once no other
/// thread is still inside a call on it.
///
/// # Errors
///
/// `BAD_BUFFER` for an unknown handle (never imported, or already freed).
pub fn remove(key: usize) -> Result<(), MapperError> {
    map().remove(&key).map(drop).ok_or(MapperError::BadBuffer)
}

/// Every imported buffer, for `dumpAllBuffers` (a snapshot: the lock is not held while
/// callers' callbacks run).
pub fn all() -> Vec<Arc<Imported>> {
    let mut buffers: Vec<Arc<Imported>> = map().values().cloned().collect();
    buffers.sort_by_key(|b| b.handle().buffer_id);
    buffers
}
