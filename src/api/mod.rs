//! The HTTP API under `/api` (SPEC §5). Today: the demo login of dev mode.

pub mod dev;
