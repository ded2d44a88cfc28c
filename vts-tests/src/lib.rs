//! `vts_tests`: placeholder; see docs/ARCHITECTURE.md.
