//! The command line: GNU `getopt_long` semantics with dumb-init 1.2.5's option string `+hvVcr:`,
//! its long options, and the options added since, with glibc's error messages byte for byte.
//!
//! Pure logic: arguments are bytes (they need not be UTF-8) and nothing here touches the system.
//! Options are acted on in the order given: `--help` exits when it is reached, a bad value fails
//! when it is reached, and the first word that is not an option starts the command.

use crate::exit::{self, Remap};
use crate::grace::{self, GracePeriod};
use crate::say::Text;
use crate::signals::{self, Rewrites};
use std::fmt::{Display, Write};

/// What the command line asked for, before the environment is read.
#[derive(Default)]
pub struct Options {
    /// `-c`: signal only the direct child, and do not `setsid`.
    pub single_child: bool,
    /// `-v`: debug lines on stderr.
    pub verbose: bool,
    /// `-r` rules, the last one for a signal winning.
    pub rewrites: Rewrites,
    /// `--grace-period`, when given.
    pub grace_period: Option<GracePeriod>,
    /// `--remap-exit` rules.
    pub remap: Remap,
    /// `--pdeathsig`, when given.
    pub pdeathsig: Option<i32>,
    /// `--pause`: run no command.
    pub pause: bool,
    /// `--wait-all`: stay until every process has exited.
    pub wait_all: bool,
    /// Index in the arguments of the command's first word (the argument count when there is none).
    pub command: usize,
}

/// What to do once the command line is read.
#[allow(clippy::large_enum_variant)] // made once and moved once: a box would buy nothing
pub enum Action {
    Run(Options),
    Help,
    Version,
    ListSignals,
}

/// A message for stderr; dumb-init exits with status 1 after printing it.
#[derive(Debug)]
pub struct Failure(pub Text);

impl Failure {
    /// `PROG: ` followed by the pieces and a newline.
    pub fn new(prog: &[u8], pieces: &[&[u8]]) -> Failure {
        let mut message = Text::new();
        message.push(prog);
        message.push(b": ");
        for piece in pieces {
            message.push(piece);
        }
        message.end_line();
        Failure(message)
    }

    /// `PROG: invalid OPTION value 'VALUE': WHY`, shared by options and environment variables.
    pub fn bad_value(prog: &[u8], option: &str, value: &[u8], why: impl Display) -> Failure {
        let mut message = Text::new();
        for piece in [prog, b": invalid ", option.as_bytes(), b" value '", value, b"': "] {
            message.push(piece);
        }
        let _ = write!(message, "{why}");
        message.end_line();
        Failure(message)
    }

