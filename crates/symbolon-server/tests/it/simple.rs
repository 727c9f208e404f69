//! Tests: simple.
