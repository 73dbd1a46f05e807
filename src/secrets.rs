//! Keeping private keys out of places they could leak to from the process: core dumps.

use std::io;

use rustix::process::{Resource, Rlimit, setrlimit};

/// Sets RLIMIT_CORE to 0, soft and hard, so that a crash never writes the process's memory
/// (and a private key in it) to a core file. Called at the start of the binary, before any
/// key is generated or read; the hard limit cannot be raised again without privilege.
///
/// # Errors
/// The error of setrlimit(2), which a valid resource and limit do not give in practice.
pub fn disable_core_dumps() -> io::Result<()> {
    let no_core = Rlimit {
        current: Some(0),
        maximum: Some(0),
    };
    setrlimit(Resource::Core, no_core).map_err(io::Error::from)
}
