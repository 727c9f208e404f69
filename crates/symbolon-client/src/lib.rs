//! The symbolon client SDK.
//!
//! A [`Client`] logs in to a symbolon server, keeps the access and refresh tokens in a
//! [`TokenStore`], and sends requests with `Authorization: Bearer` and a token that is
//! always fresh:
//!
//! - **Before expiry.** The access token is refreshed a margin (default 60 s) before
//!   the server's `expires_in` runs out, counted on the monotonic clock from the moment
//!   the token response arrived. The wall clock and the token's `exp` are never read,
//!   so a local clock that is wrong by hours changes nothing (see [`expiry`]).
//! - **On rejection.** A 401 whose `WWW-Authenticate` says `invalid_token` (RFC 6750
//!   §3) causes one refresh and one replay; a second 401 is returned as it is, and any
//!   other 401 causes no refresh.
//! - **Single flight.** Any number of concurrent requests that need a refresh cause one
//!   `POST /token/refresh`; all go on with its result. Stores shared between processes
//!   ([`EncryptedFileStore`]) add an OS file lock, and after taking it the client
//!   re-reads the store and uses tokens another process obtained meanwhile.
//! - **Failures.** A refused refresh token (`invalid_grant`) clears the tokens and gives
//!   [`Error::LoginRequired`] and a [`TokenEvent::LoginRequired`] event; network
//!   errors, timeouts, 5xx and 429 keep the tokens and give [`Error::Transient`] (the
//!   refresh itself is tried 3 times with back-off).
//! - **Lost answers.** A refresh try that may have reached the server (anything but a
//!   connect error) puts its token in doubt: it is tried again only until half the
//!   server's reuse grace has passed ([`ClientBuilder::reuse_grace`]), and never presented
//!   after that, since the server would take it for reuse and revoke the session:
//!   [`Error::InDoubt`] (log in again). The mark is stored with the tokens
//!   ([`StoredTokens::in_doubt`]) for other processes and later runs.
//!
//! Secrets (refresh tokens, passwords, keys) are never in `Debug` output, logs or errors.
//!
//! ```no_run
//! use std::sync::Arc;
//! use symbolon_client::{Client, EncryptedFileStore, KeyFile, TokenEvent};
//!
//! # async fn demo() -> Result<(), symbolon_client::Error> {
//! let store = EncryptedFileStore::open("/home/me/.config/app/tokens", &KeyFile::new("/home/me/.config/app/tokens.key"))?;
//! let client = Client::builder("https://auth.example.com").store(Arc::new(store)).build()?;
//! let mut events = client.events();
//! client.login("alice", "correct horse battery").await?;
//! let me = client.send(client.request(reqwest::Method::GET, "/me")).await?;
//! println!("{}", me.text().await.map_err(symbolon_client::Error::Request)?);
//! if *events.borrow_and_update() == TokenEvent::LoginRequired { /* show the login screen */ }
//! # Ok(()) }
//! ```
//!
//! # Stores, keys and platforms
//!
//! A [`TokenStore`] keeps one session's tokens: [`MemoryStore`]; [`EncryptedFileStore`]
//! (XChaCha20-Poly1305, atomic writes, 0600, shared between processes under a file lock);
//! with the `sqlite` feature, `SqliteTokenStore` (several profiles in one database; with
//! `sqlcipher`, the database encrypted by SQLCipher as well); with the `keyring` feature,
//! [`KeyringTokenStore`] (the tokens in an OS keyring entry).
//!
//! [`EncryptedFileStore`] takes its 32-byte key from a [`KeyProvider`]: [`PassphraseKey`]
//! (Argon2id), [`KeyFile`] (a separate 0600 file, an explicit opt-in), or your own.
//! [`choose_key`] runs the usual chain (the OS keyrings of [`Keyring::preferred`] with the
//! `keyring` feature, then a passphrase, then a key file) and returns a warning to show
//! whenever it had to fall back. An **Android** app plugs in the Android Keystore by
//! implementing [`KeyProvider`]: keep a non-exportable AES key in the Keystore, use it to
//! wrap a random [`StoreKey`] stored beside the token file, and return the unwrapped key
//! (reporting [`Protection::Keystore`]).

mod client;
mod error;
pub mod expiry;
pub mod keyring;
mod keys;
mod middleware;
mod secret;
mod store;
mod tokens;

pub use client::{redirect_policy, Client, ClientBuilder, LogoutScope, TokenEvent};
pub use error::{Error, Result};
pub use keyring::{Keyring, KeyringTokenStore};
pub use keys::{
    choose_key, choose_key_from, reopen_key, KeyChoice, KeyFile, KeyProvider, KeySource,
    PassphraseKey, Protection, StaticKey, StoreKey,
};
pub use middleware::AuthMiddleware;
pub use secret::Secret;
#[doc(hidden)]
pub use store::open_sealed_record;
#[cfg(feature = "sqlite")]
pub use store::SqliteTokenStore;
pub use store::{EncryptedFileStore, MemoryStore, StoreLock, TokenStore};
pub use tokens::{InDoubt, StoredTokens};

/// The `reqwest` this crate is built with, for building requests to [`Client::send`].
pub use reqwest;
