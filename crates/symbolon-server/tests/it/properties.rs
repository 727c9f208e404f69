//! A property test of the rotation rules over random interleavings of refresh, replay,
//! concurrent refresh, logout and clock advances, against the real service and a real
//! SQLite file: never two different successors of one token, never a working token in
//! a revoked session.

use crate::helpers::*;
use proptest::prelude::*;
use std::collections::HashMap;
use symbolon_proto::LogoutScope;
use symbolon_server::service::{Credential, RefreshFailure, RequestMeta, ServiceError};

#[derive(Debug, Clone)]
enum Op {
    /// Present the token issued `back` steps before the newest one.
    Refresh { back: usize },
    /// Present one token from several tasks at once.
    Race { back: usize, n: usize },
    /// Let time pass.
    Advance(i64),
    /// End the session.
    Logout,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        4 => (0usize..3).prop_map(|back| Op::Refresh { back }),
        2 => ((0usize..2), (2usize..6)).prop_map(|(back, n)| Op::Race { back, n }),
        3 => (0i64..15).prop_map(Op::Advance),
        1 => Just(Op::Logout),
    ]
}

async fn run(ops: Vec<Op>) -> Result<(), TestCaseError> {
    let app = spawn_app().await;
    let first = app.alice().await;
    let service = app.service().clone();
    let client = app.config.default_client_id.clone();
    let meta = RequestMeta::default();
    // Every refresh token issued, oldest first, and the one successor each was answered with.
    let mut issued = vec![first.refresh.clone()];
    let mut successor: HashMap<String, String> = HashMap::new();
    let mut newest_access = first.access.clone();
    let mut revoked = false;

    for op in ops {
        let (token, copies) = match op {
            Op::Advance(s) => {
                app.clock.advance(s);
                continue;
            }
            Op::Logout => {
                let sessions = service.sessions();
                if sessions.authenticate(&newest_access).await.is_ok() {
                    sessions
                        .logout(
                            Credential::Access(&newest_access),
                            LogoutScope::Local,
                            &service.clients().default_client(),
                            &meta,
                        )
                        .await
                        .expect("logout");
                }
                revoked = true;
                continue;
            }
            Op::Refresh { back } => (issued[issued.len().saturating_sub(1 + back)].clone(), 1),
            Op::Race { back, n } => (issued[issued.len().saturating_sub(1 + back)].clone(), n),
        };
        let mut tasks = tokio::task::JoinSet::new();
        for _ in 0..copies {
            let (service, token, client, meta) =
                (service.clone(), token.clone(), client.clone(), meta.clone());
            tasks.spawn(async move { service.sessions().refresh(&token, &client, &meta).await });
        }
        while let Some(result) = tasks.join_next().await {
            match result.expect("task") {
                Ok(pair) => {
                    prop_assert!(!revoked, "a refresh succeeded in a revoked session");
                    let next = pair.refresh_token.expose().to_owned();
                    if let Some(known) = successor.get(&token) {
                        prop_assert_eq!(known, &next, "two successors of one token");
                    } else {
                        successor.insert(token.clone(), next.clone());
                        issued.push(next);
                    }
                    newest_access = pair.access_token;
                }
                Err(ServiceError::Refresh(RefreshFailure::Reused)) => revoked = true,
                Err(ServiceError::Refresh(_)) => {}
                Err(other) => prop_assert!(false, "unexpected failure {other:?}"),
            }
        }
        if revoked {
            // Nothing of the session may work any more: no refresh token, no access token.
            for token in &issued {
                prop_assert!(service
                    .sessions()
                    .refresh(token, &client, &meta)
                    .await
                    .is_err());
            }
            prop_assert!(service
                .sessions()
                .authenticate(&newest_access)
                .await
                .is_err());
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn rotation_never_forks_and_revocation_is_final(ops in proptest::collection::vec(op(), 1..24)) {
        let runtime = tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap();
        runtime.block_on(run(ops))?;
    }
}
