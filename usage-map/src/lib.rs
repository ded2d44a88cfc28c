//! `usage_map`: placeholder; see docs/ARCHITECTURE.md.
