//! Standard output as a file of its own descriptor, for the commands that
//! write their results there.
//!
//! `std::io::Stdout` treats a write that fails with EBADF (standard output
//! closed, or open only for reading) as a success and drops the bytes, so
//! a run would lose its records and still exit 0. A duplicate of the
//! descriptor in a `File` returns that error like any other, and EPIPE
//! stays an error the caller can tell apart.
//!
//! NOTE: a standard output closed before exflow starts (`exflow ... >&-`)
//! is not caught. The Rust runtime opens /dev/null for reading and writing
//! in its place before `main` (seen with strace on Rust 1.95), which looks
//! the same as a /dev/null given on purpose that way (Python 3.11's
//! `subprocess.DEVNULL`), and writes there succeed.

use std::fs::File;
use std::io;
use std::os::fd::AsFd;

/// Opens a duplicate of the standard output descriptor. Writes to it are
/// unbuffered and return every error, so a caller that writes small pieces
/// wraps it in a `BufWriter`.
pub(crate) fn open() -> io::Result<File> {
    let descriptor = io::stdout().as_fd().try_clone_to_owned()?;
    Ok(File::from(descriptor))
}