    /// The usage lines 1.2.5 prints when no command is given.
    pub fn usage(prog: &[u8]) -> Failure {
        let mut message = Text::new();
        for piece in [&b"Usage: "[..], prog, b" [option] program [args]\nTry ", prog, b" --help for full usage.\n"] {
            message.push(piece);
        }
        Failure(message)
    }
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Opt {
    Help,
    SingleChild,
    Rewrite,
    Verbose,
    Version,
    ListSignals,
    GracePeriod,
    RemapExit,
    Pause,
    Pdeathsig,
    WaitAll,
}

struct LongOption {
    name: &'static str,
    opt: Opt,
    takes_value: bool,
    /// Present in 1.2.5: its prefixes keep the meaning they had there.
    legacy: bool,
}

const fn long(name: &'static str, opt: Opt, takes_value: bool, legacy: bool) -> LongOption {
    LongOption { name, opt, takes_value, legacy }
}

/// In 1.2.5's order first, since glibc lists ambiguous candidates in table order.
const LONG_OPTIONS: [LongOption; 11] = [
    long("help", Opt::Help, false, true),
    long("single-child", Opt::SingleChild, false, true),
    long("rewrite", Opt::Rewrite, true, true),
    long("verbose", Opt::Verbose, false, true),
    long("version", Opt::Version, false, true),
    long("list-signals", Opt::ListSignals, false, false),
    long("grace-period", Opt::GracePeriod, true, false),
    long("remap-exit", Opt::RemapExit, true, false),
    long("pause", Opt::Pause, false, false),
    long("pdeathsig", Opt::Pdeathsig, true, false),
    long("wait-all", Opt::WaitAll, false, false),
];

/// The program name for messages: `argv[0]` as given.
pub fn program_name<A: AsRef<[u8]>>(args: &[A]) -> &[u8] {
    args.first().map_or(&b"dumb-init"[..], AsRef::as_ref)
}

/// Reads the options; stops at `--` or at the first word that is not an option.
pub fn parse<A: AsRef<[u8]>>(args: &[A]) -> Result<Action, Failure> {
    let prog = program_name(args);
    let mut options = Options::default();
    let mut i = 1;
    while let Some(arg) = args.get(i).map(AsRef::as_ref) {
        if arg == b"--" {
            i += 1;
            break;
        } else if let Some(body) = arg.strip_prefix(b"--") {
            let (name, inline) = match body.iter().position(|&b| b == b'=') {
                Some(eq) => (&body[..eq], Some(&body[eq + 1..])),
                None => (body, None),
            };
            let option = find_long(prog, arg, name)?;
            let value = match (option.takes_value, inline) {
                (true, Some(value)) => Some(value),
                (true, None) => {
                    i += 1;
                    let missing =
                        || Failure::new(prog, &[b"option '--", option.name.as_bytes(), b"' requires an argument"]);
                    Some(args.get(i).map(AsRef::as_ref).ok_or_else(missing)?)
                }
                (false, Some(_)) => {
                    return Err(Failure::new(
                        prog,
                        &[b"option '--", option.name.as_bytes(), b"' doesn't allow an argument"],
                    ));
                }
                (false, None) => None,
            };
            if let Some(action) = apply(&mut options, prog, option.opt, value.unwrap_or_default())? {
                return Ok(action);
            }
        } else if arg.len() > 1 && arg[0] == b'-' {
            // A cluster of short options, such as `-cv` or `-vr15:3`.
            for (at, &letter) in arg.iter().enumerate().skip(1) {
                let opt = match letter {
                    b'h' => Opt::Help,
                    b'v' => Opt::Verbose,
                    b'V' => Opt::Version,
                    b'c' => Opt::SingleChild,
                    b'r' => Opt::Rewrite,
                    _ => return Err(Failure::new(prog, &[b"invalid option -- '", &[letter], b"'"])),
                };
                if opt == Opt::Rewrite {
                    // The value is the rest of this word, or else the next word, whatever it looks like.
                    let value = if at + 1 < arg.len() {
                        &arg[at + 1..]
                    } else {
                        i += 1;
                        let missing = || Failure::new(prog, &[b"option requires an argument -- 'r'"]);
                        args.get(i).map(AsRef::as_ref).ok_or_else(missing)?
                    };
                    apply(&mut options, prog, opt, value)?;
                    break;
                }
                if let Some(action) = apply(&mut options, prog, opt, b"")? {
                    return Ok(action);
                }
            }
        } else {
            break;
        }
        i += 1;
    }
    options.command = i.min(args.len());
    Ok(Action::Run(options))
}

/// Finds a long option by its full name or an unambiguous prefix. A prefix that named a 1.2.5
/// option keeps naming it, so `--re` is still `--rewrite` although `--remap-exit` now exists.
fn find_long(prog: &[u8], arg: &[u8], name: &[u8]) -> Result<&'static LongOption, Failure> {
    if let Some(exact) = LONG_OPTIONS.iter().find(|o| o.name.as_bytes() == name) {
        return Ok(exact);
    }
    for legacy in [true, false] {
        let mut candidates = LONG_OPTIONS.iter().filter(|o| o.legacy == legacy && o.name.as_bytes().starts_with(name));
        let Some(first) = candidates.next() else { continue };
        if candidates.next().is_none() {
            return Ok(first);
        }
        let mut message = Text::new();
        for piece in [prog, b": option '", arg, b"' is ambiguous; possibilities:"] {
            message.push(piece);
        }
        for option in LONG_OPTIONS.iter().filter(|o| o.legacy == legacy && o.name.as_bytes().starts_with(name)) {
            let _ = write!(message, " '--{}'", option.name);
        }
        message.end_line();
        return Err(Failure(message));
    }
    Err(Failure::new(prog, &[b"unrecognized option '", arg, b"'"]))
}

