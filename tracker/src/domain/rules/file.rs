//! Files and their availability: registering a file with the registering peer as a full seeder,
//! reporting held chunks, withdrawing a peer's availability, and unpublishing a file (its
//! uploader or the group's owner removes it with everything that names it).

use proto::tracker_msg::{FileManifest, Response};
use proto::ApiError;

use crate::cmd::TokenBytes;
use crate::domain::avail;
use crate::domain::error::Fail;
use crate::domain::kv::{KvWrite, Table};
use crate::domain::lookup::{file, member_group, own_peer, session_user};
use crate::domain::quota::{self, Counted};
use crate::domain::records::{
    avail_key, bitfield_full, bitfield_len, bitfield_set, file_key, FileRec,
};
use crate::domain::records::{avail_prefix, GroupRec};
use crate::domain::validate::{check_file_name, check_manifest};

/// Registers `manifest` in group `group` (once; the same manifest again is no error) and records
/// the caller's peer as holding every chunk.
///
/// # Errors
/// [`ApiError::NotLoggedIn`], [`ApiError::GroupNotFound`], [`ApiError::NotMember`],
/// [`ApiError::PeerNotFound`], [`ApiError::InvalidRequest`] for a bad manifest,
/// [`ApiError::FileConflict`] if the name is taken by another manifest,
/// [`ApiError::QuotaExceeded`] for a new file in a group at its quota.
pub fn register(
    kv: &mut impl KvWrite,
    now_ms: u64,
    token: &TokenBytes,
    peer_id: u64,
    group: &str,
    manifest: &FileManifest,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    member_group(kv, group, &user)?;
    own_peer(kv, peer_id, &user)?;
    check_manifest(manifest)?;
    let key = file_key(group, &manifest.name);
    match kv.get::<FileRec>(Table::Files, &key)? {
        Some(existing) if existing.manifest != *manifest => {
            return Err(ApiError::FileConflict {
                group: group.to_string(),
                name: manifest.name.clone(),
            }
            .into());
        }
        Some(_) => {}
        None => {
            quota::charge(kv, Counted::FilesInGroup, group)?;
            let rec = FileRec {
                manifest: manifest.clone(),
                uploader: user,
                registered_at_ms: now_ms,
            };
            kv.put(Table::Files, key, &rec)?;
        }
    }
    let bits = bitfield_full(manifest.chunk_hashes.len());
    avail::insert(kv, group, &manifest.name, peer_id, bits);
    Ok(Response::Done)
}

/// Adds `chunks` to what the caller's peer holds of file `name`.
///
/// # Errors
/// [`ApiError::NotLoggedIn`], [`ApiError::GroupNotFound`], [`ApiError::NotMember`],
/// [`ApiError::PeerNotFound`], [`ApiError::FileNotFound`], [`ApiError::InvalidRequest`] for a bad
/// file name or a chunk out of range.
pub fn report_have(
    kv: &mut impl KvWrite,
    now_ms: u64,
    token: &TokenBytes,
    peer_id: u64,
    group: &str,
    name: &str,
    chunks: &[u32],
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    member_group(kv, group, &user)?;
    own_peer(kv, peer_id, &user)?;
    check_file_name(name)?;
    let f = file(kv, group, name)?;
    let count = f.manifest.chunk_hashes.len();
    if let Some(bad) = chunks.iter().find(|&&c| c as usize >= count) {
        return Err(ApiError::InvalidRequest(format!(
            "chunk {bad} is out of range: {name:?} has {count} chunks"
        ))
        .into());
    }
    let stored = kv.get_raw(Table::Avail, &avail_key(group, name, peer_id))?;
    let known = stored.is_some();
    let mut bits = stored.unwrap_or_else(|| vec![0u8; bitfield_len(count)]);
    bits.resize(bitfield_len(count), 0);
    for &c in chunks {
        bitfield_set(&mut bits, c as usize);
    }
    if known {
        avail::update(kv, group, name, peer_id, bits);
    } else {
        avail::insert(kv, group, name, peer_id, bits);
    }
    Ok(Response::Done)
}

/// Withdraws the caller's peer as a source of file `name`.
///
/// # Errors
/// [`ApiError::NotLoggedIn`], [`ApiError::PeerNotFound`], [`ApiError::InvalidRequest`] for a bad
/// file name.
pub fn stop_share(
    kv: &mut impl KvWrite,
    now_ms: u64,
    token: &TokenBytes,
    peer_id: u64,
    group: &str,
    name: &str,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    own_peer(kv, peer_id, &user)?;
    check_file_name(name)?;
    avail::remove(kv, group, name, peer_id);
    Ok(Response::Done)
}

/// Whether `user` may unpublish file `f` of group `group` (record `g`): its uploader or the
/// group's owner may.
///
/// # Errors
/// [`ApiError::Forbidden`] naming who may.
pub fn check_unpublish(g: &GroupRec, f: &FileRec, group: &str, user: &str) -> Result<(), ApiError> {
    if f.uploader == user || g.owner == user {
        return Ok(());
    }
    Err(ApiError::Forbidden(format!(
        "only the file's uploader ({}) or the group's owner ({}) can unpublish {} from group {}",
        f.uploader,
        g.owner,
        proto::limits::quote(&f.manifest.name),
        proto::limits::quote(group)
    )))
}

