//! The client's sealed-record readers: the token file's record (format 1) and a
//! `SqliteTokenStore` row (format 2, bound to its profile), through
//! `open_sealed_record`, the function both stores read with.
//!
//! A record is `MAGIC ‖ nonce (24) ‖ XChaCha20-Poly1305(JSON of the tokens)`, the magic
//! (and for format 2, NUL and the profile name) as associated data. The target seals
//! with its own encoder of that format, so the fuzzer reaches the JSON inside. Invariants:
//! - arbitrary bytes never panic and never open under a key the fuzzer never sees (a
//!   fresh random key per run), in either format;
//! - a record the target sealed from the input's bytes opens (to tokens, or to nothing
//!   when the plaintext is not the tokens' JSON) only with the right key, format and
//!   profile: another key, the other format, another profile or any edited byte refuses;
//! - tokens that open re-seal and open to the same tokens, and their expiry is computed
//!   without panicking, whatever the stored lifetime and boot stamp.
#![no_main]

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{XChaCha20Poly1305, XNonce};
use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use std::time::{Duration, Instant};
use symbolon_client::expiry::{BootStamp, Expiry};
use symbolon_client::{open_sealed_record, StoreKey, StoredTokens};

/// The key of the committed corpus' records (so the fuzzer starts from real ones).
const CORPUS_KEY: [u8; 32] = [0x42; 32];

/// A token file of `CORPUS_KEY` made from the format's description by an independent
/// script (`seeds/make_client_records.py`): the reader still speaks that format.
const SEED_RECORD: &[u8] = include_bytes!("../seeds/file-record");

fn secret_key() -> &'static StoreKey {
    static KEY: OnceLock<StoreKey> = OnceLock::new();
    KEY.get_or_init(|| {
        let seed = open_sealed_record(&StoreKey::from_bytes(CORPUS_KEY), None, SEED_RECORD);
        assert!(seed.is_some_and(|t| t.expires_in == 900), "the seed record");
        StoreKey::generate()
    })
}

fn seal(key: &[u8; 32], profile: Option<&str>, nonce: &[u8; 24], plain: &[u8]) -> Vec<u8> {
    let magic: &[u8; 8] = if profile.is_some() {
        b"SYMBTOK2"
    } else {
        b"SYMBTOK1"
    };
    let mut aad = magic.to_vec();
    if let Some(profile) = profile {
        aad.push(0);
        aad.extend_from_slice(profile.as_bytes());
    }
    let sealed = XChaCha20Poly1305::new(chacha20poly1305::Key::from_slice(key))
        .encrypt(
            XNonce::from_slice(nonce),
            Payload {
                msg: plain,
                aad: &aad,
            },
        )
        .expect("encryption");
    [&magic[..], nonce, &sealed].concat()
}

fn check_opened(tokens: &StoredTokens, data: &[u8]) {
    // Sealed again (by our encoder), the tokens open to themselves.
    let plain = serde_json::to_vec(tokens).expect("tokens serialise");
    let again = seal(&CORPUS_KEY, None, &[7; 24], &plain);
    assert_eq!(
        open_sealed_record(&StoreKey::from_bytes(CORPUS_KEY), None, &again).as_ref(),
        Some(tokens)
    );
    // The expiry the client computes from them, at any boot stamp.
    let now = Instant::now();
    let since = data
        .iter()
        .fold(0u64, |n, b| n.rotate_left(8) ^ u64::from(*b));
    for stamp in [
        None,
        Some(BootStamp {
            boot_id: String::new(),
            since_boot_ms: since,
        }),
        tokens.obtained.clone().map(|mut s| {
            s.since_boot_ms = s.since_boot_ms.wrapping_add(since);
            s
        }),
        tokens.obtained.clone().map(|mut s| {
            s.since_boot_ms = u64::MAX;
            s
        }),
    ] {
        let expiry = Expiry::from_stamps(
            Duration::from_secs(tokens.expires_in),
            tokens.obtained.as_ref(),
            now,
            stamp.as_ref(),
        );
        let _ = expiry.needs_refresh(now, Duration::from_secs(60));
        let _ = expiry.remaining(now);
    }
}

fuzz_target!(|data: &[u8]| {
    let corpus_key = StoreKey::from_bytes(CORPUS_KEY);
    // The input as a record of either format, under the corpus key and an unknown one.
    let profile_len = usize::from(data.first().copied().unwrap_or(0) % 16);
    let profile = String::from_utf8_lossy(data.get(1..1 + profile_len).unwrap_or_default());
    for profile in [None, Some(profile.as_ref()), Some("default")] {
        assert!(
            open_sealed_record(secret_key(), profile, data).is_none(),
            "a record opened without the key"
        );
        if let Some(tokens) = open_sealed_record(&corpus_key, profile, data) {
            check_opened(&tokens, data);
        }
    }

    // The input's bytes sealed by the target, as a file record and as a row.
    if data.len() < 2 {
        return;
    }
    let (head, plain) = data.split_at(2);
    let nonce: [u8; 24] = std::array::from_fn(|i| head[i % 2] ^ i as u8);
    let row_profile = format!("p{}", head[0] % 4);
    for profile in [None, Some(row_profile.as_str())] {
        let record = seal(&CORPUS_KEY, profile, &nonce, plain);
        let opened = open_sealed_record(&corpus_key, profile, &record);
        assert_eq!(
            opened.is_some(),
            serde_json::from_slice::<StoredTokens>(plain).is_ok(),
            "a sealed record opened differently from its plaintext's parse"
        );
        if let Some(tokens) = &opened {
            check_opened(tokens, data);
        }
        // Another key, the other format, another profile: refused.
        assert!(open_sealed_record(secret_key(), profile, &record).is_none());
        let other_format = match profile {
            None => Some("default"),
            Some(_) => None,
        };
        assert!(open_sealed_record(&corpus_key, other_format, &record).is_none());
        if let Some(profile) = profile {
            let other = format!("{profile}x");
            assert!(open_sealed_record(&corpus_key, Some(&other), &record).is_none());
        }
        // Any edited byte: refused.
        let mut edited = record.clone();
        let at = usize::from(head[1]) * 7 % edited.len();
        edited[at] ^= 1 << (head[0] % 8);
        assert!(
            open_sealed_record(&corpus_key, profile, &edited).is_none(),
            "an edited record opened (byte {at})"
        );
        // Truncated: refused.
        let cut = usize::from(head[0]) % record.len();
        assert!(open_sealed_record(&corpus_key, profile, &record[..cut]).is_none());
    }
});
