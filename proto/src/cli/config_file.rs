//! A TOML config file as defaults for a command's flags. Each key is a long flag name in
//! snake_case (`heartbeat_ms` for `--heartbeat-ms`), so the units the flag names carry stay in the
//! key; each value is a string, number or boolean (an array for a repeatable flag). The file is
//! checked whole before anything runs: an unknown key, a section, or a value the flag's own
//! parser refuses is an error naming the file, the line and the key.
//!
//! [`ConfigFile::apply`] sets each value as the flag's default (and lifts a required flag's
//! requirement), so clap ranks the sources: flag, then environment variable, then file, then the
//! built-in default.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::io::Read;
use std::path::{Path, PathBuf};

use clap::{Arg, ArgAction, Command};

use super::{ConfigSpec, CONFIG, PRINT_CONFIG};

/// The largest config file read (a config file is a few kilobytes).
pub const MAX_CONFIG_BYTES: u64 = 1 << 20;

/// Why a config file cannot be used; every message names the file, and the line and key where
/// there is one.
#[derive(Debug, thiserror::Error)]
pub enum ConfigFileError {
    /// The file cannot be read.
    #[error("cannot read the config file {}: {source}", path.display())]
    Read {
        /// The file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
    /// The file is larger than [`MAX_CONFIG_BYTES`].
    #[error("the config file {} is larger than {MAX_CONFIG_BYTES} bytes", path.display())]
    TooLarge {
        /// The file.
        path: PathBuf,
    },
    /// The file is not TOML (toml's message carries the line and column).
    #[error("the config file {} is not valid TOML: {message}", path.display())]
    Syntax {
        /// The file.
        path: PathBuf,
        /// toml's message.
        message: String,
    },
    /// A key names no flag this command takes from a file.
    #[error(
        "{}:{line}: unknown key `{key}`: keys are the long flag names in snake_case \
         (`{command} --print-config` lists them all)",
        path.display()
    )]
    UnknownKey {
        /// The file.
        path: PathBuf,
        /// Its line (1-based).
        line: usize,
        /// The key.
        key: String,
        /// The command (`tracker`, `peer daemon`), for the hint.
        command: String,
    },
    /// A value the flag cannot take.
    #[error("{}:{line}: `{key}`: {message}", path.display())]
    BadValue {
        /// The file.
        path: PathBuf,
        /// Its line (1-based).
        line: usize,
        /// The key.
        key: String,
        /// What is wrong with it (the flag's own parser's message where it refused it).
        message: String,
    },
}

/// A checked config file: each key's arg id and its values as the flag would take them.
#[derive(Debug, Clone)]
pub struct ConfigFile {
    /// (arg id, values), in the file's order of keys.
    values: Vec<(clap::Id, Vec<String>)>,
}

/// Whether `arg` is a setting a config file may hold and `--print-config` prints: a named,
/// visible flag that stores a value, other than `--config` and `--print-config`.
pub(super) fn is_setting(arg: &Arg, config: &ConfigSpec) -> bool {
    let id = arg.get_id().as_str();
    arg.get_long().is_some()
        && !arg.is_hide_set()
        && id != CONFIG
        && id != PRINT_CONFIG
        && !config.skip.contains(&id)
        && matches!(
            arg.get_action(),
            ArgAction::Set | ArgAction::Append | ArgAction::SetTrue | ArgAction::SetFalse
        )
}

/// The key of a setting: its long name in snake_case.
pub(super) fn key_of(arg: &Arg) -> Option<String> {
    arg.get_long().map(|l| l.replace('-', "_"))
}

/// Whether `arg` takes more than one value (a repeatable flag): an array in the file.
pub(super) fn is_list(arg: &Arg) -> bool {
    matches!(arg.get_action(), ArgAction::Append)
        || arg.get_num_args().is_some_and(|n| n.max_values() > 1)
}

/// The settings of the config scope of `base` (unbuilt), by key: the scope command's own flags,
/// then the top-level command's global flags, each with whether it is global.
fn settings<'c>(base: &'c Command, config: &ConfigSpec) -> BTreeMap<String, (&'c Arg, bool)> {
    let scope = match config.subcommand {
        None => Some(base),
        Some(name) => base.find_subcommand(name),
    };
    let mut out = BTreeMap::new();
    let globals = base
        .get_arguments()
        .filter(|a| a.is_global_set() && config.subcommand.is_some());
    for arg in globals.filter(|a| is_setting(a, config)) {
        if let Some(k) = key_of(arg) {
            out.insert(k, (arg, true));
        }
    }
    for arg in scope
        .into_iter()
        .flat_map(Command::get_arguments)
        .filter(|a| is_setting(a, config))
    {
        if let Some(k) = key_of(arg) {
            out.insert(k, (arg, false));
        }
    }
    out
}

