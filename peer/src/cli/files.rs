//! `peer daemon`, `peer upload`, `peer files`, `peer download` (GROUP NAME or a link),
//! `peer downloads`, `peer stop-share`, `peer unpublish`.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::time::{Duration, Instant};

use clap::Args;
use serde::Serialize;

use proto::tracker_msg::to_hex;

use super::files_json::{
    CancelledJson, DownloadJson, StartedJson, StoppedJson, UnpublishedJson, UploadJson,
};
use super::{output, Ctx};
use crate::control::{
    self, ControlRequest, ControlResponse, DownloadInfo, DownloadState, ExpectedContent,
};
use crate::daemon::{self, DaemonOptions};

const CONTROL_TIMEOUT: Duration = Duration::from_secs(600);

/// `peer daemon`
#[derive(Debug, Args)]
pub struct DaemonArgs {
    /// Address to serve chunks on.
    #[arg(long, env = "PEER_LISTEN", default_value = "127.0.0.1:0")]
    listen: String,
    /// Address other peers should use (default: the bound listen address).
    #[arg(long, env = "PEER_ADVERTISE")]
    advertise: Option<String>,
    /// Cap on upload speed, bytes per second (e.g. 500K, 10M).
    #[arg(long, env = "PEER_UPLOAD_LIMIT", value_parser = crate::rate_limit::parse_rate)]
    upload_limit: Option<u64>,
    /// Cap on download speed, bytes per second (e.g. 500K, 10M).
    #[arg(long, env = "PEER_DOWNLOAD_LIMIT", value_parser = crate::rate_limit::parse_rate)]
    download_limit: Option<u64>,
    /// Address of the HTTP API and web UI (loopback unless --http-allow-remote).
    #[arg(long, env = "PEER_HTTP_ADDR", default_value = "127.0.0.1:0")]
    http_addr: String,
    /// Allow --http-addr to be a non-loopback address (the API then answers anyone who has the
    /// token, over plain HTTP: put TLS in front of it).
    #[arg(long, env = "PEER_HTTP_ALLOW_REMOTE")]
    http_allow_remote: bool,
    /// Where `peer download GROUP NAME` without a destination saves (as DIR/NAME, never over an
    /// existing file); default HOME/downloads.
    #[arg(long, env = "PEER_DOWNLOAD_DIR")]
    download_dir: Option<PathBuf>,
    /// Testing only: corrupt every chunk served (to test downloaders against a lying seeder).
    #[arg(long, hide = true)]
    corrupt_chunks_for_testing: bool,
}

/// `peer upload`
#[derive(Debug, Args)]
pub struct UploadArgs {
    /// Group to share in.
    group: String,
    /// The file (it stays where it is and is served from there).
    path: PathBuf,
    /// Name in the group (default: the path's base name).
    #[arg(long)]
    name: Option<String>,
    /// Chunk size in bytes, 4096..=67108864 [default: 512 KiB up to 16 GiB, then the smallest
    /// power of two that keeps the file within 32768 chunks].
    #[arg(long, value_parser = clap::value_parser!(u32).range(
        i64::from(proto::limits::MIN_CHUNK_SIZE_BYTES)..=i64::from(proto::limits::MAX_CHUNK_SIZE_BYTES)
    ))]
    chunk_size: Option<u32>,
    /// Register it as a new file even if the group has the same content under another name
    /// (without it, that file is seeded from this path instead).
    #[arg(long)]
    as_new: bool,
}

/// `peer download GROUP NAME [DEST]` or `peer download LINK [DEST]`
#[derive(Debug, Args)]
pub struct DownloadArgs {
    /// The group, or a link from `peer link` (`p2p:?...`; quote it in the shell).
    #[arg(value_name = "GROUP|LINK")]
    target: String,
    /// With a group: the file name in it. With a link: DEST.
    #[arg(value_name = "NAME|DEST")]
    second: Option<String>,
    /// Where to put it (written as DEST.part and renamed when verified); default: NAME in the
    /// daemon's download folder (`--download-dir`, HOME/downloads), never over an existing file.
    #[arg(value_name = "DEST")]
    dest: Option<PathBuf>,
    /// Hand the download to the daemon and return at once.
    #[arg(long)]
    detach: bool,
}

/// What `peer download` was asked for, its arguments sorted out.
struct DownloadTarget {
    group: String,
    name: String,
    dest: Option<PathBuf>,
    expect: Option<ExpectedContent>,
}

