//! The command to run, looked up exactly as glibc's `execvp` looks it up, on every build.
//!
//! 1.2.5 calls `execvp`, so its users rely on glibc's rules: a name with a slash is run as it is,
//! any other is searched for in `PATH` (`/bin:/usr/bin` when unset, an empty entry meaning the
//! working directory), a file the kernel refuses as not executable (`ENOEXEC`, a script without
//! `#!`) is run by `/bin/sh`, and when nothing runs the error is "Permission denied" if any
//! candidate was refused for permissions. musl differs (no `/bin/sh` fallback, for one), so the
//! search is dumb-init's own. This module decides; `sys` makes the calls.
//!
//! Pure logic: no system calls. The search is planned before `fork`, so that the child only has
//! to try the paths in order.

use nix::libc::{EACCES, ENODEV, ENOENT, ENOTDIR, ESTALE, ETIMEDOUT};

/// Where glibc searches when `PATH` is unset (its `confstr(_CS_PATH)`).
const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";

/// glibc reads at most `PATH_MAX - 1` bytes of `PATH`, and skips any entry at least that long.
const PATH_MAX: usize = 4096;

/// The shell that runs a file the kernel cannot execute itself.
pub const SHELL: &std::ffi::CStr = c"/bin/sh";

/// The paths to try for the command named `file`, in order, given the value of `PATH` (`None`
/// when it is unset). Empty when there is nothing to try (an empty name).
pub fn candidates(file: &[u8], path: Option<&[u8]>) -> Vec<Vec<u8>> {
    if file.is_empty() {
        return Vec::new();
    }
    if file.contains(&b'/') {
        return vec![file.to_vec()];
    }
    let path = path.unwrap_or(DEFAULT_PATH);
    let limit = path.len().min(PATH_MAX - 1) + 1;
    let mut found = Vec::new();
    // A transcription of glibc's loop, including its quirk: an entry that is too long is skipped
    // by stepping onto the ':' after it, which then reads as an empty entry (the working directory).
    let mut p = 0;
    loop {
        let end = path[p..].iter().position(|&b| b == b':').map_or(path.len(), |i| p + i);
        if end - p >= limit {
            if end == path.len() {
                break;
            }
            p = end;
            continue;
        }
        let mut candidate = path[p..end].to_vec();
        if end > p {
            candidate.push(b'/');
        }
        candidate.extend_from_slice(file);
        found.push(candidate);
        if end == path.len() {
            break;
        }
        p = end + 1;
    }
    found
}

/// What a failed attempt to run one candidate means for the search.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Failure {
    /// Not there, or not usable: try the next candidate.
    Missing,
    /// There but refused (`EACCES`): try the next; report "Permission denied" if none runs.
    Denied,
    /// Found, but running it failed (`E2BIG`, `ENOMEM`, a bad interpreter's `ELOOP`...): stop and
    /// report this error.
    Fatal,
}

/// Classifies the error of one attempt, as glibc does.
pub fn classify(errno: i32) -> Failure {
    match errno {
        EACCES => Failure::Denied,
        // ENODEV and ETIMEDOUT: "some strange filesystems like AFS" (glibc's words).
        ENOENT | ESTALE | ENOTDIR | ENODEV | ETIMEDOUT => Failure::Missing,
        _ => Failure::Fatal,
    }
}

/// The error to report once every candidate has failed: the last one's, unless one was refused
/// for permissions.
pub fn final_error(last: Option<i32>, denied: bool) -> i32 {
    if denied {
        EACCES
    } else {
        last.unwrap_or(ENOENT)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use nix::libc::{E2BIG, EISDIR, ENOEXEC};

    fn paths(file: &str, path: Option<&str>) -> Vec<String> {
        candidates(file.as_bytes(), path.map(str::as_bytes))
            .into_iter()
            .map(|p| String::from_utf8(p).unwrap())
            .collect()
    }

    #[test]
    fn slash_means_no_search() {
        assert_eq!(paths("/bin/true", Some("/usr/bin")), ["/bin/true"]);
        assert_eq!(paths("./run.sh", None), ["./run.sh"]);
        assert_eq!(paths("sub/dir", Some("")), ["sub/dir"]);
    }

    #[test]
    fn path_search() {
        assert_eq!(paths("ls", Some("/usr/local/bin:/usr/bin")), ["/usr/local/bin/ls", "/usr/bin/ls"]);
        assert_eq!(paths("ls", None), ["/bin/ls", "/usr/bin/ls"]);
        // Empty entries, anywhere, are the working directory.
        assert_eq!(paths("ls", Some("")), ["ls"]);
        assert_eq!(paths("ls", Some(":/bin")), ["ls", "/bin/ls"]);
        assert_eq!(paths("ls", Some("/bin::/usr/bin")), ["/bin/ls", "ls", "/usr/bin/ls"]);
        assert_eq!(paths("ls", Some("/bin:")), ["/bin/ls", "ls"]);
        assert!(paths("", Some("/bin")).is_empty());
    }

    #[test]
    fn overlong_entries_as_glibc_skips_them() {
        let long = "x".repeat(PATH_MAX);
        // Alone: nothing to try.
        assert!(paths("ls", Some(&long)).is_empty());
        // Followed by more: skipped onto its ':', which reads as an empty entry.
        assert_eq!(paths("ls", Some(&format!("{long}:/bin"))), ["ls", "/bin/ls"]);
        assert_eq!(paths("ls", Some(&format!("/bin:{long}"))), ["/bin/ls"]);
    }

    #[test]
    fn search_outcome() {
        assert_eq!(classify(ENOENT), Failure::Missing);
        assert_eq!(classify(ENOTDIR), Failure::Missing);
        assert_eq!(classify(EACCES), Failure::Denied);
        assert_eq!(classify(E2BIG), Failure::Fatal);
        assert_eq!(classify(ENOEXEC), Failure::Fatal);
        assert_eq!(classify(EISDIR), Failure::Fatal);
        assert_eq!(final_error(Some(ENOENT), false), ENOENT);
        assert_eq!(final_error(Some(ENOENT), true), EACCES);
        assert_eq!(final_error(None, false), ENOENT);
    }
}
