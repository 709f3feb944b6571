//! `GET /`: a small HTML status page of this node's view (role, term, indexes, readiness), the
//! replication of every follower when this node leads, and the counts. Inline CSS, no script;
//! it reloads itself every 5 s. Every value is escaped, though all of them are numbers, roles or
//! node addresses.

use std::fmt::Write as _;

use super::status::NodeView;

/// The page for `view`.
pub fn render(view: &NodeView) -> String {
    let opt = |v: Option<u64>| v.map_or_else(|| "-".to_string(), |v| v.to_string());
    let ids = |v: &[u64]| {
        if v.is_empty() {
            "-".to_string()
        } else {
            v.iter().map(u64::to_string).collect::<Vec<_>>().join(", ")
        }
    };
    let mut html = String::with_capacity(4096);
    html.push_str(HEAD);
    let (class, ready) = if view.ready {
        ("ok", "ready".to_string())
    } else {
        (
            "bad",
            format!(
                "not ready: {}",
                view.not_ready_reason.as_deref().unwrap_or("unknown")
            ),
        )
    };
    let _ = write!(
        html,
        "<h1>tracker node {id} <span class=\"role\">{role}</span></h1>\n\
         <p class=\"{class}\">{ready}</p>\n<h2>Raft</h2>\n<table>\n",
        id = view.node_id,
        role = escape(view.role),
        ready = escape(&ready),
    );
    let leader = match (&view.leader_id, &view.leader_api_addr) {
        (Some(id), Some(addr)) => format!("{id} ({addr})"),
        (Some(id), None) => id.to_string(),
        _ => "none known".to_string(),
    };
    let rows = [
        ("term", view.term.to_string()),
        ("leader", leader),
        ("last log index", opt(view.last_log_index)),
        ("committed", opt(view.committed)),
        ("applied", opt(view.last_applied)),
        ("apply lag", view.apply_lag.to_string()),
        ("snapshot index", opt(view.snapshot_index)),
        ("purged up to", opt(view.purged_index)),
        ("voters", ids(&view.voters)),
        ("learners", ids(&view.learners)),
        (
            "quorum ack age",
            view.millis_since_quorum_ack
                .map_or_else(|| "-".to_string(), |ms| format!("{ms} ms")),
        ),
        ("pid", view.pid.to_string()),
    ];
    for (k, v) in rows {
        let _ = writeln!(
            html,
            "<tr><th>{}</th><td>{}</td></tr>",
            escape(k),
            escape(&v)
        );
    }
    html.push_str("</table>\n");
    if !view.replication.is_empty() {
        html.push_str(
            "<h2>Followers</h2>\n<table>\n<tr><th>node</th><th>matched</th><th>lag</th></tr>\n",
        );
        for f in &view.replication {
            let _ = writeln!(
                html,
                "<tr><td>{}</td><td>{}</td><td>{}</td></tr>",
                f.node_id,
                escape(&opt(f.matched)),
                f.lag
            );
        }
        html.push_str("</table>\n");
    }
    html.push_str("<h2>State</h2>\n");
    match &view.counts {
        Some(c) => {
            let _ = write!(
                html,
                "<table>\n<tr><th>users</th><td>{}</td></tr>\n<tr><th>groups</th><td>{}</td></tr>\n\
                 <tr><th>files</th><td>{}</td></tr>\n<tr><th>peers</th><td>{}</td></tr>\n\
                 <tr><th>peers online</th><td>{}</td></tr>\n</table>\n\
                 <p class=\"note\">counted {} ms ago{}</p>\n",
                c.users,
                c.groups,
                c.files,
                c.peers,
                c.peers_online,
                c.age_ms,
                if c.complete { "" } else { " (lower bounds: the count stopped at its cap)" },
            );
        }
        None => html.push_str("<p class=\"bad\">the state could not be counted</p>\n"),
    }
    html.push_str(
        "<p class=\"note\">JSON: <a href=\"/v1/status\">/v1/status</a> · \
         <a href=\"/metrics\">/metrics</a> · <a href=\"/readyz\">/readyz</a></p>\n</body>\n</html>\n",
    );
    html
}

/// Everything before the body's content.
const HEAD: &str = "<!doctype html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
<meta http-equiv=\"refresh\" content=\"5\">\n<title>tracker status</title>\n<style>\n\
body{font:14px/1.4 system-ui,sans-serif;margin:2em;color:#222;max-width:42em}\n\
h1{font-size:1.4em;margin:0 0 .3em}h2{font-size:1.1em;margin:1.2em 0 .3em}\n\
.role{font-weight:normal;color:#555;border:1px solid #bbb;border-radius:4px;padding:0 .4em}\n\
table{border-collapse:collapse}th,td{text-align:left;padding:.15em 1em .15em 0;\
border-bottom:1px solid #eee}th{font-weight:600;color:#444}\n\
.ok{color:#1a7f37}.bad{color:#b42318}.note{color:#777;font-size:.9em}\n\
</style>\n</head>\n<body>\n";

/// `s` with the five HTML special characters escaped.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for ch in s.chars() {
        match ch {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn escapes_markup() {
        assert_eq!(
            escape("<a href=\"x\">&'"),
            "&lt;a href=&quot;x&quot;&gt;&amp;&#39;"
        );
    }
}
