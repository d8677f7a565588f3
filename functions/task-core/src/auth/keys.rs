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

#[cfg(test)]
mod tests {
    use wiremock::matchers::{method, path};
    use wiremock::{Mock, MockServer, ResponseTemplate};

    use super::*;

    const KEY: &str = r#"{"kty":"EC","crv":"P-256","x":"bb-sXhmkMHU8gob6bjOgUWrRjU0Cjfgk9y5yphpEuoU","y":"tIMyT2sRTBFR-ZnGDFQRKi2mbdRa5-BtBA5lS0lcv40","alg":"ES256","use":"sig","kid":"#;

    fn jwks(kids: &[&str]) -> JwkSet {
        let keys: Vec<String> = kids.iter().map(|kid| format!("{KEY}\"{kid}\"}}")).collect();
        serde_json::from_str(&format!("{{\"keys\":[{}]}}", keys.join(","))).unwrap()
    }

    #[tokio::test]
    async fn known_keys_need_no_fetch_and_an_unknown_one_one_fetch_at_most() {
        let provider = MockServer::start().await;
        Mock::given(method("GET"))
            .and(path("/jwks"))
            .respond_with(
                ResponseTemplate::new(200)
                    .set_body_json(serde_json::to_value(jwks(&["old", "rotated"])).unwrap()),
            )
            .mount(&provider)
            .await;
        let keys = KeySet::new(&jwks(&["old"]), Some(format!("{}/jwks", provider.uri())));
        assert!(keys.find("old").await.is_some());
        assert_eq!(keys.fetches(), 0, "a cold start asks the provider nothing");
        // Many requests naming the new key at once: one fetch.
        let found = futures::future::join_all((0..10).map(|_| keys.find("rotated"))).await;
        assert!(found.iter().all(Option::is_some));
        assert_eq!(keys.fetches(), 1);
        // A key the provider does not have either: no second fetch within the interval.
        assert!(keys.find("forged").await.is_none());
        assert_eq!(keys.fetches(), 1);
        assert_eq!(provider.received_requests().await.unwrap().len(), 1);
    }

    #[tokio::test]
    async fn a_provider_that_is_down_leaves_the_known_keys_in_use() {
        let keys = KeySet::new(&jwks(&["k"]), Some("http://127.0.0.1:1/jwks".into()));
        assert!(keys.find("unknown").await.is_none());
        assert_eq!(keys.fetches(), 1);
        assert!(keys.find("k").await.is_some());
    }

    #[test]
    fn symmetric_and_encryption_keys_are_never_used_to_verify() {
        let set: JwkSet = serde_json::from_str(
            r#"{"keys":[{"kty":"oct","k":"c2VjcmV0","kid":"hmac"},
                         {"kty":"EC","crv":"P-256","x":"bb-sXhmkMHU8gob6bjOgUWrRjU0Cjfgk9y5yphpEuoU","y":"tIMyT2sRTBFR-ZnGDFQRKi2mbdRa5-BtBA5lS0lcv40","use":"enc","kid":"enc"}]}"#,
        )
        .unwrap();
        assert!(usable(&set).is_empty());
    }
}
