//! The cluster service: join tokens, admitting nodes, renewing and revoking their
//! certificates, and node labels. Every admin-visible change is audited here.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use super::ca::{CaError, ClusterCa};
use super::token::JoinToken;
use crate::audit::{self, Action, Actor, Source};
use crate::auth::{random_token, token_hash};
use crate::store::{NodeRecord, Store, StoreError, TokenRefusal};

/// How long a node certificate lives; agents renew at half of it.
pub const NODE_CERT_TTL: Duration = Duration::from_secs(24 * 3600);
/// Longest join token lifetime an admin may ask for.
pub const MAX_TOKEN_TTL: Duration = Duration::from_secs(7 * 24 * 3600);
/// Labels per node, and their sizes.
const MAX_LABELS: usize = 64;

#[derive(Debug, thiserror::Error)]
pub enum ClusterError {
    #[error(
        "the join token was made for another console (CA {token}, this console's CA is {ours})"
    )]
    WrongCluster { token: String, ours: String },
    #[error("the join token is not known to this console")]
    UnknownToken,
    #[error("the join token was already used")]
    UsedToken,
    #[error("the join token has expired")]
    ExpiredToken,
    #[error("no node {0}")]
    UnknownNode(String),
    #[error("node {0} is removed or its certificate is revoked")]
    Revoked(String),
    #[error("{0}")]
    InvalidInput(String),
    #[error(transparent)]
    Ca(#[from] CaError),
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// What a joining agent gets back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Joined {
    pub node_id: String,
    pub cert_pem: String,
    pub ca_pem: String,
    pub labels: BTreeMap<String, String>,
}

/// The cluster service. Blocking (SQLite): async callers use the blocking pool.
#[derive(Debug)]
pub struct Cluster {
    store: Arc<Store>,
    ca: Arc<ClusterCa>,
}

impl Cluster {
    pub fn new(store: Arc<Store>, ca: Arc<ClusterCa>) -> Cluster {
        Cluster { store, ca }
    }

    pub fn ca(&self) -> &ClusterCa {
        &self.ca
    }

    /// Makes a one-time join token carrying this console's CA hash.
    pub fn create_join_token(
        &self,
        ttl: Duration,
        labels: &BTreeMap<String, String>,
        actor: &Actor,
        source: &Source,
        now: i64,
    ) -> Result<JoinToken, ClusterError> {
        if ttl.is_zero() || ttl > MAX_TOKEN_TTL {
            return Err(ClusterError::InvalidInput(format!(
                "a join token lives between 1 s and {} h",
                MAX_TOKEN_TTL.as_secs() / 3600
            )));
        }
        check_labels(labels)?;
        let token = JoinToken {
            ca_hash: self.ca.fingerprint(),
            secret: random_token(),
        };
        let expires_at = now + ttl.as_secs() as i64;
        self.store
            .insert_join_token(&token_hash(&token.secret), labels, now, expires_at)?;
        audit::record(
            &self.store,
            actor,
            Action::JoinTokenCreated,
            source,
            &format!(
                "join token created, expires {}, labels {}",
                crate::clock::rfc3339(expires_at),
                describe_labels(labels)
            ),
        )?;
        Ok(token)
    }

    /// Admits a node: checks the token against this CA, redeems it once, and signs the
    /// agent's certificate request.
    pub fn join(
        &self,
        token: &JoinToken,
        csr_pem: &str,
        hostname: &str,
        source: &Source,
        now: i64,
    ) -> Result<Joined, ClusterError> {
        if token.ca_hash != self.ca.fingerprint() {
            return Err(ClusterError::WrongCluster {
                token: token.ca_hash.clone(),
                ours: self.ca.fingerprint(),
            });
        }
        let hostname = check_hostname(hostname)?;
        let node_id = format!("node-{}", &hex::encode(rand_bytes())[..12]);
        let issued =
            self.ca
                .sign_client_request(csr_pem, &node_id, NODE_CERT_TTL.as_secs() as i64, now)?;
        let record = NodeRecord {
            id: node_id.clone(),
            hostname: hostname.to_owned(),
            labels: BTreeMap::new(),
            facts: None,
            cert_serial: issued.serial.clone(),
            cert_not_after: issued.not_after,
            joined_at: now,
            last_seen_at: None,
        };
        let labels = match self
            .store
            .join_node(&token_hash(&token.secret), &record, now)?
        {
            Ok(labels) => labels,
            Err(refusal) => {
                let error = match refusal {
                    TokenRefusal::Unknown => ClusterError::UnknownToken,
                    TokenRefusal::Used => ClusterError::UsedToken,
                    TokenRefusal::Expired => ClusterError::ExpiredToken,
                };
                audit::record(
                    &self.store,
                    &Actor::Anonymous,
                    Action::NodeJoinRefused,
                    source,
                    &format!("{hostname}: {error}"),
                )?;
                return Err(error);
            }
        };
        audit::record(
            &self.store,
            &Actor::System,
            Action::NodeJoined,
            source,
            &format!(
                "node {node_id} ({hostname}) joined with labels {}",
                describe_labels(&labels)
            ),
        )?;
        Ok(Joined {
            node_id,
            cert_pem: issued.cert_pem,
            ca_pem: self.ca.cert_pem().to_owned(),
            labels,
        })
    }

