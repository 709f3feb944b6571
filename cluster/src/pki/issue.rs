//! The rcgen parameters of the PKI's three kinds of certificate: the CA, a node, the admin. ECDSA
//! P-256 keys (rcgen's default). Validity starts a year back (clock skew between hosts) and runs
//! [`CA_YEARS`] or [`LEAF_YEARS`] ahead.

use std::net::IpAddr;
use std::time::{SystemTime, UNIX_EPOCH};

use rcgen::{
    BasicConstraints, Certificate, CertificateParams, DistinguishedName, DnType,
    ExtendedKeyUsagePurpose, IsCa, KeyPair, KeyUsagePurpose, SanType,
};
use sha1::{Digest, Sha1};

use super::PkiError;
use proto::tls::{raft_name, ADMIN_NAME, TRACKER_NAME};

/// Years a CA certificate stays valid.
const CA_YEARS: i32 = 20;

/// Years a node or admin certificate stays valid.
const LEAF_YEARS: i32 = 10;

/// The current year by the system clock (to the nearest year; validity starts a year back).
fn this_year() -> i32 {
    let secs = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    // 31_556_952 s is the mean Gregorian year.
    1970 + i32::try_from(secs / 31_556_952).unwrap_or(0)
}

/// Parameters valid from a year ago for `years`.
fn params_for(years: i32, common_name: String) -> CertificateParams {
    let mut p = CertificateParams::default();
    let year = this_year();
    p.not_before = rcgen::date_time_ymd(year - 1, 1, 1);
    p.not_after = rcgen::date_time_ymd(year + years, 1, 1);
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CommonName, common_name);
    p.distinguished_name = dn;
    p
}

fn issue_err(what: &str) -> impl FnOnce(rcgen::Error) -> PkiError + '_ {
    move |source| PkiError::Issue {
        what: what.to_string(),
        source,
    }
}

/// The CA certificate for `key`. Its subject names a hash of the public key, so rebuilding it
/// from the same key gives the same issuer as the `ca.pem` written the first time, and two
/// clusters' CAs never share a subject.
///
/// # Errors
/// [`PkiError::Issue`].
pub fn ca(key: &KeyPair) -> Result<Certificate, PkiError> {
    let fingerprint = Sha1::digest(key.public_key_raw());
    let short: String = fingerprint
        .iter()
        .take(8)
        .map(|b| format!("{b:02x}"))
        .collect();
    let mut p = params_for(CA_YEARS, format!("tracker cluster CA {short}"));
    p.is_ca = IsCa::Ca(BasicConstraints::Constrained(0));
    p.key_usages = vec![
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
        KeyUsagePurpose::DigitalSignature,
    ];
    p.self_signed(key).map_err(issue_err("the CA certificate"))
}

/// The host part of `host:port` (brackets of an IPv6 address removed), or `addr` itself.
fn host_of(addr: &str) -> &str {
    let host = match addr.rsplit_once(':') {
        Some((h, port)) if port.parse::<u16>().is_ok() => h,
        _ => addr,
    };
    host.trim_start_matches('[').trim_end_matches(']')
}

/// Node `id`'s certificate: DNS names [`TRACKER_NAME`] and [`raft_name`]`(id)`, plus an IP or DNS
/// name for each host in `addrs` (informational: clients check the two names above).
///
/// # Errors
/// [`PkiError::Issue`], e.g. for a host that is neither an IP address nor a DNS name.
pub fn node(
    id: u64,
    addrs: &[&str],
    key: &KeyPair,
    ca: &Certificate,
    ca_key: &KeyPair,
) -> Result<Certificate, PkiError> {
    let what = format!("node {id}'s certificate");
    let mut p = params_for(LEAF_YEARS, format!("tracker node {id}"));
    let mut names = vec![TRACKER_NAME.to_string(), raft_name(id)];
    let mut sans = Vec::new();
    for name in &names {
        sans.push(SanType::DnsName(
            name.clone().try_into().map_err(issue_err(&what))?,
        ));
    }
    for addr in addrs {
        let host = host_of(addr).to_string();
        if host.is_empty() || names.contains(&host) {
            continue;
        }
        let san = match host.parse::<IpAddr>() {
            Ok(ip) => SanType::IpAddress(ip),
            Err(_) => SanType::DnsName(host.clone().try_into().map_err(issue_err(&what))?),
        };
        names.push(host);
        sans.push(san);
    }
    p.subject_alt_names = sans;
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.use_authority_key_identifier_extension = true;
    p.signed_by(key, ca, ca_key).map_err(issue_err(&what))
}

/// The admin credential: DNS name [`ADMIN_NAME`], client authentication only.
///
/// # Errors
/// [`PkiError::Issue`].
pub fn admin(key: &KeyPair, ca: &Certificate, ca_key: &KeyPair) -> Result<Certificate, PkiError> {
    let what = "the admin certificate";
    let mut p = params_for(LEAF_YEARS, "tracker admin".to_string());
    p.subject_alt_names = vec![SanType::DnsName(
        ADMIN_NAME.to_string().try_into().map_err(issue_err(what))?,
    )];
    p.key_usages = vec![KeyUsagePurpose::DigitalSignature];
    p.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    p.use_authority_key_identifier_extension = true;
    p.signed_by(key, ca, ca_key).map_err(issue_err(what))
}

#[cfg(test)]
mod tests {
    use super::host_of;

    #[test]
    fn host_of_strips_the_port_and_brackets() {
        assert_eq!(host_of("10.231.0.1:7000"), "10.231.0.1");
        assert_eq!(host_of("10.231.0.1"), "10.231.0.1");
        assert_eq!(host_of("[::1]:7000"), "::1");
        assert_eq!(host_of("tracker-a.example:7000"), "tracker-a.example");
    }
}
