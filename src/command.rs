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
use std::ffi::CStr;

/// Where glibc searches when `PATH` is unset (its `confstr(_CS_PATH)`).
const DEFAULT_PATH: &[u8] = b"/bin:/usr/bin";

/// glibc reads at most `PATH_MAX - 1` bytes of `PATH`, and skips any entry at least that long.
const PATH_MAX: usize = 4096;

/// The shell that runs a file the kernel cannot execute itself.
pub const SHELL: &CStr = c"/bin/sh";

/// Room for a path to try: the kernel refuses longer ones (`ENAMETOOLONG`) anyway.
pub const PATH_BUFFER: usize = PATH_MAX;

/// The places to try for the command named `file`, in order, given the value of `PATH` (`None`
/// when it is unset). Nothing to try for an empty name.
pub fn candidates<'a>(file: &'a [u8], path: Option<&'a [u8]>) -> Candidates<'a> {
    let path = path.unwrap_or(DEFAULT_PATH);
    let search = if file.is_empty() {
        Search::Done
    } else if file.contains(&b'/') {
        Search::AsGiven
    } else {
        Search::Path { at: 0, limit: path.len().min(PATH_MAX - 1) + 1 }
    };
    Candidates { file, path, search }
}

/// One place to try: `dir/file`, or `file` alone when `dir` is empty (the working directory, or a
/// name with a slash).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Candidate<'a> {
    pub dir: &'a [u8],
    pub file: &'a [u8],
}

impl Candidate<'_> {
    /// Writes the path, NUL-terminated, into `buf`; `None` when it does not fit.
    pub fn join<'b>(&self, buf: &'b mut [u8]) -> Option<&'b CStr> {
        let slash = usize::from(!self.dir.is_empty());
        let len = self.dir.len() + slash + self.file.len();
        let out = buf.get_mut(..=len)?;
        out[..self.dir.len()].copy_from_slice(self.dir);
        out[self.dir.len()..slash + self.dir.len()].fill(b'/');
        out[self.dir.len() + slash..len].copy_from_slice(self.file);
        out[len] = 0;
        CStr::from_bytes_with_nul(out).ok()
    }
}

pub struct Candidates<'a> {
    file: &'a [u8],
    path: &'a [u8],
    search: Search,
}

enum Search {
    AsGiven,
    /// At byte `at` of `PATH`; entries of `limit` bytes or more are skipped.
    Path {
        at: usize,
        limit: usize,
    },
    Done,
}

impl<'a> Iterator for Candidates<'a> {
    type Item = Candidate<'a>;

    fn next(&mut self) -> Option<Candidate<'a>> {
        let file = self.file;
        match self.search {
            Search::Done => None,
            Search::AsGiven => {
                self.search = Search::Done;
                Some(Candidate { dir: b"", file })
            }
            Search::Path { at, limit } => {
                // A transcription of glibc's loop, including its quirk: an entry that is too long
                // is skipped by stepping onto the ':' after it, which then reads as an empty entry.
                let end = self.path[at..].iter().position(|&b| b == b':').map_or(self.path.len(), |i| at + i);
                let last = end == self.path.len();
                self.search = if last { Search::Done } else { Search::Path { at: end + 1, limit } };
                if end - at >= limit {
                    self.search = if last { Search::Done } else { Search::Path { at: end, limit } };
                    return self.next();
                }
                Some(Candidate { dir: &self.path[at..end], file })
            }
        }
    }
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
        let mut buf = [0u8; PATH_BUFFER];
        candidates(file.as_bytes(), path.map(str::as_bytes))
            .map(|c| c.join(&mut buf).map_or("(too long)".into(), |p| p.to_str().unwrap().to_string()))
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
    fn joined_paths_fit_the_buffer_or_are_refused() {
        let long = "d".repeat(PATH_BUFFER - 4);
        assert_eq!(paths("ab", Some(&long)), [format!("{long}/ab")]);
        assert_eq!(paths("abc", Some(&long)), ["(too long)"]);
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
