//! A string that is never printed and is wiped when dropped: the wire types' own
//! [`Secret`](symbolon_proto::Secret), shared with the server.

pub use symbolon_proto::Secret;
