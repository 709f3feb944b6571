//! `peer shell`: one session that runs `peer`'s commands line by line, for users who prefer a
//! prompt to separate processes.
//!
//! Each line is split into words ([`mod@line`]), and the words go through the same parser as the
//! command line ([`proto::cli::parse`] over [`Cli`]) after the global flags the session was
//! started with (`--home`, `--trackers`, `--ca`, `--json`), so help, errors and exit codes are
//! those of `peer` itself; the parsed command runs through the same [`crate::cli::run`] on the
//! process's runtime. An error is printed as `peer` prints it and the session goes on.
//!
//! On a terminal the prompt (`peer alice> `) has line editing, history and completion
//! ([`editor`]); Ctrl-C clears the line or stops waiting for a running command, and Ctrl-D or
//! `exit` ends the session. When stdin is not a terminal, lines are read from it with no prompt
//! and nothing printed beyond what the commands print (a script, a test). Either way the session
//! exits with the code of the last command that failed (1 for an error, 2 for a usage error), or
//! 0.

pub mod editor;
pub mod help;
pub mod line;

use std::ffi::OsString;
use std::io::{BufRead, IsTerminal, Read};
use std::path::PathBuf;
use std::process::ExitCode;

use rustyline::error::ReadlineError;
use tokio::runtime::Runtime;

use self::line::{Line, LineError, MAX_LINE_BYTES};
use super::{Cli, Command, CLI};
use crate::home::Home;

/// Why `peer shell` is not run from inside a shell or another command.
pub const NOT_NESTED: &str = "`peer shell` does not run inside a shell: its commands are here";

/// Why `peer daemon` is not run from a shell.
const NO_DAEMON: &str = "`peer daemon` runs in its own terminal or as a service (deploy/), not \
     in the shell; the shell's commands talk to it";

/// The exit code of a usage error (clap's).
const USAGE: u8 = 2;

/// Runs the session of `peer shell` (with the global flags of `session`) on `runtime`.
pub fn run(session: &Cli, runtime: &Runtime) -> ExitCode {
    let home_dir = session.home.clone().unwrap_or_else(Home::default_dir);
    if let Err(e) = Home::open(&home_dir) {
        eprintln!(
            "peer: error: while opening the home {}: {e:#}",
            home_dir.display()
        );
        return ExitCode::FAILURE;
    }
    let mut shell = Shell {
        globals: global_flags(session),
        home_dir,
        interactive: std::io::stdin().is_terminal(),
        last_failure: None,
    };
    if shell.interactive {
        shell.run_interactive(runtime);
    } else {
        shell.run_script(runtime);
    }
    shell.last_failure.map_or(ExitCode::SUCCESS, ExitCode::from)
}

/// The session: what every line is run with, and how the last failure ended.
struct Shell {
    /// `peer` and the session's global flags, put before every line's words.
    globals: Vec<OsString>,
    /// The home (for the prompt's user and the history).
    home_dir: PathBuf,
    /// Whether stdin is a terminal (the editor, Ctrl-C stopping a command).
    interactive: bool,
    /// The exit code of the last command that failed.
    last_failure: Option<u8>,
}

/// Whether the session goes on after a line.
#[derive(Debug, PartialEq, Eq)]
enum Flow {
    /// Read the next line.
    Next,
    /// End the session.
    End,
}

impl Shell {
    /// Reads lines with the editor until `exit` or Ctrl-D.
    fn run_interactive(&mut self, runtime: &Runtime) {
        let mut editor = match editor::LineEditor::open(&self.home_dir, help::peer_command()) {
            Ok(e) => e,
            Err(e) => {
                eprintln!("peer: error: cannot set up the terminal: {e}");
                self.last_failure = Some(1);
                return;
            }
        };
        // From here on SIGINT is tokio's for the whole process (its handlers stay installed):
        // a Ctrl-C between the prompt and a command's listener does not end the session.
        {
            let _runtime = runtime.enter();
            if let Err(e) =
                tokio::signal::unix::signal(tokio::signal::unix::SignalKind::interrupt())
            {
                eprintln!("peer: warning: Ctrl-C will end the session: {e}");
            }
        }
        eprintln!("peer shell: `help` lists the commands; `exit` or Ctrl-D ends the session");
        loop {
            match editor.read(&self.prompt()) {
                Ok(text) => {
                    editor.remember(&text);
                    if self.run_line(&text, runtime) == Flow::End {
                        return;
                    }
                }
                Err(ReadlineError::Interrupted) => {}
                Err(ReadlineError::Eof) => return,
                Err(e) => {
                    eprintln!("peer: error: cannot read from the terminal: {e}");
                    self.last_failure = Some(1);
                    return;
                }
            }
        }
    }

