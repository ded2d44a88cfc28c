//! Placeholder: owned by the service front-end work (see docs/ARCHITECTURE.md).