    /// Whether a client certificate (node id + serial) may use the agent channel.
    pub fn authorize(&self, node_id: &str, serial: &str) -> Result<NodeRecord, ClusterError> {
        if self.store.is_revoked(serial)? {
            return Err(ClusterError::Revoked(node_id.to_owned()));
        }
        match self.store.node(node_id)? {
            Some(node) if node.cert_serial == serial => Ok(node),
            Some(_) | None => Err(ClusterError::Revoked(node_id.to_owned())),
        }
    }

    /// Signs a fresh certificate for an authorised node; the old one is revoked.
    pub fn renew(
        &self,
        node_id: &str,
        serial: &str,
        csr_pem: &str,
        now: i64,
    ) -> Result<String, ClusterError> {
        self.authorize(node_id, serial)?;
        let issued =
            self.ca
                .sign_client_request(csr_pem, node_id, NODE_CERT_TTL.as_secs() as i64, now)?;
        self.store
            .renew_node_cert(node_id, serial, &issued.serial, issued.not_after, now)?;
        Ok(issued.cert_pem)
    }

    pub fn nodes(&self) -> Result<Vec<NodeRecord>, ClusterError> {
        Ok(self.store.nodes()?)
    }

    pub fn set_labels(
        &self,
        node_id: &str,
        labels: &BTreeMap<String, String>,
        actor: &Actor,
        source: &Source,
    ) -> Result<(), ClusterError> {
        check_labels(labels)?;
        if !self.store.set_node_labels(node_id, labels)? {
            return Err(ClusterError::UnknownNode(node_id.to_owned()));
        }
        audit::record(
            &self.store,
            actor,
            Action::NodeLabelsChanged,
            source,
            &format!("node {node_id} labels set to {}", describe_labels(labels)),
        )?;
        Ok(())
    }

    /// Removes a node and revokes its certificate: its agent is refused from now on.
    pub fn remove(
        &self,
        node_id: &str,
        actor: &Actor,
        source: &Source,
        now: i64,
    ) -> Result<(), ClusterError> {
        if !self.store.remove_node(node_id, now)? {
            return Err(ClusterError::UnknownNode(node_id.to_owned()));
        }
        audit::record(
            &self.store,
            actor,
            Action::NodeRemoved,
            source,
            &format!("node {node_id} removed; its certificate is revoked"),
        )?;
        Ok(())
    }
}

fn rand_bytes() -> [u8; 16] {
    let mut bytes = [0u8; 16];
    rand::RngCore::fill_bytes(&mut rand::rngs::OsRng, &mut bytes);
    bytes
}

/// Label keys and values: short, printable, like Docker's.
pub fn check_labels(labels: &BTreeMap<String, String>) -> Result<(), ClusterError> {
    if labels.len() > MAX_LABELS {
        return Err(ClusterError::InvalidInput(format!(
            "at most {MAX_LABELS} labels"
        )));
    }
    for (key, value) in labels {
        let key_ok = !key.is_empty()
            && key.len() <= 63
            && key
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '/'));
        let value_ok = value.len() <= 63
            && value
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
        if !key_ok || !value_ok {
            return Err(ClusterError::InvalidInput(format!(
                "label {key:?}={value:?}: keys are 1-63 of letters, digits, '-', '_', '.', '/'; \
                 values up to 63 of letters, digits, '-', '_', '.'"
            )));
        }
    }
    Ok(())
}

fn check_hostname(hostname: &str) -> Result<&str, ClusterError> {
    let ok = !hostname.is_empty()
        && hostname.len() <= 253
        && hostname
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_'));
    if ok {
        Ok(hostname)
    } else {
        Err(ClusterError::InvalidInput(format!(
            "{hostname:?} is not a host name"
        )))
    }
}

