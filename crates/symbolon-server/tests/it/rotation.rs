//! Tests: rotation.
