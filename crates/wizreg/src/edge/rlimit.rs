//! The open-file limit: every connection is a descriptor, and the usual soft limit (1,024) is
//! far below what a server holds. At start the soft limit is raised to the hard limit (which
//! only an administrator can raise), and the connection cap is fitted below the result.

use nix::sys::resource::{getrlimit, setrlimit, Resource};

/// Raises this process's soft open-file limit to its hard limit; returns the limit now in
/// force (logged either way).
pub fn raise_open_file_limit() -> u64 {
    let Ok((soft, hard)) = getrlimit(Resource::RLIMIT_NOFILE) else {
        tracing::warn!("could not read the open-file limit; assuming 1024");
        return 1024;
    };
    if soft >= hard {
        tracing::info!(limit = soft, "open-file limit");
        return soft;
    }
    match setrlimit(Resource::RLIMIT_NOFILE, hard, hard) {
        Ok(()) => {
            tracing::info!(
                from = soft,
                to = hard,
                "open-file limit raised to the hard limit"
            );
            hard
        }
        Err(error) => {
            tracing::warn!(limit = soft, hard, %error, "could not raise the open-file limit");
            soft
        }
    }
}
