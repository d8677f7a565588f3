//! Who is calling: every function checks its callers' access tokens itself
//! (stateless: the same under Knative and Lambda), through one extractor,
//! [`Caller`].
//!
//! A token is a JWT access token (RFC 9068) of the configured issuer for the
//! API's audience, signed with a pinned algorithm by a key of the provider's
//! key set, which comes with the function's configuration ([`AuthConfig`]):
//! a cold start asks the provider nothing. The answers follow RFC 6750: no
//! token, 401 with `WWW-Authenticate: Bearer`; a bad one, 401
//! `error="invalid_token"`; a missing role, 403 `error="insufficient_scope"`.

mod config;
mod keys;
mod verify;

pub use config::{AuthConfig, MAX_LEEWAY};
pub use keys::{FETCH_TIMEOUT, KeySet, REFETCH_INTERVAL};
pub use verify::{Authenticator, Claims, InvalidToken};

use axum::extract::{FromRef, FromRequestParts};
use axum::http::HeaderMap;
use axum::http::header::AUTHORIZATION;
use axum::http::request::Parts;

use crate::app::AppState;
use crate::error::ApiError;

/// The signed-in user a request is made by.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Caller {
    /// The token's `sub`: the owner of what the caller creates, and the
    /// actor of every change it makes.
    pub sub: String,
    /// Holds the admin role: reads and changes every user's tasks.
    pub admin: bool,
}

impl Caller {
    /// Whose tasks the caller sees: its own, or everyone's (`None`, an admin).
    pub fn visible_owner(&self) -> Option<&str> {
        (!self.admin).then_some(self.sub.as_str())
    }

    /// Whose tasks a list or count shows when it asks for `requested`'s
    /// (`None`: no one in particular): an admin's choice, or everyone's; a
    /// user's own, and only its own (403 for another's).
    pub fn owner_filter(&self, requested: Option<&str>) -> Result<Option<String>, ApiError> {
        match (self.admin, requested) {
            (true, requested) => Ok(requested.map(str::to_string)),
            (false, Some(owner)) if owner != self.sub => Err(ApiError::InsufficientScope(
                "only an admin lists another user's tasks",
            )),
            (false, _) => Ok(Some(self.sub.clone())),
        }
    }
}

impl<S> FromRequestParts<S> for Caller
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let app = AppState::from_ref(state);
        let auth = app.auth.as_ref().ok_or(ApiError::SignInNotConfigured)?;
        let token = bearer_token(&parts.headers)?;
        let claims = auth.verify(token).await.map_err(ApiError::InvalidToken)?;
        Ok(Self {
            admin: claims.roles.contains(&auth.config().admin_role),
            sub: claims.sub,
        })
    }
}

/// A caller holding the admin role (else 403 `insufficient_scope`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Admin(pub Caller);

impl<S> FromRequestParts<S> for Admin
where
    AppState: FromRef<S>,
    S: Send + Sync,
{
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        let caller = Caller::from_request_parts(parts, state).await?;
        if !caller.admin {
            return Err(ApiError::InsufficientScope("this needs the admin role"));
        }
        Ok(Self(caller))
    }
}

/// The token of `Authorization: Bearer <token>`. Any other scheme is no
/// token; tokens anywhere else (a query string, a cookie) are never read.
fn bearer_token(headers: &HeaderMap) -> Result<&str, ApiError> {
    let mut values = headers.get_all(AUTHORIZATION).iter();
    let Some(value) = values.next() else {
        return Err(ApiError::Unauthenticated);
    };
    if values.next().is_some() {
        return Err(ApiError::InvalidToken(InvalidToken(
            "more than one Authorization header".into(),
        )));
    }
    let value = value.to_str().map_err(|_| ApiError::Unauthenticated)?;
    let (scheme, token) = value.trim().split_once(' ').unwrap_or((value.trim(), ""));
    if !scheme.eq_ignore_ascii_case("bearer") {
        return Err(ApiError::Unauthenticated);
    }
    let token = token.trim();
    if token.is_empty() {
        return Err(ApiError::InvalidToken(InvalidToken(
            "the Bearer credentials are empty".into(),
        )));
    }
    Ok(token)
}

#[cfg(test)]
mod tests {
    use super::*;
    use axum::http::HeaderValue;

    fn headers(values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for value in values {
            headers.append(AUTHORIZATION, HeaderValue::from_str(value).unwrap());
        }
        headers
    }

    #[test]
    fn only_a_bearer_authorization_header_carries_a_token() {
        assert_eq!(
            bearer_token(&headers(&["Bearer abc.def.ghi"])).unwrap(),
            "abc.def.ghi"
        );
        assert_eq!(bearer_token(&headers(&["bearer  x "])).unwrap(), "x");
        for (values, invalid) in [
            (&[][..], false),
            (&["Basic dXNlcjpwdw=="][..], false),
            (&["Bearer"][..], true),
            (&["Bearer a", "Bearer b"][..], true),
        ] {
            match bearer_token(&headers(values)) {
                Err(ApiError::Unauthenticated) => assert!(!invalid, "{values:?}"),
                Err(ApiError::InvalidToken(_)) => assert!(invalid, "{values:?}"),
                other => panic!("{values:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn an_admin_sees_every_owner_and_a_user_only_itself() {
        let user = Caller {
            sub: "u1".into(),
            admin: false,
        };
        assert_eq!(user.visible_owner(), Some("u1"));
        let admin = Caller {
            sub: "a1".into(),
            admin: true,
        };
        assert_eq!(admin.visible_owner(), None);
        assert_eq!(user.owner_filter(None).unwrap().as_deref(), Some("u1"));
        assert_eq!(
            user.owner_filter(Some("u1")).unwrap().as_deref(),
            Some("u1")
        );
        assert!(matches!(
            user.owner_filter(Some("u2")),
            Err(ApiError::InsufficientScope(_))
        ));
        assert_eq!(admin.owner_filter(None).unwrap(), None);
        assert_eq!(
            admin.owner_filter(Some("u2")).unwrap().as_deref(),
            Some("u2")
        );
    }
}