/// Reads and checks the config file at `path` against the flags of `base`'s config scope.
///
/// # Errors
/// [`ConfigFileError`]: unreadable, too large, not TOML, an unknown key, or a bad value.
pub fn load(
    path: &Path,
    base: &Command,
    config: &ConfigSpec,
) -> Result<ConfigFile, ConfigFileError> {
    let read_err = |source| ConfigFileError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut text = String::new();
    std::fs::File::open(path)
        .map_err(read_err)?
        .take(MAX_CONFIG_BYTES + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    if text.len() as u64 > MAX_CONFIG_BYTES {
        return Err(ConfigFileError::TooLarge {
            path: path.to_path_buf(),
        });
    }
    parse(path, &text, base, config)
}

/// Checks config text (see [`load`]); `path` is only named in errors.
///
/// # Errors
/// As [`load`], but for reading.
pub fn parse(
    path: &Path,
    text: &str,
    base: &Command,
    config: &ConfigSpec,
) -> Result<ConfigFile, ConfigFileError> {
    let table: toml::Table = toml::from_str(text).map_err(|e| ConfigFileError::Syntax {
        path: path.to_path_buf(),
        message: e.to_string().trim_end().to_string(),
    })?;
    let command = match config.subcommand {
        None => base.get_name().to_string(),
        Some(sub) => format!("{} {sub}", base.get_name()),
    };
    let known = settings(base, config);
    let mut values = Vec::new();
    let mut keys: Vec<(&String, &toml::Value)> = table.iter().collect();
    keys.sort_by_key(|(k, _)| line_of(text, k));
    for (key, value) in keys {
        let line = line_of(text, key);
        let Some((arg, _)) = known.get(key.as_str()) else {
            return Err(ConfigFileError::UnknownKey {
                path: path.to_path_buf(),
                line,
                key: key.clone(),
                command,
            });
        };
        let bad = |message: String| ConfigFileError::BadValue {
            path: path.to_path_buf(),
            line,
            key: key.clone(),
            message,
        };
        let strings = match value {
            toml::Value::Array(items) if is_list(arg) => items
                .iter()
                .map(|v| scalar(v).ok_or_else(|| bad(SCALAR_RULE.into())))
                .collect::<Result<Vec<_>, _>>()?,
            toml::Value::Array(_) => return Err(bad("takes one value, not an array".into())),
            v => vec![scalar(v).ok_or_else(|| bad(SCALAR_RULE.into()))?],
        };
        for s in &strings {
            check_value(arg, s).map_err(bad)?;
        }
        values.push((arg.get_id().clone(), strings));
    }
    Ok(ConfigFile { values })
}

const SCALAR_RULE: &str = "must be a string, a number or a boolean (sections are not used)";

/// A scalar as the string a flag would be given.
fn scalar(v: &toml::Value) -> Option<String> {
    match v {
        toml::Value::String(s) => Some(s.clone()),
        toml::Value::Integer(i) => Some(i.to_string()),
        toml::Value::Float(f) => Some(f.to_string()),
        toml::Value::Boolean(b) => Some(b.to_string()),
        toml::Value::Datetime(_) | toml::Value::Array(_) | toml::Value::Table(_) => None,
    }
}

/// Whether the flag's own parser takes `value`: a command of one flag with the same parser is
/// given it (clap keeps its parsers' direct use to itself).
fn check_value(arg: &Arg, value: &str) -> Result<(), String> {
    let long = arg.get_long().unwrap_or("value");
    let probe = Arg::new("probe")
        .long(long.to_string())
        .value_name(long.to_uppercase())
        .action(ArgAction::Set)
        .allow_hyphen_values(true)
        .value_parser(arg.get_value_parser().clone());
    Command::new("probe")
        .arg(probe)
        .try_get_matches_from([
            OsStr::new("probe"),
            OsStr::new(&format!("--{long}={value}")),
        ])
        .map(drop)
        .map_err(|e| clap_message(&e))
}

/// The first line of a clap error without its `error: ` prefix.
fn clap_message(e: &clap::Error) -> String {
    let text = e.to_string();
    let first = text.lines().next().unwrap_or_default();
    first.strip_prefix("error: ").unwrap_or(first).to_string()
}

/// The 1-based line where `key` is set: the first line that starts with it (bare or quoted)
/// followed by `=`; 1 if none does.
fn line_of(text: &str, key: &str) -> usize {
    let quoted = format!("\"{key}\"");
    text.lines()
        .position(|l| {
            let l = l.trim_start();
            [key, quoted.as_str()].iter().any(|k| {
                l.strip_prefix(k)
                    .is_some_and(|rest| rest.trim_start().starts_with('='))
            })
        })
        .map_or(1, |i| i + 1)
}

impl ConfigFile {
    /// `cmd` with each value of the file as its flag's default (lifting a required flag's
    /// requirement: the file supplies it). `cmd` is the command [`load`] checked the file against.
    pub fn apply(&self, cmd: Command, config: &ConfigSpec) -> Command {
        let globals: Vec<clap::Id> = cmd
            .get_arguments()
            .filter(|a| a.is_global_set())
            .map(|a| a.get_id().clone())
            .collect();
        let mut cmd = cmd;
        for (id, values) in &self.values {
            let set = |a: Arg| {
                a.default_values(values.iter().map(String::from))
                    .required(false)
            };
            cmd = match config.subcommand {
                Some(name) if !globals.contains(id) => {
                    cmd.mut_subcommand(name, |sub| sub.mut_arg(id.clone(), set))
                }
                _ => cmd.mut_arg(id.clone(), set),
            };
        }
        cmd
    }

    /// The number of keys the file sets.
    pub fn len(&self) -> usize {
        self.values.len()
    }

    /// Whether the file sets no key.
    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }
}
