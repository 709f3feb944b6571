//! `peer user create` (with an optional display name), `peer login`, `peer logout`,
//! `peer whoami` (username, display name, account creation and last-login times).

use clap::{Args, Subcommand};
use serde::Serialize;

use proto::limits::MAX_DISPLAY_NAME_BYTES;

use super::{output, password, rfc3339, Ctx};
use crate::ops;

/// `peer user ...`
#[derive(Debug, Subcommand)]
pub enum UserCmd {
    /// Create an account.
    Create {
        /// Username (letters, digits, '_', '-', '.').
        username: String,
        /// Read the password from the first line of stdin.
        #[arg(long)]
        password_stdin: bool,
        /// The name shown beside the username (at most 64 bytes, printable).
        #[arg(long, env = "PEER_DISPLAY_NAME")]
        display_name: Option<String>,
    },
}

/// `peer login`
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// Username.
    username: String,
    /// Read the password from the first line of stdin.
    #[arg(long)]
    password_stdin: bool,
}

/// `--json` of `login`: the user concerned.
#[derive(Serialize)]
struct UserJson<'a> {
    username: &'a str,
}

/// `--json` of `whoami`: the account, its times as RFC 3339 (UTC) and in ms since the epoch.
#[derive(Serialize)]
struct WhoamiJson<'a> {
    username: &'a str,
    display_name: Option<&'a str>,
    created_at: String,
    created_at_ms: u64,
    /// `null` before the account's first login since logins were recorded.
    last_login: Option<String>,
    last_login_ms: Option<u64>,
}

/// `--json` of `user create`.
#[derive(Serialize)]
struct CreatedJson<'a> {
    username: &'a str,
    display_name: Option<&'a str>,
}

/// `--json` of `logout`.
#[derive(Serialize)]
struct LogoutJson {
    logged_out: bool,
}

/// Runs `peer user ...`.
///
/// # Errors
/// The tracker's refusal.
pub async fn user(ctx: &Ctx, cmd: UserCmd) -> anyhow::Result<()> {
    match cmd {
        UserCmd::Create {
            username,
            password_stdin,
            display_name,
        } => {
            if let Some(d) = &display_name {
                check_display_name(d)?;
            }
            let password = password::read(password_stdin, &username)?;
            let tracker = ctx.tracker()?;
            ops::account::create_user(&tracker, &username, password, display_name.clone()).await?;
            if ctx.json {
                return output::json(&CreatedJson {
                    username: &username,
                    display_name: display_name.as_deref(),
                });
            }
            println!("user {username} created; log in with `peer login {username}`");
            Ok(())
        }
    }
}

/// Runs `peer login`.
///
/// # Errors
/// Bad credentials or no tracker.
pub async fn login(ctx: &Ctx, a: LoginArgs) -> anyhow::Result<()> {
    let password = password::read(a.password_stdin, &a.username)?;
    ops::account::login(&ctx.tracker()?, &ctx.home, &a.username, password).await?;
    ctx.remember_trackers()?;
    if ctx.json {
        return output::json(&UserJson {
            username: &a.username,
        });
    }
    println!("logged in as {}", a.username);
    Ok(())
}

/// Runs `peer logout`.
///
/// # Errors
/// Not logged in.
pub async fn logout(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.token()?;
    ops::account::logout(&ctx.tracker()?, &ctx.home).await?;
    if ctx.json {
        return output::json(&LogoutJson { logged_out: true });
    }
    println!("logged out");
    Ok(())
}

/// Runs `peer whoami`.
///
/// # Errors
/// Not logged in or session expired.
pub async fn whoami(ctx: &Ctx) -> anyhow::Result<()> {
    ctx.token()?;
    let a = ops::account::whoami(&ctx.tracker()?, &ctx.home).await?;
    let created_at = rfc3339::format_ms(a.created_at_ms);
    let last_login = a.last_login_ms.map(rfc3339::format_ms);
    if ctx.json {
        return output::json(&WhoamiJson {
            username: &a.username,
            display_name: a.display_name.as_deref(),
            created_at,
            created_at_ms: a.created_at_ms,
            last_login,
            last_login_ms: a.last_login_ms,
        });
    }
    match &a.display_name {
        Some(d) => println!("{} ({d})", a.username),
        None => println!("{}", a.username),
    }
    println!("account created {created_at}");
    println!(
        "last login      {}",
        last_login.as_deref().unwrap_or("not recorded yet")
    );
    Ok(())
}

/// The tracker's display-name rule, checked before the password is asked for: at most
/// [`MAX_DISPLAY_NAME_BYTES`] bytes, printable, no spaces at either end.
///
/// # Errors
/// The rule that was broken.
fn check_display_name(d: &str) -> anyhow::Result<()> {
    let ok = !d.trim().is_empty()
        && d.len() <= MAX_DISPLAY_NAME_BYTES
        && d.trim() == d
        && !d.chars().any(char::is_control);
    if !ok {
        anyhow::bail!(
            "--display-name {} is not allowed: use 1 to {MAX_DISPLAY_NAME_BYTES} bytes of printable characters, without control characters or spaces at either end",
            proto::limits::quote(d)
        );
    }
    Ok(())
}
