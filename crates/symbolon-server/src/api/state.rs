//! The state every handler receives: the service, and what only HTTP needs.

use crate::service::Service;
use std::sync::Arc;

/// What the HTTP layer needs beyond the service.
#[derive(Debug, Clone)]
pub struct HttpSettings {
    /// Reverse proxies whose `X-Forwarded-For` is believed (addresses or networks).
    pub trusted_proxies: Vec<crate::config::IpNet>,
    /// How long a connection may take to send a request's headers, and may idle between
    /// requests.
    pub header_read_timeout: std::time::Duration,
    /// Connections served at once; more are closed when accepted.
    pub max_connections: usize,
    /// The browser cookie mode, its CSRF checks and CORS (`docs/API.md` §2.9).
    pub browser: BrowserSettings,
}

/// What the cookie mode, the CSRF check and CORS need (`docs/API.md` §2.9).
#[derive(Debug, Clone)]
pub struct BrowserSettings {
    /// The cookie's `SameSite`.
    pub same_site: crate::config::SameSite,
    /// Drop `Secure` (and the `__Host-` prefix) on requests to a loopback listener.
    pub insecure_loopback: bool,
    /// Origins allowed to call with credentials (CORS) and to use the cookie mode.
    pub allowed_origins: Vec<crate::config::Origin>,
    /// The server's own origin (the issuer's), also allowed to use the cookie mode.
    pub own_origin: crate::config::Origin,
}

/// Shared, cheaply cloned state: nothing global.
#[derive(Debug, Clone)]
pub struct AppState(Arc<Inner>);

#[derive(Debug)]
struct Inner {
    service: Service,
    http: HttpSettings,
}

impl AppState {
    /// The state for `service`, served with `http`.
    pub fn new(service: Service, http: HttpSettings) -> Self {
        Self(Arc::new(Inner { service, http }))
    }

    /// The service the handlers call.
    pub fn service(&self) -> &Service {
        &self.0.service
    }

    /// The HTTP settings.
    pub fn http(&self) -> &HttpSettings {
        &self.0.http
    }
}
