//! The TypeScript client's tests (clients/js, Node's test runner) against this build's
//! `symbolon` binary, so that `cargo test --workspace` runs every test of the repository.
//! `scripts/js-test.sh` does the work: without Node.js and npm it prints "skipped" and
//! passes, unless `SYMBOLON_TEST_JS=required` (CI).

#[test]
fn the_typescript_client_passes_its_tests_against_this_server() {
    let root = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let output = std::process::Command::new("bash")
        .arg(root.join("scripts/js-test.sh"))
        .env("SYMBOLON_BIN", env!("CARGO_BIN_EXE_symbolon"))
        .output()
        .expect("bash runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    if stdout.contains("skipped:") {
        eprintln!("{}", stdout.trim());
    }
    assert!(
        output.status.success(),
        "scripts/js-test.sh failed:\n{stdout}\n{stderr}"
    );
}
