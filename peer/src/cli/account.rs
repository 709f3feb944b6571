//! `peer user create`, `peer login`, `peer logout`, `peer whoami`.

use clap::{Args, Subcommand};
use serde::Serialize;

use super::{output, password, Ctx};
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

/// `--json` of `user create`, `login` and `whoami`: the user concerned.
#[derive(Serialize)]
struct UserJson<'a> {
    username: &'a str,
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
        } => {
            let password = password::read(password_stdin, &username)?;
            ops::account::create_user(&ctx.tracker()?, &username, password).await?;
            if ctx.json {
                return output::json(&UserJson {
                    username: &username,
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
    let username = ops::account::whoami(&ctx.tracker()?, &ctx.home).await?;
    if ctx.json {
        return output::json(&UserJson {
            username: &username,
        });
    }
    println!("{username}");
    Ok(())
}
