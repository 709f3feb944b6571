//! Who may use the API: the home's access token (`HOME/http-token`, 32 random bytes as hex, mode
//! 0600, made exclusively on the first start and reused after), given as `Authorization: Bearer`
//! or the `peer_token` cookie and compared in constant time; and the DNS-rebinding and CSRF
//! guard: a request whose `Host` is not this server's gets 403, and so does a state-changing
//! request whose `Origin` is another site's.

use std::io::{Read, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::Path;
use std::sync::Arc;

use axum::extract::{Request, State};
use axum::http::{header, Method, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use rand::RngCore;
use subtle::ConstantTimeEq;

use super::error::HttpError;
use super::HttpState;
use crate::home::{Home, HomeError};

/// Name of the cookie `GET /?token=` sets.
pub const COOKIE_NAME: &str = "peer_token";

/// The access token of one home (64 hex digits).
#[derive(Clone)]
pub struct AccessToken(String);

impl std::fmt::Debug for AccessToken {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AccessToken(..)")
    }
}

impl AccessToken {
    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// Whether `given` is this token (constant time in the token's contents).
    pub fn matches(&self, given: &str) -> bool {
        self.0.as_bytes().ct_eq(given.as_bytes()).into()
    }
}

/// Path of the token file.
pub fn token_path(home: &Home) -> std::path::PathBuf {
    home.dir.join("http-token")
}

/// Reads `HOME/http-token`, creating it (exclusively, mode 0600) with a fresh random token if
/// it does not exist.
///
/// # Errors
/// If the file cannot be read or created, or does not hold 64 hex digits.
pub fn load_or_create_token(home: &Home) -> Result<AccessToken, HomeError> {
    let path = token_path(home);
    let io = |source| HomeError::Io {
        path: path.clone(),
        source,
    };
    let mut bytes = [0u8; 32];
    rand::thread_rng().fill_bytes(&mut bytes);
    let fresh = proto::tracker_msg::to_hex(&bytes);
    match std::fs::OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(0o600)
        .open(&path)
    {
        Ok(mut f) => {
            f.write_all(fresh.as_bytes()).map_err(io)?;
            f.sync_all().map_err(io)?;
            Ok(AccessToken(fresh))
        }
        Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => read_token(&path),
        Err(e) => Err(io(e)),
    }
}

/// Reads and checks an existing token file (at most 128 bytes are read).
///
/// # Errors
/// If it cannot be read or does not hold 64 hex digits.
pub fn read_token(path: &Path) -> Result<AccessToken, HomeError> {
    let mut text = String::new();
    std::fs::File::open(path)
        .and_then(|f| f.take(128).read_to_string(&mut text))
        .map_err(|source| HomeError::Io {
            path: path.to_path_buf(),
            source,
        })?;
    let token = text.trim();
    if token.len() != 64 || !token.bytes().all(|b| b.is_ascii_hexdigit()) {
        return Err(HomeError::Corrupt {
            path: path.to_path_buf(),
            reason: "not 64 hex digits; delete it and restart the daemon for a new one".into(),
        });
    }
    Ok(AccessToken(token.to_string()))
}

/// The token a request carries: `Authorization: Bearer T`, else the `peer_token` cookie.
pub fn token_of(req: &Request) -> Option<String> {
    let headers = req.headers();
    if let Some(v) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
    {
        if let Some(t) = v.strip_prefix("Bearer ") {
            return Some(t.trim().to_string());
        }
    }
    cookie_token(headers)
}

/// The `peer_token` cookie of `headers`, if any.
pub fn cookie_token(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == COOKIE_NAME)
        .map(|(_, v)| v.to_string())
}

/// Refuses an `/api/v1/*` request without the token (401 `unauthorized`).
pub async fn require_token(
    State(state): State<Arc<HttpState>>,
    req: Request,
    next: Next,
) -> Response {
    match token_of(&req) {
        Some(t) if state.token.matches(&t) => next.run(req).await,
        _ => HttpError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "missing or wrong access token: open the link `peer ui` prints, or send \
             `Authorization: Bearer $(cat HOME/http-token)`",
        )
        .into_response(),
    }
}

/// The hosts and origins this server answers to.
#[derive(Debug, Clone)]
pub struct Allowed {
    /// `Host` values accepted (`None`: any, for a server bound to an unspecified address).
    pub hosts: Option<Vec<String>>,
}

