//! The command-line conventions every binary shares (feature `cli`): `--config FILE` and
//! `--print-config` (the [`config_file`] layering), `completions SHELL` (clap_complete), and
//! the exit codes of what it handles itself (0 for what it printed, 2 for a usage error).
//!
//! A binary hands its clap-derived type and a [`CliSpec`] to [`parse`], which adds these to the
//! command, parses the arguments and either returns the parsed type or says the process is done
//! (help, completions, the printed configuration, or an error already printed) and with which exit
//! code. The file's values enter clap as defaults, so clap itself ranks them: a flag beats its
//! environment variable, which beats the file, which beats the built-in default. Any flag a binary
//! adds to its derive joins the file and the printed configuration with no code of its own.

pub mod config_file;
mod print;

use std::ffi::OsString;
use std::io::Write;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Arg, ArgAction, ArgMatches, Command, CommandFactory, FromArgMatches};

pub use config_file::ConfigFileError;

/// Id of the `--config` argument [`parse`] adds.
const CONFIG: &str = "config";
/// Id of the `--print-config` argument [`parse`] adds.
const PRINT_CONFIG: &str = "print_config";
/// Name of the subcommand [`parse`] adds.
const COMPLETIONS: &str = "completions";

/// What a binary's command line gets beyond its own flags.
#[derive(Debug, Clone, Copy)]
pub struct CliSpec {
    /// The binary's name, for messages (`tracker`).
    pub bin: &'static str,
    /// Where `--config` and `--print-config` go; `None`: this binary takes no config file.
    pub config: Option<ConfigSpec>,
}

/// Which flags a config file may set.
#[derive(Debug, Clone, Copy)]
pub struct ConfigSpec {
    /// The subcommand whose flags (and the global flags above it) the file holds, e.g. `daemon`
    /// for `peer`; `None`: the top-level command's flags.
    pub subcommand: Option<&'static str>,
    /// The environment variable that names the file as `--config` does (`TRACKER_CONFIG`).
    pub env: &'static str,
    /// Flags never read from the file nor printed (output switches such as `json`).
    pub skip: &'static [&'static str],
}

/// The outcome of [`parse`].
#[derive(Debug)]
pub enum Parsed<T> {
    /// Run with these arguments.
    Run(T),
    /// Nothing to run: help, version, completions or the configuration was printed, or an error
    /// was; exit with this code.
    Exit(ExitCode),
}

/// `T`'s command with `completions SHELL`, and with `--config`/`--print-config` where `spec`
/// says; what [`parse`] parses and what completions are generated for.
pub fn command<T: CommandFactory>(spec: &CliSpec) -> Command {
    let mut cmd = T::command();
    let plain = !cmd.has_subcommands();
    let about = format!(
        "Print a shell completion script (e.g. `source <({} completions bash)`)",
        cmd.get_name()
    );
    cmd = cmd.subcommand(
        Command::new(COMPLETIONS).about(about).arg(
            Arg::new("shell")
                .required(true)
                .value_parser(clap::value_parser!(clap_complete::Shell))
                .help("The shell to complete for."),
        ),
    );
    if plain {
        // A command without subcommands of its own keeps its required flags for running and
        // needs none of them for `completions`.
        cmd = cmd
            .subcommand_negates_reqs(true)
            .args_conflicts_with_subcommands(true);
    }
    if let Some(config) = &spec.config {
        let add = |c: Command| {
            c.arg(
                Arg::new(CONFIG)
                    .long("config")
                    .env(config.env)
                    .value_name("FILE")
                    .value_parser(clap::value_parser!(PathBuf))
                    .help(
                        "Read flags from this TOML file: keys are the long flag names in \
                         snake_case; a flag or its environment variable beats the file.",
                    ),
            )
            .arg(
                Arg::new(PRINT_CONFIG)
                    .long("print-config")
                    .action(ArgAction::SetTrue)
                    .help(
                        "Print the effective configuration as TOML that --config accepts \
                         (flags over environment over file over defaults), then exit.",
                    ),
            )
        };
        cmd = match config.subcommand {
            None => add(cmd),
            Some(name) => cmd.mut_subcommand(name, add),
        };
    }
    cmd
}

