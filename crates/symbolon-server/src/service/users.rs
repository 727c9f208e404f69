//! Accounts: create (admin and open registration), change password, disable, list, and
//! the password check that login shares.

use super::sessions::Authenticated;
use super::throttle::{guarded, throttle_keys, Counting};
use super::{Core, RequestMeta, Result, ServiceError};
use symbolon_core::ids::{Password, UserId, Username};
use symbolon_store::{audit_kind, AuditEvent, StoreError, UserRecord};

/// Account operations; see [`super::Service::users`].
#[derive(Debug, Clone, Copy)]
pub struct Users<'a> {
    core: &'a Core,
}

impl<'a> Users<'a> {
    pub(super) fn new(core: &'a Core) -> Self {
        Self { core }
    }

    /// Validates, hashes and stores a new user, and audits it (`symbolon user add`).
    pub async fn create(&self, username: &str, password: Password) -> Result<UserRecord> {
        let core = self.core;
        let username = Username::parse(username)?;
        let password = Password::new_checked(password.expose().to_owned())?;
        if core
            .store()
            .user_by_name(&username.normalized())
            .await?
            .is_some()
        {
            return Err(ServiceError::UsernameTaken);
        }
        let password_hash = core.hasher.hash(&core.metrics, password).await?;
        let user = UserRecord {
            id: UserId::generate(),
            username: username.as_str().to_owned(),
            password_hash,
            created_at: core.now(),
            disabled_at: None,
            credential_epoch: 0,
        };
        core.store().create_user(&user).await.map_err(|e| match e {
            StoreError::Conflict => ServiceError::UsernameTaken,
            other => other.into(),
        })?;
        let event = AuditEvent {
            user_id: Some(user.id.to_string()),
            ..AuditEvent::new(audit_kind::USER_CREATED, user.created_at)
        };
        core.store().audit(&event).await?;
        Ok(user)
    }

    /// Self-service registration, when the settings allow it.
    pub async fn register(&self, username: &str, password: Password) -> Result<UserRecord> {
        if !self.core.settings.allow_registration {
            return Err(ServiceError::RegistrationClosed);
        }
        self.create(username, password).await
    }

    /// Changes the caller's password after checking the current one (under the
    /// back-off), and ends every other session of the user.
    pub async fn change_password(
        &self,
        auth: &Authenticated,
        current: Password,
        new: Password,
        meta: &RequestMeta,
    ) -> Result<()> {
        let core = self.core;
        let new = Password::new_checked(new.expose().to_owned())?;
        let user = check_password(core, &auth.session.username, current, meta)
            .await
            .map_err(|e| match e {
                ServiceError::BadCredentials => ServiceError::WrongCurrentPassword,
                other => other,
            })?;
        let hash = core.hasher.hash(&core.metrics, new).await?;
        core.store()
            .change_password(&user.id, &hash, Some(&auth.session.id), core.now())
            .await?;
        Ok(())
    }

    /// Disables a user and ends every session of theirs. False if already disabled.
    pub async fn disable(&self, username: &str) -> Result<bool> {
        let core = self.core;
        let key = Username::parse(username)?.normalized();
        let user = core
            .store()
            .user_by_name(&key)
            .await?
            .ok_or_else(|| ServiceError::NoSuchUser(username.to_owned()))?;
        Ok(core.store().disable_user(&user.id, core.now()).await?)
    }

    /// Every user, oldest first.
    pub async fn list(&self) -> Result<Vec<UserRecord>> {
        Ok(self.core.store().list_users().await?)
    }
}

/// Checks a user's password under the back-off (per account and per address), for login
/// and password change. A failure is audited here, once.
pub(super) async fn check_password(
    core: &Core,
    username: &str,
    password: Password,
    meta: &RequestMeta,
) -> Result<UserRecord> {
    let parsed = Username::parse(username).ok();
    let key = parsed
        .as_ref()
        .map(Username::normalized)
        .unwrap_or_else(|| "(invalid)".into());
    let keys = throttle_keys(&format!("acct:{key}"), meta.ip);
    let mut failed_user = None;
    let result = guarded(core, &keys, Counting::Reserve, async {
        let user = match &parsed {
            Some(_) => core.store().user_by_name(&key).await?,
            None => None,
        };
        // An unknown or malformed username is checked against a dummy hash: same cost.
        let stored = user.as_ref().map(|u| u.password_hash.clone());
        let (ok, rehashed) = core
            .hasher
            .verify_and_rehash(&core.metrics, password, stored)
            .await?;
        match user {
            Some(mut user) if ok && user.disabled_at.is_none() => {
                if let Some(new_hash) = rehashed {
                    // Only if the hash is still the one checked (a password change may
                    // have replaced it); the credentials epoch stays: same password.
                    if core
                        .store()
                        .rehash_password(&user.id, &user.password_hash, &new_hash)
                        .await?
                    {
                        user.password_hash = new_hash;
                    }
                }
                Ok::<_, ServiceError>(Some(user))
            }
            other => {
                failed_user = other.map(|u| u.id);
                Ok(None)
            }
        }
    })
    .await;
    if let Err(ServiceError::BadCredentials) = &result {
        let event = AuditEvent {
            user_id: failed_user.map(|id| id.to_string()),
            ip: meta.ip.map(|ip| ip.to_string()),
            detail: Some(format!("username={key}")),
            ..AuditEvent::new(audit_kind::LOGIN_FAILURE, core.now())
        };
        core.store().audit(&event).await?;
    }
    result
}
