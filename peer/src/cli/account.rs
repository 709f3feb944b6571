//! `peer user create`, `peer login`, `peer logout`, `peer whoami`.

use clap::{Args, Subcommand};

use proto::tracker_msg::{ReadRequest, Response, WriteOp};

use super::{password, Ctx};
use crate::home::Session;

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
            ctx.tracker()?
                .write(WriteOp::CreateUser {
                    username: username.clone(),
                    password,
                })
                .await?;
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
    let resp = ctx
        .tracker()?
        .write(WriteOp::Login {
            username: a.username.clone(),
            password,
        })
        .await?;
    let Response::Session { token, .. } = resp else {
        anyhow::bail!("unexpected answer from the tracker: {resp:?}");
    };
    ctx.home.save_session(&Session {
        username: a.username.clone(),
        token,
    })?;
    ctx.remember_trackers()?;
    println!("logged in as {}", a.username);
    Ok(())
}

/// Runs `peer logout`.
///
/// # Errors
/// Not logged in.
pub async fn logout(ctx: &Ctx) -> anyhow::Result<()> {
    let token = ctx.token()?;
    let result = ctx.tracker()?.write(WriteOp::Logout { token }).await;
    ctx.home.clear_session();
    result?;
    println!("logged out");
    Ok(())
}

/// Runs `peer whoami`.
///
/// # Errors
/// Not logged in or session expired.
pub async fn whoami(ctx: &Ctx) -> anyhow::Result<()> {
    let token = ctx.token()?;
    match ctx.tracker()?.read(ReadRequest::WhoAmI { token }).await? {
        Response::User { username } => {
            println!("{username}");
            Ok(())
        }
        other => anyhow::bail!("unexpected answer from the tracker: {other:?}"),
    }
}
