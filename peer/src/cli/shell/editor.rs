//! The interactive side of `peer shell`: rustyline's line editor with a bounded history in
//! `HOME/shell-history` (mode 0600, as rustyline writes it) and completion of the command names,
//! subcommands and long flags from the same clap definitions as `peer` (file names where a
//! command takes an argument).

use std::path::{Path, PathBuf};

use rustyline::completion::{Completer, FilenameCompleter, Pair};
use rustyline::error::ReadlineError;
use rustyline::highlight::Highlighter;
use rustyline::hint::Hinter;
use rustyline::history::{FileHistory, History};
use rustyline::validate::Validator;
use rustyline::{CompletionType, Config, Context, Editor, Helper};

use super::help::NOT_IN_SHELL;
use super::line::{alias, ALIASES, EXIT_WORDS};

/// The history file in the home.
pub const HISTORY_FILE: &str = "shell-history";

/// The most lines the history keeps (the oldest go first).
pub const MAX_HISTORY_ENTRIES: usize = 1000;

/// A history file larger than this is not read (and is replaced by this session's lines).
pub const MAX_HISTORY_FILE_BYTES: u64 = 1 << 20;

/// The line editor of one session.
pub struct LineEditor {
    /// rustyline's editor with the shell's completion.
    editor: Editor<ShellHelper, FileHistory>,
    /// `HOME/shell-history`.
    history_path: PathBuf,
    /// Whether saving the history failed already (said once per session).
    save_failed: bool,
}

impl LineEditor {
    /// An editor completing over `peer`, with the history of the home `home_dir` loaded.
    ///
    /// # Errors
    /// If the terminal cannot be set up.
    pub fn open(home_dir: &Path, peer: clap::Command) -> Result<Self, ReadlineError> {
        let config = Config::builder()
            .max_history_size(MAX_HISTORY_ENTRIES)?
            .history_ignore_dups(true)?
            .history_ignore_space(true)
            .completion_type(CompletionType::List)
            .build();
        let history = FileHistory::with_config(&config);
        let mut editor = Editor::with_history(config, history)?;
        editor.set_helper(Some(ShellHelper {
            peer,
            files: FilenameCompleter::new(),
        }));
        let history_path = home_dir.join(HISTORY_FILE);
        load_history(&mut editor, &history_path);
        Ok(LineEditor {
            editor,
            history_path,
            save_failed: false,
        })
    }

    /// Reads one line after `prompt`.
    ///
    /// # Errors
    /// `Eof` on Ctrl-D, `Interrupted` on Ctrl-C, or a terminal error.
    pub fn read(&mut self, prompt: &str) -> Result<String, ReadlineError> {
        self.editor.readline(prompt)
    }

    /// Adds `line` to the history and saves the history file, so a killed session keeps it.
    pub fn remember(&mut self, line: &str) {
        match self.editor.add_history_entry(line) {
            Ok(true) => {}
            Ok(false) => return,
            Err(e) => return self.warn_save(&e),
        }
        if let Err(e) = self.editor.save_history(&self.history_path) {
            self.warn_save(&e);
        }
    }

    /// How many lines the history holds.
    pub fn history_len(&self) -> usize {
        self.editor.history().len()
    }

    fn warn_save(&mut self, e: &ReadlineError) {
        if !self.save_failed {
            self.save_failed = true;
            eprintln!(
                "peer: warning: cannot save the shell history to {}: {e}",
                self.history_path.display()
            );
        }
    }
}

