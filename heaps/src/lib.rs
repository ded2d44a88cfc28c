//! `heaps`: placeholder; see docs/ARCHITECTURE.md.
