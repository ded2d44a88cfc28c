//! `allocator_service`: placeholder; see docs/ARCHITECTURE.md.