impl DownloadTarget {
    /// Sorts out GROUP NAME [DEST] from LINK [DEST]; a link is parsed and checked against the
    /// group's file at the tracker.
    async fn of(ctx: &Ctx, a: &DownloadArgs) -> anyhow::Result<Self> {
        if a.target.starts_with("p2p:") {
            let link = crate::link::FileLink::parse(&a.target)?;
            if a.dest.is_some() {
                anyhow::bail!("with a link, give at most one more argument: DEST");
            }
            super::link::check(ctx, &link).await?;
            return Ok(DownloadTarget {
                dest: a
                    .second
                    .as_deref()
                    .map(|d| absolute(d.as_ref()))
                    .transpose()?,
                expect: Some(ExpectedContent {
                    size_bytes: link.size_bytes,
                    file_hash: link.file_hash,
                }),
                group: link.group,
                name: link.name,
            });
        }
        let Some(name) = a.second.clone() else {
            anyhow::bail!("give the file's NAME after the group (or a link from `peer link`)");
        };
        Ok(DownloadTarget {
            group: a.target.clone(),
            name,
            dest: a.dest.as_deref().map(absolute).transpose()?,
            expect: None,
        })
    }
}

/// Runs the daemon in the foreground.
///
/// # Errors
/// Startup failures.
pub async fn daemon(ctx: &Ctx, a: DaemonArgs) -> anyhow::Result<()> {
    let (tracker, tracker_tls, ca_file) = ctx.tracker_parts()?;
    let opts = DaemonOptions {
        listen: a.listen,
        advertise: a.advertise,
        corrupt_for_testing: a.corrupt_chunks_for_testing,
        upload_limit: a.upload_limit,
        download_limit: a.download_limit,
        json: ctx.json,
        http: daemon::http::HttpOptions {
            addr: a.http_addr,
            allow_remote: a.http_allow_remote,
        },
        tracker_tls,
        ca_file,
        download_dir: a.download_dir.as_deref().map(absolute).transpose()?,
    };
    daemon::run(ctx.home.clone(), tracker, opts).await
}

async fn ask(ctx: &Ctx, req: ControlRequest) -> anyhow::Result<ControlResponse> {
    match control::call(&ctx.home, &req, CONTROL_TIMEOUT).await? {
        ControlResponse::Error(e) => anyhow::bail!("{e}"),
        other => Ok(other),
    }
}

fn absolute(p: &std::path::Path) -> anyhow::Result<PathBuf> {
    Ok(if p.is_absolute() {
        p.to_path_buf()
    } else {
        std::env::current_dir()?.join(p)
    })
}

/// Runs `peer upload`.
///
/// # Errors
/// Unreadable file, bad name, tracker refusal, daemon not running.
pub async fn upload(ctx: &Ctx, a: UploadArgs) -> anyhow::Result<()> {
    let path = absolute(&a.path)?;
    let name = match a.name {
        Some(n) => n,
        None => path
            .file_name()
            .and_then(|n| n.to_str())
            .ok_or_else(|| {
                anyhow::anyhow!("{} has no usable file name: pass --name", path.display())
            })?
            .to_string(),
    };
    let resp = ask(
        ctx,
        ControlRequest::Upload {
            group: a.group.clone(),
            path: path.clone(),
            name: name.clone(),
            chunk_size_bytes: a.chunk_size,
            as_new: a.as_new,
        },
    )
    .await?;
    if let ControlResponse::Uploaded {
        size_bytes,
        chunk_count,
        file_hash,
        seeded_as,
        existing,
    } = resp
    {
        if existing {
            eprintln!(
                "warning: {} already has this content as {seeded_as}: seeding {seeded_as} from \
                 {} instead of registering {name} (pass --as-new to register {name} anyway)",
                a.group,
                path.display()
            );
        }
        if ctx.json {
            return output::json(&UploadJson {
                group: &a.group,
                name: &seeded_as,
                path: &path,
                size_bytes,
                chunk_count,
                sha1: to_hex(&file_hash),
                existing,
            });
        }
        let name = seeded_as;
        println!(
            "shared {name} in {} ({}, {chunk_count} chunks, sha1 {}), seeding from {}",
            a.group,
            output::size(size_bytes),
            to_hex(&file_hash),
            path.display()
        );
    }
    Ok(())
}

#[derive(Serialize)]
struct FileRow {
    name: String,
    size_bytes: u64,
    chunks: u32,
    sha1: String,
    uploader: String,
    seeders: u32,
    partial: u32,
}