/// Loads the history file if there is one of a sane size; says why when it is not loaded.
fn load_history(editor: &mut Editor<ShellHelper, FileHistory>, path: &Path) {
    let size = match std::fs::metadata(path) {
        Ok(m) => m.len(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return,
        Err(e) => {
            eprintln!(
                "peer: warning: cannot read the shell history {}: {e}",
                path.display()
            );
            return;
        }
    };
    if size > MAX_HISTORY_FILE_BYTES {
        eprintln!(
            "peer: warning: the shell history {} is larger than {MAX_HISTORY_FILE_BYTES} bytes: \
             not loaded; this session's lines replace it",
            path.display()
        );
        return;
    }
    if let Err(e) = editor.load_history(path) {
        eprintln!(
            "peer: warning: cannot read the shell history {}: {e}",
            path.display()
        );
    }
}

/// rustyline's helper: completion over the clap definitions, nothing else.
pub struct ShellHelper {
    /// The `peer` command, built.
    peer: clap::Command,
    /// File names, where a command takes an argument.
    files: FilenameCompleter,
}

impl Completer for ShellHelper {
    type Candidate = Pair;

    fn complete(
        &self,
        line: &str,
        pos: usize,
        ctx: &Context<'_>,
    ) -> rustyline::Result<(usize, Vec<Pair>)> {
        match complete(&self.peer, line, pos) {
            Some((start, words)) => Ok((
                start,
                words
                    .into_iter()
                    .map(|w| Pair {
                        replacement: format!("{w} "),
                        display: w,
                    })
                    .collect(),
            )),
            None => self.files.complete(line, pos, ctx),
        }
    }
}

impl Hinter for ShellHelper {
    type Hint = String;
}

impl Highlighter for ShellHelper {}

impl Validator for ShellHelper {}

impl Helper for ShellHelper {}

/// What completes the word that ends at byte `pos` of `line`: where the word starts and the
/// candidates (command words, subcommands, long flags); `None` where the word is a command's
/// argument (a file name, a group), which the shell completes as a file name.
pub fn complete(peer: &clap::Command, line: &str, pos: usize) -> Option<(usize, Vec<String>)> {
    let before = line.get(..pos)?;
    let start = before
        .char_indices()
        .rev()
        .find(|(_, c)| c.is_whitespace())
        .map_or(0, |(i, c)| i + c.len_utf8());
    let partial = &before[start..];
    let mut words: Vec<&str> = before[..start].split_whitespace().collect();
    let at_top = words.is_empty();
    if words.first() == Some(&"help") {
        words.remove(0);
    }
    let expanded: Vec<&str> = match words.split_first() {
        Some((first, rest)) => match alias(first) {
            Some(target) => target.iter().copied().chain(rest.iter().copied()).collect(),
            None => words.clone(),
        },
        None => words.clone(),
    };
    let mut cmd = peer;
    let mut in_arguments = false;
    for word in expanded.iter().filter(|w| !w.starts_with('-')) {
        match cmd.find_subcommand(word) {
            Some(sub) if !in_arguments => cmd = sub,
            _ => in_arguments = true,
        }
    }
    let mut candidates: Vec<String> = if partial.starts_with('-') {
        cmd.get_arguments()
            .filter(|a| !a.is_hide_set())
            .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
            .collect()
    } else if !in_arguments && cmd.has_subcommands() {
        let top = std::ptr::eq(cmd, peer);
        let mut names: Vec<String> = cmd
            .get_subcommands()
            .filter(|c| !c.is_hide_set())
            .filter(|c| !top || !NOT_IN_SHELL.contains(&c.get_name()))
            .map(|c| c.get_name().to_string())
            .collect();
        if at_top {
            names.extend(ALIASES.iter().map(|(n, _)| (*n).to_string()));
            names.extend(EXIT_WORDS.iter().map(|w| (*w).to_string()));
            names.push("help".into());
        }
        names
    } else {
        return None;
    };
    candidates.retain(|c| c.starts_with(partial));
    candidates.sort();
    candidates.dedup();
    Some((start, candidates))
}

#[cfg(test)]
mod tests {
    use super::super::help::peer_command;
    use super::*;

    fn names(line: &str) -> Option<(usize, Vec<String>)> {
        complete(&peer_command(), line, line.len())
    }

    #[test]
    fn the_first_word_completes_to_commands_aliases_and_shell_words() {
        let (start, all) = names("").unwrap();
        assert_eq!(start, 0);
        for w in [
            "upload", "download", "group", "publish", "fetch", "exit", "help",
        ] {
            assert!(all.iter().any(|c| c == w), "{w} missing: {all:?}");
        }
        for w in ["daemon", "shell"] {
            assert!(!all.iter().any(|c| c == w), "{w} offered: {all:?}");
        }
        assert_eq!(names("up"), Some((0, vec!["upload".into()])));
        assert_eq!(
            names("  dow"),
            Some((2, vec!["download".into(), "downloads".into()]))
        );
        assert_eq!(names("zzz"), Some((0, vec![])));
    }

    #[test]
    fn subcommands_complete_after_their_command_help_or_alias() {
        assert_eq!(names("group ac"), Some((6, vec!["accept".into()])));
        assert_eq!(names("help group ac"), Some((11, vec!["accept".into()])));
        assert_eq!(names("help up"), Some((5, vec!["upload".into()])));
        // `request` is `group join`: nothing below it but its arguments.
        assert_eq!(names("request "), None);
        // Shell words are offered only as the first word.
        let (_, subs) = names("group ").unwrap();
        assert!(!subs.iter().any(|c| c == "exit"), "{subs:?}");
    }

    #[test]
    fn long_flags_complete_for_the_command_reached() {
        let (start, flags) = names("download g f --de").unwrap();
        assert_eq!((start, flags), (13, vec!["--detach".into()]));
        let (_, flags) = names("files g --").unwrap();
        assert!(flags.iter().any(|f| f == "--json"), "{flags:?}");
        assert!(flags.iter().any(|f| f == "--home"), "{flags:?}");
        assert!(!flags.iter().any(|f| f == "--detach"), "{flags:?}");
    }

    #[test]
    fn a_commands_arguments_are_left_to_file_name_completion() {
        assert_eq!(names("upload g "), None);
        assert_eq!(names("upload g ./fi"), None);
        assert_eq!(names("fetch g "), None);
    }

    #[test]
    fn the_history_is_bounded_owner_only_and_read_back() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let mut editor = LineEditor::open(dir.path(), peer_command()).unwrap();
        for i in 0..MAX_HISTORY_ENTRIES + 5 {
            editor.remember(&format!("files g{i}"));
        }
        // A line starting with a space is not kept (as in bash's ignorespace).
        editor.remember(" login secret");
        let path = dir.path().join(HISTORY_FILE);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(!text.contains("secret"));
        assert!(
            !text.contains("files g4\n") && text.contains("files g5\n"),
            "oldest not dropped"
        );
        let again = LineEditor::open(dir.path(), peer_command()).unwrap();
        assert_eq!(again.history_len(), MAX_HISTORY_ENTRIES);
    }

    #[test]
    fn an_oversized_history_file_is_not_read() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join(HISTORY_FILE);
        let line = "files g\n".repeat(usize::try_from(MAX_HISTORY_FILE_BYTES).unwrap() / 8 + 1);
        std::fs::write(&path, line).unwrap();
        let editor = LineEditor::open(dir.path(), peer_command()).unwrap();
        assert_eq!(editor.history_len(), 0);
    }

    #[test]
    fn a_position_inside_a_character_completes_nothing() {
        assert_eq!(complete(&peer_command(), "é", 1), None);
    }
}
