//! The OS keyring as the key's home (cargo feature `keyring`).

use crate::keys::StoreKey;
use base64::Engine;
use std::time::Duration;

const SERVICE: &str = "symbolon";
const PROBE_TIMEOUT: Duration = Duration::from_secs(3);

/// Gets the key named `name` from the OS keyring, creating it there when missing.
/// The keyring is asked on a thread of its own and given [`PROBE_TIMEOUT`]: a missing
/// D-Bus session or a locked keychain must not hang the program. `Err` says why the
/// keyring cannot be used, for the caller's warning.
pub(crate) fn get_or_create(name: &str) -> Result<StoreKey, String> {
    let (tx, rx) = std::sync::mpsc::channel();
    let name = name.to_owned();
    // Detached on purpose: a thread stuck in the keyring is abandoned after the timeout.
    std::thread::spawn(move || {
        let _ = tx.send(ask(&name));
    });
    match rx.recv_timeout(PROBE_TIMEOUT) {
        Ok(result) => result,
        Err(_) => Err(format!(
            "the OS keyring did not answer within {} s",
            PROBE_TIMEOUT.as_secs()
        )),
    }
}

fn ask(name: &str) -> Result<StoreKey, String> {
    let engine = base64::engine::general_purpose::STANDARD_NO_PAD;
    let entry = keyring::Entry::new(SERVICE, name).map_err(|e| format!("OS keyring: {e}"))?;
    let decode = |text: String| -> Result<StoreKey, String> {
        let bytes = engine
            .decode(text.trim())
            .map_err(|_| "the keyring entry is not a key".to_owned())?;
        let key: [u8; 32] = bytes
            .as_slice()
            .try_into()
            .map_err(|_| "the keyring entry is not a 32-byte key".to_owned())?;
        Ok(StoreKey::from_bytes(key))
    };
    match entry.get_password() {
        Ok(text) => decode(text),
        Err(keyring::Error::NoEntry) => {
            let key = StoreKey::generate();
            entry
                .set_password(&engine.encode(key.bytes()))
                .map_err(|e| format!("OS keyring: {e}"))?;
            // Read it back: some backends accept a write they cannot keep.
            decode(
                entry
                    .get_password()
                    .map_err(|e| format!("OS keyring: {e}"))?,
            )
        }
        Err(e) => Err(format!("OS keyring: {e}")),
    }
}
