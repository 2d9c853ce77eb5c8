//! Releases from the vendor's api host. [`Upstream::fetch_releases`] fetches the channel
//! index of the licensed app and channel, verifies it against the pinned vendor key
//! (signature, app and channel, expiry, and never older than the newest version seen),
//! then fetches each listed release not loaded yet, checks its digest against the index,
//! and loads it through [`Releases::load`] — the same verification as an uploaded file.
//!
//! Every request goes through the [`Recorder`], which writes the outbound log before
//! anything is sent. The api host learns the license id (as the bearer credential) and
//! the reporting headers of [`Upstream::headers`]; nothing else.

mod mask;
pub mod proxy;
mod recorder;

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use outpost_airgap::channel::{check_not_older, ChannelIndex};
use outpost_airgap::document::{open, Document};
use outpost_airgap::license::License;
use outpost_airgap::release::Release;
use outpost_airgap::vendor::file_digest;
use outpost_airgap::{PublicKey, VerifyError};
use reqwest::{Method, Url};
use time::OffsetDateTime;

pub use mask::MASK;
pub use proxy::{NoProxy, ProxyConfig, ProxySource};
pub use recorder::{
    Answer, Outbound, Recorder, RecorderConfig, SendError, SetupError, CONNECT_TIMEOUT,
    READ_TIMEOUT,
};

use crate::audit::{self, Action, Actor, Source};
use crate::license::{LicenseError, Licenses, Synced};
use crate::releases::{ReleaseError, Releases};
use crate::store::{Store, StoreError, StoredIndex};

/// How many days the outbound log keeps an entry unless configured otherwise.
pub const DEFAULT_OUTBOUND_LOG_DAYS: u32 = 30;
/// The whole exchange for a channel index (at most 1 MiB) must end within this.
pub const INDEX_TIMEOUT: Duration = Duration::from_secs(60);
/// The whole exchange for a release file (at most 16 MiB) must end within this.
pub const RELEASE_TIMEOUT: Duration = Duration::from_secs(300);

/// The reporting headers, named as the reference api host (`outpost-airgap serve`) reads
/// and logs them.
pub const HEADER_INSTANCE: &str = "X-Outpost-Instance";
pub const HEADER_CONSOLE_VERSION: &str = "X-Outpost-Console-Version";
pub const HEADER_APP_SEQUENCE: &str = "X-Outpost-App-Sequence";
pub const HEADER_NODE_COUNT: &str = "X-Outpost-Node-Count";

/// The console setting that holds this install's instance id.
const INSTANCE_ID_SETTING: &str = "instance_id";
/// The console setting that turns airgap mode on (`on`) or off (absent).
pub const AIRGAP_SETTING: &str = "airgap_mode";

/// Why the console is in airgap mode, if it is: the admin's setting, or a license that
/// allows airgap installs and names no api host. Read at every send.
pub fn airgap_mode(store: &Store) -> Result<Option<String>, StoreError> {
    if store.setting(AIRGAP_SETTING)?.as_deref() == Some("on") {
        return Ok(Some("set by the admin".into()));
    }
    // The stored license was verified when it was loaded; only its claims matter here.
    let license = store.current_license()?.and_then(|record| {
        let envelope = outpost_airgap::Envelope::parse(
            record.envelope.as_bytes(),
            License::KIND,
            License::MAX_ENVELOPE_BYTES,
        )
        .ok()?;
        outpost_airgap::document::parse_payload::<License>(&envelope.payload_unverified().ok()?)
            .ok()
    });
    Ok(license
        .filter(|l| l.airgap && l.api_host.is_none())
        .map(|_| "the license is for airgap installs only".into()))
}
/// How much of an api host's error message is kept.
const MAX_REMOTE_MESSAGE: usize = 300;

