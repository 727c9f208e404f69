//! Heap allocations per `Verifier::verify`, and the memory 10^5 revoked sessions take,
//! counted by dhat's allocator. `cargo bench -p symbolon-verify --bench alloc`; the
//! figures are in BENCHMARKS.md.

use std::hint::black_box;
use symbolon_core::keys::{SigningAlg, SigningKey};
use symbolon_verify::{Config, Verifier};

#[path = "verify.rs"]
#[allow(dead_code)]
mod timings;

#[global_allocator]
static ALLOC: dhat::Alloc = dhat::Alloc;

fn main() {
    let _profiler = dhat::Profiler::builder().testing().build();
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    let _guard = runtime.enter();
    let (key, _) = SigningKey::generate(SigningAlg::EdDSA).expect("key");
    let jwks = serde_json::json!({"keys": [key.jwk().expect("public")]}).to_string();
    let token = timings::token(&key);
    let config = Config::new("http://127.0.0.1:1", "symbolon").with_revocations("bench", "secret");
    let verifier = Verifier::with_jwks(config, &jwks).expect("jwks");
    let page = timings::revocations(100_000);
    let before = dhat::HeapStats::get().curr_bytes;
    verifier.absorb_feed_answer(&page);
    let held = dhat::HeapStats::get().curr_bytes - before;
    drop(page);
    assert!(verifier.verify(&token).is_ok());
    let start = dhat::HeapStats::get();
    for _ in 0..1000 {
        black_box(verifier.verify(black_box(&token)).expect("verifies"));
    }
    let end = dhat::HeapStats::get();
    println!(
        "verify: {:.1} heap allocations ({:.0} bytes) per verification",
        (end.total_blocks - start.total_blocks) as f64 / 1000.0,
        (end.total_bytes - start.total_bytes) as f64 / 1000.0,
    );
    println!(
        "10^5 revoked sessions hold {:.2} MB ({:.0} bytes each)",
        held as f64 / 1e6,
        held as f64 / 1e5
    );
}