impl Allowed {
    /// The names a browser uses for a server bound to `addr`: for a loopback address,
    /// `127.0.0.1:PORT`, `localhost:PORT` and `[::1]:PORT`; else the address itself; any host
    /// for an unspecified address (`0.0.0.0`, `[::]`), which has no one name.
    pub fn for_addr(addr: std::net::SocketAddr) -> Self {
        let port = addr.port();
        if addr.ip().is_unspecified() {
            return Allowed { hosts: None };
        }
        let mut hosts = vec![addr.to_string()];
        if addr.ip().is_loopback() {
            for h in [
                format!("127.0.0.1:{port}"),
                format!("localhost:{port}"),
                format!("[::1]:{port}"),
            ] {
                if !hosts.contains(&h) {
                    hosts.push(h);
                }
            }
        }
        Allowed { hosts: Some(hosts) }
    }

    /// Whether `host` (a `Host` header) names this server.
    pub fn host_ok(&self, host: &str) -> bool {
        match &self.hosts {
            None => true,
            Some(list) => list.iter().any(|h| h.eq_ignore_ascii_case(host)),
        }
    }

    /// Whether `origin` (an `Origin` header) is this server's own, given the request's `host`.
    pub fn origin_ok(&self, origin: &str, host: &str) -> bool {
        origin
            .strip_prefix("http://")
            .is_some_and(|o| o.eq_ignore_ascii_case(host) && self.host_ok(o))
    }
}

/// Refuses (403 `forbidden`) a request whose `Host` is not this server's (a DNS-rebinding
/// page), and a POST, PUT, PATCH or DELETE whose `Origin` is not this server's (a cross-site
/// form or script).
pub async fn guard_host_origin(
    State(state): State<Arc<HttpState>>,
    req: Request,
    next: Next,
) -> Response {
    let headers = req.headers();
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    if !state.allowed.host_ok(&host) {
        tracing::debug!(%host, "refused: foreign Host");
        return HttpError::new(
            StatusCode::FORBIDDEN,
            "forbidden",
            format!("Host {host:?} is not this daemon's address: open the link `peer ui` prints"),
        )
        .into_response();
    }
    let changes_state = !matches!(*req.method(), Method::GET | Method::HEAD | Method::OPTIONS);
    if changes_state {
        if let Some(origin) = headers.get(header::ORIGIN) {
            let origin = origin.to_str().unwrap_or("null");
            if !state.allowed.origin_ok(origin, &host) {
                tracing::debug!(%origin, "refused: foreign Origin");
                return HttpError::new(
                    StatusCode::FORBIDDEN,
                    "forbidden",
                    format!("requests from {origin:?} may not change this daemon's state"),
                )
                .into_response();
            }
        }
    }
    next.run(req).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_token_is_made_once_private_and_reused() {
        let dir = tempfile::tempdir().unwrap();
        let home = Home::open(dir.path()).unwrap();
        let a = load_or_create_token(&home).unwrap();
        let b = load_or_create_token(&home).unwrap();
        assert_eq!(a.as_str(), b.as_str());
        assert_eq!(a.as_str().len(), 64);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(token_path(&home))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
        assert!(a.matches(b.as_str()));
        assert!(!a.matches(&b.as_str()[..63]));
        assert!(!a.matches(""));
        std::fs::write(token_path(&home), "short").unwrap();
        assert!(matches!(
            load_or_create_token(&home),
            Err(HomeError::Corrupt { .. })
        ));
    }

    #[test]
    fn hosts_and_origins_of_a_loopback_server() {
        let a = Allowed::for_addr("127.0.0.1:8080".parse().unwrap());
        for ok in [
            "127.0.0.1:8080",
            "localhost:8080",
            "LOCALHOST:8080",
            "[::1]:8080",
        ] {
            assert!(a.host_ok(ok), "{ok}");
        }
        for bad in ["evil.example:8080", "127.0.0.1:8081", "localhost", ""] {
            assert!(!a.host_ok(bad), "{bad}");
        }
        assert!(a.origin_ok("http://localhost:8080", "localhost:8080"));
        assert!(!a.origin_ok("http://evil.example", "localhost:8080"));
        assert!(!a.origin_ok("null", "localhost:8080"));
        assert!(!a.origin_ok("https://localhost:8080", "localhost:8080"));
        let any = Allowed::for_addr("0.0.0.0:80".parse().unwrap());
        assert!(any.host_ok("box.lan:80"));
    }

    #[test]
    fn cookie_parsing_finds_the_token_among_others() {
        let mut h = axum::http::HeaderMap::new();
        h.insert(header::COOKIE, "a=1; peer_token=abc; b=2".parse().unwrap());
        assert_eq!(cookie_token(&h).as_deref(), Some("abc"));
        h.insert(header::COOKIE, "peer_tokenx=1".parse().unwrap());
        assert_eq!(cookie_token(&h), None);
    }
}
