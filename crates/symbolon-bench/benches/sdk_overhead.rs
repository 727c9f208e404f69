//! The SDK's overhead on a request that needs no refresh, timed by criterion (issue 3,
//! BENCHMARKS.md). Serial `GET /healthz` to an in-process server over one keep-alive
//! connection: plain reqwest, `Client::send`, the middleware, plain reqwest again (how
//! much the machine drifted meanwhile), and the SDK's bookkeeping alone (taking the
//! current token). Wall-clock differences of a few percent are within this method's
//! noise on a shared machine; `src/bin/sdk-overhead.rs` counts instructions instead.
//!
//! ```text
//! cargo bench -p symbolon-bench --bench sdk_overhead
//! ```

// criterion_group! makes a public function without a doc comment.
#![allow(missing_docs)]

use criterion::{criterion_group, criterion_main, Criterion};
use std::time::Duration;
use symbolon_bench::{Arm, InProcess};

fn overhead(c: &mut Criterion) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    let server = rt.block_on(InProcess::start()).expect("server");
    let arms = server.arms();

    let mut group = c.benchmark_group("get_healthz");
    group.measurement_time(Duration::from_secs(10));
    for (name, arm) in [
        ("plain_reqwest", Arm::Plain),
        ("client_send", Arm::Send),
        ("middleware", Arm::Middleware),
        ("plain_reqwest_again", Arm::Plain),
    ] {
        group.bench_function(name, |b| {
            b.iter(|| rt.block_on(arms.request(arm)).expect("request"))
        });
    }
    group.finish();

    c.bench_function("bookkeeping", |b| {
        b.iter(|| rt.block_on(server.client.access_token()).expect("token"))
    });
}

criterion_group!(benches, overhead);
criterion_main!(benches);
