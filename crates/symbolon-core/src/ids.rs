//! Domain identifiers and validated inputs. A value of these types that exists is valid.

use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use base64::Engine;
use std::fmt;
use zeroize::Zeroizing;

/// 128 random bits, shown as 22 base64url characters.
fn random_id() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    bytes
}

macro_rules! random_id_type {
    ($(#[$doc:meta])* $name:ident) => {
        $(#[$doc])*
        #[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub struct $name([u8; 16]);

        impl $name {
            /// A fresh random id.
            pub fn generate() -> Self {
                Self(random_id())
            }

            /// The id's 16 raw bytes.
            pub fn as_bytes(&self) -> &[u8; 16] {
                &self.0
            }

            /// Wraps 16 raw bytes.
            pub fn from_bytes(bytes: [u8; 16]) -> Self {
                Self(bytes)
            }

            /// Parses the 22-character text form; `None` for anything else.
            pub fn parse(text: &str) -> Option<Self> {
                if text.len() != 22 {
                    return None;
                }
                // Into a buffer on the stack (the decoder asks room for 18): parsing
                // allocates nothing, as on a resource server's request path.
                let mut raw = [0u8; 18];
                let n = URL_SAFE_NO_PAD.decode_slice(text, &mut raw).ok()?;
                Some(Self(raw[..n].try_into().ok()?))
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&URL_SAFE_NO_PAD.encode(self.0))
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({})", stringify!($name), self)
            }
        }
    };
}

random_id_type!(
    /// A user's stable id: the `sub` claim. Never the username.
    UserId
);
random_id_type!(
    /// A session: the chain of refresh tokens that one login started. The `sid` claim.
    SessionId
);

/// A JWT id (`jti`): unique per access token.
pub fn new_jti() -> String {
    URL_SAFE_NO_PAD.encode(random_id())
}

/// Why a username or password was refused. The text is safe to show to the user.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InputError {
    /// The username is not 1-64 characters of ASCII letters, digits and `._-@`.
    #[error("username must be 1-64 characters of ASCII letters, digits and . _ - @")]
    BadUsername,
    /// The password is not 8-1024 characters.
    #[error("password must be 8-1024 characters")]
    BadPassword,
    /// The client id is not 1-64 characters of ASCII letters, digits and `._-`.
    #[error("client id must be 1-64 characters of ASCII letters, digits and . _ -")]
    BadClientId,
}

/// A username: 1-64 ASCII letters, digits and `._-@`, compared case-insensitively.
/// It is kept as the user typed it; [`Username::normalized`] is the comparison key.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct Username(String);

impl Username {
    /// Validates a username.
    pub fn parse(text: &str) -> Result<Self, InputError> {
        let ok = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'@'));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(InputError::BadUsername)
        }
    }

    /// The username as given.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The form two usernames are compared in (ASCII lower case).
    pub fn normalized(&self) -> String {
        self.0.to_ascii_lowercase()
    }
}

impl fmt::Display for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Username {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Username({})", self.0)
    }
}

/// A password in memory: zeroed on drop, never shown by `Debug`.
#[derive(Clone)]
pub struct Password(Zeroizing<String>);

impl Password {
    /// Wraps a password as given, without checking the policy (for login: a wrong
    /// password of any length is simply wrong).
    pub fn new(text: String) -> Self {
        Self(Zeroizing::new(text))
    }

    /// Checks the policy for a new password: 8-1024 characters.
    pub fn new_checked(text: String) -> Result<Self, InputError> {
        let chars = text.chars().count();
        if (8..=1024).contains(&chars) {
            Ok(Self::new(text))
        } else {
            Err(InputError::BadPassword)
        }
    }

    /// The secret text.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl<'de> serde::Deserialize<'de> for Password {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        String::deserialize(d).map(Self::new)
    }
}

impl fmt::Debug for Password {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Password(<redacted>)")
    }
}

/// Something a confidential client may do beyond managing its own users' tokens,
/// granted when the client is registered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Capability {
    /// Call token introspection (RFC 7662): learn about any user's tokens.
    Introspect,
    /// Read the revocation feed (docs/API.md §2.8): which sessions were revoked lately.
    RevocationFeed,
}

impl Capability {
    /// Every capability.
    pub const ALL: [Capability; 2] = [Capability::Introspect, Capability::RevocationFeed];

    /// The name used in the store and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Introspect => "introspect",
            Self::RevocationFeed => "revocations",
        }
    }

    /// The capability of that name.
    pub fn parse(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|c| c.as_str() == name)
    }
}

impl fmt::Display for Capability {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An OAuth 2.0 client id (RFC 6749 §2.2).
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct ClientId(String);

impl ClientId {
    /// Validates a client id: 1-64 ASCII letters, digits and `._-`.
    pub fn parse(text: &str) -> Result<Self, InputError> {
        let ok = (1..=64).contains(&text.len())
            && text
                .bytes()
                .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-'));
        if ok {
            Ok(Self(text.to_owned()))
        } else {
            Err(InputError::BadClientId)
        }
    }

    /// The id as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for ClientId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "ClientId({})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_round_trip_through_text() {
        let id = SessionId::generate();
        assert_eq!(SessionId::parse(&id.to_string()), Some(id));
        assert_eq!(SessionId::parse("short"), None);
        assert_eq!(SessionId::parse("!!!!!!!!!!!!!!!!!!!!!!"), None);
    }

    #[test]
    fn usernames_follow_the_contract() {
        assert!(Username::parse("alice.b-c_d@example").is_ok());
        assert!(Username::parse(&"a".repeat(64)).is_ok());
        for bad in ["", "a b", "ünï", "a\0b", &"a".repeat(65)] {
            assert_eq!(
                Username::parse(bad),
                Err(InputError::BadUsername),
                "{bad:?}"
            );
        }
        assert_eq!(
            Username::parse("Alice").map(|u| u.normalized()),
            Ok("alice".into())
        );
    }

    #[test]
    fn password_policy_counts_characters() {
        assert!(Password::new_checked("1234567".into()).is_err());
        assert!(Password::new_checked("12345678".into()).is_ok());
        assert!(Password::new_checked("é".repeat(1024)).is_ok());
        assert!(Password::new_checked("x".repeat(1025)).is_err());
        assert_eq!(
            format!("{:?}", Password::new("hunter22".into())),
            "Password(<redacted>)"
        );
    }
}
