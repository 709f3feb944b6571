//! `cluster certs`: the PKI for a cluster on several hosts, written into one directory. Each host
//! gets `ca.pem` and its own `node-<id>.pem`/`node-<id>.key`; the operator keeps `ca.key`,
//! `admin.pem` and `admin.key`. Running it again on the same directory reuses the CA and every
//! certificate already there and issues only what is missing (a new node).

use std::path::PathBuf;

use anyhow::{bail, Context};
use clap::Args;
use serde::Serialize;

use cluster::pki::Pki;

/// Flags of `cluster certs`.
#[derive(Debug, Args)]
pub struct CertsArgs {
    /// Directory to write into (created if missing).
    #[arg(long)]
    out: PathBuf,
    /// A node: ID=HOST[,HOST...] with the addresses or DNS names it is reached at (repeatable).
    #[arg(long = "node", required = true)]
    nodes: Vec<String>,
    /// Print the files written as one JSON object.
    #[arg(long)]
    json: bool,
}

/// `cluster certs --json`: every file, by what it is for.
#[derive(Serialize)]
struct CertsJson {
    ca_file: PathBuf,
    ca_key: PathBuf,
    admin_cert: PathBuf,
    admin_key: PathBuf,
    nodes: Vec<NodeCertJson>,
}

/// One node's files in `cluster certs --json`.
#[derive(Serialize)]
struct NodeCertJson {
    id: u64,
    hosts: Vec<String>,
    cert: PathBuf,
    key: PathBuf,
    ca: PathBuf,
}

/// Parses `ID=HOST[,HOST...]`.
fn parse_node(item: &str) -> anyhow::Result<(u64, Vec<String>)> {
    let usage = || format!("--node {item:?} must look like ID=HOST[,HOST...], e.g. 1=10.0.0.1");
    let (id, hosts) = item.split_once('=').with_context(usage)?;
    let id: u64 = id
        .trim()
        .parse()
        .ok()
        .filter(|&i| i > 0)
        .with_context(usage)?;
    let hosts: Vec<String> = hosts
        .split(',')
        .map(str::trim)
        .filter(|h| !h.is_empty())
        .map(str::to_string)
        .collect();
    Ok((id, hosts))
}

/// Writes the files and says what goes where.
///
/// # Errors
/// A malformed `--node`, or files that cannot be issued or written.
pub fn run(a: &CertsArgs) -> anyhow::Result<()> {
    let mut nodes = Vec::new();
    for item in &a.nodes {
        let (id, hosts) = parse_node(item)?;
        if nodes.iter().any(|(n, _)| *n == id) {
            bail!("--node {id} is given twice");
        }
        nodes.push((id, hosts));
    }
    let pki = Pki::open_or_create(&a.out)
        .with_context(|| format!("while opening the PKI in {}", a.out.display()))?;
    let (admin_cert, admin_key) = pki.ensure_admin()?;
    let mut issued = Vec::new();
    for (id, hosts) in &nodes {
        let names: Vec<&str> = hosts.iter().map(String::as_str).collect();
        issued.push((*id, hosts.clone(), pki.ensure_node(*id, &names)?));
    }
    if a.json {
        let out = CertsJson {
            ca_file: pki.ca_file(),
            ca_key: a.out.join("ca.key"),
            admin_cert,
            admin_key,
            nodes: issued
                .into_iter()
                .map(|(id, hosts, f)| NodeCertJson {
                    id,
                    hosts,
                    cert: f.cert,
                    key: f.key,
                    ca: f.ca,
                })
                .collect(),
        };
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(());
    }
    println!(
        "CA: {} (key {})",
        pki.ca_file().display(),
        a.out.join("ca.key").display()
    );
    for (id, _, f) in &issued {
        println!(
            "node {id}: copy {}, {} and {} to its host; run tracker --id {id} --tls-cert {} \
             --tls-key {} --ca {} ...",
            f.ca.display(),
            f.cert.display(),
            f.key.display(),
            file_name(&f.cert),
            file_name(&f.key),
            file_name(&f.ca),
        );
    }
    println!(
        "admin: {} and {} (cluster status/add-node/remove-node: --ca {} --admin-cert {} \
         --admin-key {}); keep them and ca.key off the tracker hosts",
        admin_cert.display(),
        admin_key.display(),
        pki.ca_file().display(),
        admin_cert.display(),
        admin_key.display(),
    );
    println!("peers: --ca {}", pki.ca_file().display());
    Ok(())
}

fn file_name(p: &std::path::Path) -> String {
    p.file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::parse_node;

    #[test]
    fn node_items_parse_and_bad_ones_are_refused() {
        let (id, hosts) = parse_node("2=10.231.0.2,tracker-b.lan").unwrap();
        assert_eq!(id, 2);
        assert_eq!(hosts, ["10.231.0.2", "tracker-b.lan"]);
        for bad in ["x=1.2.3.4", "0=1.2.3.4", "1.2.3.4"] {
            assert!(parse_node(bad).is_err(), "{bad}");
        }
    }
}