/// Acts on one option; returns the action that ends parsing early (`--help`, `--version`, `--list-signals`).
fn apply(options: &mut Options, prog: &[u8], opt: Opt, value: &[u8]) -> Result<Option<Action>, Failure> {
    match opt {
        Opt::Help => return Ok(Some(Action::Help)),
        Opt::Version => return Ok(Some(Action::Version)),
        Opt::ListSignals => return Ok(Some(Action::ListSignals)),
        Opt::Verbose => options.verbose = true,
        Opt::SingleChild => options.single_child = true,
        Opt::Pause => options.pause = true,
        Opt::WaitAll => options.wait_all = true,
        Opt::Rewrite => {
            let (from, to) = signals::parse_rule(value).map_err(|why| bad_rewrite(prog, value, why))?;
            options.rewrites.set(from, to);
        }
        Opt::GracePeriod => {
            let period = grace::parse(value).map_err(|why| Failure::bad_value(prog, "--grace-period", value, why))?;
            options.grace_period = Some(period);
        }
        Opt::RemapExit => {
            let (from, to) =
                exit::parse_rule(value).map_err(|why| Failure::bad_value(prog, "--remap-exit", value, why))?;
            options.remap.set(from, to);
        }
        Opt::Pdeathsig => {
            let signal =
                signals::parse_receivable(value).map_err(|why| Failure::bad_value(prog, "--pdeathsig", value, why))?;
            options.pdeathsig = Some(signal);
        }
    }
    Ok(None)
}

/// A bad `-r` value: what is wrong with it, then how the option is used (1.2.5 printed only the latter).
pub fn bad_rewrite(prog: &[u8], value: &[u8], why: signals::BadRule) -> Failure {
    let mut failure = Failure::bad_value(prog, "-r/--rewrite", value, why);
    failure.0.push(
        b"Usage: -r, --rewrite FROM:TO forwards signal FROM as TO (TO = 0: not at all); \
          signals are numbers or names such as 15, TERM, SIGUSR1, RTMIN+3; repeatable.",
    );
    failure.0.end_line();
    failure
}

/// The `--help` text, for stderr, in pieces (`PROG` is written where 1.2.5 writes it).
pub fn help(prog: &[u8]) -> [&[u8]; 5] {
    [HELP_HEAD.as_bytes(), prog, b" [option] command [[arg] ...]\n       ", prog, HELP_BODY.as_bytes()]
}

const HELP_HEAD: &str = concat!("dumb-init v", env!("CARGO_PKG_VERSION"), "\nUsage: ");

const HELP_BODY: &str = " --pause [option]