    /// Reads lines from stdin, no prompt, until `exit` or the end of input.
    fn run_script(&mut self, runtime: &Runtime) {
        loop {
            // The lock is taken per line: a command may read stdin itself (`--password-stdin`
            // takes the next line) through the same buffer.
            let read = read_script_line(&mut std::io::stdin().lock());
            let flow = match read {
                Ok(None) => Flow::End,
                Ok(Some(Ok(text))) => self.run_line(&text, runtime),
                Ok(Some(Err(e))) => self.fail(USAGE, &e),
                Err(e) => {
                    self.fail(1, &format!("cannot read stdin: {e}"));
                    Flow::End
                }
            };
            if flow == Flow::End {
                return;
            }
        }
    }

    /// `peer alice> `, or `peer> ` when nobody is logged in on the home.
    fn prompt(&self) -> String {
        match Home::open(&self.home_dir).and_then(|h| h.session()) {
            Ok(s) => format!("peer {}> ", s.username),
            Err(_) => "peer> ".into(),
        }
    }

    /// Runs one line.
    fn run_line(&mut self, text: &str, runtime: &Runtime) -> Flow {
        let words = match line::parse(text) {
            Ok(Line::Blank) => return Flow::Next,
            Ok(Line::Exit) => return Flow::End,
            Ok(Line::Help) => {
                print!("{}", help::text(&help::peer_command()));
                return Flow::Next;
            }
            Ok(Line::Command(words)) => words,
            Err(e) => return self.fail(USAGE, &e),
        };
        let argv = self
            .globals
            .iter()
            .cloned()
            .chain(words.into_iter().map(OsString::from));
        let cli = match proto::cli::parse::<Cli, _, _>(&CLI, argv) {
            proto::cli::Parsed::Run(cli) => cli,
            proto::cli::Parsed::Exit(code) => {
                // Help, version or completions (0), or a usage error clap printed.
                if code != ExitCode::SUCCESS {
                    self.last_failure = Some(USAGE);
                }
                return Flow::Next;
            }
        };
        match cli.command {
            Command::Daemon(_) => return self.fail(USAGE, &NO_DAEMON),
            Command::Shell => return self.fail(USAGE, &NOT_NESTED),
            _ => {}
        }
        let result = if self.interactive {
            runtime.block_on(until_ctrl_c(super::run(cli)))
        } else {
            runtime.block_on(super::run(cli))
        };
        if let Err(e) = result {
            return self.fail(1, &format!("{e:#}"));
        }
        Flow::Next
    }

    /// Prints `why` as `peer` prints an error and remembers `code`; the session goes on.
    fn fail(&mut self, code: u8, why: &dyn std::fmt::Display) -> Flow {
        eprintln!("peer: error: {why}");
        self.last_failure = Some(code);
        Flow::Next
    }
}

/// `peer` and the global flags the session was given (each as `--flag=value`, so a value that
/// starts with `-` stays a value).
fn global_flags(session: &Cli) -> Vec<OsString> {
    let mut out = vec![OsString::from(CLI.bin)];
    let mut flag = |name: &str, value: &std::ffi::OsStr| {
        let mut f = OsString::from(format!("--{name}="));
        f.push(value);
        out.push(f);
    };
    if let Some(home) = &session.home {
        flag("home", home.as_os_str());
    }
    if let Some(trackers) = &session.trackers {
        flag("trackers", trackers.as_ref());
    }
    if let Some(ca) = &session.ca {
        flag("ca", ca.as_os_str());
    }
    if session.json {
        out.push("--json".into());
    }
    out
}

/// Runs `command` until it ends or Ctrl-C stops waiting for it.
async fn until_ctrl_c(
    command: impl std::future::Future<Output = anyhow::Result<()>>,
) -> anyhow::Result<()> {
    // Biased, the listener first: it is registered before the command first runs, so a Ctrl-C
    // is never the default one that ends the process.
    tokio::select! {
        biased;
        Ok(()) = tokio::signal::ctrl_c() => Err(anyhow::anyhow!(
            "interrupted: stopped waiting; what the daemon or the tracker was already asked may \
             still happen (`downloads` shows the daemon's downloads)"
        )),
        result = command => result,
    }
}