/// Removes file `name` from `group` (the caller must be a member and its uploader or the
/// group's owner): its record, every peer's availability of it (with the peers' index entries)
/// and its count against the group's file quota.
///
/// # Errors
/// [`ApiError::NotLoggedIn`], [`ApiError::GroupNotFound`], [`ApiError::NotMember`],
/// [`ApiError::InvalidRequest`] for a bad file name, [`ApiError::FileNotFound`],
/// [`ApiError::Forbidden`] (see [`check_unpublish`]).
pub fn unpublish(
    kv: &mut impl KvWrite,
    now_ms: u64,
    token: &TokenBytes,
    group: &str,
    name: &str,
) -> Result<Response, Fail> {
    let user = session_user(kv, token, now_ms)?;
    let g = member_group(kv, group, &user)?;
    check_file_name(name)?;
    let f = file(kv, group, name)?;
    check_unpublish(&g, &f, group, &user)?;
    for (k, _) in kv.scan_raw(Table::Avail, &avail_prefix(group, name))? {
        avail::remove_key(kv, k);
    }
    kv.delete(Table::Files, file_key(group, name));
    quota::release(kv, Counted::FilesInGroup, group)?;
    Ok(Response::Done)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::fixtures::{file_in, group_of, manifest, peer_of, signed_in};
    use crate::domain::kv::KvRead;
    use crate::domain::mem_kv::MemKv;

    /// Ann (token 1) owns group `g` and peer 1; Bob (token 2) is no member and owns peer 2.
    fn setup() -> (MemKv, TokenBytes, TokenBytes) {
        let mut kv = MemKv::new();
        let ann = signed_in(&mut kv, "ann", 1);
        let bob = signed_in(&mut kv, "bob", 2);
        group_of(&mut kv, "g", "ann", &[]);
        peer_of(&mut kv, 1, "ann");
        peer_of(&mut kv, 2, "bob");
        (kv, ann, bob)
    }

    fn bits(kv: &MemKv, peer: u64) -> Option<Vec<u8>> {
        kv.get_raw(Table::Avail, &avail_key("g", "f", peer))
            .unwrap()
    }

    fn refused(r: Result<Response, Fail>) -> ApiError {
        match r {
            Err(Fail::Api(e)) => e,
            other => panic!("expected a refusal, got {other:?}"),
        }
    }

    #[test]
    fn a_member_registers_a_file_once_and_seeds_all_of_it() {
        let (mut kv, ann, _) = setup();
        let m = manifest("f", 10);
        register(&mut kv, 5, &ann, 1, "g", &m).unwrap();
        assert_eq!(bits(&kv, 1), Some(vec![0xff, 0x03]));
        let rec: FileRec = kv.get(Table::Files, &file_key("g", "f")).unwrap().unwrap();
        assert_eq!((rec.uploader.as_str(), rec.registered_at_ms), ("ann", 5));
        // The same manifest again: no error, the record is kept as it was.
        register(&mut kv, 6, &ann, 1, "g", &m).unwrap();
        let again: FileRec = kv.get(Table::Files, &file_key("g", "f")).unwrap().unwrap();
        assert_eq!(again.registered_at_ms, 5);
        let other = manifest("f", 11);
        assert_eq!(
            refused(register(&mut kv, 7, &ann, 1, "g", &other)),
            ApiError::FileConflict {
                group: "g".into(),
                name: "f".into()
            }
        );
    }

    #[test]
    fn registering_is_refused_to_non_members_foreign_peers_and_bad_manifests() {
        let (mut kv, ann, bob) = setup();
        let m = manifest("f", 3);
        assert_eq!(
            refused(register(&mut kv, 0, &bob, 2, "g", &m)),
            ApiError::NotMember("g".into())
        );
        assert_eq!(
            refused(register(&mut kv, 0, &ann, 2, "g", &m)),
            ApiError::PeerNotFound(2)
        );
        assert_eq!(
            refused(register(&mut kv, 0, &ann, 1, "h", &m)),
            ApiError::GroupNotFound("h".into())
        );
        let mut bad = manifest("f", 3);
        bad.chunk_hashes.pop();
        assert!(matches!(
            refused(register(&mut kv, 0, &ann, 1, "g", &bad)),
            ApiError::InvalidRequest(_)
        ));
        assert_eq!(
            refused(register(&mut kv, 0, &[9; 32], 1, "g", &m)),
            ApiError::NotLoggedIn
        );
        assert_eq!(kv.len(Table::Files) + kv.len(Table::Avail), 0);
    }

    #[test]
    fn reported_chunks_add_to_what_a_peer_holds() {
        let (mut kv, ann, _) = setup();
        file_in(&mut kv, "g", manifest("f", 10), "ann");
        report_have(&mut kv, 0, &ann, 1, "g", "f", &[0, 9]).unwrap();
        assert_eq!(bits(&kv, 1), Some(vec![0x01, 0x02]));
        report_have(&mut kv, 0, &ann, 1, "g", "f", &[1]).unwrap();
        assert_eq!(bits(&kv, 1), Some(vec![0x03, 0x02]));
    }

    #[test]
    fn a_report_is_refused_for_chunks_out_of_range_unknown_files_and_foreign_peers() {
        let (mut kv, ann, bob) = setup();
        file_in(&mut kv, "g", manifest("f", 10), "ann");
        assert!(matches!(
            refused(report_have(&mut kv, 0, &ann, 1, "g", "f", &[3, 10])),
            ApiError::InvalidRequest(why) if why.contains("out of range")
        ));
        assert!(matches!(
            refused(report_have(&mut kv, 0, &ann, 1, "g", "nope", &[0])),
            ApiError::FileNotFound { .. }
        ));
        assert!(matches!(
            refused(report_have(&mut kv, 0, &ann, 1, "g", "a/b", &[0])),
            ApiError::InvalidRequest(_)
        ));
        assert_eq!(
            refused(report_have(&mut kv, 0, &ann, 2, "g", "f", &[0])),
            ApiError::PeerNotFound(2)
        );
        assert_eq!(
            refused(report_have(&mut kv, 0, &bob, 2, "g", "f", &[0])),
            ApiError::NotMember("g".into())
        );
        assert_eq!(bits(&kv, 1), None);
    }

    #[test]
    fn the_uploader_or_the_owner_unpublishes_a_file_with_its_availability_and_count() {
        let (mut kv, ann, bob) = setup();
        // Bob joins; he uploads "f", Ann (the owner) uploads "f2".
        group_of(&mut kv, "g", "ann", &["bob"]);
        register(&mut kv, 0, &bob, 2, "g", &manifest("f", 3)).unwrap();
        register(&mut kv, 0, &ann, 1, "g", &manifest("f2", 3)).unwrap();
        report_have(&mut kv, 0, &ann, 1, "g", "f", &[0]).unwrap();
        assert_eq!(kv.len(Table::Avail), 3);
        assert_eq!(quota::count(&kv, Counted::FilesInGroup, "g").unwrap(), 2);
        // Carol is a member but neither uploader nor owner; Dave is no member.
        let carol = signed_in(&mut kv, "carol", 3);
        let dave = signed_in(&mut kv, "dave", 4);
        group_of(&mut kv, "g", "ann", &["bob", "carol"]);
        assert!(matches!(
            refused(unpublish(&mut kv, 0, &carol, "g", "f")),
            ApiError::Forbidden(why) if why.contains("uploader (bob)") && why.contains("owner (ann)")
        ));
        assert_eq!(
            refused(unpublish(&mut kv, 0, &dave, "g", "f")),
            ApiError::NotMember("g".into())
        );
        assert!(matches!(
            refused(unpublish(&mut kv, 0, &bob, "g", "nope")),
            ApiError::FileNotFound { .. }
        ));
        // The uploader may unpublish his own file; Bob may not unpublish Ann's.
        assert!(matches!(
            refused(unpublish(&mut kv, 0, &bob, "g", "f2")),
            ApiError::Forbidden(_)
        ));
        assert_eq!(
            unpublish(&mut kv, 0, &bob, "g", "f").unwrap(),
            Response::Done
        );
        assert!(kv
            .get_raw(Table::Files, &file_key("g", "f"))
            .unwrap()
            .is_none());
        assert_eq!(bits(&kv, 1), None);
        assert_eq!(bits(&kv, 2), None);
        assert_eq!(kv.len(Table::Avail), 1, "f2's entry stays");
        assert_eq!(kv.len(Table::PeerAvail), 1);
        assert_eq!(quota::count(&kv, Counted::FilesInGroup, "g").unwrap(), 1);
        // The owner may unpublish anyone's file; afterwards nothing names either file.
        assert_eq!(
            unpublish(&mut kv, 0, &ann, "g", "f2").unwrap(),
            Response::Done
        );
        assert_eq!(
            kv.len(Table::Files) + kv.len(Table::Avail) + kv.len(Table::PeerAvail),
            0
        );
        assert_eq!(kv.len(Table::Counts), 0);
        // A chunk report for an unpublished file is refused, so no availability comes back.
        assert!(matches!(
            refused(report_have(&mut kv, 0, &bob, 2, "g", "f", &[0])),
            ApiError::FileNotFound { .. }
        ));
    }

    #[test]
    fn a_peer_stops_sharing_its_own_availability_only() {
        let (mut kv, ann, bob) = setup();
        file_in(&mut kv, "g", manifest("f", 3), "ann");
        kv.put_raw(Table::Avail, avail_key("g", "f", 1), vec![7]);
        assert_eq!(
            refused(stop_share(&mut kv, 0, &bob, 1, "g", "f")),
            ApiError::PeerNotFound(1)
        );
        assert!(matches!(
            refused(stop_share(&mut kv, 0, &ann, 1, "g", "..")),
            ApiError::InvalidRequest(_)
        ));
        assert_eq!(bits(&kv, 1), Some(vec![7]));
        stop_share(&mut kv, 0, &ann, 1, "g", "f").unwrap();
        assert_eq!(bits(&kv, 1), None);
    }
}
