//! Tests: jwt.
