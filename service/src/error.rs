//! Placeholder: owned by the service-core work (see docs/ARCHITECTURE.md).
