//! OAuth clients (RFC 6749 §2): who a request acts for, and registering clients.

use super::throttle::{client_throttle_keys, guarded, Counting};
use super::{Core, RequestMeta, Result, ServiceError};
use symbolon_core::client_secret::SecretCheck;
use symbolon_core::ids::{Capability, ClientId, Password};
use symbolon_store::{ClientRecord, SessionRecord, StoreError};

/// Credentials a confidential client presented (HTTP Basic, RFC 6749 §2.3.1).
#[derive(Debug)]
pub struct ClientCredentials {
    /// The client id, as sent.
    pub client_id: String,
    /// The secret; never logged.
    pub secret: Password,
}

/// The client a request acts for.
#[derive(Debug, Clone)]
pub struct ClientIdentity {
    /// Its id.
    pub id: ClientId,
    /// Whether it proved itself with a secret (a confidential client).
    pub authenticated: bool,
    /// What it may do beyond its own tokens (only ever for an authenticated client).
    pub capabilities: Vec<Capability>,
}

impl ClientIdentity {
    /// Whether it authenticated and was granted `capability`.
    pub fn may(&self, capability: Capability) -> bool {
        self.authenticated && self.capabilities.contains(&capability)
    }
}

/// Client operations; see [`super::Service::clients`].
#[derive(Debug, Clone, Copy)]
pub struct Clients<'a> {
    core: &'a Core,
}

impl<'a> Clients<'a> {
    pub(super) fn new(core: &'a Core) -> Self {
        Self { core }
    }

    /// The built-in public client, for requests that name none.
    pub fn default_client(&self) -> ClientIdentity {
        ClientIdentity {
            id: self.core.settings.default_client.clone(),
            authenticated: false,
            capabilities: Vec::new(),
        }
    }

    /// Identifies the client: by its secret when `credentials` are given (checked under
    /// the back-off, per client at this address and per address, so guesses from
    /// elsewhere cannot lock the client out; `client_id` is then ignored), else by
    /// `client_id` (a public client, or the built-in default when `None`). A named client must be public and
    /// registered; anything else is [`ServiceError::ClientRejected`].
    pub async fn identify(
        &self,
        credentials: Option<ClientCredentials>,
        client_id: Option<&str>,
        meta: &RequestMeta,
    ) -> Result<ClientIdentity> {
        let core = self.core;
        if let Some(creds) = credentials {
            let id = ClientId::parse(&creds.client_id).map_err(|_| ServiceError::ClientRejected)?;
            let keys = client_throttle_keys(id.as_str(), meta.ip);
            let capabilities = guarded(core, &keys, Counting::After, async {
                let record = core.store().client(id.as_str()).await?;
                let (stored, capabilities) = match record {
                    Some(c) => (c.secret_hash, c.capabilities),
                    None => (None, Vec::new()),
                };
                // Unknown clients cost a MAC too, so their existence does not show.
                let secret = creds.secret;
                let ok = match core
                    .client_secrets
                    .check(secret.expose(), stored.as_deref())
                {
                    SecretCheck::Match => true,
                    SecretCheck::NoMatch => false,
                    // Stored as Argon2id by an earlier version.
                    SecretCheck::Legacy => {
                        core.hasher.verify(&core.metrics, secret, stored).await?
                    }
                };
                Ok::<_, ServiceError>(ok.then_some(capabilities))
            })
            .await
            .map_err(|e| match e {
                ServiceError::BadCredentials => ServiceError::ClientRejected,
                other => other,
            })?;
            return Ok(ClientIdentity {
                id,
                authenticated: true,
                capabilities,
            });
        }
        let Some(named) = client_id else {
            return Ok(self.default_client());
        };
        let id = ClientId::parse(named).map_err(|_| ServiceError::ClientRejected)?;
        if id == core.settings.default_client {
            return Ok(self.default_client());
        }
        match core.store().client(id.as_str()).await? {
            Some(c) if c.secret_hash.is_none() => Ok(ClientIdentity {
                id,
                authenticated: false,
                capabilities: Vec::new(),
            }),
            // A confidential client must authenticate; an unknown one is refused.
            _ => Err(ServiceError::ClientRejected),
        }
    }

    /// Registers a client: confidential with a secret (16 bytes at least; stored as a
    /// keyed hash, see `ClientSecrets`), public without; `capabilities` only for a
    /// confidential client. Returns the stored record.
    pub async fn create(
        &self,
        name: &str,
        secret: Option<Password>,
        capabilities: &[Capability],
    ) -> Result<ClientRecord> {
        let core = self.core;
        let id = ClientId::parse(name)?;
        if id == core.settings.default_client {
            return Err(ServiceError::ClientExists(id.to_string()));
        }
        let secret_hash = match secret {
            Some(secret) if secret.expose().len() < 16 => {
                return Err(ServiceError::WeakClientSecret)
            }
            Some(secret) => Some(core.client_secrets.hash(secret.expose())),
            None => None,
        };
        if secret_hash.is_none() && !capabilities.is_empty() {
            return Err(ServiceError::CapabilityNeedsSecret);
        }
        let mut capabilities = capabilities.to_vec();
        capabilities.sort();
        capabilities.dedup();
        let record = ClientRecord {
            client_id: id.to_string(),
            secret_hash,
            created_at: core.now(),
            capabilities,
        };
        core.store()
            .create_client(&record)
            .await
            .map_err(|e| match e {
                StoreError::Conflict => ServiceError::ClientExists(id.to_string()),
                other => other.into(),
            })?;
        Ok(record)
    }
}

/// Whether `client` may manage a session's tokens without further proof: its own, or
/// any session of a public client when it is public itself.
pub(super) async fn may_manage(
    core: &Core,
    client: &ClientIdentity,
    session: &SessionRecord,
) -> Result<bool> {
    if client.authenticated {
        return Ok(client.id.as_str() == session.client_id);
    }
    if session.client_id == core.settings.default_client.as_str() {
        return Ok(true);
    }
    let confidential = core
        .store()
        .client(&session.client_id)
        .await?
        .is_some_and(|c| c.secret_hash.is_some());
    Ok(!confidential)
}
