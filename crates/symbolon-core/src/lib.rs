//! The core of symbolon: tokens, keys, claims, passwords and the refresh-rotation rules.
//!
//! Nothing in this crate does I/O or is async: it is pure logic over values, so every
//! rule here can be tested without a database or a network. The store persists what
//! these types describe; the server turns their errors into HTTP answers.

pub mod access;
pub mod client_secret;
pub mod clock;
pub mod ids;
pub mod keys;
pub mod master;
pub mod password;
pub mod refresh;
pub mod rotation;
pub mod throttle;

pub use clock::{Clock, ManualClock, OffsetClock, SystemClock, UnixTime};
