//! Reading whole lists page by page: each read asks for the page after the last one's cursor,
//! at [`MAX_PAGE_ITEMS`] a page, until a page says there is no next one. What the CLI, the
//! daemon and the tests use when they want a whole list; each page is its own linearizable read.

use std::future::Future;

use crate::client::TrackerClient;
use crate::error::ApiError;
use crate::ticket::SignedTicket;
use crate::tracker_msg::{
    FileManifest, FileSummary, FoundFile, GroupSummary, Page, PageRequest, PeerSummary,
    ReadRequest, ReplyMeta, Response, Source, MAX_PAGE_ITEMS,
};
use crate::types::{SessionToken, Sha1Digest};

/// Most pages one list is followed through (10 M items at full pages), so a server that keeps
/// answering with new cursors cannot keep a client reading forever.
pub const MAX_PAGES: usize = 10_000;

/// Follows one list's cursors: hands out each page's request and checks that the cursors move
/// on and end within [`MAX_PAGES`].
#[derive(Debug, Default)]
pub struct Pager {
    /// The last page's cursor.
    after: Option<String>,
    /// Pages read so far.
    pages: usize,
    /// The last page said there is no next one.
    done: bool,
}

impl Pager {
    /// A pager at the first page.
    pub fn new() -> Self {
        Pager::default()
    }

    /// The request for the next page (of [`MAX_PAGE_ITEMS`]), or `None` once the list ended.
    pub fn request(&self) -> Option<PageRequest> {
        (!self.done).then(|| PageRequest {
            after: self.after.clone(),
            limit: MAX_PAGE_ITEMS,
        })
    }

    /// Takes in the `next` of the page just read.
    ///
    /// # Errors
    /// [`ApiError::Internal`] if the server repeats a cursor or the list runs past [`MAX_PAGES`].
    pub fn advance(&mut self, next: Option<String>) -> Result<(), ApiError> {
        self.pages += 1;
        match next {
            None => self.done = true,
            Some(next) if self.after.as_deref() == Some(next.as_str()) => {
                return Err(ApiError::Internal(format!(
                    "the tracker answered the page after {next:?} with the same cursor"
                )));
            }
            Some(_) if self.pages >= MAX_PAGES => {
                return Err(ApiError::Internal(format!(
                    "the list did not end within {MAX_PAGES} pages"
                )));
            }
            Some(next) => self.after = Some(next),
        }
        Ok(())
    }
}

/// Every item of a list: calls `fetch` with each page's request until a page has no next one.
///
/// # Errors
/// The first error `fetch` returns, or those of [`Pager::advance`].
pub async fn collect<T, F, Fut>(mut fetch: F) -> Result<Vec<T>, ApiError>
where
    F: FnMut(PageRequest) -> Fut,
    Fut: Future<Output = Result<Page<T>, ApiError>>,
{
    let mut items = Vec::new();
    let mut pager = Pager::new();
    while let Some(request) = pager.request() {
        let page = fetch(request).await?;
        items.extend(page.items);
        pager.advance(page.next)?;
    }
    Ok(items)
}

/// [`collect`] over [`TrackerClient::read_traced`]: every item, and the [`ReplyMeta`] of the
/// first page's reply (the page whose read index every later page is at or past).
/// `request` builds a page's read; `page_of` takes the page out of its answer (`None`: not the
/// answer this list has).
pub async fn collect_traced<T>(
    client: &TrackerClient,
    request: impl Fn(PageRequest) -> ReadRequest,
    page_of: impl Fn(Response) -> Option<Page<T>>,
) -> (Result<Vec<T>, ApiError>, Option<ReplyMeta>) {
    let mut items = Vec::new();
    let mut pager = Pager::new();
    let mut first_meta = None;
    while let Some(page) = pager.request() {
        let (answer, meta) = client.read_traced(request(page)).await;
        if first_meta.is_none() {
            first_meta = meta;
        }
        let page = match answer {
            Ok(response) => match page_of(response) {
                Some(page) => page,
                None => {
                    let e = ApiError::Internal(
                        "the tracker answered a list read with another answer".into(),
                    );
                    return (Err(e), first_meta);
                }
            },
            Err(e) => return (Err(e), first_meta),
        };
        items.extend(page.items);
        if let Err(e) = pager.advance(page.next) {
            return (Err(e), first_meta);
        }
    }
    (Ok(items), first_meta)
}

/// The answer a list read must have, or an error naming what came instead.
fn unexpected(what: &str, other: &Response) -> ApiError {
    ApiError::Internal(format!("expected {what}, the tracker answered {other:?}"))
}

/// Every group, as `token`'s user sees them.
///
/// # Errors
/// As [`collect`], or the read's refusal.
pub async fn all_groups(
    client: &TrackerClient,
    token: SessionToken,
) -> Result<Vec<GroupSummary>, ApiError> {
    collect(|page| async move {
        match client.read(ReadRequest::ListGroups { token, page }).await? {
            Response::Groups(p) => Ok(p),
            other => Err(unexpected("a group list", &other)),
        }
    })
    .await
}

/// Every file of `group`.
///
/// # Errors
/// As [`collect`], or the read's refusal.
pub async fn all_files(
    client: &TrackerClient,
    token: SessionToken,
    group: &str,
) -> Result<Vec<FileSummary>, ApiError> {
    collect(|page| async move {
        let group = group.to_string();
        match client
            .read(ReadRequest::ListFiles { token, group, page })
            .await?
        {
            Response::Files(p) => Ok(p),
            other => Err(unexpected("a file list", &other)),
        }
    })
    .await
}

