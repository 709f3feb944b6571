//! One line of `peer shell`, with no I/O: split into words as a POSIX shell would (quotes,
//! backslashes, `#` comments), the shell's own words (`help`, `exit`) told apart from commands,
//! and the aliases of the source designs expanded into `peer` words.

/// The longest line the shell reads from a script (stdin that is not a terminal).
pub const MAX_LINE_BYTES: usize = 64 * 1024;

/// The words that end the session.
pub const EXIT_WORDS: [&str; 3] = ["exit", "quit", "close"];

/// The aliases of the source designs' prompts: the first word, and the `peer` words it stands
/// for.
pub const ALIASES: [(&str, &[&str]); 4] = [
    ("publish", &["upload"]),
    ("announce", &["upload"]),
    ("fetch", &["download"]),
    ("request", &["group", "join"]),
];

/// What a line asks for.
#[derive(Debug, PartialEq, Eq)]
pub enum Line {
    /// Nothing (blank, or a comment).
    Blank,
    /// End the session.
    Exit,
    /// The shell's own help.
    Help,
    /// A `peer` command line without the program name, aliases expanded.
    Command(Vec<String>),
}

/// Why a line cannot be run.
#[derive(Debug, PartialEq, Eq, thiserror::Error)]
pub enum LineError {
    /// A quote is not closed or the line ends in a backslash.
    #[error(
        "unbalanced quotes or a trailing backslash: close the quote (\"my file\" or 'my file') \
         and try again"
    )]
    Unbalanced,
    /// A script line is longer than [`MAX_LINE_BYTES`].
    #[error("the line is longer than {MAX_LINE_BYTES} bytes; it was skipped")]
    TooLong,
    /// A script line is not UTF-8.
    #[error("the line is not UTF-8; it was skipped")]
    NotUtf8,
}

/// Reads one line.
///
/// # Errors
/// [`LineError::Unbalanced`] when the words cannot be split.
pub fn parse(line: &str) -> Result<Line, LineError> {
    let words = shlex::split(line).ok_or(LineError::Unbalanced)?;
    let Some(first) = words.first() else {
        return Ok(Line::Blank);
    };
    if EXIT_WORDS.contains(&first.as_str()) {
        return Ok(Line::Exit);
    }
    if first == "help" {
        return Ok(match words.get(1) {
            None => Line::Help,
            Some(w) if is_shell_word(w) => Line::Help,
            Some(_) => Line::Command(expand(words)),
        });
    }
    Ok(Line::Command(expand(words)))
}

/// Whether `word` is one of the shell's own (not a `peer` command).
pub fn is_shell_word(word: &str) -> bool {
    word == "help" || EXIT_WORDS.contains(&word)
}

/// The `peer` words an alias stands for, if `word` is one.
pub fn alias(word: &str) -> Option<&'static [&'static str]> {
    ALIASES
        .iter()
        .find(|(name, _)| *name == word)
        .map(|(_, words)| *words)
}

/// `words` with an alias in the command position (first, or second after `help`) expanded.
fn expand(mut words: Vec<String>) -> Vec<String> {
    let at = usize::from(words.first().is_some_and(|w| w == "help"));
    if let Some(target) = words.get(at).and_then(|w| alias(w)) {
        words.splice(at..=at, target.iter().map(|w| (*w).to_string()));
    }
    words
}

#[cfg(test)]
mod tests {
    use super::*;

    fn command(words: &[&str]) -> Line {
        Line::Command(words.iter().map(|w| (*w).to_string()).collect())
    }

    #[test]
    fn words_split_as_a_shell_would() {
        assert_eq!(
            parse(r#"upload g "my film.mkv" --name 'a b'"#),
            Ok(command(&["upload", "g", "my film.mkv", "--name", "a b"]))
        );
        assert_eq!(
            parse(r"files my\ group"),
            Ok(command(&["files", "my group"]))
        );
        assert_eq!(
            parse("  files g   # a comment"),
            Ok(command(&["files", "g"]))
        );
        assert_eq!(parse(r#"files "" g"#), Ok(command(&["files", "", "g"])));
    }

    #[test]
    fn blank_and_comment_lines_run_nothing() {
        for line in ["", "   ", "\t", "# only a comment", "   # indented"] {
            assert_eq!(parse(line), Ok(Line::Blank), "{line:?}");
        }
    }

    #[test]
    fn unbalanced_quotes_are_an_error() {
        for line in [r#"files "g"#, "files 'g", r"files g\"] {
            assert_eq!(parse(line), Err(LineError::Unbalanced), "{line:?}");
        }
    }

    #[test]
    fn exit_words_end_the_session_whatever_follows() {
        for line in ["exit", "quit", "close", "  exit now"] {
            assert_eq!(parse(line), Ok(Line::Exit), "{line:?}");
        }
        // Quoted, `exit` is still the word `exit`.
        assert_eq!(parse("'exit'"), Ok(Line::Exit));
    }

    #[test]
    fn help_alone_or_about_the_shell_is_the_shell_help() {
        for line in ["help", "help exit", "help quit", "help help"] {
            assert_eq!(parse(line), Ok(Line::Help), "{line:?}");
        }
        assert_eq!(parse("help upload"), Ok(command(&["help", "upload"])));
    }

    #[test]
    fn aliases_expand_in_the_command_position_only() {
        assert_eq!(
            parse("publish g f.bin"),
            Ok(command(&["upload", "g", "f.bin"]))
        );
        assert_eq!(parse("announce g f"), Ok(command(&["upload", "g", "f"])));
        assert_eq!(
            parse("fetch g f.bin out"),
            Ok(command(&["download", "g", "f.bin", "out"]))
        );
        assert_eq!(parse("request g"), Ok(command(&["group", "join", "g"])));
        assert_eq!(parse("help fetch"), Ok(command(&["help", "download"])));
        assert_eq!(
            parse("help request"),
            Ok(command(&["help", "group", "join"]))
        );
        // A file or group named like an alias is left alone.
        assert_eq!(
            parse("download fetch publish"),
            Ok(command(&["download", "fetch", "publish"]))
        );
    }
}
