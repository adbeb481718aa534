//! A run as a small server, the way tmux serves its sessions: the run's own process owns
//! the run (its directory, lock and trainer) and serves it on a Unix socket in the run
//! directory; every dashboard, the first one included, is a client that can come and go.
//!
//! - [`wire`]: the protocol, JSON lines (the same objects `train --json` prints, the
//!   other events beside them, commands back);
//! - [`hub`]: the trainer's sink that fans events out to the run's own consumer and to
//!   each client, keeps the history for clients attaching late, and passes commands on;
//! - [`socket`]: the socket's place and permissions, and the owner checks;
//! - [`server`]: serving clients (a writer and a reader each);
//! - [`client`]: attaching, as the dashboard's channels.

pub mod client;
pub mod hub;
pub mod server;
pub mod socket;
pub mod wire;
