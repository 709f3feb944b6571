//! `--print-config`: the effective value of every setting in the config scope as TOML that
//! `--config` reads back, each key under its flag's help as a comment.

use std::any::TypeId;

use clap::{Arg, ArgMatches, Command};

use super::config_file::{is_list, is_setting, key_of};
use super::ConfigSpec;

/// Comment lines are wrapped at this width.
const WRAP: usize = 96;

/// The TOML text: a header, then per setting its help as comments and `key = value`, or a
/// comment saying it is not set.
pub(super) fn effective(bin: &str, scope: &Command, m: &ArgMatches, config: &ConfigSpec) -> String {
    let mut out = format!(
        "# The effective configuration of `{}` (flags over environment over this file over\n\
         # defaults); `--config FILE` reads it back.\n",
        match config.subcommand {
            None => bin.to_string(),
            Some(sub) => format!("{bin} {sub}"),
        }
    );
    for arg in scope.get_arguments().filter(|a| is_setting(a, config)) {
        let Some(key) = key_of(arg) else { continue };
        out.push('\n');
        if let Some(help) = arg.get_help() {
            out.push_str(&comment(&help.to_string()));
        }
        let values: Vec<String> = match m.try_get_raw(arg.get_id().as_str()) {
            Ok(Some(raw)) => raw.map(|v| v.to_string_lossy().into_owned()).collect(),
            _ => Vec::new(),
        };
        match values.as_slice() {
            [] => out.push_str(&format!("# {key} is not set\n")),
            [one] if !is_list(arg) => out.push_str(&format!("{key} = {}\n", scalar(arg, one))),
            many => {
                let items: Vec<String> = many.iter().map(|v| scalar(arg, v)).collect();
                out.push_str(&format!("{key} = [{}]\n", items.join(", ")));
            }
        }
    }
    out
}

/// `text` as `# ` lines wrapped at [`WRAP`].
fn comment(text: &str) -> String {
    let mut out = String::new();
    let mut line = String::from("#");
    for word in text.split_whitespace() {
        if line.len() + 1 + word.len() > WRAP && line.len() > 1 {
            out.push_str(&line);
            out.push('\n');
            line = String::from("#");
        }
        line.push(' ');
        line.push_str(word);
    }
    out.push_str(&line);
    out.push('\n');
    out
}

/// One value in TOML: a number for an integer flag (written the way TOML writes it), a boolean
/// for a boolean flag, else a quoted string.
fn scalar(arg: &Arg, raw: &str) -> String {
    let ty = arg.get_value_parser().type_id();
    let integer = [
        TypeId::of::<u8>(),
        TypeId::of::<u16>(),
        TypeId::of::<u32>(),
        TypeId::of::<u64>(),
        TypeId::of::<usize>(),
        TypeId::of::<i8>(),
        TypeId::of::<i16>(),
        TypeId::of::<i32>(),
        TypeId::of::<i64>(),
    ]
    .into_iter()
    .any(|t| ty == t);
    if integer && raw.parse::<i64>().is_ok_and(|n| n.to_string() == raw) {
        return raw.to_string();
    }
    if ty == TypeId::of::<bool>() && (raw == "true" || raw == "false") {
        return raw.to_string();
    }
    toml::Value::String(raw.to_string()).to_string()
}