/// Reads one line of a script: `None` at the end of input; a line longer than
/// [`MAX_LINE_BYTES`] or not UTF-8 is skipped whole and reported.
///
/// # Errors
/// A read error of stdin.
fn read_script_line(
    input: &mut impl BufRead,
) -> std::io::Result<Option<Result<String, LineError>>> {
    let mut bytes = Vec::new();
    let limit = u64::try_from(MAX_LINE_BYTES).unwrap_or(u64::MAX) + 1;
    input.by_ref().take(limit).read_until(b'\n', &mut bytes)?;
    if bytes.is_empty() {
        return Ok(None);
    }
    if bytes.last() != Some(&b'\n') && bytes.len() > MAX_LINE_BYTES {
        input.skip_until(b'\n')?;
        return Ok(Some(Err(LineError::TooLong)));
    }
    while matches!(bytes.last(), Some(b'\n' | b'\r')) {
        bytes.pop();
    }
    Ok(Some(
        String::from_utf8(bytes).map_err(|_| LineError::NotUtf8),
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lines(input: &[u8]) -> Vec<Result<String, LineError>> {
        let mut reader = std::io::BufReader::with_capacity(16, input);
        let mut out = Vec::new();
        for _ in 0..100 {
            match read_script_line(&mut reader).unwrap() {
                Some(l) => out.push(l),
                None => return out,
            }
        }
        panic!("no end of input after 100 lines");
    }

    #[test]
    fn script_lines_are_read_without_their_line_ends() {
        assert_eq!(
            lines(b"files g\r\nwhoami\n\nlast"),
            vec![
                Ok("files g".into()),
                Ok("whoami".into()),
                Ok(String::new()),
                Ok("last".into())
            ]
        );
        assert_eq!(lines(b""), vec![]);
    }

    #[test]
    fn an_overlong_or_non_utf8_line_is_skipped_and_the_next_one_read() {
        let mut input = vec![b'x'; MAX_LINE_BYTES + 10];
        input.extend_from_slice(b"\nwhoami\n\xff\xfe\nfiles g\n");
        assert_eq!(
            lines(&input),
            vec![
                Err(LineError::TooLong),
                Ok("whoami".into()),
                Err(LineError::NotUtf8),
                Ok("files g".into())
            ]
        );
        // Exactly the limit is still a line.
        let mut input = vec![b'y'; MAX_LINE_BYTES];
        input.push(b'\n');
        assert_eq!(lines(&input), vec![Ok("y".repeat(MAX_LINE_BYTES))]);
    }

    #[test]
    fn the_sessions_global_flags_go_before_every_line() {
        let session = parse_line(&["peer", "--home", "/h", "--trackers=-a:1", "--json", "shell"]);
        let globals = global_flags(&session);
        assert_eq!(globals, ["peer", "--home=/h", "--trackers=-a:1", "--json"]);
        let mut argv: Vec<&str> = globals.iter().filter_map(|g| g.to_str()).collect();
        argv.extend(["files", "g"]);
        let line = parse_line(&argv);
        assert_eq!(line.home.as_deref(), Some(std::path::Path::new("/h")));
        assert_eq!(line.trackers.as_deref(), Some("-a:1"));
        assert!(line.json);
        assert!(matches!(line.command, Command::Files { ref group } if group == "g"));
    }

    #[test]
    fn a_line_may_override_a_global_flag_of_the_session() {
        let line = parse_line(&["peer", "--home=/h", "files", "g", "--home", "/other"]);
        assert_eq!(line.home.as_deref(), Some(std::path::Path::new("/other")));
    }

    /// `argv` through clap only.
    fn parse_line(argv: &[&str]) -> Cli {
        use clap::FromArgMatches;
        let matches = proto::cli::command::<Cli>(&CLI)
            .try_get_matches_from(argv)
            .unwrap_or_else(|e| panic!("{argv:?}: {e}"));
        Cli::from_arg_matches(&matches).unwrap_or_else(|e| panic!("{argv:?}: {e}"))
    }
}
