//! A PostgreSQL database per test.

/// A PostgreSQL database of one test's own, created empty and dropped (with any
/// connections left) when this value is.
pub struct PgDatabase {
    /// The database's URL.
    pub url: String,
    admin_url: String,
    name: String,
}

impl PgDatabase {
    /// A new database on the server of `SYMBOLON_TEST_POSTGRES_URL`; `None`, with a note
    /// on stderr that says how to run the test, when the variable is not set. Panics when
    /// it is set but the server cannot be used: CI must not skip silently.
    pub async fn create() -> Option<Self> {
        let Ok(admin_url) = std::env::var("SYMBOLON_TEST_POSTGRES_URL") else {
            eprintln!(
                "skipping: set SYMBOLON_TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test to run the PostgreSQL tests"
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
            .expect("create the test database");
        admin.close().await;
        let (base, _) = admin_url
            .rsplit_once('/')
            .expect("SYMBOLON_TEST_POSTGRES_URL names a database");
        Some(Self {
            url: format!("{base}/{name}"),
            admin_url,
            name,
        })
    }

    /// The address of the PostgreSQL server (the `host:port` of [`url`](Self::url),
    /// resolved; port 5432 when the URL names none), e.g. to put a
    /// [`FaultProxy`](crate::FaultProxy) in front of it.
    pub async fn server_addr(&self) -> std::net::SocketAddr {
        let (_, host_port, _) = split_url(&self.url);
        let host_port = if host_port.contains(':') {
            host_port.to_owned()
        } else {
            format!("{host_port}:5432")
        };
        tokio::net::lookup_host(host_port)
            .await
            .expect("the PostgreSQL host resolves")
            .next()
            .expect("an address for the PostgreSQL host")
    }

    /// [`url`](Self::url) with its `host:port` replaced by `addr`: the same database,
    /// reached through a proxy there.
    pub fn url_via(&self, addr: std::net::SocketAddr) -> String {
        let (before, _, after) = split_url(&self.url);
        format!("{before}{addr}{after}")
    }

    /// Opens or closes the database to new connections (`ALLOW_CONNECTIONS`, which binds
    /// superusers too): with `false` and [`terminate_connections`](Self::terminate_connections),
    /// an outage for everything but this admin.
    pub async fn allow_connections(&self, allow: bool) {
        let admin = sqlx::PgPool::connect(&self.admin_url)
            .await
            .expect("admin connection");
        sqlx::query(&format!(
            "ALTER DATABASE {} WITH ALLOW_CONNECTIONS {allow}",
            self.name
        ))
        .execute(&admin)
        .await
        .expect("alter database");
        admin.close().await;
    }

    /// Ends every connection to this database (what a failover or an operator does) and
    /// returns how many there were.
    pub async fn terminate_connections(&self) -> u64 {
        let admin = sqlx::PgPool::connect(&self.admin_url)
            .await
            .expect("admin connection");
        let killed: Vec<bool> = sqlx::query_scalar(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
        )
        .bind(&self.name)
        .fetch_all(&admin)
        .await
        .expect("terminate");
        admin.close().await;
        killed.len() as u64
    }
}

/// `postgres://user@host:port/db?x` as (`postgres://user@`, `host:port`, `/db?x`).
fn split_url(url: &str) -> (&str, &str, &str) {
    let authority_start = url.find("://").map_or(0, |i| i + 3);
    let authority_end = url[authority_start..]
        .find(['/', '?'])
        .map_or(url.len(), |i| authority_start + i);
    let host_start = url[authority_start..authority_end]
        .rfind('@')
        .map_or(authority_start, |i| authority_start + i + 1);
    (
        &url[..host_start],
        &url[host_start..authority_end],
        &url[authority_end..],
    )
}

impl Drop for PgDatabase {
    fn drop(&mut self) {
        let (admin_url, name) = (self.admin_url.clone(), self.name.clone());
        // Drop runs outside async: a short-lived runtime on a thread of its own.
        let _ = std::thread::spawn(move || {
            let Ok(rt) = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
            else {
                return;
            };
            rt.block_on(async {
                if let Ok(admin) = sqlx::PgPool::connect(&admin_url).await {
                    let _ = sqlx::query(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                        .execute(&admin)
                        .await;
                }
            });
        })
        .join();
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn split_url_finds_host_and_port() {
        assert_eq!(
            super::split_url("postgres://postgres@127.0.0.1:5432/test"),
            ("postgres://postgres@", "127.0.0.1:5432", "/test")
        );
        assert_eq!(
            super::split_url("postgresql://u:p@w@db.example:6543/x?sslmode=disable"),
            (
                "postgresql://u:p@w@",
                "db.example:6543",
                "/x?sslmode=disable"
            )
        );
        assert_eq!(
            super::split_url("postgres://localhost/test"),
            ("postgres://", "localhost", "/test")
        );
    }
}
