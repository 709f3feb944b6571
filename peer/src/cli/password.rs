//! Reading a password: `--password-stdin`, `PEER_PASSWORD`, or an interactive prompt with echo off.

use std::io::{BufRead, IsTerminal, Write};

/// Gets the password for `what`.
///
/// # Errors
/// If none is given and stdin is not a terminal.
pub fn read(from_stdin: bool, what: &str) -> anyhow::Result<String> {
    if from_stdin {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line)?;
        return Ok(line.trim_end_matches(['\n', '\r']).to_string());
    }
    if let Ok(p) = std::env::var("PEER_PASSWORD") {
        return Ok(p);
    }
    if !std::io::stdin().is_terminal() {
        anyhow::bail!("no password: use --password-stdin or set PEER_PASSWORD");
    }
    eprint!("password for {what}: ");
    let _ = std::io::stderr().flush();
    let line = with_echo_off(|| {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).map(|_| line)
    })?;
    eprintln!();
    Ok(line.trim_end_matches(['\n', '\r']).to_string())
}

/// Runs `f` with terminal echo disabled on stdin, restoring it afterwards.
fn with_echo_off<T>(f: impl FnOnce() -> std::io::Result<T>) -> std::io::Result<T> {
    // SAFETY: termios is plain data; tcgetattr fills it, and we only pass pointers to it.
    let mut term: libc::termios = unsafe { std::mem::zeroed() };
    // SAFETY: fd 0 is stdin; `term` is a valid termios to fill.
    if unsafe { libc::tcgetattr(0, &mut term) } != 0 {
        return f();
    }
    let saved = term;
    term.c_lflag &= !libc::ECHO;
    // SAFETY: as above; `term` is the value read back with ECHO cleared.
    unsafe { libc::tcsetattr(0, libc::TCSANOW, &term) };
    let out = f();
    // SAFETY: restores the settings read above.
    unsafe { libc::tcsetattr(0, libc::TCSANOW, &saved) };
    out
}
