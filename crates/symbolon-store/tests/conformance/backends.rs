//! Fresh, empty, migrated stores of each kind.

use std::sync::Arc;
use symbolon_store::Store;
use symbolon_testkit::PgDatabase;

/// A store plus whatever must outlive it (a temp dir, a database to drop).
pub struct Fixture {
    pub store: Arc<dyn Store>,
    _guard: Guard,
}

enum Guard {
    Dir(#[allow(dead_code)] tempfile::TempDir),
    Database(#[allow(dead_code)] PgDatabase),
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

/// A fresh database per test; `None` (with a note on stderr) when no PostgreSQL is
/// configured.
pub async fn postgres() -> Option<Fixture> {
    let database = PgDatabase::create().await?;
    let store = symbolon_store::connect(&database.url, 8)
        .await
        .expect("test database opens");
    store.migrate().await.expect("migrations");
    Some(Fixture {
        store,
        _guard: Guard::Database(database),
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
