//! What `peer shell` can run, read from the same clap definitions as `peer` itself: the command
//! names (for `help` and completion) and the text of the shell's `help`.

use std::fmt::Write as _;

use super::line::{ALIASES, EXIT_WORDS};
use crate::cli::{Cli, CLI};

/// The `peer` subcommands a session does not run: the daemon runs in its own process, a shell
/// does not nest, and `help` is the shell's own.
pub const NOT_IN_SHELL: [&str; 3] = ["daemon", "shell", "help"];

/// The `peer` command as [`proto::cli::parse`] builds it (with `completions`).
pub fn peer_command() -> clap::Command {
    let mut cmd = proto::cli::command::<Cli>(&CLI);
    cmd.build();
    cmd
}

/// The commands a session runs, with their one-line descriptions, in `peer --help`'s order.
pub fn commands(peer: &clap::Command) -> Vec<(String, String)> {
    peer.get_subcommands()
        .filter(|c| !NOT_IN_SHELL.contains(&c.get_name()) && !c.is_hide_set())
        .map(|c| {
            let about = c.get_about().map(|a| a.to_string()).unwrap_or_default();
            (c.get_name().to_string(), about)
        })
        .collect()
}

/// The text of the shell's `help`.
pub fn text(peer: &clap::Command) -> String {
    let commands = commands(peer);
    let width = commands.iter().map(|(n, _)| n.len()).max().unwrap_or(0);
    let mut out = String::from(
        "Commands (as `peer COMMAND`; `help COMMAND` or `COMMAND --help` shows one):\n",
    );
    for (name, about) in &commands {
        let _ = writeln!(out, "  {name:<width$}  {about}");
    }
    out.push_str("Aliases:\n");
    let mut targets: Vec<&[&str]> = Vec::new();
    for (_, target) in ALIASES {
        if !targets.contains(&target) {
            targets.push(target);
        }
    }
    for target in targets {
        let names: Vec<&str> = ALIASES
            .iter()
            .filter(|(_, t)| *t == target)
            .map(|(n, _)| *n)
            .collect();
        let _ = writeln!(out, "  {} = {}", names.join(", "), target.join(" "));
    }
    let exit_words = EXIT_WORDS.join(", ");
    let shell = [
        ("help [COMMAND]", "this list, or one command's help"),
        (exit_words.as_str(), "end the session (as does Ctrl-D)"),
        (
            "Ctrl-C",
            "clears the line, or stops waiting for a running command",
        ),
    ];
    let width = shell.iter().map(|(w, _)| w.len()).max().unwrap_or(0);
    out.push_str("Shell:\n");
    for (words, what) in shell {
        let _ = writeln!(out, "  {words:<width$}  {what}");
    }
    out.push_str(
        "Words are split as a shell splits them: quote a name with spaces (\"my film.mkv\").\n\
         Every command uses the --home, --trackers, --ca and --json given to `peer shell`.\n\
         `peer daemon` runs in its own terminal or as a service, not in the shell.\n",
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn commands_are_peers_subcommands_but_the_daemon_the_shell_and_help() {
        let peer = peer_command();
        let names: Vec<String> = commands(&peer).into_iter().map(|(n, _)| n).collect();
        for name in [
            "user",
            "login",
            "group",
            "upload",
            "files",
            "download",
            "completions",
        ] {
            assert!(names.iter().any(|n| n == name), "{name} missing: {names:?}");
        }
        for name in NOT_IN_SHELL {
            assert!(!names.iter().any(|n| n == name), "{name} listed: {names:?}");
        }
    }

    #[test]
    fn help_lists_every_command_every_alias_and_the_exit_words() {
        let peer = peer_command();
        let text = text(&peer);
        for (name, about) in commands(&peer) {
            assert!(
                text.lines()
                    .any(|l| l.trim_start().starts_with(&name) && l.ends_with(&about)),
                "{name}: {text}"
            );
        }
        assert!(text.contains("  publish, announce = upload\n"), "{text}");
        assert!(text.contains("  fetch = download\n"), "{text}");
        assert!(text.contains("  request = group join\n"), "{text}");
        assert!(text.contains("exit, quit, close"), "{text}");
        assert!(!text.lines().any(|l| l.starts_with("  daemon ")), "{text}");
    }
}
