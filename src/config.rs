//! Settings: the command-line options combined with the environment, as 1.2.5 reads it (after the
//! options, only able to switch things on) plus the variables of the options added since.
//!
//! Pure logic: the environment comes in as a lookup function, so tests need no real environment.

use crate::cli::{Failure, Options};
use crate::exit::{self, Remap};
use crate::grace::{self, GracePeriod};
use crate::say::Lossy;
use crate::signals::{self, Rewrites};
use nix::libc;

/// Everything the supervisor needs to know, fixed before the child is started.
pub struct Config {
    /// Default mode: the child leads a new session and process group, which receives the signals.
    pub setsid: bool,
    pub verbose: bool,
    /// The user's rules, then the job-control defaults of setsid mode.
    pub rewrites: Rewrites,
    /// Zero means 1.2.5's behaviour: exit as soon as the child has.
    pub grace_period: GracePeriod,
    pub remap: Remap,
    pub pdeathsig: Option<i32>,
    pub pause: bool,
    pub wait_all: bool,
    /// `DUMB_INIT_DEBUG=1` switched verbose mode on (1.2.5 then says so first).
    pub debug_from_env: bool,
    /// `DUMB_INIT_SETSID=0` switched setsid mode off.
    pub setsid_off_from_env: bool,
}

/// Combines the options with the environment; `has_command` says whether a command followed them.
pub fn resolve<'e>(
    prog: &[u8],
    options: Options,
    has_command: bool,
    env: impl Fn(&str) -> Option<&'e [u8]>,
) -> Result<Config, Failure> {
    let is = |name: &str, value: &[u8]| env(name).is_some_and(|v| v == value);
    // A non-empty value, for the variables that carry one (an empty variable counts as unset).
    let value = |name: &str| env(name).filter(|v| !v.is_empty());

    let pause = options.pause || is("DUMB_INIT_PAUSE", b"1");
    if pause && has_command {
        return Err(Failure::new(prog, &[b"--pause runs no command; remove the command or --pause (DUMB_INIT_PAUSE)"]));
    }
    if !pause && !has_command {
        return Err(Failure::usage(prog));
    }
    let wait_all = options.wait_all || is("DUMB_INIT_WAIT_ALL", b"1");
    if pause && wait_all {
        return Err(Failure::new(
            prog,
            &[b"--wait-all waits for the processes a command leaves, and --pause runs none; \
                use one of --wait-all (DUMB_INIT_WAIT_ALL) and --pause (DUMB_INIT_PAUSE)"],
        ));
    }

    let debug_from_env = is("DUMB_INIT_DEBUG", b"1");
    let setsid_off_from_env = is("DUMB_INIT_SETSID", b"0");
    let setsid = !options.single_child && !setsid_off_from_env;

    let mut rewrites = options.rewrites;
    if let Some(list) = value("DUMB_INIT_REWRITE") {
        let mut from_env = Rewrites::default();
        for rule in list.split(|&b| b == b',') {
            let (from, to) = signals::parse_rule(rule).map_err(|why| {
                Failure::bad_value(prog, "DUMB_INIT_REWRITE", list, format_args!("'{}': {why}", Lossy(rule)))
            })?;
            from_env.set(from, to);
        }
        rewrites.fill_from(&from_env);
    }
    if setsid {
        // The child's process group is orphaned (its session has no other leader around), so the
        // kernel would not apply the default stop action of these three to it: stop it for real.
        for job_control in [libc::SIGTSTP, libc::SIGTTOU, libc::SIGTTIN] {
            rewrites.set_if_absent(job_control, libc::SIGSTOP);
        }
    }

    let grace_period = match (options.grace_period, value("DUMB_INIT_GRACE_PERIOD")) {
        (Some(period), _) => period,
        (None, Some(text)) => {
            grace::parse(text).map_err(|why| Failure::bad_value(prog, "DUMB_INIT_GRACE_PERIOD", text, why))?
        }
        (None, None) => GracePeriod::default(),
    };

    let mut remap = options.remap;
    if let Some(list) = value("DUMB_INIT_REMAP_EXIT") {
        let mut from_env = Remap::default();
        for rule in list.split(|&b| b == b',') {
            let (from, to) = exit::parse_rule(rule).map_err(|why| {
                Failure::bad_value(prog, "DUMB_INIT_REMAP_EXIT", list, format_args!("'{}': {why}", Lossy(rule)))
            })?;
            from_env.set(from, to);
        }
        remap.fill_from(&from_env);
    }

    let pdeathsig = match (options.pdeathsig, value("DUMB_INIT_PDEATHSIG")) {
        (Some(signal), _) => Some(signal),
        (None, Some(text)) => Some(
            signals::parse_receivable(text)
                .map_err(|why| Failure::bad_value(prog, "DUMB_INIT_PDEATHSIG", text, why))?,
        ),
        (None, None) => None,
    };

    Ok(Config {
        setsid,
        verbose: options.verbose || debug_from_env,
        rewrites,
        grace_period,
        remap,
        pdeathsig,
        pause,
        wait_all,
        debug_from_env,
        setsid_off_from_env,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cli::{parse, Action};

    fn resolve_with(args: &[&[u8]], vars: &[(&str, &str)]) -> Result<Config, String> {
        let Ok(Action::Run(options)) = parse(args) else { panic!("bad test arguments") };
        let has_command = options.command < args.len();
        let env = |name: &str| vars.iter().find(|(n, _)| *n == name).map(|(_, v)| v.as_bytes());
        resolve(b"dumb-init", options, has_command, env)
            .map_err(|Failure(m)| String::from_utf8(m.as_bytes().to_vec()).unwrap())
    }

    fn ok(args: &[&[u8]], vars: &[(&str, &str)]) -> Config {
        resolve_with(args, vars).unwrap_or_else(|message| panic!("{message}"))
    }

    fn err(args: &[&[u8]], vars: &[(&str, &str)]) -> String {
        resolve_with(args, vars).err().expect("expected a failure")
    }

    #[test]
    fn defaults() {
        let config = ok(&[b"dumb-init", b"x"], &[]);
        assert!(config.setsid && !config.verbose && !config.pause);
        assert!(config.grace_period.is_zero());
        assert_eq!(config.pdeathsig, None);
        assert_eq!(config.rewrites.rule(libc::SIGTSTP), Some(libc::SIGSTOP));
        assert_eq!(config.rewrites.rule(libc::SIGTTIN), Some(libc::SIGSTOP));
        assert_eq!(config.rewrites.rule(libc::SIGTTOU), Some(libc::SIGSTOP));
        assert_eq!(config.rewrites.rule(libc::SIGTERM), None);
    }

    #[test]
    fn single_child_has_no_job_control_rewrites() {
        let config = ok(&[b"dumb-init", b"-c", b"x"], &[]);
        assert!(!config.setsid);
        assert_eq!(config.rewrites.rule(libc::SIGTSTP), None);
        let config = ok(&[b"dumb-init", b"x"], &[("DUMB_INIT_SETSID", "0")]);
        assert!(!config.setsid && config.setsid_off_from_env);
        // The user's own rule for a job-control signal is kept.
        let config = ok(&[b"dumb-init", b"-r", b"20:0", b"x"], &[]);
        assert_eq!(config.rewrites.rule(libc::SIGTSTP), Some(0));
    }

    #[test]
    fn variables_only_switch_on() {
        assert!(ok(&[b"dumb-init", b"x"], &[("DUMB_INIT_DEBUG", "1")]).verbose);
        assert!(!ok(&[b"dumb-init", b"x"], &[("DUMB_INIT_DEBUG", "0")]).verbose);
        assert!(!ok(&[b"dumb-init", b"x"], &[("DUMB_INIT_DEBUG", "yes")]).verbose);
        assert!(ok(&[b"dumb-init", b"-v", b"x"], &[("DUMB_INIT_DEBUG", "0")]).verbose);
        assert!(ok(&[b"dumb-init", b"x"], &[("DUMB_INIT_SETSID", "1")]).setsid);
        assert!(!ok(&[b"dumb-init", b"-c", b"x"], &[("DUMB_INIT_SETSID", "1")]).setsid);
    }

    #[test]
    fn flags_win_over_variables() {
        let vars = [
            ("DUMB_INIT_REWRITE", "TERM:QUIT,INT:0"),
            ("DUMB_INIT_GRACE_PERIOD", "5"),
            ("DUMB_INIT_REMAP_EXIT", "143:0,130:0"),
            ("DUMB_INIT_PDEATHSIG", "HUP"),
        ];
        let config = ok(&[b"dumb-init", b"x"], &vars);
        assert_eq!((config.rewrites.rule(15), config.rewrites.rule(2)), (Some(3), Some(0)));
        assert_eq!(config.grace_period.nanos, 5_000_000_000);
        assert_eq!((config.remap.apply(143), config.remap.apply(130)), (0, 0));
        assert_eq!(config.pdeathsig, Some(1));
        let args: [&[u8]; 10] = [
            b"dumb-init",
            b"-r",
            b"TERM:USR1",
            b"--grace-period=0.5",
            b"--remap-exit",
            b"143:1",
            b"--pdeathsig",
            b"TERM",
            b"--",
            b"x",
        ];
        let config = ok(&args, &vars);
        assert_eq!((config.rewrites.rule(15), config.rewrites.rule(2)), (Some(10), Some(0)));
        assert_eq!(config.grace_period.nanos, 500_000_000);
        assert_eq!((config.remap.apply(143), config.remap.apply(130)), (1, 0));
        assert_eq!(config.pdeathsig, Some(15));
    }

    #[test]
    fn bad_variables() {
        let message = err(&[b"dumb-init", b"x"], &[("DUMB_INIT_GRACE_PERIOD", "soon")]);
        assert!(message.starts_with("dumb-init: invalid DUMB_INIT_GRACE_PERIOD value 'soon': "), "{message}");
        let message = err(&[b"dumb-init", b"x"], &[("DUMB_INIT_REWRITE", "TERM:QUIT,,")]);
        assert!(message.starts_with("dumb-init: invalid DUMB_INIT_REWRITE value 'TERM:QUIT,,': ''"), "{message}");
        assert!(err(&[b"dumb-init", b"x"], &[("DUMB_INIT_REWRITE", "KILL:1")])
            .contains("cannot be caught, so dumb-init never receives it"));
        assert!(err(&[b"dumb-init", b"x"], &[("DUMB_INIT_REMAP_EXIT", "143:0,999:1")]).contains("'999:1'"));
        assert!(
            err(&[b"dumb-init", b"x"], &[("DUMB_INIT_PDEATHSIG", "NOPE")]).contains("DUMB_INIT_PDEATHSIG value 'NOPE'")
        );
        // Empty variables are unset ones.
        assert!(ok(&[b"dumb-init", b"x"], &[("DUMB_INIT_GRACE_PERIOD", "")]).grace_period.is_zero());
    }

    #[test]
    fn wait_all() {
        assert!(!ok(&[b"dumb-init", b"x"], &[]).wait_all);
        assert!(ok(&[b"dumb-init", b"--wait-all", b"x"], &[]).wait_all);
        assert!(ok(&[b"dumb-init", b"--w", b"x"], &[]).wait_all);
        assert!(ok(&[b"dumb-init", b"x"], &[("DUMB_INIT_WAIT_ALL", "1")]).wait_all);
        assert!(!ok(&[b"dumb-init", b"x"], &[("DUMB_INIT_WAIT_ALL", "0")]).wait_all);
        for (args, vars) in [
            (&[&b"dumb-init"[..], b"--wait-all", b"--pause"][..], &[][..]),
            (&[b"dumb-init", b"--wait-all"], &[("DUMB_INIT_PAUSE", "1")]),
            (&[b"dumb-init", b"--pause"], &[("DUMB_INIT_WAIT_ALL", "1")]),
        ] {
            let message = err(args, vars);
            assert!(message.contains("--wait-all (DUMB_INIT_WAIT_ALL) and --pause (DUMB_INIT_PAUSE)"), "{message}");
        }
    }

    #[test]
    fn chld_is_refused_where_it_could_never_act() {
        assert!(
            err(&[b"dumb-init", b"x"], &[("DUMB_INIT_REWRITE", "CHLD:TERM")]).contains("'CHLD' is taken by dumb-init")
        );
        assert!(err(&[b"dumb-init", b"x"], &[("DUMB_INIT_PDEATHSIG", "17")]).contains("taken by dumb-init itself"));
    }

    #[test]
    fn pause_and_command() {
        assert!(ok(&[b"dumb-init", b"--pause"], &[]).pause);
        assert!(ok(&[b"dumb-init"], &[("DUMB_INIT_PAUSE", "1")]).pause);
        assert!(err(&[b"dumb-init", b"--pause", b"x"], &[]).contains("--pause runs no command"));
        assert!(err(&[b"dumb-init", b"x"], &[("DUMB_INIT_PAUSE", "1")]).contains("--pause runs no command"));
        assert_eq!(
            err(&[b"dumb-init", b"-v"], &[]),
            "Usage: dumb-init [option] program [args]\nTry dumb-init --help for full usage.\n"
        );
        // The usage message comes before any variable is read.
        assert!(err(&[b"dumb-init"], &[("DUMB_INIT_GRACE_PERIOD", "bad")]).starts_with("Usage:"));
    }
}
