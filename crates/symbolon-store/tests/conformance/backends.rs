//! Fresh, empty, migrated stores of each kind.

use std::sync::Arc;
use symbolon_store::Store;

/// A store plus whatever must outlive it (a temp dir, a database to drop).
pub struct Fixture {
    pub store: Arc<dyn Store>,
    _guard: Guard,
}

enum Guard {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Database { admin_url: String, name: String },
}

impl Drop for Guard {
    fn drop(&mut self) {
        if let Guard::Database { admin_url, name } = self {
            let (admin_url, name) = (admin_url.clone(), name.clone());
            // Drop runs outside async; a short-lived runtime on its own thread drops the database.
            let _ = std::thread::spawn(move || {
                let rt = tokio::runtime::Builder::new_current_thread()
                    .enable_all()
                    .build()
                    .expect("runtime");
                rt.block_on(async {
                    if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                        let _ =
                            sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                                .execute(&admin)
                                .await;
                    }
                });
            })
            .join();
        }
    }
}

pub async fn sqlite() -> Fixture {
    let dir = tempfile::tempdir().expect("temp dir");
    let url = format!("sqlite://{}", dir.path().join("store.db").display());
    let store = symbolon_store::connect(&url, 4)
        .await
        .expect("sqlite opens");
    store.migrate().await.expect("migrations");
    Fixture {
        store,
        _guard: Guard::Dir(dir),
    }
}

/// `None` (with a note on stderr) when no PostgreSQL is configured.
pub async fn postgres() -> Option<Fixture> {
    let Ok(admin_url) = std::env::var("SYMBOLON_TEST_POSTGRES_URL") else {
        eprintln!(
            "skipping the PostgreSQL backend: set SYMBOLON_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test to run it"
        );
        return None;
    };
    let name = format!("symbolon_test_{:016x}", rand::random::<u64>());
    let admin = sqlx::PgPool::connect(&admin_url)
        .await
        .expect("PostgreSQL reachable at SYMBOLON_TEST_POSTGRES_URL");
    sqlx::query(&format!("CREATE DATABASE {name}"))
        .execute(&admin)
        .await
        .expect("create test database");
    admin.close().await;
    let url = match admin_url.rsplit_once('/') {
        Some((base, _)) => format!("{base}/{name}"),
        None => panic!("SYMBOLON_TEST_POSTGRES_URL must name a database"),
    };
    let store = symbolon_store::connect(&url, 8)
        .await
        .expect("test database opens");
    store.migrate().await.expect("migrations");
    Some(Fixture {
        store,
        _guard: Guard::Database { admin_url, name },
    })
}

/// Defines `mod sqlite` and `mod postgres`, each with one `#[tokio::test]` per case.
#[macro_export]
macro_rules! conformance {
    ($($case:ident),* $(,)?) => {
        mod sqlite {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    let fixture = $crate::backends::sqlite().await;
                    super::$case(fixture.store.as_ref()).await;
                }
            )*
        }
        mod postgres {
            $(
                #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
                async fn $case() {
                    if let Some(fixture) = $crate::backends::postgres().await {
                        super::$case(fixture.store.as_ref()).await;
                    }
                }
            )*
        }
    };
}