/// Runs `peer files`.
///
/// # Errors
/// Not a member, unknown group.
pub async fn list(ctx: &Ctx, group: &str) -> anyhow::Result<()> {
    ctx.token()?;
    let files = crate::ops::files::list(&ctx.tracker()?, &ctx.home, group).await?;
    let rows: Vec<FileRow> = files
        .into_iter()
        .map(|f| FileRow {
            name: f.name,
            size_bytes: f.size_bytes,
            chunks: f.chunk_count,
            sha1: to_hex(&f.file_hash),
            uploader: f.uploader,
            seeders: f.full_seeders,
            partial: f.partial_peers,
        })
        .collect();
    if ctx.json {
        return output::json(&rows);
    }
    println!(
        "{:<32} {:>10} {:>7} {:<40} {:>7} {:>7}",
        "NAME", "SIZE", "CHUNKS", "SHA1", "SEEDERS", "PARTIAL"
    );
    for r in rows {
        println!(
            "{:<32} {:>10} {:>7} {:<40} {:>7} {:>7}",
            r.name,
            output::size(r.size_bytes),
            r.chunks,
            r.sha1,
            r.seeders,
            r.partial
        );
    }
    Ok(())
}

/// Runs `peer download`: starts it in the daemon and, unless detached, shows progress until done.
///
/// # Errors
/// Unknown file, no access, daemon not running, download failed.
pub async fn download(ctx: &Ctx, a: DownloadArgs) -> anyhow::Result<()> {
    let t = DownloadTarget::of(ctx, &a).await?;
    let id = match ask(
        ctx,
        ControlRequest::Download {
            group: t.group.clone(),
            name: t.name.clone(),
            dest: t.dest.clone(),
            expect: t.expect,
        },
    )
    .await?
    {
        ControlResponse::DownloadStarted { id } => id,
        other => anyhow::bail!("unexpected answer from the daemon: {other:?}"),
    };
    if a.detach {
        if ctx.json {
            let dest = match t.dest {
                Some(d) => d,
                None => match ask(ctx, ControlRequest::Downloads).await? {
                    ControlResponse::Downloads(list) => list
                        .into_iter()
                        .find(|d| d.id == id)
                        .map(|d| d.dest)
                        .unwrap_or_default(),
                    _ => PathBuf::new(),
                },
            };
            return output::json(&StartedJson {
                id: &id,
                group: &t.group,
                name: &t.name,
                dest: &dest,
                state: "running",
            });
        }
        println!("download {id} started: follow it with `peer downloads`");
        return Ok(());
    }
    let tty = std::io::stderr().is_terminal();
    let started = Instant::now();
    let mut last_line = Instant::now() - Duration::from_secs(10);
    loop {
        let info = match ask(ctx, ControlRequest::Downloads).await? {
            ControlResponse::Downloads(list) => list.into_iter().find(|d| d.id == id),
            _ => None,
        };
        let Some(info) = info else {
            anyhow::bail!("the daemon lost track of download {id}; see `peer downloads`");
        };
        match &info.state {
            DownloadState::Complete => {
                if tty {
                    eprintln!();
                }
                if ctx.json {
                    return output::json(&DownloadJson::of(&info));
                }
                let secs = started.elapsed().as_secs_f64();
                println!(
                    "downloaded {} to {} ({}, {:.1} MiB/s, verified; chunks from {} peers)",
                    info.name,
                    info.dest.display(),
                    output::size(info.total_bytes),
                    info.total_bytes as f64 / (1 << 20) as f64 / secs.max(0.001),
                    info.chunks_by_peer.len()
                );
                return Ok(());
            }
            DownloadState::Failed(why) => {
                if tty {
                    eprintln!();
                }
                if ctx.json {
                    output::json(&DownloadJson::of(&info))?;
                }
                anyhow::bail!("download of {} failed: {why}", info.name);
            }
            DownloadState::Cancelled => {
                if tty {
                    eprintln!();
                }
                if ctx.json {
                    output::json(&DownloadJson::of(&info))?;
                }
                anyhow::bail!("download of {} was cancelled", info.name);
            }
            DownloadState::Running => {
                if tty || last_line.elapsed() >= Duration::from_secs(2) {
                    print_progress(&info, tty);
                    last_line = Instant::now();
                }
            }
        }
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
}

fn print_progress(d: &DownloadInfo, tty: bool) {
    let pct = if d.total_bytes == 0 {
        100.0
    } else {
        d.bytes_done as f64 * 100.0 / d.total_bytes as f64
    };
    let width = 30usize;
    let filled = ((pct / 100.0) * width as f64) as usize;
    let bar: String = "#".repeat(filled.min(width)) + &"-".repeat(width - filled.min(width));
    let eta = if d.bytes_per_sec > 0 {
        format!(
            "{:.0}s",
            (d.total_bytes - d.bytes_done.min(d.total_bytes)) as f64 / d.bytes_per_sec as f64
        )
    } else {
        "?".into()
    };
    let line = format!(
        "[{bar}] {pct:5.1}% {}/s ETA {eta} peers {}",
        output::size(d.bytes_per_sec),
        d.peers
    );
    if tty {
        eprint!("\r{line}   ");
        let _ = std::io::stderr().flush();
    } else {
        eprintln!("{line}");
    }
}

/// Runs `peer downloads`: `[D] group name percent (id ID)` followed by a line per connected
/// source (`  from PEER ADDR SPEED/s rtt MS ms, N chunks`), `[C] group name`,
/// `[F] group name reason`, `[X] group name cancelled`.
///
/// # Errors
/// Daemon not running.
pub async fn downloads(ctx: &Ctx) -> anyhow::Result<()> {
    let list = match ask(ctx, ControlRequest::Downloads).await? {
        ControlResponse::Downloads(l) => l,
        other => anyhow::bail!("unexpected answer from the daemon: {other:?}"),
    };
    if ctx.json {
        let rows: Vec<DownloadJson<'_>> = list.iter().map(DownloadJson::of).collect();
        return output::json(&rows);
    }
    for d in list {
        match d.state {
            DownloadState::Running => {
                let pct = if d.total_bytes == 0 {
                    100.0
                } else {
                    d.bytes_done as f64 * 100.0 / d.total_bytes as f64
                };
                println!("[D] {} {} {pct:.1}% (id {})", d.group, d.name, d.id);
                for src in d.sources.iter().filter(|s| s.connected) {
                    let rtt = src
                        .rtt_micros
                        .map_or("?".to_string(), |us| format!("{:.2}", us as f64 / 1000.0));
                    println!(
                        "  from {} {} {}/s rtt {rtt} ms, {} chunks",
                        src.peer_id,
                        src.addr,
                        output::size(src.bytes_per_sec),
                        src.chunks
                    );
                }
            }
            DownloadState::Complete => println!("[C] {} {}", d.group, d.name),
            DownloadState::Failed(why) => println!("[F] {} {} {why}", d.group, d.name),
            DownloadState::Cancelled => println!("[X] {} {} cancelled", d.group, d.name),
        }
    }
    Ok(())
}

/// Runs `peer cancel`.
///
/// # Errors
/// Daemon not running, no such download, or it ended already.
pub async fn cancel(ctx: &Ctx, id: String) -> anyhow::Result<()> {
    ask(ctx, ControlRequest::Cancel { id: id.clone() }).await?;
    if ctx.json {
        return output::json(&CancelledJson {
            id: &id,
            state: "cancelled",
        });
    }
    println!("cancelled download {id}");
    Ok(())
}

/// Runs `peer stop-share`.
///
/// # Errors
/// Daemon not running or not seeding the file.
pub async fn stop_share(ctx: &Ctx, group: String, name: String) -> anyhow::Result<()> {
    ask(
        ctx,
        ControlRequest::StopShare {
            group: group.clone(),
            name: name.clone(),
        },
    )
    .await?;
    if ctx.json {
        return output::json(&StoppedJson {
            group: &group,
            name: &name,
            seeding: false,
        });
    }
    println!("stopped sharing {name} in {group}");
    Ok(())
}

/// How long `peer unpublish` waits for this home's daemon to drop its share.
const DROP_SHARE_WITHIN: Duration = Duration::from_secs(5);

/// Runs `peer unpublish`: removes the file from the group at the tracker, then tells this
/// home's daemon, if one runs and seeds the file, to stop at once (other seeders stop at their
/// next connection for it, see `daemon::published`).
///
/// # Errors
/// Not logged in, not a member, no such group or file, neither uploader nor owner.
pub async fn unpublish(ctx: &Ctx, group: String, name: String) -> anyhow::Result<()> {
    ctx.token()?;
    crate::ops::files::unpublish(&ctx.tracker()?, &ctx.home, &group, &name).await?;
    let drop_share = ControlRequest::StopShare {
        group: group.clone(),
        name: name.clone(),
    };
    // Best effort: no daemon, or one that does not seed the file, is no error.
    let _ = control::call(&ctx.home, &drop_share, DROP_SHARE_WITHIN).await;
    if ctx.json {
        return output::json(&UnpublishedJson {
            group: &group,
            name: &name,
            unpublished: true,
        });
    }
    println!("unpublished {name} from {group}: it is gone from the listings and its seeders stop serving it");
    Ok(())
}
