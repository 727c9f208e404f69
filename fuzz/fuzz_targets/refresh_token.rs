//! `RefreshCodec::decode` on arbitrary input.
//!
//! Invariants, for every input:
//! - decoding never panics, whatever the bytes (as text, lossily, and as minted-then-edited
//!   tokens);
//! - a token that decodes under the corpus key re-encodes to exactly the input text (one
//!   text per claims: no malleable encodings);
//! - nothing decodes under a key the fuzzer never sees (a fresh random master key per run):
//!   a token forged without the key is never valid;
//! - a token minted from claims taken from the input round-trips, and any edit of its text
//!   is refused.
#![no_main]

use libfuzzer_sys::fuzz_target;
use std::sync::OnceLock;
use symbolon_core::ids::SessionId;
use symbolon_core::master::MasterKey;
use symbolon_core::refresh::{RefreshClaims, RefreshCodec, TEXT_LEN};

/// The master key of the committed corpus' real tokens, so that coverage reaches past the
/// MAC check. Its tokens say nothing about a real server's.
const CORPUS_KEY: [u8; 32] = [0x5a; 32];

/// A token of `CORPUS_KEY` for session `00 01 .. 0f`, generation 42, minted from the
/// format's description (docs/API.md §1.2) by an independent script: checks that the codec
/// still speaks that format (and that the corpus' tokens still decode).
const SEED_TOKEN: &str = include_str!("../seeds/refresh-token-gen42");

fn known() -> &'static RefreshCodec {
    static CODEC: OnceLock<RefreshCodec> = OnceLock::new();
    CODEC.get_or_init(|| {
        let codec = RefreshCodec::new(&MasterKey::from_bytes(CORPUS_KEY));
        let seed = RefreshClaims {
            session: SessionId::from_bytes(std::array::from_fn(|i| i as u8)),
            generation: 42,
        };
        assert_eq!(
            codec.decode(SEED_TOKEN.trim_end()),
            Ok(seed),
            "the seed token"
        );
        codec
    })
}

fn unknown() -> &'static RefreshCodec {
    static CODEC: OnceLock<RefreshCodec> = OnceLock::new();
    CODEC.get_or_init(|| RefreshCodec::new(&MasterKey::generate()))
}

fn check_text(text: &str) {
    if let Ok(claims) = known().decode(text) {
        assert_eq!(
            known().encode(claims).expose(),
            text,
            "a decoded token re-encodes to its input"
        );
    }
    assert!(
        unknown().decode(text).is_err(),
        "a token forged without the key decoded: {text:?}"
    );
}

fuzz_target!(|data: &[u8]| {
    // The input as text, and (for bytes that are not UTF-8) its lossy form.
    match std::str::from_utf8(data) {
        Ok(text) => check_text(text),
        Err(_) => check_text(&String::from_utf8_lossy(data)),
    }
    // A minted token from claims in the input, then an edit at a place the input picks.
    if data.len() >= 24 {
        let claims = RefreshClaims {
            session: SessionId::from_bytes(data[..16].try_into().expect("16 bytes")),
            generation: u64::from_be_bytes(data[16..24].try_into().expect("8 bytes")),
        };
        let token = known().encode(claims);
        let text = token.expose();
        assert_eq!(text.len(), TEXT_LEN);
        assert_eq!(
            known().decode(text),
            Ok(claims),
            "a minted token round-trips"
        );
        assert!(unknown().decode(text).is_err());
        let edit = &data[24..];
        if let [at, replacement, rest @ ..] = edit {
            let mut edited = text.as_bytes().to_vec();
            let at = usize::from(*at) % (edited.len() + 1);
            match replacement % 4 {
                0 => edited.truncate(at),
                1 => edited.insert(at, *rest.first().unwrap_or(&b'A')),
                2 if at < edited.len() => edited[at] = *rest.first().unwrap_or(&b'A'),
                _ => edited.extend_from_slice(rest),
            }
            let edited = String::from_utf8_lossy(&edited);
            if edited != text {
                assert!(
                    known().decode(&edited).is_err(),
                    "an edited token decoded: {text:?} -> {edited:?}"
                );
            }
            check_text(&edited);
        }
    }
});
