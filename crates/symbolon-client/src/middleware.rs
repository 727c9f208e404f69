//! [`AuthMiddleware`]: the client's token handling for `reqwest_middleware` stacks.

use crate::client::{is_invalid_token, with_bearer, Client};
use http::Extensions;
use reqwest::{Request, Response};
use reqwest_middleware::{Middleware, Next};

/// A [`reqwest_middleware::Middleware`] that attaches the [`Client`]'s access token,
/// refreshes before expiry, and on a 401 `invalid_token` refreshes once and replays once
/// (when the body can be cloned), exactly as [`Client::send`] does.
///
/// As with [`Client::send`], the token goes only to the server's origin and those allowed
/// with [`ClientBuilder::allow_origin`](crate::ClientBuilder::allow_origin); a request
/// for any other origin fails with [`Error::Refused`](crate::Error::Refused) and is not
/// sent.
///
/// ```no_run
/// # async fn f() -> Result<(), Box<dyn std::error::Error>> {
/// let client = symbolon_client::Client::builder("https://auth.example.com")
///     .allow_origin("https://api.example.com")
///     .build()?;
/// let http = reqwest_middleware::ClientBuilder::new(reqwest::Client::new())
///     .with(client.middleware())
///     .build();
/// let me = http.get("https://api.example.com/me").send().await?;
/// # Ok(()) }
/// ```
#[derive(Debug, Clone)]
pub struct AuthMiddleware {
    client: Client,
}

impl AuthMiddleware {
    /// A middleware for `client`.
    pub fn new(client: Client) -> Self {
        AuthMiddleware { client }
    }
}

#[async_trait::async_trait]
impl Middleware for AuthMiddleware {
    async fn handle(
        &self,
        req: Request,
        extensions: &mut Extensions,
        next: Next<'_>,
    ) -> reqwest_middleware::Result<Response> {
        self.client
            .check_origin(req.url())
            .map_err(reqwest_middleware::Error::middleware)?;
        let token = self
            .client
            .token()
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let replay = req.try_clone();
        let req = with_bearer(req, &token).map_err(reqwest_middleware::Error::middleware)?;
        let response = next.clone().run(req, extensions).await?;
        if !is_invalid_token(&response) {
            return Ok(response);
        }
        let Some(replay) = replay else {
            return Ok(response);
        };
        let fresh = self
            .client
            .refresh_from(token.generation)
            .await
            .map_err(reqwest_middleware::Error::middleware)?;
        let replay = with_bearer(replay, &fresh).map_err(reqwest_middleware::Error::middleware)?;
        next.run(replay, extensions).await
    }
}
