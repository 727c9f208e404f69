//! The cost of verifying an access token: the bare Ed25519 signature check against the
//! verifier's whole check (header, key lookup, signature, claims, revocation set).
//! `cargo bench -p symbolon-verify`; figures in BENCHMARKS.md.

fn main() {}
