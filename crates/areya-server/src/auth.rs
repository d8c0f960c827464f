//! Who is asking: staff log in with a password (argon2id hashes) and get a session cookie
//! (`HttpOnly; SameSite=Strict`, only the token's SHA-256 is stored); edge devices send a bearer
//! token that may only ingest. Role and ward checks live here so every route asks the same way.
//!
//! CSRF: the session cookie is `SameSite=Strict`, every state-changing route takes a JSON body
//! (a cross-site form cannot send `application/json` without a CORS preflight, which this
//! server never grants), and a request whose `Origin` is not this host is refused.

use crate::app::App;
use crate::error::{ApiError, AppError};
use areya_monitor::directory::{Device, Role, Staff};
use areya_store::Store;
use argon2::password_hash::rand_core::{OsRng, RngCore};
use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use axum::extract::{ConnectInfo, FromRequestParts};
use axum::http::request::Parts;
use axum::http::{header, Method};
use sha2::{Digest, Sha256};
use std::net::{IpAddr, SocketAddr};
use std::sync::Arc;

pub const COOKIE: &str = "areya_session";

/// An argon2id PHC string for `password`.
pub fn hash_password(password: &str) -> Result<String, AppError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AppError::refused(format!("password: {e}")))
}

/// Whether `password` matches the stored hash (a malformed hash never matches).
pub fn verify_password(hash: &str, password: &str) -> bool {
    PasswordHash::new(hash)
        .map(|h| {
            Argon2::default()
                .verify_password(password.as_bytes(), &h)
                .is_ok()
        })
        .unwrap_or(false)
}

/// Whether checking a password against `hash` runs argon2 (a malformed or empty hash does
/// not, and would answer faster than a real one).
pub fn runs_argon2(hash: &str) -> bool {
    PasswordHash::new(hash).is_ok()
}

/// A fresh random token: 32 bytes from the OS, as hex.
pub fn new_token() -> String {
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    hex(&b)
}

/// Hex SHA-256 of a token: what the store keeps instead of the token.
pub fn token_hash(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The session token from the `Cookie` header.
pub fn session_token(parts: &Parts) -> Option<String> {
    session_token_in(&parts.headers)
}

/// The session token from these request headers' `Cookie`.
pub fn session_token_in(headers: &axum::http::HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .find_map(|c| {
            let (k, v) = c.trim().split_once('=')?;
            (k == COOKIE && !v.is_empty()).then(|| v.to_string())
        })
}

/// Refuses a state-changing request sent from another site's page.
fn check_origin(parts: &Parts) -> Result<(), ApiError> {
    if matches!(parts.method, Method::GET | Method::HEAD) {
        return Ok(());
    }
    let Some(origin) = parts.headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = parts
        .headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok());
    let origin_host = origin
        .to_str()
        .ok()
        .and_then(|o| o.split_once("://"))
        .map(|(_, h)| h);
    if host.is_some() && origin_host == host {
        Ok(())
    } else {
        Err(ApiError::Forbidden("cross-site request refused".into()))
    }
}

/// A logged-in member of staff, or an integration engine by its bearer token (read-only, its
/// wards only; then `staff` stands for it with the role `integration`).
#[derive(Debug, Clone)]
pub struct User {
    pub staff: Staff,
    pub token_hash: String,
}

impl User {
    pub fn id(&self) -> &str {
        &self.staff.id
    }

    /// An integration's token rather than a person's session.
    pub fn is_integration(&self) -> bool {
        self.staff.role == Role::Integration
    }

    /// Whether this access still holds: the session is live (or the integration still has
    /// this token) and the person or integration is still in the directory.
    pub async fn still_valid(&self, app: &App) -> bool {
        if self.is_integration() {
            return app
                .credentials()
                .integration_by_token(&self.token_hash)
                .is_some_and(|id| id == self.staff.id)
                && app
                    .directory()
                    .integrations
                    .iter()
                    .any(|i| i.id == self.staff.id);
        }
        matches!(
            app.store.session(&self.token_hash, app.now()).await,
            Ok(Some(_))
        ) && app.directory().staff(self.id()).is_some()
    }

    /// Only these roles: otherwise 403 naming what is needed.
    pub fn require(&self, roles: &[Role], what: &str) -> Result<(), ApiError> {
        if roles.contains(&self.staff.role) {
            Ok(())
        } else {
            let names: Vec<_> = roles.iter().map(|r| r.as_str()).collect();
            Err(ApiError::Forbidden(format!(
                "{what} needs the role {}; you are {}",
                names.join(" or "),
                self.staff.role.as_str()
            )))
        }
    }

    pub fn require_admin(&self, what: &str) -> Result<(), ApiError> {
        self.require(&[Role::Admin], what)
    }

    /// Clinical staff act on alerts; admins configure.
    pub fn require_clinical(&self, what: &str) -> Result<(), ApiError> {
        self.require(&[Role::Nurse, Role::ChargeNurse, Role::Doctor], what)
    }

    pub fn sees_ward(&self, ward: &str) -> bool {
        self.staff.role.sees_all_wards() || self.staff.wards.iter().any(|w| w == ward)
    }

    /// 403 unless the user works on `ward`.
    pub fn require_ward(&self, ward: &str) -> Result<(), ApiError> {
        if self.sees_ward(ward) {
            Ok(())
        } else {
            Err(ApiError::Forbidden(format!(
                "ward '{ward}' is not one of your wards"
            )))
        }
    }
}