/// Every online peer of `group`'s members (members only).
///
/// # Errors
/// As [`collect`], or the read's refusal.
pub async fn all_group_peers(
    client: &TrackerClient,
    token: SessionToken,
    group: &str,
) -> Result<Vec<PeerSummary>, ApiError> {
    collect(|page| async move {
        let group = group.to_string();
        match client
            .read(ReadRequest::GroupPeers { token, group, page })
            .await?
        {
            Response::GroupPeers(p) => Ok(p),
            other => Err(unexpected("a list of peers", &other)),
        }
    })
    .await
}

/// Every file with whole-file SHA-1 `file_hash` in the groups the caller is a member of.
///
/// # Errors
/// As [`collect`], or the read's refusal.
pub async fn all_found_files(
    client: &TrackerClient,
    token: SessionToken,
    file_hash: Sha1Digest,
) -> Result<Vec<FoundFile>, ApiError> {
    collect(|page| async move {
        match client
            .read(ReadRequest::FindFiles {
                token,
                file_hash,
                page,
            })
            .await?
        {
            Response::FoundFiles(p) => Ok(p),
            other => Err(unexpected("a list of found files", &other)),
        }
    })
    .await
}

/// Every pending join request of `group`, oldest first (owner only).
///
/// # Errors
/// As [`collect`], or the read's refusal.
pub async fn all_requests(
    client: &TrackerClient,
    token: SessionToken,
    group: &str,
) -> Result<Vec<String>, ApiError> {
    collect(|page| async move {
        let group = group.to_string();
        match client
            .read(ReadRequest::ListRequests { token, group, page })
            .await?
        {
            Response::JoinRequests(p) => Ok(p),
            other => Err(unexpected("a list of join requests", &other)),
        }
    })
    .await
}

/// A file's manifest, every online source, and the ticket of the last page read.
#[derive(Debug, Clone)]
pub struct AllSources {
    /// The file.
    pub manifest: FileManifest,
    /// Every online peer holding a chunk, by peer id.
    pub sources: Vec<Source>,
    /// Ticket for fetching the file (from the last page: the newest).
    pub ticket: Option<SignedTicket>,
}

/// A file's manifest and all its online sources, with a ticket for the caller's peer `peer_id`
/// (none without one).
///
/// # Errors
/// The read's refusal, or those of [`Pager::advance`].
pub async fn all_sources(
    client: &TrackerClient,
    token: SessionToken,
    group: &str,
    name: &str,
    peer_id: Option<u64>,
) -> Result<AllSources, ApiError> {
    sources_pages(client, token, (group, name), peer_id, false).await
}

/// A file's manifest and every peer holding a chunk of it, online or not (no ticket).
///
/// # Errors
/// The read's refusal, or those of [`Pager::advance`].
pub async fn all_holders(
    client: &TrackerClient,
    token: SessionToken,
    group: &str,
    name: &str,
) -> Result<AllSources, ApiError> {
    sources_pages(client, token, (group, name), None, true).await
}

/// Every page of a file's sources.
async fn sources_pages(
    client: &TrackerClient,
    token: SessionToken,
    (group, name): (&str, &str),
    peer_id: Option<u64>,
    include_offline: bool,
) -> Result<AllSources, ApiError> {
    let mut pager = Pager::new();
    let mut all: Option<AllSources> = None;
    while let Some(page) = pager.request() {
        let request = ReadRequest::FileSources {
            token,
            group: group.to_string(),
            name: name.to_string(),
            peer_id,
            include_offline,
            page,
        };
        match client.read(request).await? {
            Response::Sources {
                manifest,
                sources,
                ticket,
                next,
            } => {
                match all.as_mut() {
                    Some(a) => {
                        a.sources.extend(sources);
                        a.ticket = ticket;
                    }
                    None => {
                        all = Some(AllSources {
                            manifest,
                            sources,
                            ticket,
                        })
                    }
                }
                pager.advance(next)?;
            }
            other => return Err(unexpected("a file's sources", &other)),
        }
    }
    all.ok_or_else(|| ApiError::Internal("no page of sources was read".into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_pager_follows_cursors_to_the_end() {
        let mut p = Pager::new();
        assert_eq!(p.request(), Some(PageRequest::first(MAX_PAGE_ITEMS)));
        p.advance(Some("b".into())).unwrap();
        assert_eq!(p.request().and_then(|r| r.after), Some("b".into()));
        p.advance(None).unwrap();
        assert_eq!(p.request(), None);
    }

    #[test]
    fn a_repeated_cursor_is_an_error_not_a_loop() {
        let mut p = Pager::new();
        p.advance(Some("b".into())).unwrap();
        assert!(matches!(
            p.advance(Some("b".into())),
            Err(ApiError::Internal(_))
        ));
    }

    #[test]
    fn a_list_that_never_ends_stops_at_max_pages() {
        let mut p = Pager::new();
        let mut result = Ok(());
        for i in 0..=MAX_PAGES {
            result = p.advance(Some(i.to_string()));
            if result.is_err() {
                break;
            }
        }
        assert!(result.is_err());
    }

    #[tokio::test]
    async fn collect_joins_the_pages() {
        let pages = std::sync::Mutex::new(vec![
            Page {
                items: vec![1, 2],
                next: Some("2".to_string()),
            },
            Page {
                items: vec![],
                next: Some("3".to_string()),
            },
            Page {
                items: vec![4],
                next: None,
            },
        ]);
        let seen = std::sync::Mutex::new(Vec::new());
        let items = collect(|req| {
            seen.lock().unwrap().push(req.after.clone());
            let page = pages.lock().unwrap().remove(0);
            async move { Ok(page) }
        })
        .await
        .unwrap();
        assert_eq!(items, vec![1, 2, 4]);
        assert_eq!(
            *seen.lock().unwrap(),
            vec![None, Some("2".to_string()), Some("3".to_string())]
        );
    }
}
