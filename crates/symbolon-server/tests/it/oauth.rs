//! Tests: oauth.