impl FromRequestParts<Arc<App>> for User {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let Some(token) = session_token(parts) else {
            return integration(parts, app);
        };
        check_origin(parts)?;
        let hash = token_hash(&token);
        let staff_id = app
            .store
            .session(&hash, app.now())
            .await?
            .ok_or(ApiError::Unauthorized)?;
        // Staff removed from the directory lose their sessions with it.
        let staff = app
            .directory()
            .staff(&staff_id)
            .cloned()
            .ok_or(ApiError::Unauthorized)?;
        Ok(User {
            staff,
            token_hash: hash,
        })
    }
}

/// The client's address, for throttling and the audit log: the TCP peer, or behind a trusted
/// reverse proxy the last address it appended to `X-Forwarded-For`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Client(pub IpAddr);

impl Client {
    pub fn of(parts: &Parts, app: &App) -> Client {
        Client::from(
            &parts.headers,
            &parts.extensions,
            app.settings.trust_forwarded_for,
        )
    }

    pub fn from(
        headers: &axum::http::HeaderMap,
        extensions: &axum::http::Extensions,
        trust_forwarded_for: bool,
    ) -> Client {
        if trust_forwarded_for {
            // Only the last entry is the proxy's own; the ones before it are whatever the
            // client sent, so an unreadable last entry falls back to the peer, not to them.
            let forwarded = headers
                .get_all("x-forwarded-for")
                .iter()
                .next_back()
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.rsplit(',').next())
                .and_then(|a| a.trim().parse::<IpAddr>().ok());
            if let Some(a) = forwarded {
                return Client(a);
            }
        }
        let peer = extensions
            .get::<ConnectInfo<SocketAddr>>()
            .map(|c| c.0.ip());
        Client(peer.unwrap_or(IpAddr::from([0, 0, 0, 0])))
    }
}

impl FromRequestParts<Arc<App>> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(
        parts: &mut Parts,
        app: &Arc<App>,
    ) -> Result<Self, Self::Rejection> {
        Ok(Client::of(parts, app))
    }
}

/// An integration engine by its bearer token: reads only (any other method is refused here,
/// whatever the route), only its wards.
fn integration(parts: &Parts, app: &App) -> Result<User, ApiError> {
    let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
    let hash = token_hash(token);
    let dir = app.directory();
    let i = app
        .credentials()
        .integration_by_token(&hash)
        .and_then(|id| dir.integrations.iter().find(|i| i.id == id))
        .cloned()
        .ok_or(ApiError::Unauthorized)?;
    if !matches!(parts.method, Method::GET | Method::HEAD) {
        return Err(ApiError::Forbidden(format!(
            "integration '{}' may only read (its token is read-only)",
            i.id
        )));
    }
    Ok(User {
        staff: Staff::new(
            i.id.clone(),
            i.name.clone(),
            Role::Integration,
            i.wards.clone(),
        ),
        token_hash: hash,
    })
}

fn bearer(parts: &Parts) -> Option<&str> {
    parts
        .headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(str::trim)
}

/// An edge device, by its bearer token.
#[derive(Debug, Clone)]
pub struct DeviceAuth(pub Device);

impl FromRequestParts<Arc<App>> for DeviceAuth {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, app: &Arc<App>) -> Result<Self, ApiError> {
        let token = bearer(parts).ok_or(ApiError::Unauthorized)?;
        let hash = token_hash(token);
        let cred = app.credentials();
        let id = cred.device_by_token(&hash).ok_or(ApiError::Unauthorized)?;
        app.directory()
            .devices
            .iter()
            .find(|d| d.id == id)
            .cloned()
            .map(DeviceAuth)
            .ok_or(ApiError::Unauthorized)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_tokens() {
        let h = hash_password("correct horse").unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&h, "correct horse"));
        assert!(!verify_password(&h, "wrong"));
        assert!(!verify_password("not a hash", "correct horse"));
        let (a, b) = (new_token(), new_token());
        assert_eq!(a.len(), 64);
        assert_ne!(a, b);
        assert_eq!(
            token_hash("abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn the_client_address_is_the_peer_or_the_proxys_last_entry() {
        let peer: SocketAddr = "192.0.2.7:5555".parse().unwrap();
        let mut ext = axum::http::Extensions::new();
        ext.insert(ConnectInfo(peer));
        let with = |xff: &str| {
            let mut h = axum::http::HeaderMap::new();
            h.insert("x-forwarded-for", xff.parse().unwrap());
            h
        };
        let ip = |s: &str| s.parse::<IpAddr>().unwrap();
        let cases = [
            (with("203.0.113.1, 10.0.0.9"), true, ip("10.0.0.9")),
            (with("10.0.0.9, unknown"), true, ip("192.0.2.7")),
            (with("10.0.0.9"), false, ip("192.0.2.7")),
            (axum::http::HeaderMap::new(), true, ip("192.0.2.7")),
        ];
        for (h, trust, want) in cases {
            assert_eq!(
                Client::from(&h, &ext, trust),
                Client(want),
                "{h:?} trust {trust}"
            );
        }
    }

    #[test]
    fn cookie_and_origin() {
        let req = |cookie: &str, origin: Option<&str>| {
            let mut b = axum::http::Request::builder()
                .method("POST")
                .header("host", "ward.local:8080")
                .header("cookie", cookie);
            if let Some(o) = origin {
                b = b.header("origin", o);
            }
            b.body(()).unwrap().into_parts().0
        };
        let p = req("a=1; areya_session=tok; b=2", None);
        assert_eq!(session_token(&p).as_deref(), Some("tok"));
        assert_eq!(session_token(&req("areya_session=", None)), None);
        assert!(check_origin(&req("", Some("http://ward.local:8080"))).is_ok());
        assert!(check_origin(&req("", Some("https://evil.example"))).is_err());
        assert!(check_origin(&req("", None)).is_ok());
    }
}