/// Parses `argv` (program name first) as `T` with the shared conventions of [`command`]:
/// reads the config file if one is named, prints completions or the effective configuration,
/// and prints any error. Exit codes: 0 after help, version, completions or `--print-config`;
/// 2 for a bad flag, variable or config file (clap's usage code).
pub fn parse<T, I, A>(spec: &CliSpec, argv: I) -> Parsed<T>
where
    T: CommandFactory + FromArgMatches,
    I: IntoIterator<Item = A>,
    A: Into<OsString> + Clone,
{
    let argv: Vec<OsString> = argv.into_iter().map(Into::into).collect();
    let base = command::<T>(spec);
    let mut cmd = base.clone();
    if let Some(config) = &spec.config {
        let first = first_look(&base, config, &argv);
        if let Some(path) = &first.config {
            match config_file::load(path, &base, config) {
                Ok(file) => cmd = file.apply(cmd, config),
                Err(e) => {
                    eprintln!("{}: error: {e}", spec.bin);
                    return Parsed::Exit(ExitCode::from(2));
                }
            }
        }
        if first.print {
            // What is printed may be incomplete: a missing required flag shows as not set.
            cmd = relax_required(cmd, config);
        }
    }
    let matches = match cmd.clone().try_get_matches_from(&argv) {
        Ok(m) => m,
        Err(e) => return clap_exit(&e),
    };
    if let Some((COMPLETIONS, sub)) = matches.subcommand() {
        return completions(base, sub);
    }
    if let Some(config) = &spec.config {
        // Listed in the order of the flags' definitions (applying the file reorders them).
        let mut shown = base.clone();
        if let Some((scope_cmd, scope)) = scope_of(&mut shown, &matches, config) {
            if scope.get_flag(PRINT_CONFIG) {
                print!("{}", print::effective(spec.bin, &scope_cmd, scope, config));
                return Parsed::Exit(ExitCode::SUCCESS);
            }
        }
    }
    match T::from_arg_matches(&matches) {
        Ok(t) => Parsed::Run(t),
        Err(e) => clap_exit(&e.format(&mut cmd)),
    }
}

/// Prints a clap error (or help, or version) and gives its exit code.
fn clap_exit<T>(e: &clap::Error) -> Parsed<T> {
    let _ = e.print();
    Parsed::Exit(ExitCode::from(u8::try_from(e.exit_code()).unwrap_or(2)))
}

/// What a lenient first parse finds in the config scope.
struct FirstLook {
    /// The file `--config` (or its variable) names.
    config: Option<PathBuf>,
    /// Whether `--print-config` is given.
    print: bool,
}

/// Looks for `--config` and `--print-config` with a lenient first parse: the file may supply
/// required flags, and `--print-config` needs none, so a strict parse could fail before either
/// is seen. Help and version requests find nothing here; the real parse shows them.
fn first_look(base: &Command, config: &ConfigSpec, argv: &[OsString]) -> FirstLook {
    let nothing = FirstLook {
        config: None,
        print: false,
    };
    let Ok(matches) = base.clone().ignore_errors(true).try_get_matches_from(argv) else {
        return nothing;
    };
    let scope = match config.subcommand {
        None => &matches,
        Some(name) => match matches.subcommand_matches(name) {
            Some(m) => m,
            None => return nothing,
        },
    };
    FirstLook {
        config: scope.try_get_one::<PathBuf>(CONFIG).ok().flatten().cloned(),
        print: scope
            .try_get_one::<bool>(PRINT_CONFIG)
            .ok()
            .flatten()
            .copied()
            .unwrap_or(false),
    }
}

/// `cmd` with no required flag in the config scope.
fn relax_required(cmd: Command, config: &ConfigSpec) -> Command {
    let relax = |mut c: Command| {
        let required: Vec<clap::Id> = c
            .get_arguments()
            .filter(|a| a.is_required_set())
            .map(|a| a.get_id().clone())
            .collect();
        for id in required {
            c = c.mut_arg(id, |a| a.required(false));
        }
        c
    };
    match config.subcommand {
        None => relax(cmd),
        Some(name) => cmd.mut_subcommand(name, relax),
    }
}

/// The built command and the matches of the config scope, if this run is in it.
fn scope_of<'m>(
    cmd: &mut Command,
    matches: &'m ArgMatches,
    config: &ConfigSpec,
) -> Option<(Command, &'m ArgMatches)> {
    cmd.build();
    match config.subcommand {
        None => Some((cmd.clone(), matches)),
        Some(name) => Some((
            cmd.find_subcommand(name)?.clone(),
            matches.subcommand_matches(name)?,
        )),
    }
}

/// Writes the completion script for the chosen shell to stdout.
fn completions<T>(mut base: Command, sub: &ArgMatches) -> Parsed<T> {
    let Some(shell) = sub.get_one::<clap_complete::Shell>("shell").copied() else {
        return Parsed::Exit(ExitCode::from(2));
    };
    let name = base.get_name().to_string();
    // Into a buffer first: clap_complete panics on a failed write (a closed pipe).
    let mut script = Vec::new();
    clap_complete::generate(shell, &mut base, name, &mut script);
    let mut out = std::io::stdout().lock();
    match out.write_all(&script).and_then(|()| out.flush()) {
        Ok(()) => Parsed::Exit(ExitCode::SUCCESS),
        Err(_) => Parsed::Exit(ExitCode::FAILURE),
    }
}

#[cfg(test)]
mod tests;