fn describe_labels(labels: &BTreeMap<String, String>) -> String {
    if labels.is_empty() {
        return "(none)".into();
    }
    labels
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    const NOW: i64 = 1_800_000_000;

    fn cluster() -> (tempfile::TempDir, Arc<Store>, Cluster) {
        let dir = tempfile::tempdir().unwrap();
        let (ca, _) = ClusterCa::load_or_generate(&dir.path().join("ca"), NOW).unwrap();
        let store = Arc::new(Store::open_in_memory().unwrap());
        let cluster = Cluster::new(store.clone(), Arc::new(ca));
        (dir, store, cluster)
    }

    fn csr() -> String {
        let key = rcgen::KeyPair::generate().unwrap();
        rcgen::CertificateParams::default()
            .serialize_request(&key)
            .unwrap()
            .pem()
            .unwrap()
    }

    fn token(cluster: &Cluster, ttl: u64, labels: &[(&str, &str)]) -> JoinToken {
        let labels = labels
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect();
        cluster
            .create_join_token(
                Duration::from_secs(ttl),
                &labels,
                &Actor::System,
                &Source::Local,
                NOW,
            )
            .unwrap()
    }

    #[test]
    fn a_token_admits_one_node_once_with_its_labels() {
        let (_dir, store, cluster) = cluster();
        let token = token(&cluster, 3600, &[("role", "db")]);
        let joined = cluster
            .join(&token, &csr(), "host-a", &Source::Local, NOW + 1)
            .unwrap();
        assert_eq!(joined.labels.get("role").map(String::as_str), Some("db"));
        assert!(joined.ca_pem.contains("BEGIN CERTIFICATE"));
        let node = store.node(&joined.node_id).unwrap().unwrap();
        assert_eq!(node.hostname, "host-a");
        assert!(cluster
            .authorize(&joined.node_id, &node.cert_serial)
            .is_ok());

        assert!(matches!(
            cluster.join(&token, &csr(), "host-b", &Source::Local, NOW + 2),
            Err(ClusterError::UsedToken)
        ));
        assert_eq!(store.nodes().unwrap().len(), 1);
    }

    #[test]
    fn expired_unknown_and_foreign_tokens_are_refused() {
        let (_dir, store, cluster) = cluster();
        let short = token(&cluster, 60, &[]);
        assert!(matches!(
            cluster.join(&short, &csr(), "h", &Source::Local, NOW + 60),
            Err(ClusterError::ExpiredToken)
        ));
        let mut unknown = token(&cluster, 60, &[]);
        unknown.secret = random_token();
        assert!(matches!(
            cluster.join(&unknown, &csr(), "h", &Source::Local, NOW),
            Err(ClusterError::UnknownToken)
        ));
        let mut foreign = token(&cluster, 60, &[]);
        foreign.ca_hash = "0".repeat(64);
        assert!(matches!(
            cluster.join(&foreign, &csr(), "h", &Source::Local, NOW),
            Err(ClusterError::WrongCluster { .. })
        ));
        assert!(store.nodes().unwrap().is_empty());
        let refusals = store
            .audit_page(None, 50)
            .unwrap()
            .into_iter()
            .filter(|e| e.action == "node.join_refused")
            .count();
        assert_eq!(refusals, 2, "token refusals are audited");
    }

    #[test]
    fn renewal_replaces_the_certificate_and_removal_revokes_it() {
        let (_dir, store, cluster) = cluster();
        let joined = cluster
            .join(&token(&cluster, 60, &[]), &csr(), "h", &Source::Local, NOW)
            .unwrap();
        let first_serial = store.node(&joined.node_id).unwrap().unwrap().cert_serial;
        cluster
            .renew(&joined.node_id, &first_serial, &csr(), NOW + 10)
            .unwrap();
        let second_serial = store.node(&joined.node_id).unwrap().unwrap().cert_serial;
        assert_ne!(first_serial, second_serial);
        assert!(matches!(
            cluster.authorize(&joined.node_id, &first_serial),
            Err(ClusterError::Revoked(_))
        ));
        assert!(cluster.authorize(&joined.node_id, &second_serial).is_ok());

        cluster
            .remove(&joined.node_id, &Actor::System, &Source::Local, NOW + 20)
            .unwrap();
        assert!(matches!(
            cluster.authorize(&joined.node_id, &second_serial),
            Err(ClusterError::Revoked(_))
        ));
        assert!(matches!(
            cluster.remove(&joined.node_id, &Actor::System, &Source::Local, NOW + 21),
            Err(ClusterError::UnknownNode(_))
        ));
    }

    #[test]
    fn labels_and_ttls_are_validated() {
        let (_dir, _store, cluster) = cluster();
        let bad = BTreeMap::from([("has space".to_owned(), "x".to_owned())]);
        assert!(cluster
            .create_join_token(
                Duration::from_secs(60),
                &bad,
                &Actor::System,
                &Source::Local,
                NOW
            )
            .is_err());
        assert!(cluster
            .create_join_token(
                Duration::ZERO,
                &BTreeMap::new(),
                &Actor::System,
                &Source::Local,
                NOW
            )
            .is_err());
        assert!(cluster
            .create_join_token(
                MAX_TOKEN_TTL * 2,
                &BTreeMap::new(),
                &Actor::System,
                &Source::Local,
                NOW
            )
            .is_err());
        let joined = cluster
            .join(&token(&cluster, 60, &[]), &csr(), "h", &Source::Local, NOW)
            .unwrap();
        let labels = BTreeMap::from([("zone".to_owned(), "eu-1".to_owned())]);
        cluster
            .set_labels(&joined.node_id, &labels, &Actor::System, &Source::Local)
            .unwrap();
        assert_eq!(cluster.nodes().unwrap()[0].labels, labels);
        assert!(cluster
            .set_labels(&joined.node_id, &bad, &Actor::System, &Source::Local)
            .is_err());
    }
}
