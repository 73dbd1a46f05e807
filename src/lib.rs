//! adbkeys: ADB key pairs for cloud phones, as a library that the CLI and the console share.
//!
//! The layers, from the bottom up:
//! - [`keys`]: ADB key formats and key generation (pure, no I/O),
//! - [`rules`]: names, tenants, identifiers and timestamps of the cloud API,
//! - [`store`]: the sled store, held only while a process is busy so that several sessions
//!   share it,
//! - [`service`]: the operations of the API (CreateKeyPair, ImportKeyPair, ...) over the store,
//! - [`files`]: key files read and written for the user, shared by both front ends,
//! - [`cli`] and [`tui`]: thin front ends over [`service`].

pub mod cli;
pub mod error;
pub mod files;
pub mod keys;
pub mod rules;
pub mod secrets;
pub mod service;
pub mod store;
pub mod tui;
