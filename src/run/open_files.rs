//! Process limits set at start-up: the open-files limit, raised from its soft value to the hard one
//! (as Go's runtime and nginx's `worker_rlimit_nofile` do), so a burst of connections does not run
//! the sidecar out of file descriptors while the system would allow more. See
//! docs/behaviour.md §11.

use nix::sys::resource::{Resource, getrlimit, setrlimit};

/// The open-files limit after raising it: `(before, now)`; `None` when it cannot be read.
pub(crate) fn raise_open_files() -> Option<(u64, u64)> {
    let (soft, hard) = getrlimit(Resource::RLIMIT_NOFILE).ok()?;
    if soft >= hard || setrlimit(Resource::RLIMIT_NOFILE, hard, hard).is_err() {
        return Some((soft, soft));
    }
    Some((soft, hard))
}
