//! Short, bounded runs of every chaos scenario through the real `chaos` binary (which runs the
//! tracker nodes and three peer daemons as separate processes): each must inject faults (at most
//! `--faults`, each with an end time), acknowledge writes of every kind, complete byte-identical
//! downloads, and pass every checker (the cross-client listing check among them).

use std::process::Command;

/// `--faults` of every run.
const MAX_FAULTS: usize = 3;

fn run_scenario(name: &str, seed: u64) -> serde_json::Value {
    let dir = tempfile::tempdir().unwrap();
    let report_path = dir.path().join("report.json");
    let out = Command::new(env!("CARGO_BIN_EXE_chaos"))
        .args([
            name,
            "--duration",
            "5",
            "--interval",
            "1.5",
            "--clients",
            "4",
            "--faults",
            &MAX_FAULTS.to_string(),
            "--file-mib",
            "4,4",
            "--drain-secs",
            "30",
            "--seed",
        ])
        .arg(seed.to_string())
        .arg("--report")
        .arg(&report_path)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    let stderr = String::from_utf8_lossy(&out.stderr);
    let report: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&report_path).unwrap_or_default())
            .unwrap_or_else(|e| {
                panic!("{name} (seed {seed}) wrote no report ({e}): {stdout}\n{stderr}")
            });
    assert!(
        out.status.success(),
        "{name} (seed {seed}) failed:\n{stdout}\n{stderr}"
    );
    assert_eq!(
        report["violations"].as_array().map(Vec::len),
        Some(0),
        "{report}"
    );
    assert!(
        report["faults"]
            .as_array()
            .is_some_and(|f| !f.is_empty() && f.len() <= MAX_FAULTS),
        "no fault injected, or more than --faults: {report}"
    );
    assert!(
        report["writes_acked"].as_u64().is_some_and(|n| n > 50),
        "too few writes acknowledged: {report}"
    );
    assert!(
        report["reads_checked"].as_u64().is_some_and(|n| n > 0),
        "{report}"
    );
    assert!(
        report["cross_client_checked"]
            .as_u64()
            .is_some_and(|n| n > 0),
        "no listing checked against other clients' writes: {report}"
    );
    for f in report["faults"].as_array().into_iter().flatten() {
        assert!(
            f["end_ms"]
                .as_u64()
                .is_some_and(|end| Some(end) >= f["at_ms"].as_u64()),
            "a fault without an end after its start: {f}"
        );
    }
    for kind in ["join", "accept", "register_file", "report_have"] {
        assert!(
            report["ops"][kind]["acked"].as_u64().is_some_and(|n| n > 0),
            "no {kind} acknowledged: {report}"
        );
    }
    let downloads = &report["downloads"];
    assert!(
        downloads["completed"].as_u64().is_some_and(|n| n > 0),
        "no download completed: {report}"
    );
    assert_eq!(
        downloads["bytes_verified"].as_u64(),
        downloads["completed"].as_u64().map(|n| n * (4 << 20)),
        "every completed download is one 4 MiB file compared byte for byte: {report}"
    );
    report
}

/// The kind and detail of every fault in a report.
fn fault_kinds(report: &serde_json::Value) -> Vec<(String, String)> {
    report["faults"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|f| {
            let text = |k: &str| f[k].as_str().unwrap_or_default().to_string();
            (text("kind"), text("detail"))
        })
        .collect()
}

#[test]
fn leader_kills() {
    run_scenario("leader-kills", 11);
}

#[test]
fn random_kills() {
    run_scenario("random-kills", 12);
}

#[test]
fn pause_leader() {
    run_scenario("pause-leader", 13);
}

#[test]
fn restart_leader() {
    let report = run_scenario("restart-leader", 18);
    for (kind, detail) in fault_kinds(&report) {
        assert_eq!(kind, "RestartLeader", "{report}");
        assert!(detail.contains("leads term"), "{report}");
    }
}

#[test]
fn whole_cluster_restart() {
    run_scenario("whole-cluster-restart", 14);
}

#[test]
fn mixed() {
    run_scenario("mixed", 15);
}

#[test]
fn partition_leader() {
    let report = run_scenario("partition-leader", 16);
    for (kind, detail) in fault_kinds(&report) {
        assert!(kind.starts_with("PartitionLeader/"), "{report}");
        // The isolated leader was sent a write, and did not acknowledge it (else a violation).
        assert!(detail.contains("a write sent to node"), "{report}");
    }
}

#[test]
fn wipe_and_rejoin() {
    let report = run_scenario("wipe-and-rejoin", 17);
    for (kind, detail) in fault_kinds(&report) {
        assert!(kind.starts_with("WipeAndRejoin/"), "{report}");
        assert!(detail.starts_with("rejoined"), "{report}");
    }
}
