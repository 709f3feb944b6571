//! The config layering and the printed configuration on a small command of their own.

use std::path::Path;

use clap::{ArgMatches, Command, FromArgMatches, Parser, Subcommand};

use super::config_file::{self, ConfigFileError};
use super::*;

/// A command shaped like `tracker`: a required flag, defaults, an option, a ranged value, a
/// boolean, a list and a hidden flag.
#[derive(Debug, Parser)]
#[command(name = "demo")]
struct Demo {
    /// This node's id.
    #[arg(long)]
    id: u64,
    /// Heartbeat in milliseconds.
    #[arg(long, default_value_t = 40)]
    heartbeat_ms: u64,
    /// A name with "quotes" in its value.
    #[arg(long)]
    data_dir: Option<String>,
    /// At least one.
    #[arg(long, value_parser = clap::value_parser!(u64).range(1..))]
    max_connections: Option<u64>,
    /// A switch.
    #[arg(long)]
    verbose: bool,
    /// Repeatable.
    #[arg(long = "tag")]
    tags: Vec<String>,
    /// Testing only.
    #[arg(long, hide = true)]
    secret: bool,
}

const DEMO: CliSpec = CliSpec {
    bin: "demo",
    config: Some(ConfigSpec {
        subcommand: None,
        env: "PROTO_CLI_TEST_CONFIG",
        skip: &[],
    }),
};

fn config_of(spec: &CliSpec) -> &ConfigSpec {
    spec.config.as_ref().unwrap()
}

/// The matches of `argv` with the config `text` applied (as `parse` does).
fn layered(spec: &CliSpec, text: &str, argv: &[&str]) -> Result<(Command, ArgMatches), String> {
    layered_on(command::<Demo>(spec), spec, text, argv)
}

/// [`layered`] on a given command (`Demo`'s, changed by the test).
fn layered_on(
    base: Command,
    spec: &CliSpec,
    text: &str,
    argv: &[&str],
) -> Result<(Command, ArgMatches), String> {
    let file = config_file::parse(Path::new("demo.toml"), text, &base, config_of(spec))
        .map_err(|e| e.to_string())?;
    let m = file
        .apply(base.clone(), config_of(spec))
        .try_get_matches_from(argv)
        .map_err(|e| e.to_string())?;
    let mut shown = base;
    shown.build();
    Ok((shown, m))
}

#[test]
fn file_values_fill_in_and_flags_and_env_win() {
    let text = "id = 7\nheartbeat_ms = 25\ndata_dir = \"/var/lib/x\"\ntag = [\"a\", \"b\"]\n";
    // The file supplies the required --id.
    let (_, m) = layered(&DEMO, text, &["demo"]).unwrap();
    let d = Demo::from_arg_matches(&m).unwrap();
    assert_eq!((d.id, d.heartbeat_ms), (7, 25));
    assert_eq!(d.data_dir.as_deref(), Some("/var/lib/x"));
    assert_eq!(d.tags, ["a", "b"]);
    // A flag beats the file.
    let (_, m) = layered(&DEMO, text, &["demo", "--heartbeat-ms", "30", "--id", "8"]).unwrap();
    let d = Demo::from_arg_matches(&m).unwrap();
    assert_eq!((d.id, d.heartbeat_ms), (8, 30));
    // The environment beats the file, and a flag beats the environment. The variable is this
    // test's own (the other tests run beside it in the same process).
    const VAR: &str = "PROTO_CLI_TEST_ENV_HEARTBEAT_MS";
    let with_env = || command::<Demo>(&DEMO).mut_arg("heartbeat_ms", |a| a.env(VAR));
    std::env::set_var(VAR, "35");
    let (_, m) = layered_on(with_env(), &DEMO, text, &["demo"]).unwrap();
    let from_env = Demo::from_arg_matches(&m).unwrap().heartbeat_ms;
    let (_, m) = layered_on(with_env(), &DEMO, text, &["demo", "--heartbeat-ms", "30"]).unwrap();
    let from_flag = Demo::from_arg_matches(&m).unwrap().heartbeat_ms;
    std::env::remove_var(VAR);
    assert_eq!((from_env, from_flag), (35, 30));
    // Without the file the required flag is required again.
    let e = layered(&DEMO, "", &["demo"]).unwrap_err();
    assert!(e.contains("--id"), "{e}");
}

#[test]
fn unknown_keys_sections_and_bad_values_are_refused_with_line_and_key() {
    let base = command::<Demo>(&DEMO);
    let check = |text: &str| {
        config_file::parse(Path::new("/etc/demo.toml"), text, &base, config_of(&DEMO)).unwrap_err()
    };
    let e = check("id = 1\n\nheartbeat = 40\n");
    assert!(
        matches!(e, ConfigFileError::UnknownKey { line: 3, .. }),
        "{e:?}"
    );
    let msg = e.to_string();
    assert!(
        msg.starts_with("/etc/demo.toml:3: unknown key `heartbeat`"),
        "{msg}"
    );
    assert!(msg.contains("demo --print-config"), "{msg}");
    // A hidden flag and the config switches themselves are not settings.
    for key in [
        "secret = true",
        "config = \"x\"",
        "print_config = true",
        "help = true",
    ] {
        assert!(
            matches!(check(key), ConfigFileError::UnknownKey { .. }),
            "{key}"
        );
    }
    let msg = check("id = 1\nmax_connections = 0\n").to_string();
    assert!(
        msg.starts_with("/etc/demo.toml:2: `max_connections`: invalid value '0'"),
        "{msg}"
    );
    let msg = check("id = \"seven\"\n").to_string();
    assert!(msg.contains("`id`: invalid value 'seven'"), "{msg}");
    let msg = check("[tracker]\nid = 1\n").to_string();
    assert!(msg.contains("unknown key `tracker`"), "{msg}");
    let msg = check("[id]\nx = 1\n").to_string();
    assert!(msg.contains("`id`: must be a string"), "{msg}");
    let msg = check("id = [1, 2]\n").to_string();
    assert!(msg.contains("`id`: takes one value"), "{msg}");
    let e = check("id = = 1\n");
    assert!(matches!(e, ConfigFileError::Syntax { .. }), "{e:?}");
    assert!(e.to_string().contains("line 1"), "{e}");
}

