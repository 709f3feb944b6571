//! Cluster-wide state: the ticket signing key (first one wins) and the pruning of idle
//! at-most-once client records, which the leader proposes on its own, and the quotas an admin
//! sets.

use proto::tracker_msg::Response;

use crate::cmd::QuotaUpdate;
use crate::domain::error::Fail;
use crate::domain::kv::{decode_record, KvWrite, Table};
use crate::domain::quota;
use crate::domain::records::{ClientRec, CLUSTER_SIGNING_KEY};

/// Stores `secret` as the ticket signing key unless the cluster has one.
///
/// # Errors
/// Storage errors only.
pub fn set_key(kv: &mut impl KvWrite, secret: &[u8; 32]) -> Result<Response, Fail> {
    // First key wins: a second leader racing to create one changes nothing.
    if kv.get_raw(Table::Cluster, CLUSTER_SIGNING_KEY)?.is_none() {
        kv.put_raw(
            Table::Cluster,
            CLUSTER_SIGNING_KEY.to_vec(),
            secret.to_vec(),
        );
    }
    Ok(Response::Done)
}

/// Changes the quotas named in `changes` and answers the limits now in force. Lowering one below
/// a current count deletes nothing; the rules refuse new items until the count is below it.
///
/// # Errors
/// Storage errors only.
pub fn set_quotas(kv: &mut impl KvWrite, changes: &QuotaUpdate) -> Result<Response, Fail> {
    Ok(Response::Quotas(quota::set_limits(kv, changes)?))
}

/// Forgets the at-most-once records of clients whose last write was applied before `before_ms`.
///
/// # Errors
/// Storage errors, or a client record that does not decode.
pub fn prune_clients(kv: &mut impl KvWrite, before_ms: u64) -> Result<Response, Fail> {
    for (k, v) in kv.scan_raw(Table::Clients, b"")? {
        let rec: ClientRec = decode_record(Table::Clients, &v)?;
        if rec.applied_at_ms < before_ms {
            kv.delete(Table::Clients, k);
        }
    }
    Ok(Response::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::kv::KvRead;
    use crate::domain::mem_kv::MemKv;
    use crate::domain::records::client_key;

    fn client(serial: u64, at: u64) -> ClientRec {
        ClientRec {
            serial,
            reply: Ok(Response::Done),
            applied_at_ms: at,
        }
    }

    #[test]
    fn the_first_signing_key_wins() {
        let mut kv = MemKv::new();
        set_key(&mut kv, &[1; 32]).unwrap();
        set_key(&mut kv, &[2; 32]).unwrap();
        assert_eq!(
            kv.get_raw(Table::Cluster, CLUSTER_SIGNING_KEY).unwrap(),
            Some(vec![1; 32])
        );
    }

    #[test]
    fn prune_drops_only_idle_client_records() {
        let mut kv = MemKv::new();
        kv.put(Table::Clients, client_key(1, 1, &[1; 32]), &client(5, 100))
            .unwrap();
        kv.put(Table::Clients, client_key(2, 1, &[2; 32]), &client(7, 900))
            .unwrap();
        prune_clients(&mut kv, 500).unwrap();
        assert!(kv
            .get_raw(Table::Clients, &client_key(1, 1, &[1; 32]))
            .unwrap()
            .is_none());
        assert!(kv
            .get_raw(Table::Clients, &client_key(2, 1, &[2; 32]))
            .unwrap()
            .is_some());
    }

    #[test]
    fn a_client_record_that_does_not_decode_is_a_storage_failure() {
        let mut kv = MemKv::new();
        kv.put_raw(Table::Clients, client_key(1, 1, &[1; 32]), vec![0xff; 3]);
        assert!(matches!(
            prune_clients(&mut kv, 500),
            Err(Fail::Store(crate::domain::kv::StoreError::Corrupt { .. }))
        ));
    }
}
