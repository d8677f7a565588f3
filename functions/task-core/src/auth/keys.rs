//! The provider's signing keys: seeded from configuration at start, fetched
//! again only when a token names a key not seen yet (a rotation), at most
//! once per [`REFETCH_INTERVAL`], by one request at a time, within
//! [`FETCH_TIMEOUT`]. The provider being down leaves the known keys in use.

use std::collections::HashMap;
use std::sync::{Arc, RwLock};
use std::time::{Duration, Instant};

use jsonwebtoken::DecodingKey;
use jsonwebtoken::jwk::{Jwk, JwkSet, PublicKeyUse};

/// The shortest time between two fetches of the key set.
pub const REFETCH_INTERVAL: Duration = Duration::from_secs(30);
/// How long a fetch of the key set may take.
pub const FETCH_TIMEOUT: Duration = Duration::from_secs(2);

/// The keys by `kid`, and how to fetch them again.
#[derive(Clone)]
pub struct KeySet {
    keys: Arc<RwLock<HashMap<String, DecodingKey>>>,
    refetch: Option<Arc<Refetch>>,
}

struct Refetch {
    url: String,
    client: reqwest::Client,
    /// Held while fetching (single flight); when the last fetch started.
    last: tokio::sync::Mutex<Option<Instant>>,
    fetches: std::sync::atomic::AtomicU64,
}

impl std::fmt::Debug for KeySet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let kids: Vec<String> = self.read().keys().cloned().collect();
        f.debug_struct("KeySet").field("kids", &kids).finish()
    }
}

impl KeySet {
    /// The keys of `jwks` (signature keys with a `kid`); `url` is where to
    /// fetch them again, if anywhere.
    pub fn new(jwks: &JwkSet, url: Option<String>) -> Self {
        Self {
            keys: Arc::new(RwLock::new(usable(jwks))),
            refetch: url.map(|url| {
                Arc::new(Refetch {
                    url,
                    client: reqwest::Client::builder()
                        .timeout(FETCH_TIMEOUT)
                        .build()
                        .expect("an HTTP client"),
                    last: tokio::sync::Mutex::new(None),
                    fetches: Default::default(),
                })
            }),
        }
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, HashMap<String, DecodingKey>> {
        self.keys
            .read()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// The key `kid`, fetching the key set again if it is unknown (and a
    /// fetch is allowed now).
    pub async fn find(&self, kid: &str) -> Option<DecodingKey> {
        if let Some(key) = self.read().get(kid) {
            return Some(key.clone());
        }
        let refetch = self.refetch.as_ref()?;
        let mut last = refetch.last.lock().await;
        // Another request may have fetched it while this one waited.
        if let Some(key) = self.read().get(kid) {
            return Some(key.clone());
        }
        if last.is_some_and(|at| at.elapsed() < REFETCH_INTERVAL) {
            return None;
        }
        *last = Some(Instant::now());
        refetch
            .fetches
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        match fetch(refetch).await {
            Ok(jwks) => {
                let keys = usable(&jwks);
                tracing::info!(url = %refetch.url, keys = keys.len(), "fetched the provider's key set");
                *self.keys.write().unwrap_or_else(|p| p.into_inner()) = keys;
            }
            Err(error) => {
                tracing::warn!(url = %refetch.url, %error, "cannot fetch the provider's key set; the known keys stay in use");
            }
        }
        self.read().get(kid).cloned()
    }

    /// How many times the key set was fetched since start.
    pub fn fetches(&self) -> u64 {
        self.refetch.as_ref().map_or(0, |refetch| {
            refetch.fetches.load(std::sync::atomic::Ordering::Relaxed)
        })
    }
}

async fn fetch(refetch: &Refetch) -> Result<JwkSet, String> {
    let response = refetch
        .client
        .get(&refetch.url)
        .send()
        .await
        .map_err(|err| err.to_string())?;
    if !response.status().is_success() {
        return Err(format!("answered {}", response.status()));
    }
    response.json().await.map_err(|err| err.to_string())
}

/// The keys a token may be signed with: a `kid`, not marked for encryption,
/// and a public key (a symmetric key in a published set is refused).
fn usable(jwks: &JwkSet) -> HashMap<String, DecodingKey> {
    jwks.keys
        .iter()
        .filter(|jwk| !matches!(jwk.common.public_key_use, Some(PublicKeyUse::Encryption)))
        .filter_map(|jwk: &Jwk| {
            let kid = jwk.common.key_id.clone()?;
            if matches!(
                jwk.algorithm,
                jsonwebtoken::jwk::AlgorithmParameters::OctetKey(_)
            ) {
                return None;
            }
            Some((kid, DecodingKey::from_jwk(jwk).ok()?))
        })
        .collect()
}
