//! Configuration parsing: TOML text → the typed `Config`, as `Config::load` reads a file
//! (`Config::from_toml_text`).
//!
//! Invariants: never a panic (errors are `ConfigError`s with a message); a configuration
//! that loads keeps the cross-key rules of `validate`, splits into the service's and the
//! HTTP layer's settings, and prints (`Debug`) without the database password; and it
//! round-trips: written back as TOML, it loads again to the same `Config`.
#![no_main]

use libfuzzer_sys::fuzz_target;
use symbolon_server::config::{Config, ConfigError};

fuzz_target!(|data: &[u8]| {
    let Ok(text) = std::str::from_utf8(data) else {
        return;
    };
    let config = match Config::from_toml_text(text) {
        Ok(config) => config,
        Err(ConfigError(message)) => {
            assert!(!message.is_empty(), "an error without a message");
            return;
        }
    };
    // What `validate` promises.
    assert!(config.access_ttl.0 > 0 && config.refresh_ttl.0 > 0 && config.session_ttl.0 > 0);
    assert!(config.reuse_grace.0 < config.refresh_ttl.0);
    assert!(
        config.max_concurrent_hashes > 0 && config.db_pool_size > 0 && config.max_connections > 0
    );
    // The split into the layers' settings.
    let settings = config.settings();
    assert_eq!(settings.issuer, config.issuer());
    let _ = config.http_settings();
    let _ = config.hash_params();
    // Debug hides the database password.
    let shown = format!("{config:?}");
    if let Some((_, rest)) = config.database_url.split_once("://") {
        if let Some((userinfo, _)) = rest.rsplit_once('@') {
            if let Some((_, password)) = userinfo.split_once(':') {
                if password.len() >= 4 && !"***".contains(password) {
                    let quoted = serde_json::to_string(password).expect("a string");
                    let quoted = &quoted[1..quoted.len() - 1];
                    assert!(
                        !shown.contains(&format!(":{quoted}@")),
                        "Debug shows the database password: {shown}"
                    );
                }
            }
        }
    }
    // The typed configuration round-trips through its TOML form.
    let written = toml::to_string(&config).expect("a Config serialises as TOML");
    match Config::from_toml_text(&written) {
        Ok(again) => assert!(again == config, "reloaded differently:\n{written}"),
        Err(e) => {
            panic!("a loaded configuration does not load again ({e}):\n{text}\n---\n{written}")
        }
    }
});
