//! Dropping root after the interfaces and the output file are open.
//!
//! Opening a capture needs CAP_NET_RAW; nothing after it does. Started as
//! root, exflow switches to an unprivileged user before it reads a single
//! packet, so that a flaw in a parser cannot act as root. Started without root
//! (as a user holding CAP_NET_RAW, for example through
//! `setcap cap_net_raw=ep`), there is nothing to switch from.

#[cfg(not(target_vendor = "apple"))]
use nix::unistd::setgroups;
use nix::unistd::{Gid, Uid, User, setgid, setuid};

/// The user `--user` names when it is not given.
pub const DEFAULT_USER: &str = "nobody";

/// Failure to switch to the unprivileged user. exflow stops rather than read
/// packets as root.
#[derive(Debug, thiserror::Error)]
pub enum PrivilegeError {
    #[error("user {user} not found; name an existing unprivileged user with --user")]
    UserNotFound { user: String },
    #[error("looking up user {user} failed: {source}")]
    Lookup {
        user: String,
        #[source]
        source: nix::Error,
    },
    #[error("switching to user {user} failed in {call}: {source}; exflow does not capture as root")]
    Switch {
        user: String,
        call: &'static str,
        #[source]
        source: nix::Error,
    },
}

/// The identity of the process after [`drop_privileges`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Identity {
    /// Started as root, now this user.
    Switched { user: String, uid: u32, gid: u32 },
    /// Not started as root, so nothing changed.
    Unchanged { uid: u32 },
}

impl Identity {
    /// Returns the user name when it is known, else `uid N`.
    pub fn describe(&self) -> String {
        match self {
            Identity::Switched { user, .. } => user.clone(),
            Identity::Unchanged { uid } => match User::from_uid(Uid::from_raw(*uid)) {
                Ok(Some(user)) => user.name,
                _ => format!("uid {uid}"),
            },
        }
    }
}

/// Switches to `user` when the process runs as root: its supplementary groups
/// become the user's primary group alone, then the group and user ids are
/// set (real, effective and saved, so root cannot be taken back).
pub fn drop_privileges(user: &str) -> Result<Identity, PrivilegeError> {
    if !Uid::effective().is_root() {
        return Ok(Identity::Unchanged {
            uid: Uid::effective().as_raw(),
        });
    }
    let account = User::from_name(user)
        .map_err(|source| PrivilegeError::Lookup {
            user: user.to_string(),
            source,
        })?
        .ok_or_else(|| PrivilegeError::UserNotFound {
            user: user.to_string(),
        })?;

    let switch_failed = |call| {
        move |source| PrivilegeError::Switch {
            user: user.to_string(),
            call,
            source,
        }
    };
    // Groups first: once the user id is not root, groups can no longer change.
    // NOTE: nix offers no setgroups on Apple platforms, where the
    // supplementary groups of the starting user stay.
    #[cfg(not(target_vendor = "apple"))]
    setgroups(&[account.gid]).map_err(switch_failed("setgroups"))?;
    setgid(account.gid).map_err(switch_failed("setgid"))?;
    setuid(account.uid).map_err(switch_failed("setuid"))?;
    Ok(Identity::Switched {
        user: account.name,
        uid: account.uid.as_raw(),
        gid: Gid::as_raw(account.gid),
    })
}
