//! Operations endpoints: liveness, readiness, Prometheus metrics, the OpenAPI document.

use crate::helpers::{header, spawn_app, TestApp};
use reqwest::StatusCode;
use serde_json::{json, Value};

async fn get_json(app: &TestApp, path: &str) -> Value {
    let response = app.get(path, None).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    assert!(
        header(&response, "content-type").starts_with("application/json"),
        "{path}"
    );
    response.json().await.expect("json")
}

async fn metrics(app: &TestApp) -> String {
    let response = app.get("/metrics", None).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(header(&response, "content-type").starts_with("text/plain; version=0.0.4"));
    response.text().await.expect("text")
}

/// The value of one sample line (`name{labels} value`), if present.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' '))
        .and_then(|value| value.trim().parse().ok())
}

#[tokio::test]
async fn health_and_readiness_answer_ok() {
    let app = spawn_app().await;
    assert_eq!(get_json(&app, "/healthz").await["status"], "ok");
    assert_eq!(get_json(&app, "/readyz").await["status"], "ready");
}

#[tokio::test]
async fn metrics_count_logins_and_refreshes() {
    let app = spawn_app().await;
    let before = metrics(&app).await;
    assert!(before.contains("# TYPE symbolon_login counter"), "{before}");
    assert_eq!(
        sample(&before, r#"symbolon_refresh_total{outcome="rotated"}"#),
        None,
        "{before}"
    );

    let tokens = app.alice().await;
    assert_eq!(
        app.login_response("alice", "wrong password").await.status(),
        StatusCode::UNAUTHORIZED
    );
    app.refresh(&tokens.refresh).await;
    let garbage = app.refresh_response("garbage").await;
    assert_eq!(garbage.status(), StatusCode::UNAUTHORIZED);

    let after = metrics(&app).await;
    for (series, value) in [
        (r#"symbolon_login_total{outcome="success"}"#, 1.0),
        (r#"symbolon_login_total{outcome="failure"}"#, 1.0),
        (r#"symbolon_refresh_total{outcome="rotated"}"#, 1.0),
        (r#"symbolon_refresh_total{outcome="invalid"}"#, 1.0),
        ("symbolon_password_hashes_in_flight", 0.0),
    ] {
        assert_eq!(sample(&after, series), Some(value), "{series} in\n{after}");
    }
    assert!(
        after.trim_end().ends_with("# EOF"),
        "OpenMetrics-compatible end marker: {after}"
    );
}

#[tokio::test]
async fn openapi_is_3_1_and_lists_every_endpoint_of_the_contract() {
    let app = spawn_app().await;
    let doc = get_json(&app, "/openapi.json").await;
    assert_eq!(doc["openapi"], "3.1.0");
    assert!(doc["info"]["title"].is_string(), "{}", doc["info"]);
    // Contract §2, every row of every table.
    let endpoints = [
        ("post", "/login"),
        ("post", "/token/refresh"),
        ("post", "/logout"),
        ("post", "/register"),
        ("post", "/password"),
        ("get", "/me"),
        ("get", "/sessions"),
        ("delete", "/sessions/{id}"),
        ("post", "/oauth/token"),
        ("post", "/oauth/revoke"),
        ("post", "/oauth/introspect"),
        ("get", "/revocations"),
        ("get", "/.well-known/jwks.json"),
        ("get", "/.well-known/oauth-authorization-server"),
        ("get", "/healthz"),
        ("get", "/readyz"),
        ("get", "/metrics"),
        ("get", "/openapi.json"),
    ];
    let paths = doc["paths"].as_object().expect("paths");
    for (method, path) in endpoints {
        let operation = &doc["paths"][path][method];
        assert!(
            operation.is_object(),
            "{method} {path} missing; paths: {:?}",
            paths.keys()
        );
        assert!(
            operation["responses"].is_object(),
            "{method} {path} has no responses"
        );
    }
    assert_eq!(
        paths.len(),
        endpoints.len(),
        "undocumented extras or duplicates: {:?}",
        paths.keys()
    );
    // OpenAPI 3.1 §4.8.30: every security requirement must name a declared scheme, or
    // generated clients cannot attach the bearer token.
    let schemes = &doc["components"]["securitySchemes"];
    for (method, path) in endpoints {
        for requirement in doc["paths"][path][method]["security"]
            .as_array()
            .into_iter()
            .flatten()
        {
            for name in requirement.as_object().expect("requirement").keys() {
                assert!(
                    schemes[name].is_object(),
                    "{method} {path}: undeclared security scheme {name}: {schemes}"
                );
            }
        }
    }
    assert_eq!(schemes["bearer"]["type"], "http", "{schemes}");
    assert_eq!(schemes["bearer"]["scheme"], "bearer", "{schemes}");
    assert!(
        doc["paths"]["/me"]["get"]["security"].is_array(),
        "/me is a protected resource"
    );
    // Every error answer is the contract's body (§2.1), and every operation that reads a
    // body documents the answers of a body refused before its handler runs.
    for (method, path) in endpoints {
        let operation = &doc["paths"][path][method];
        let responses = operation["responses"].as_object().expect("responses");
        for (status, response) in responses {
            if status.starts_with('4') || status.starts_with('5') {
                assert_eq!(
                    response["content"]["application/json"]["schema"]["$ref"],
                    "#/components/schemas/ErrorBody",
                    "{method} {path} {status}"
                );
            }
        }
        if operation["requestBody"].is_object() {
            for status in ["400", "413", "415"] {
                assert!(
                    responses.contains_key(status),
                    "{method} {path} reads a body but documents no {status}"
                );
            }
        }
    }
    let error = &doc["components"]["schemas"]["ErrorBody"];
    assert_eq!(
        error["required"],
        json!(["error", "error_description"]),
        "{error}"
    );
    // The body of POST /logout is optional (§2.3), and when sent an object, not `null`.
    let logout = &doc["paths"]["/logout"]["post"];
    assert_eq!(logout["requestBody"]["required"], false, "{logout}");
    assert_eq!(
        logout["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/LogoutRequest"
    );
    // ...and a bearer token is one way to call it, not the only one.
    assert_eq!(logout["security"], json!([{}, {"bearer": []}]), "{logout}");
    // Links are Link Objects (OpenAPI 3.1 §4.8.20: `operationId`, `requestBody`) naming
    // operations of this document: the stateful fuzzing follows them.
    let ids: Vec<&str> = endpoints
        .iter()
        .filter_map(|(method, path)| doc["paths"][path][method]["operationId"].as_str())
        .collect();
    let login_links = doc["paths"]["/login"]["post"]["responses"]["200"]["links"]
        .as_object()
        .expect("POST /login links");
    for (name, link) in login_links {
        let target = link["operationId"].as_str().unwrap_or_default();
        assert!(ids.contains(&target), "link {name}: {link}");
        assert!(link.get("operation_id").is_none(), "link {name}: {link}");
    }
    assert_eq!(
        login_links["refresh"]["requestBody"]["refresh_token"],
        "$response.body#/refresh_token"
    );
    // The OAuth forms are described field by field, with what the server requires.
    let form = |path: &str| {
        doc["paths"][path]["post"]["requestBody"]["content"]["application/x-www-form-urlencoded"]
            ["schema"]["$ref"]
            .as_str()
            .and_then(|r| r.rsplit('/').next())
            .map(|name| doc["components"]["schemas"][name].clone())
            .unwrap_or_default()
    };
    assert_eq!(form("/oauth/revoke")["required"], json!(["token"]));
    assert_eq!(form("/oauth/introspect")["required"], json!(["token"]));
    assert_eq!(
        form("/oauth/token")["oneOf"].as_array().map(Vec::len),
        Some(2)
    );
    // A new account's policies are in the schema of /register, not in that of /login.
    let schemas = &doc["components"]["schemas"];
    assert_eq!(
        schemas["Registration"]["properties"]["password"]["minLength"],
        8
    );
    assert!(schemas["Credentials"]["properties"]["password"]["minLength"].is_null());
    // The token response schema names the contract's fields.
    let token = &doc["components"]["schemas"]["TokenResponse"]["properties"];
    for field in [
        "access_token",
        "token_type",
        "expires_in",
        "refresh_token",
        "refresh_token_expires_in",
        "session_id",
    ] {
        assert!(token[field].is_object(), "TokenResponse.{field}: {token}");
    }
}

/// A database outage answers 503 with `Retry-After` (clients try again), not 500; the
/// tokens of the request are untouched and work once the database is back.
#[tokio::test]
async fn a_database_outage_answers_503_with_retry_after() {
    let Some(db) = symbolon_testkit::PgDatabase::create().await else {
        return;
    };
    let url = db.url.clone();
    let app = crate::helpers::spawn_with(move |c| c.database_url = url).await;
    let tokens = app.alice().await;

    db.allow_connections(false).await;
    db.terminate_connections().await;
    for (path, body) in [
        (
            "/token/refresh",
            serde_json::json!({"refresh_token": tokens.refresh}),
        ),
        (
            "/login",
            serde_json::json!({"username": "alice", "password": crate::helpers::ALICE_PASSWORD}),
        ),
    ] {
        let response = app.post_json(path, body).await;
        assert_eq!(header(&response, "retry-after"), "1", "{path}");
        crate::helpers::assert_error(response, StatusCode::SERVICE_UNAVAILABLE, "server_error")
            .await;
    }
    assert_eq!(
        app.me_status(&tokens.access).await,
        StatusCode::SERVICE_UNAVAILABLE
    );
    // Revocation reports the outage instead of answering 200 without revoking.
    let revoke = app
        .post_form("/oauth/revoke", &[("token", &tokens.refresh)])
        .await;
    assert_eq!(revoke.status(), StatusCode::SERVICE_UNAVAILABLE);
    let ready = app.get("/readyz", None).await;
    assert_eq!(ready.status(), StatusCode::SERVICE_UNAVAILABLE);

    db.allow_connections(true).await;
    let next = app.refresh(&tokens.refresh).await;
    assert_eq!(app.me_status(&next.access).await, StatusCode::OK);
}

/// Instances of a fleet decide the reuse grace, expiry and key activation by their
/// clocks; with `clock_from_database` (the default) they take PostgreSQL's, so a machine
/// whose clock is off (here: the test's manual clock, stopped in 2027) still agrees with
/// the others.
#[tokio::test]
async fn a_fleet_instance_takes_the_time_from_postgresql() {
    let Some(db) = symbolon_testkit::PgDatabase::create().await else {
        return;
    };
    let url = db.url.clone();
    let app = crate::helpers::spawn_with(move |c| {
        c.database_url = url;
        c.clock_from_database = true;
    })
    .await;
    let real = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("after 1970")
        .as_secs() as i64;
    let now = app.service().now();
    assert!(
        (now - real).abs() <= 2,
        "the service reads {now}, PostgreSQL's clock (this machine's) says {real}; the manual clock says {}",
        crate::helpers::T0
    );
    // The injected clock still moves the service's time (tests age tokens with it).
    app.clock.advance(60);
    assert!((app.service().now() - real - 60).abs() <= 2);
    let offset = app
        .service()
        .sync_clock()
        .await
        .expect("sync")
        .expect("an offset");
    assert!(((crate::helpers::T0 + 60) * 1000 + offset - real * 1000).abs() <= 2_000);
}