dumb-init is a simple process supervisor that forwards signals to children
and reaps zombies. It is designed to run as PID 1 in minimal container
environments, and as a shebang (#!/usr/bin/dumb-init /bin/sh) for scripts.

Optional arguments:
   -c, --single-child   Run in single-child mode.
                        In this mode, signals are only proxied to the
                        direct child and not any of its descendants.
   -r, --rewrite s:r    Rewrite received signal s to new signal r before proxying.
                        Signals are numbers or names (15, TERM, SIGTERM, RTMIN+3).
                        To ignore (not proxy) a signal, rewrite it to 0.
                        This option can be specified multiple times.
   -v, --verbose        Print debugging information to stderr.
   -h, --help           Print this help message and exit.
   -V, --version        Print the current version and exit.
       --list-signals   Print the signal numbers and names dumb-init knows, and exit.
       --grace-period=SECONDS
                        When the child exits, send SIGTERM to every process left
                        (in the PID namespace when PID 1, else among dumb-init's
                        children), wait up to SECONDS (fractions allowed) for them
                        to exit, then SIGKILL the rest. Default 0: exit at once.
       --remap-exit=FROM:TO
                        Exit with status TO instead of FROM (0-255 each), e.g.
                        143:0 makes a child stopped by SIGTERM count as success.
                        This option can be specified multiple times.
       --pdeathsig=SIGNAL
                        Act as if SIGNAL was received when the process that
                        started dumb-init exits.
       --pause          Run no command: only reap orphans, and exit 0 on
                        SIGTERM or SIGINT (a pod's shared PID 1).
       --wait-all       When the child exits, do not end the other processes:
                        forward signals to them and exit, with the child's
                        status, once none is left. With --grace-period, the
                        first SIGTERM or SIGINT then starts the period.

Environment variables (an option on the command line wins over its variable):
   DUMB_INIT_DEBUG=1            like --verbose
   DUMB_INIT_SETSID=0           like --single-child
   DUMB_INIT_REWRITE=s:r,...    like --rewrite s:r for each rule
   DUMB_INIT_GRACE_PERIOD=S     like --grace-period=S
   DUMB_INIT_REMAP_EXIT=F:T,... like --remap-exit=F:T for each rule
   DUMB_INIT_PDEATHSIG=SIGNAL   like --pdeathsig=SIGNAL
   DUMB_INIT_PAUSE=1            like --pause
   DUMB_INIT_WAIT_ALL=1         like --wait-all

When not PID 1, dumb-init registers as a child subreaper, so orphaned
descendants are reaped by it rather than by the host's init.
";

#[cfg(test)]
mod tests {
    use super::*;

    fn run(args: &[&[u8]]) -> Options {
        match parse(args) {
            Ok(Action::Run(options)) => options,
            Ok(_) => panic!("expected a command"),
            Err(Failure(message)) => panic!("{message:?}"),
        }
    }

    fn fail(args: &[&[u8]]) -> String {
        match parse(args) {
            Err(Failure(message)) => String::from_utf8(message.as_bytes().to_vec()).unwrap(),
            Ok(_) => panic!("expected a failure"),
        }
    }

    fn action(args: &[&[u8]]) -> &'static str {
        match parse(args) {
            Ok(Action::Help) => "help",
            Ok(Action::Version) => "version",
            Ok(Action::ListSignals) => "list",
            Ok(Action::Run(_)) => "run",
            Err(_) => "fail",
        }
    }

    #[test]
    fn defaults_and_command() {
        let options = run(&[b"dumb-init", b"sh", b"-c", b"x"]);
        assert!(!options.single_child && !options.verbose && !options.pause);
        assert_eq!(options.command, 1);
        assert_eq!(run(&[b"dumb-init"]).command, 1);
        assert_eq!(run(&[b"dumb-init", b"-v"]).command, 2);
    }

    #[test]
    fn stops_at_first_non_option_and_double_dash() {
        let options = run(&[b"dumb-init", b"-v", b"sh", b"-c", b"x", b"-v"]);
        assert!(options.verbose);
        assert_eq!(options.command, 2);
        let options = run(&[b"dumb-init", b"--", b"-v"]);
        assert!(!options.verbose);
        assert_eq!(options.command, 2);
        assert_eq!(run(&[b"dumb-init", b"-c", b"--", b"--", b"x"]).command, 3);
        // A lone dash is a word, not an option.
        assert_eq!(run(&[b"dumb-init", b"-", b"-v"]).command, 1);
    }

    #[test]
    fn clusters_and_values() {
        let options = run(&[b"dumb-init", b"-cv", b"x"]);
        assert!(options.single_child && options.verbose);
        assert_eq!(run(&[b"dumb-init", b"-r15:3", b"x"]).rewrites.rule(15), Some(3));
        assert_eq!(run(&[b"dumb-init", b"-r", b"15:3", b"x"]).rewrites.rule(15), Some(3));
        let options = run(&[b"dumb-init", b"-vr", b"1:2", b"x"]);
        assert!(options.verbose);
        assert_eq!(options.rewrites.rule(1), Some(2));
        assert_eq!(run(&[b"dumb-init", b"--rewrite=15:3", b"x"]).rewrites.rule(15), Some(3));
        assert_eq!(run(&[b"dumb-init", b"--rewrite", b"15:3", b"x"]).rewrites.rule(15), Some(3));
        let options = run(&[b"dumb-init", b"-r", b"15:3", b"-r", b"15:0", b"x"]);
        assert_eq!(options.rewrites.rule(15), Some(0));
    }

    #[test]
    fn separate_value_is_taken_whatever_it_looks_like() {
        assert!(fail(&[b"dumb-init", b"-r", b"-v", b"x"]).contains("invalid -r/--rewrite value '-v'"));
        assert!(fail(&[b"dumb-init", b"--rewrite", b"--", b"x"]).contains("value '--'"));
    }

    #[test]
    fn long_prefixes() {
        assert!(run(&[b"dumb-init", b"--single", b"x"]).single_child);
        assert!(run(&[b"dumb-init", b"--s", b"x"]).single_child);
        assert!(run(&[b"dumb-init", b"--verb", b"x"]).verbose);
        assert_eq!(run(&[b"dumb-init", b"--rew=1:2", b"x"]).rewrites.rule(1), Some(2));
        // `--re` meant --rewrite in 1.2.5 and still does.
        assert_eq!(run(&[b"dumb-init", b"--re", b"1:2", b"x"]).rewrites.rule(1), Some(2));
        assert_eq!(run(&[b"dumb-init", b"--rem=143:0", b"x"]).remap.apply(143), 0);
        assert!(run(&[b"dumb-init", b"--pa"]).pause);
        assert_eq!(run(&[b"dumb-init", b"--pd", b"TERM", b"x"]).pdeathsig, Some(15));
        assert_eq!(run(&[b"dumb-init", b"--g=2.5", b"x"]).grace_period.map(|g| g.nanos), Some(2_500_000_000));
        assert_eq!(action(&[b"dumb-init", b"--h"]), "help");
        assert_eq!(action(&[b"dumb-init", b"--version"]), "version");
        assert_eq!(action(&[b"dumb-init", b"--l"]), "list");
    }

    #[test]
    fn acted_on_in_order() {
        assert_eq!(action(&[b"dumb-init", b"-h", b"--yolo"]), "help");
        assert_eq!(action(&[b"dumb-init", b"-V", b"-r", b"bad"]), "version");
        assert_eq!(action(&[b"dumb-init", b"-vh"]), "help");
        assert_eq!(action(&[b"dumb-init", b"-r", b"bad", b"-h"]), "fail");
        assert_eq!(action(&[b"dumb-init", b"--yolo", b"-h"]), "fail");
        assert_eq!(action(&[b"dumb-init", b"cmd", b"-h"]), "run");
        assert_eq!(action(&[b"dumb-init", b"-ch"]), "help");
    }

    #[test]
    fn contract_messages() {
        assert_eq!(fail(&[b"dumb-init", b"--yolo"]), "dumb-init: unrecognized option '--yolo'\n");
        assert_eq!(fail(&[b"./di", b"--yolo=3", b"x"]), "./di: unrecognized option '--yolo=3'\n");
        assert_eq!(fail(&[b"dumb-init", b"-x"]), "dumb-init: invalid option -- 'x'\n");
        assert_eq!(fail(&[b"dumb-init", b"-vx"]), "dumb-init: invalid option -- 'x'\n");
        assert_eq!(fail(&[b"dumb-init", b"-r"]), "dumb-init: option requires an argument -- 'r'\n");
        assert_eq!(fail(&[b"dumb-init", b"--rewrite"]), "dumb-init: option '--rewrite' requires an argument\n");
        assert_eq!(fail(&[b"dumb-init", b"--rew"]), "dumb-init: option '--rewrite' requires an argument\n");
        assert_eq!(fail(&[b"dumb-init", b"--help=1"]), "dumb-init: option '--help' doesn't allow an argument\n");
        assert_eq!(fail(&[b"dumb-init", b"--he=1"]), "dumb-init: option '--help' doesn't allow an argument\n");
        assert_eq!(
            fail(&[b"dumb-init", b"--ver"]),
            "dumb-init: option '--ver' is ambiguous; possibilities: '--verbose' '--version'\n"
        );
        assert_eq!(
            fail(&[b"dumb-init", b"--p", b"x"]),
            "dumb-init: option '--p' is ambiguous; possibilities: '--pause' '--pdeathsig'\n"
        );
        assert_eq!(
            fail(&[b"dumb-init", b"--grace-period"]),
            "dumb-init: option '--grace-period' requires an argument\n"
        );
        assert_eq!(
            String::from_utf8(Failure::usage(b"prog").0.as_bytes().to_vec()).unwrap(),
            "Usage: prog [option] program [args]\nTry prog --help for full usage.\n"
        );
    }

    #[test]
    fn strict_rewrite_values() {
        for bad in [&b"15:3x"[..], b"15", b"15::3", b":3", b"a:b", b"1:99", b"", b"9:1", b"STOP:1"] {
            let message = fail(&[b"dumb-init", b"-r", bad, b"x"]);
            assert!(message.starts_with("dumb-init: invalid -r/--rewrite value '"), "{message}");
            assert!(message.contains("\nUsage: -r, --rewrite FROM:TO"), "{message}");
        }
        assert!(fail(&[b"dumb-init", b"-r", b"15:3x"]).contains("'3x' is not a signal"));
        assert!(fail(&[b"dumb-init", b"-r", b"KILL:1"]).contains("cannot be caught, so dumb-init never receives it"));
    }

    #[test]
    fn bad_new_values() {
        let message = fail(&[b"dumb-init", b"--grace-period=abc", b"x"]);
        assert!(message.starts_with("dumb-init: invalid --grace-period value 'abc': "), "{message}");
        assert!(fail(&[b"dumb-init", b"--remap-exit=1:256", b"x"]).contains("invalid --remap-exit value '1:256'"));
        assert!(fail(&[b"dumb-init", b"--pdeathsig=KILL", b"x"]).contains("invalid --pdeathsig value 'KILL'"));
        assert!(fail(&[b"dumb-init", b"--pause=1"]).contains("option '--pause' doesn't allow an argument"));
    }

    #[test]
    fn non_utf8_arguments() {
        let options = run(&[b"\xffprog", b"-r", b"1:2", b"\xfe\xfd", b"\xff"]);
        assert_eq!(options.command, 3);
        match parse(&[&b"\xffprog"[..], b"--\xff"]) {
            Err(Failure(message)) => assert_eq!(message.as_bytes(), b"\xffprog: unrecognized option '--\xff'\n"),
            _ => panic!("expected a failure"),
        }
        match parse(&[&b"p"[..], b"-\xff"]) {
            Err(Failure(message)) => assert_eq!(message.as_bytes(), b"p: invalid option -- '\xff'\n"),
            _ => panic!("expected a failure"),
        }
    }

    #[test]
    fn never_panics_on_odd_arguments() {
        // Words built from the pieces the parser cares about, in pseudo-random order.
        const PIECES: [&[u8]; 16] = [
            b"-",
            b"--",
            b"r",
            b"v",
            b"c",
            b"=",
            b":",
            b"15",
            b"0",
            b"99999999999",
            b"TERM",
            b"RTMIN+",
            b"grace",
            b"\xff",
            b"re",
            b".",
        ];
        let mut seed: u32 = 1;
        let mut next = || {
            seed = seed.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            (seed >> 16) as usize
        };
        for _ in 0..20_000 {
            let mut args: Vec<Vec<u8>> = vec![b"dumb-init".to_vec()];
            for _ in 0..next() % 5 {
                let mut word = Vec::new();
                for _ in 0..next() % 4 {
                    word.extend_from_slice(PIECES[next() % PIECES.len()]);
                }
                args.push(word);
            }
            if let Ok(Action::Run(options)) = parse(&args) {
                assert!(options.command <= args.len());
            }
        }
    }

    #[test]
    fn help_names_every_option() {
        let text = String::from_utf8(help(b"./x").concat()).unwrap();
        assert!(text.starts_with(&format!("dumb-init v{}\nUsage: ./x [option] command", env!("CARGO_PKG_VERSION"))));
        assert!(text.contains("\n       ./x --pause [option]\n"));
        for option in LONG_OPTIONS.iter() {
            assert!(text.contains(&format!("--{}", option.name)), "{}", option.name);
        }
        assert!(text.contains(env!("CARGO_PKG_VERSION")));
    }
}