/// Why releases could not be fetched. Refusals change nothing.
#[derive(Debug, thiserror::Error)]
pub enum UpstreamError {
    #[error("load the vendor's license first: it names the api host and the channel")]
    NoLicense,
    #[error(
        "the license names no api host, so this install takes releases as files or bundles \
         (outpostctl release load)"
    )]
    NoApiHost,
    #[error("the license's api host {0:?} is not an https:// URL; the console sends its license id over HTTPS only")]
    ApiHostNotHttps(String),
    #[error("the api host is unreachable: {0}")]
    Unreachable(SendError),
    #[error("{0}; if the api host's certificate comes from a private CA, give that CA with --api-host-ca")]
    Tls(SendError),
    #[error("the api host does not know this license (401 at {url}): {message}")]
    LicenseUnknown { url: String, message: String },
    #[error("the api host refused {url} with status {status}: {message}")]
    Refused {
        url: String,
        status: u16,
        message: String,
    },
    #[error("the api host sent too much: {0}")]
    TooLarge(SendError),
    #[error("the channel index from {url} is refused: {reason}")]
    IndexInvalid { url: String, reason: String },
    #[error("the channel index from {url} is refused: it is signed by key {found}, not by the pinned vendor key {pinned}")]
    IndexOtherKey {
        url: String,
        found: String,
        pinned: String,
    },
    #[error(
        "the channel index from {url} expired at {at}; the api host serves stale metadata, refused"
    )]
    IndexExpired { url: String, at: String },
    #[error("the channel index from {url} has version {found}, older than version {seen} already seen (rollback refused)")]
    Rollback { url: String, found: u64, seen: u64 },
    #[error("digest mismatch: the index lists sequence {sequence} as {expected}, but {url} sent {found}")]
    DigestMismatch {
        url: String,
        sequence: u64,
        expected: String,
        found: String,
    },
    #[error("{0}")]
    Log(SendError),
    #[error("the console failed inside: {0}")]
    Task(String),
    #[error("airgap mode is on ({0}): the console sends nothing to the api host")]
    Airgap(String),
    #[error(transparent)]
    License(#[from] LicenseError),
    #[error(transparent)]
    Release(#[from] ReleaseError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

impl UpstreamError {
    /// Whether the console itself failed (as opposed to the api host, the documents it
    /// served, or a missing license).
    pub fn is_internal(&self) -> bool {
        match self {
            UpstreamError::Log(_) | UpstreamError::Task(_) | UpstreamError::Store(_) => true,
            UpstreamError::License(e) => {
                matches!(e, LicenseError::Store(_) | LicenseError::StoredInvalid(_))
            }
            UpstreamError::Release(e) => !e.is_refusal(),
            _ => false,
        }
    }

    fn from_send(error: SendError) -> UpstreamError {
        match error {
            SendError::Log(_) => UpstreamError::Log(error),
            SendError::Airgap(why) => UpstreamError::Airgap(why),
            SendError::Tls { .. } => UpstreamError::Tls(error),
            SendError::TooLarge { .. } => UpstreamError::TooLarge(error),
            SendError::NotHttps { .. } => UpstreamError::ApiHostNotHttps(error.to_string()),
            SendError::Connect { .. } | SendError::Timeout { .. } | SendError::Transfer { .. } => {
                UpstreamError::Unreachable(error)
            }
        }
    }
}

/// What one fetch did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FetchSummary {
    /// The channel index that was accepted.
    pub index: ChannelIndex,
    /// The version of the channel index that was accepted.
    pub index_version: u64,
    /// Sequences loaded by this fetch.
    pub fetched: Vec<u64>,
    /// Sequences listed by the index and already loaded.
    pub present: Vec<u64>,
    /// Sequences listed by the index but not loaded, each with why.
    pub refused: Vec<Refusal>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Refusal {
    pub sequence: u64,
    pub reason: String,
}

/// The api host client. Fetches run one at a time.
#[derive(Debug)]
pub struct Upstream {
    store: Arc<Store>,
    licenses: Arc<Licenses>,
    releases: Arc<Releases>,
    recorder: Recorder,
    instance_id: String,
    fetching: tokio::sync::Mutex<()>,
}

impl Upstream {
    /// Takes this install's instance id (made and stored the first time) and applies the
    /// outbound log's retention once.
    pub fn new(
        store: Arc<Store>,
        licenses: Arc<Licenses>,
        releases: Arc<Releases>,
        recorder: Recorder,
        now: i64,
    ) -> Result<Upstream, StoreError> {
        let fresh = hex::encode(rand::random::<[u8; 16]>());
        let instance_id = store.setting_or_insert(INSTANCE_ID_SETTING, &fresh, now)?;
        let pruned = recorder.prune(now)?;
        if pruned > 0 {
            tracing::info!(pruned, "deleted outbound log entries past retention");
        }
        Ok(Upstream {
            store,
            licenses,
            releases,
            recorder,
            instance_id,
            fetching: tokio::sync::Mutex::new(()),
        })
    }

    /// This install's random, persistent id, as sent in `X-Outpost-Instance`.
    pub fn instance_id(&self) -> &str {
        &self.instance_id
    }

    /// Every header an api host request carries: `Accept`, the license id as the bearer
    /// credential, and the reporting headers (instance id, console version, the installed
    /// release's sequence or empty, the number of nodes).
    pub fn headers(
        &self,
        license_id: &str,
        installed_sequence: Option<u64>,
        node_count: usize,
    ) -> Vec<(&'static str, String)> {
        vec![
            ("Accept", "application/json".to_owned()),
            ("Authorization", format!("Bearer {license_id}")),
            (HEADER_INSTANCE, self.instance_id.clone()),
            (HEADER_CONSOLE_VERSION, crate::VERSION.to_owned()),
            (
                HEADER_APP_SEQUENCE,
                installed_sequence
                    .map(|s| s.to_string())
                    .unwrap_or_default(),
            ),
            (HEADER_NODE_COUNT, node_count.to_string()),
        ]
    }

    /// The recorder, for settings that change how requests go out.
    pub fn recorder(&self) -> &Recorder {
        &self.recorder
    }

    /// Fetches the licensed channel's index and every listed release not loaded yet.
    /// `installed_sequence` is the release running now, reported to the api host.
    /// Audited, whatever the outcome.
    pub async fn fetch_releases(
        &self,
        installed_sequence: Option<u64>,
        actor: &Actor,
        source: &Source,
        now: i64,
    ) -> Result<FetchSummary, UpstreamError> {
        let result = self
            .fetch_unaudited(installed_sequence, actor, source, now)
            .await;
        let (action, detail) = match &result {
            Ok(summary) => (Action::ReleasesFetched, describe(summary)),
            Err(error) if error.is_internal() => return result,
            Err(error) => (Action::ReleasesFetchFailed, error.to_string()),
        };
        let store = self.store.clone();
        let (actor, source) = (actor.clone(), source.clone());
        blocking(move || Ok(audit::record(&store, &actor, action, &source, &detail)?)).await?;
        result
    }

    /// As [`Upstream::fetch_releases`], without the audit entry (an update check audits
    /// what it found itself). Each release loaded is audited as always.
    pub async fn fetch_unaudited(
        &self,
        installed_sequence: Option<u64>,
        actor: &Actor,
        source: &Source,
        now: i64,
    ) -> Result<FetchSummary, UpstreamError> {
        let _one_at_a_time = self.fetching.lock().await;
        self.try_fetch(installed_sequence, actor, source, now).await
    }

    /// Whether `error` says a document was signed by a key other than the pinned one (the
    /// vendor may have rotated its key).
    pub fn is_other_key(error: &UpstreamError) -> bool {
        matches!(
            error,
            UpstreamError::IndexOtherKey { .. }
                | UpstreamError::License(LicenseError::WrongKey { .. })
        )
    }

    /// Asks the api host for a rotation from the pinned key (`GET /v1/keys/<keyid>/rotation`)
    /// and takes it over when it verifies (`Licenses::rotate_key`). `None`: the api host
    /// publishes none.
    pub async fn follow_rotation(
        &self,
        installed_sequence: Option<u64>,
        now: i64,
    ) -> Result<Option<(String, String)>, UpstreamError> {
        let _one_at_a_time = self.fetching.lock().await;
        let (licenses, store) = (self.licenses.clone(), self.store.clone());
        let (license, pinned, node_count) = blocking(move || {
            let license = licenses.current()?.ok_or(UpstreamError::NoLicense)?.license;
            let pinned = store.vendor_key()?.ok_or(UpstreamError::NoLicense)?.keyid;
            Ok((license, pinned, store.nodes()?.len()))
        })
        .await?;
        let base = api_host_base(&license)?;
        let url = join(&base, &format!("v1/keys/{pinned}/rotation"))?;
        let shown_url = mask::url(&url);
        let answer = self
            .recorder
            .send(Outbound {
                method: Method::GET,
                url,
                purpose: "key rotation".into(),
                headers: self.headers(&license.license_id, installed_sequence, node_count),
                body: None,
                timeout: INDEX_TIMEOUT,
                max_response_bytes: outpost_airgap::rotation::KeyRotation::MAX_ENVELOPE_BYTES,
            })
            .await
            .map_err(UpstreamError::from_send)?;
        if answer.status == 404 {
            return Ok(None);
        }
        let body = accepted(answer, &shown_url)?;
        let text = String::from_utf8(body).map_err(|_| {
            UpstreamError::License(LicenseError::RotationInvalid(VerifyError::Malformed(
                "the key rotation is not UTF-8 text".into(),
            )))
        })?;
        let licenses = self.licenses.clone();
        blocking(move || {
            Ok(Some(licenses.rotate_key(
                &text,
                &Actor::System,
                &Source::Local,
                now,
            )?))
        })
        .await
    }

    /// Syncs the license from the api host (`GET /v1/license`): a renewal, changed terms
    /// or a revocation take effect; an older or foreign license is refused.
    pub async fn sync_license(
        &self,
        installed_sequence: Option<u64>,
        now: i64,
    ) -> Result<Synced, UpstreamError> {
        let _one_at_a_time = self.fetching.lock().await;
        let (licenses, store) = (self.licenses.clone(), self.store.clone());
        let (license, node_count) = blocking(move || {
            let license = licenses.current()?.ok_or(UpstreamError::NoLicense)?.license;
            Ok((license, store.nodes()?.len()))
        })
        .await?;
        let base = api_host_base(&license)?;
        let url = join(&base, "v1/license")?;
        let shown_url = mask::url(&url);
        let answer = self
            .recorder
            .send(Outbound {
                method: Method::GET,
                url,
                purpose: "license sync".into(),
                headers: self.headers(&license.license_id, installed_sequence, node_count),
                body: None,
                timeout: INDEX_TIMEOUT,
                max_response_bytes: License::MAX_ENVELOPE_BYTES,
            })
            .await
            .map_err(UpstreamError::from_send)?;
        let body = accepted(answer, &shown_url)?;
        let text = String::from_utf8(body).map_err(|_| {
            UpstreamError::License(LicenseError::Invalid(VerifyError::Malformed(
                "the license file is not UTF-8 text".into(),
            )))
        })?;
        let licenses = self.licenses.clone();
        blocking(move || Ok(licenses.sync(&text, now)?)).await
    }

    async fn try_fetch(
        &self,
        installed_sequence: Option<u64>,
        actor: &Actor,
        source: &Source,
        now: i64,
    ) -> Result<FetchSummary, UpstreamError> {
        let (store, licenses) = (self.store.clone(), self.licenses.clone());
        let (license, key, node_count) = blocking(move || {
            let license = licenses.current()?.ok_or(UpstreamError::NoLicense)?.license;
            let pinned = store.vendor_key()?.ok_or(UpstreamError::NoLicense)?;
            let key = PublicKey::from_base64(&pinned.public_key, "the pinned vendor key")
                .map_err(|e| LicenseError::StoredInvalid(VerifyError::Malformed(e.to_string())))?;
            Ok((license, key, store.nodes()?.len()))
        })
        .await?;
        let base = api_host_base(&license)?;
        let headers = self.headers(&license.license_id, installed_sequence, node_count);
        let now_time = OffsetDateTime::from_unix_timestamp(now)
            .map_err(|e| UpstreamError::Task(format!("the clock reads an impossible time: {e}")))?;

        let index_url = join(&base, &format!("v1/channels/{}/index", license.channel))?;
        let shown_index_url = mask::url(&index_url);
        let answer = self
            .recorder
            .send(Outbound {
                method: Method::GET,
                url: index_url,
                purpose: format!("channel index ({})", license.channel),
                headers: headers.clone(),
                body: None,
                timeout: INDEX_TIMEOUT,
                max_response_bytes: ChannelIndex::MAX_ENVELOPE_BYTES,
            })
            .await
            .map_err(UpstreamError::from_send)?;
        let body = accepted(answer, &shown_index_url)?;
        let index = verify_index(&body, &key, &license, now_time, &shown_index_url)?;

        // Rollback protection: never an index older than the newest one accepted. Fetches
        // run one at a time, so nothing moves between the read and the write.
        let (store, app, channel) = (
            self.store.clone(),
            license.app_id.clone(),
            license.channel.clone(),
        );
        let seen = blocking(move || Ok(store.channel_index_seen(&app, &channel)?)).await?;
        check_not_older(&index, seen).map_err(|_| UpstreamError::Rollback {
            url: shown_index_url.clone(),
            found: index.version,
            seen: seen.unwrap_or_default(),
        })?;
        let stored = StoredIndex {
            version: index.version,
            expires_at: index.expires_at.unix_timestamp(),
            payload: serde_json::to_string(&index)
                .map_err(|e| UpstreamError::Task(e.to_string()))?,
            accepted_at: now,
        };
        let (store, app, channel) = (
            self.store.clone(),
            license.app_id.clone(),
            license.channel.clone(),
        );
        blocking(move || Ok(store.record_channel_index(&app, &channel, &stored, now)?)).await?;

        let releases = self.releases.clone();
        let loaded: BTreeMap<u64, String> = blocking(move || {
            Ok(releases
                .list()?
                .into_iter()
                .map(|r| (r.release.sequence, r.digest))
                .collect())
        })
        .await?;

        let mut summary = FetchSummary {
            index: index.clone(),
            index_version: index.version,
            fetched: Vec::new(),
            present: Vec::new(),
            refused: Vec::new(),
        };
        for entry in &index.releases {
            match loaded.get(&entry.sequence) {
                Some(digest) if *digest == entry.digest => summary.present.push(entry.sequence),
                Some(digest) => summary.refused.push(Refusal {
                    sequence: entry.sequence,
                    reason: format!(
                        "a different release is loaded under sequence {} ({digest}); the index lists {}",
                        entry.sequence, entry.digest
                    ),
                }),
                None => {
                    let fetched = self
                        .fetch_release(&base, &license.app_id, entry, &headers, (actor, source), now)
                        .await;
                    match fetched {
                        Ok(()) => summary.fetched.push(entry.sequence),
                        Err(error) if error.is_internal() => return Err(error),
                        Err(error) => summary.refused.push(Refusal {
                            sequence: entry.sequence,
                            reason: error.to_string(),
                        }),
                    }
                }
            }
        }
        Ok(summary)
    }

    /// Fetches one listed release, checks its digest against the index and loads it.
    async fn fetch_release(
        &self,
        base: &Url,
        app_id: &str,
        entry: &outpost_airgap::channel::IndexEntry,
        headers: &[(&'static str, String)],
        (actor, source): (&Actor, &Source),
        now: i64,
    ) -> Result<(), UpstreamError> {
        let url = join(base, &format!("v1/releases/{app_id}/{}", entry.sequence))?;
        let shown_url = mask::url(&url);
        let answer = self
            .recorder
            .send(Outbound {
                method: Method::GET,
                url,
                purpose: format!("release {}", entry.sequence),
                headers: headers.to_vec(),
                body: None,
                timeout: RELEASE_TIMEOUT,
                max_response_bytes: Release::MAX_ENVELOPE_BYTES,
            })
            .await
            .map_err(UpstreamError::from_send)?;
        let body = accepted(answer, &shown_url)?;
        let found = file_digest(&body);
        if found != entry.digest {
            return Err(UpstreamError::DigestMismatch {
                url: shown_url,
                sequence: entry.sequence,
                expected: entry.digest.clone(),
                found,
            });
        }
        let text = String::from_utf8(body).map_err(|_| {
            ReleaseError::Invalid(VerifyError::Malformed(
                "the release file is not UTF-8 text".into(),
            ))
        })?;
        let (releases, actor, source) = (self.releases.clone(), actor.clone(), source.clone());
        blocking(move || {
            releases.load(&text, &shown_url, &actor, &source, now)?;
            Ok(())
        })
        .await
    }
}

/// The api host's base URL (ending in `/`), HTTPS only.
fn api_host_base(license: &License) -> Result<Url, UpstreamError> {
    let given = license
        .api_host
        .as_deref()
        .ok_or(UpstreamError::NoApiHost)?;
    let mut url =
        Url::parse(given).map_err(|_| UpstreamError::ApiHostNotHttps(given.to_owned()))?;
    if url.scheme() != "https" || url.host_str().is_none() {
        return Err(UpstreamError::ApiHostNotHttps(given.to_owned()));
    }
    url.set_query(None);
    url.set_fragment(None);
    if !url.path().ends_with('/') {
        let path = format!("{}/", url.path());
        url.set_path(&path);
    }
    Ok(url)
}

fn join(base: &Url, path: &str) -> Result<Url, UpstreamError> {
    base.join(path)
        .map_err(|e| UpstreamError::Task(format!("cannot make the URL of {path}: {e}")))
}

/// The body of a 2xx answer; any other status is the api host's refusal.
fn accepted(answer: Answer, url: &str) -> Result<Vec<u8>, UpstreamError> {
    match answer.status {
        200..=299 => Ok(answer.body),
        401 => Err(UpstreamError::LicenseUnknown {
            url: url.to_owned(),
            message: remote_message(answer.status, &answer.body),
        }),
        status => Err(UpstreamError::Refused {
            url: url.to_owned(),
            status,
            message: remote_message(status, &answer.body),
        }),
    }
}

/// The message of an api host's JSON error (`{"error": {"message"}}`), else the start of
/// its body; printable characters only, bounded.
fn remote_message(status: u16, body: &[u8]) -> String {
    let text = serde_json::from_slice::<serde_json::Value>(body)
        .ok()
        .and_then(|v| v["error"]["message"].as_str().map(str::to_owned))
        .unwrap_or_else(|| String::from_utf8_lossy(body).into_owned());
    let clean: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .take(MAX_REMOTE_MESSAGE)
        .collect();
    let clean = clean.trim().to_owned();
    if clean.is_empty() {
        reqwest::StatusCode::from_u16(status)
            .ok()
            .and_then(|s| s.canonical_reason())
            .unwrap_or("no message")
            .to_owned()
    } else {
        clean
    }
}

/// Opens the index against the pinned key and checks it is for the licensed app and
/// channel and not expired.
fn verify_index(
    body: &[u8],
    key: &PublicKey,
    license: &License,
    now: OffsetDateTime,
    url: &str,
) -> Result<ChannelIndex, UpstreamError> {
    let invalid = |reason: String| UpstreamError::IndexInvalid {
        url: url.to_owned(),
        reason,
    };
    let index = open::<ChannelIndex>(body, key, now).map_err(|e| match e {
        VerifyError::Expired { at, .. } => UpstreamError::IndexExpired {
            url: url.to_owned(),
            at,
        },
        VerifyError::UnknownKey { found, .. } => UpstreamError::IndexOtherKey {
            url: url.to_owned(),
            found: found.join(", "),
            pinned: key.keyid(),
        },
        other => invalid(other.to_string()),
    })?;
    if index.app_id != license.app_id || index.channel != license.channel {
        return Err(invalid(format!(
            "it is the index of app {} channel {}, but the license is for app {} channel {}",
            index.app_id, index.channel, license.app_id, license.channel
        )));
    }
    Ok(index)
}

fn describe(summary: &FetchSummary) -> String {
    let list = |sequences: &[u64]| {
        if sequences.is_empty() {
            "none".to_owned()
        } else {
            sequences
                .iter()
                .map(u64::to_string)
                .collect::<Vec<_>>()
                .join(", ")
        }
    };
    let refused: Vec<u64> = summary.refused.iter().map(|r| r.sequence).collect();
    format!(
        "channel index version {}: fetched {}; already loaded {}; refused {}",
        summary.index_version,
        list(&summary.fetched),
        list(&summary.present),
        list(&refused)
    )
}

/// Runs store and verification work on the blocking pool.
async fn blocking<T, F>(work: F) -> Result<T, UpstreamError>
where
    F: FnOnce() -> Result<T, UpstreamError> + Send + 'static,
    T: Send + 'static,
{
    crate::blocking::run(work).await
}

impl From<crate::blocking::TaskFailed> for UpstreamError {
    fn from(failed: crate::blocking::TaskFailed) -> UpstreamError {
        UpstreamError::Task(failed.0)
    }
}

#[cfg(test)]
pub(crate) mod tests;