#[test]
fn the_printed_configuration_reads_back_to_itself() {
    let argv = [
        "demo",
        "--id",
        "3",
        "--data-dir",
        "/srv/a \"b\"",
        "--verbose",
        "--tag",
        "x",
        "--tag",
        "y",
    ];
    let (cmd, m) = layered(&DEMO, "", &argv).unwrap();
    let printed = print::effective("demo", &cmd, &m, config_of(&DEMO));
    assert!(printed.contains("\nid = 3\n"), "{printed}");
    assert!(printed.contains("\nheartbeat_ms = 40\n"), "{printed}");
    assert!(printed.contains("\nverbose = true\n"), "{printed}");
    assert!(printed.contains("\ntag = [\"x\", \"y\"]\n"), "{printed}");
    assert!(
        printed.contains("# max_connections is not set\n"),
        "{printed}"
    );
    assert!(
        printed.contains("# Heartbeat in milliseconds\n"),
        "{printed}"
    );
    assert!(!printed.contains("secret"), "{printed}");
    let (cmd, m) = layered(&DEMO, &printed, &["demo"]).unwrap();
    let again = print::effective("demo", &cmd, &m, config_of(&DEMO));
    assert_eq!(printed, again);
    let d = Demo::from_arg_matches(&m).unwrap();
    assert_eq!(d.data_dir.as_deref(), Some("/srv/a \"b\""));
    assert!(d.verbose);
}

/// A command shaped like `peer`: global flags and a `daemon` subcommand that takes the file.
#[derive(Debug, Parser)]
#[command(name = "host")]
struct Host {
    /// Where the trackers are.
    #[arg(long, global = true)]
    trackers: Option<String>,
    /// Output as JSON.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: HostCommand,
}

#[derive(Debug, Subcommand)]
enum HostCommand {
    /// Run.
    Daemon {
        /// Listen here.
        #[arg(long, default_value = "127.0.0.1:0")]
        listen: String,
    },
    /// Something else.
    Other,
}

const HOST: CliSpec = CliSpec {
    bin: "host",
    config: Some(ConfigSpec {
        subcommand: Some("daemon"),
        env: "PROTO_CLI_TEST_HOST_CONFIG",
        skip: &["json"],
    }),
};

#[test]
fn a_subcommand_scope_takes_its_own_and_the_global_flags() {
    let base = command::<Host>(&HOST);
    let text = "trackers = \"a:1,b:2\"\nlisten = \"0.0.0.0:7000\"\n";
    let file = config_file::parse(Path::new("h.toml"), text, &base, config_of(&HOST)).unwrap();
    assert_eq!(file.len(), 2);
    let cmd = file.apply(base.clone(), config_of(&HOST));
    let m = cmd
        .clone()
        .try_get_matches_from(["host", "daemon"])
        .unwrap();
    let h = Host::from_arg_matches(&m).unwrap();
    assert_eq!(h.trackers.as_deref(), Some("a:1,b:2"));
    assert!(matches!(h.command, HostCommand::Daemon { listen } if listen == "0.0.0.0:7000"));
    // A global flag given before the subcommand beats the file.
    let m = cmd
        .try_get_matches_from(["host", "--trackers", "c:3", "daemon"])
        .unwrap();
    assert_eq!(
        Host::from_arg_matches(&m).unwrap().trackers.as_deref(),
        Some("c:3")
    );
    // Skipped flags are not settings.
    let e = config_file::parse(Path::new("h.toml"), "json = true", &base, config_of(&HOST));
    assert!(
        matches!(e, Err(ConfigFileError::UnknownKey { .. })),
        "{e:?}"
    );
}

#[test]
fn print_config_needs_no_required_flag_and_errors_exit_2() {
    // (`completions` is checked on the binaries: it writes to stdout past the test harness.)
    let p = parse::<Demo, _, _>(&DEMO, ["demo", "--print-config"]);
    assert!(
        matches!(p, Parsed::Exit(c) if c == ExitCode::SUCCESS),
        "{p:?}"
    );
    let p = parse::<Demo, _, _>(&DEMO, ["demo", "--id", "1"]);
    assert!(matches!(p, Parsed::Run(Demo { id: 1, .. })), "{p:?}");
    let p = parse::<Demo, _, _>(&DEMO, ["demo"]);
    assert!(
        matches!(p, Parsed::Exit(c) if c == ExitCode::from(2)),
        "{p:?}"
    );
    let p = parse::<Demo, _, _>(&DEMO, ["demo", "--config", "/nonexistent/demo.toml"]);
    assert!(
        matches!(p, Parsed::Exit(c) if c == ExitCode::from(2)),
        "{p:?}"
    );
}
