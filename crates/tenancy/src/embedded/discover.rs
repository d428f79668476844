//! Finding what the cluster needs before it starts: the server binaries, the OS account the
//! server runs as, and data directories that account can reach and owns.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;

use nix::unistd::{chown, Gid, Uid, User};

use super::{io_err, EmbeddedError, OperatorHints, SUPERUSER};

/// Finds the directory holding `postgres` and `initdb`: `explicit` if given, else
/// `pg_config --bindir`, else the newest `/usr/lib/postgresql/*/bin`.
pub fn find_binaries(explicit: Option<&Path>) -> Result<PathBuf, EmbeddedError> {
    find_binaries_with(explicit, OperatorHints::default())
}

/// [`find_binaries`], with the operator's words in its error.
pub(super) fn find_binaries_with(
    explicit: Option<&Path>,
    hints: OperatorHints,
) -> Result<PathBuf, EmbeddedError> {
    let has_server = |dir: &Path| dir.join("postgres").is_file() && dir.join("initdb").is_file();
    let mut looked: Vec<String> = Vec::new();
    // An explicit directory is the operator's choice: if it is wrong, say so rather than
    // silently running some other installed version.
    if let Some(dir) = explicit {
        return if has_server(dir) {
            Ok(dir.to_owned())
        } else {
            Err(EmbeddedError::BinariesNotFound {
                looked: dir.display().to_string(),
                hints,
            })
        };
    }
    if let Ok(out) = Command::new("pg_config").arg("--bindir").output() {
        let dir = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
        if out.status.success() && has_server(&dir) {
            return Ok(dir);
        }
        looked.push("pg_config --bindir".into());
    }
    let mut versions: Vec<(u32, PathBuf)> = fs::read_dir("/usr/lib/postgresql")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| Some((e.file_name().to_str()?.parse().ok()?, e.path().join("bin"))))
        .filter(|(_, dir)| has_server(dir))
        .collect();
    versions.sort();
    looked.push("/usr/lib/postgresql/*/bin".into());
    versions
        .pop()
        .map(|(_, dir)| dir)
        .ok_or(EmbeddedError::BinariesNotFound {
            looked: looked.join(", "),
            hints,
        })
}

/// The OS account the server runs as: ourselves, or `postgres` when we are root.
pub(super) fn server_account(hints: OperatorHints) -> Result<Option<(Uid, Gid)>, EmbeddedError> {
    if !Uid::effective().is_root() {
        return Ok(None);
    }
    let user = User::from_name(SUPERUSER)
        .ok()
        .flatten()
        .ok_or(EmbeddedError::NoPostgresUser { hints })?;
    Ok(Some((user.uid, user.gid)))
}

/// A directory the server account owns, with mode 0700.
pub(super) fn private_dir(path: &Path, account: Option<(Uid, Gid)>) -> Result<(), EmbeddedError> {
    fs::create_dir_all(path).map_err(io_err("create", path))?;
    if let Some((uid, gid)) = account {
        chown(path, Some(uid), Some(gid)).map_err(|e| io_err("chown", path)(e.into()))?;
    }
    fs::set_permissions(path, fs::Permissions::from_mode(0o700)).map_err(io_err("chmod", path))
}

/// Whether every ancestor of `dir` lets others (the server account) through.
pub(super) fn reachable_by_others(dir: &Path) -> bool {
    dir.ancestors().skip(1).all(|a| {
        fs::metadata(a)
            .map(|m| m.permissions().mode() & 0o001 != 0)
            .unwrap_or(false)
    })
}
