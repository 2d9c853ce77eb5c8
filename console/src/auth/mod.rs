//! Admin authentication: the one-time setup link, password login with a rate limit,
//! and sessions with idle and absolute expiry. Every outcome is audited here, so no
//! caller can forget to.

mod password;
mod rate_limit;
mod tokens;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::audit::{self, Action, Actor, Source};
use crate::store::{Store, StoreError};

pub use password::{MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS};
pub use rate_limit::LoginLimiter;
pub use tokens::{constant_time_eq, random_token, token_hash};

/// The single admin account's name. Outpost has one admin; the name is for the audit log.
pub const ADMIN_USERNAME: &str = "admin";
/// How long a printed setup link stays valid.
pub const SETUP_TOKEN_TTL: Duration = Duration::from_secs(24 * 3600);
/// Failed logins allowed per address within [`LOGIN_WINDOW`].
pub const LOGIN_MAX_FAILURES: usize = 5;
pub const LOGIN_WINDOW: Duration = Duration::from_secs(60);
/// Session activity is written back at most this often.
const TOUCH_INTERVAL_SECS: i64 = 30;

/// How long sessions last.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused this long is over.
    pub idle_timeout: Duration,
    /// A session is over this long after login, however active.
    pub max_age: Duration,
}

impl Default for SessionPolicy {
    fn default() -> Self {
        SessionPolicy {
            idle_timeout: Duration::from_secs(30 * 60),
            max_age: Duration::from_secs(12 * 3600),
        }
    }
}

/// Why an authentication step failed. Each variant is something the client is told.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    #[error("the password is not correct")]
    InvalidCredentials,
    #[error("too many failed logins from this address; try again in {retry_after_secs} s")]
    RateLimited { retry_after_secs: u64 },
    #[error("no admin password is set yet; open the setup link printed when the console started")]
    SetupRequired,
    #[error(
        "this setup link is not valid: it was already used, replaced by a newer one, or it expired"
    )]
    SetupTokenInvalid,
    #[error("the password must be at least {MIN_PASSWORD_CHARS} characters long")]
    WeakPassword,
    #[error("the password must be at most {MAX_PASSWORD_BYTES} bytes long")]
    PasswordTooLong,
    #[error("not signed in, or the session has expired")]
    Unauthenticated,
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("password hashing failed: {0}")]
    Hashing(String),
}

/// A signed-in admin. Handlers that need an admin take one of these, so the type is the
/// permission check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AdminSession {
    pub username: String,
    pub csrf_token: String,
    pub expires_at: i64,
    id_hash: String,
}

impl AdminSession {
    /// The actor under which this admin's actions are audited.
    pub fn actor(&self) -> Actor {
        Actor::Admin(self.username.clone())
    }
}

/// A fresh login: the cookie value goes to the browser once and is never stored.
#[derive(Debug)]
pub struct NewSession {
    pub cookie_token: String,
    pub session: AdminSession,
}

/// What the setup page needs to know.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SetupStatus {
    pub admin_configured: bool,
    pub token_valid: bool,
}

/// The authentication service. Methods are blocking (SQLite, argon2): async callers run
/// them on the blocking pool.
#[derive(Debug)]
pub struct Auth {
    store: Arc<Store>,
    limiter: LoginLimiter,
    policy: SessionPolicy,
}

impl Auth {
    pub fn new(store: Arc<Store>, policy: SessionPolicy) -> Auth {
        Auth {
            store,
            limiter: LoginLimiter::new(LOGIN_MAX_FAILURES, LOGIN_WINDOW),
            policy,
        }
    }

    pub fn policy(&self) -> SessionPolicy {
        self.policy
    }

    /// Issues a fresh one-time setup token, voiding earlier ones, and returns it.
    pub fn issue_setup_token(
        &self,
        actor: &Actor,
        source: &Source,
        now: i64,
    ) -> Result<String, AuthError> {
        let token = random_token();
        let expires_at = now + SETUP_TOKEN_TTL.as_secs() as i64;
        self.store
            .replace_setup_token(&token_hash(&token), now, expires_at)?;
        audit::record(
            &self.store,
            actor,
            Action::SetupLinkIssued,
            source,
            "a new one-time setup link was issued; earlier links are void",
        )?;
        Ok(token)
    }

    /// Whether an admin exists, and whether `token` is an open setup token.
    pub fn setup_status(&self, token: Option<&str>, now: i64) -> Result<SetupStatus, AuthError> {
        let token_valid = match token {
            Some(token) => self.store.setup_token_is_open(&token_hash(token), now)?,
            None => false,
        };
        Ok(SetupStatus {
            admin_configured: self.store.admin_exists()?,
            token_valid,
        })
    }

    /// Sets the admin password with a one-time token. The token is void afterwards, and
    /// every existing session ends.
    pub fn complete_setup(
        &self,
        token: &str,
        new_password: &str,
        source: &Source,
        now: i64,
    ) -> Result<(), AuthError> {
        check_password_shape(new_password)?;
        let hash_of_token = token_hash(token);
        // Refuse a dead token before spending a hash on it.
        if !self.store.setup_token_is_open(&hash_of_token, now)? {
            return self.refuse_setup(source);
        }
        let password_hash =
            password::hash(new_password).map_err(|e| AuthError::Hashing(e.to_string()))?;
        match self
            .store
            .redeem_setup_token(&hash_of_token, ADMIN_USERNAME, &password_hash, now)?
        {
            crate::store::Redeemed::Done => {
                audit::record(
                    &self.store,
                    &Actor::Anonymous,
                    Action::SetupCompleted,
                    source,
                    "the admin password was set with a one-time setup link; all sessions ended",
                )?;
                Ok(())
            }
            crate::store::Redeemed::Refused => self.refuse_setup(source),
        }
    }

    fn refuse_setup(&self, source: &Source) -> Result<(), AuthError> {
        audit::record(
            &self.store,
            &Actor::Anonymous,
            Action::SetupRefused,
            source,
            "a setup link that is used, replaced or expired was presented",
        )?;
        Err(AuthError::SetupTokenInvalid)
    }

    /// Checks the password and opens a session. `instant` drives the rate limit window.
    pub fn login(
        &self,
        password: &str,
        source: &Source,
        now: i64,
        instant: Instant,
    ) -> Result<NewSession, AuthError> {
        let key = match source {
            Source::Address(ip) => Some(*ip),
            Source::Local | Source::Unknown => None,
        };
        if let Err(retry_after) = self.limiter.check(key, instant) {
            audit::record(
                &self.store,
                &Actor::Anonymous,
                Action::LoginRateLimited,
                source,
                "login refused: too many failed attempts from this address in the last minute",
            )?;
            return Err(AuthError::RateLimited {
                retry_after_secs: retry_after.as_secs().max(1),
            });
        }
        let Some(admin) = self.store.admin(ADMIN_USERNAME)? else {
            return Err(AuthError::SetupRequired);
        };
        if password.len() > MAX_PASSWORD_BYTES || !password::verify(password, &admin.password_hash)
        {
            self.limiter.record_failure(key, instant);
            audit::record(
                &self.store,
                &Actor::Anonymous,
                Action::LoginFailed,
                source,
                &format!("wrong password for {}", admin.username),
            )?;
            return Err(AuthError::InvalidCredentials);
        }
        self.limiter.clear(key);

        let cookie_token = random_token();
        let id_hash = token_hash(&cookie_token);
        let csrf_token = random_token();
        let expires_at = now + self.policy.max_age.as_secs() as i64;
        self.store.insert_session(
            &id_hash,
            admin.id,
            &csrf_token,
            &source.to_string(),
            now,
            expires_at,
        )?;
        audit::record(
            &self.store,
            &Actor::Admin(admin.username.clone()),
            Action::LoginSucceeded,
            source,
            "signed in",
        )?;
        Ok(NewSession {
            cookie_token,
            session: AdminSession {
                username: admin.username,
                csrf_token,
                expires_at,
                id_hash,
            },
        })
    }

    /// The session behind a cookie value, if it is live; an expired one is deleted.
    pub fn authenticate(&self, cookie_token: &str, now: i64) -> Result<AdminSession, AuthError> {
        let id_hash = token_hash(cookie_token);
        let Some(record) = self.store.session(&id_hash)? else {
            return Err(AuthError::Unauthenticated);
        };
        let idle_deadline = record.last_seen_at + self.policy.idle_timeout.as_secs() as i64;
        if now >= record.expires_at || now >= idle_deadline {
            self.store.delete_session(&id_hash)?;
            return Err(AuthError::Unauthenticated);
        }
        if now - record.last_seen_at >= TOUCH_INTERVAL_SECS {
            self.store.touch_session(&id_hash, now)?;
        }
        Ok(AdminSession {
            username: record.username,
            csrf_token: record.csrf_token,
            expires_at: record.expires_at,
            id_hash,
        })
    }

    /// Ends a session.
    pub fn logout(&self, session: &AdminSession, source: &Source) -> Result<(), AuthError> {
        self.store.delete_session(&session.id_hash)?;
        audit::record(
            &self.store,
            &session.actor(),
            Action::Logout,
            source,
            "signed out",
        )?;
        Ok(())
    }
}

fn check_password_shape(password: &str) -> Result<(), AuthError> {
    if password.len() > MAX_PASSWORD_BYTES {
        return Err(AuthError::PasswordTooLong);
    }
    if password.chars().count() < MIN_PASSWORD_CHARS {
        return Err(AuthError::WeakPassword);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const PASSWORD: &str = "a long enough password";

    fn ready() -> (Arc<Store>, Auth) {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let auth = Auth::new(store.clone(), SessionPolicy::default());
        let token = auth
            .issue_setup_token(&Actor::System, &Source::Local, 1_000)
            .unwrap();
        auth.complete_setup(&token, PASSWORD, &Source::Local, 1_001)
            .unwrap();
        (store, auth)
    }

    fn source() -> Source {
        Source::Address("192.0.2.7".parse().unwrap())
    }

    #[test]
    fn setup_requires_a_long_enough_password_and_keeps_the_token_open_on_refusal() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let auth = Auth::new(store, SessionPolicy::default());
        let token = auth
            .issue_setup_token(&Actor::System, &Source::Local, 0)
            .unwrap();
        assert!(matches!(
            auth.complete_setup(&token, "short", &source(), 1),
            Err(AuthError::WeakPassword)
        ));
        let status = auth.setup_status(Some(&token), 2).unwrap();
        assert!(status.token_valid && !status.admin_configured);
        auth.complete_setup(&token, PASSWORD, &source(), 3).unwrap();
        assert!(matches!(
            auth.complete_setup(&token, PASSWORD, &source(), 4),
            Err(AuthError::SetupTokenInvalid)
        ));
    }

    #[test]
    fn login_before_setup_says_setup_is_required() {
        let store = Arc::new(Store::open_in_memory().unwrap());
        let auth = Auth::new(store, SessionPolicy::default());
        assert!(matches!(
            auth.login(PASSWORD, &source(), 0, Instant::now()),
            Err(AuthError::SetupRequired)
        ));
    }

    #[test]
    fn login_opens_a_session_that_authenticates_until_logout() {
        let (_store, auth) = ready();
        let new = auth
            .login(PASSWORD, &source(), 2_000, Instant::now())
            .unwrap();
        let session = auth.authenticate(&new.cookie_token, 2_001).unwrap();
        assert_eq!(session.username, ADMIN_USERNAME);
        assert_eq!(session.csrf_token, new.session.csrf_token);
        auth.logout(&session, &source()).unwrap();
        assert!(matches!(
            auth.authenticate(&new.cookie_token, 2_002),
            Err(AuthError::Unauthenticated)
        ));
    }

    #[test]
    fn sessions_expire_when_idle_and_at_their_maximum_age() {
        let (_store, auth) = ready();
        let policy = auth.policy();
        let idle = policy.idle_timeout.as_secs() as i64;
        let new = auth.login(PASSWORD, &source(), 0, Instant::now()).unwrap();
        assert!(auth.authenticate(&new.cookie_token, idle - 1).is_ok());
        // Activity at idle-1 moved the idle deadline forward.
        assert!(auth.authenticate(&new.cookie_token, 2 * idle - 2).is_ok());
        assert!(auth.authenticate(&new.cookie_token, 4 * idle).is_err());

        let max_age = policy.max_age.as_secs() as i64;
        let new = auth.login(PASSWORD, &source(), 0, Instant::now()).unwrap();
        let mut now = 0;
        while now + idle / 2 < max_age {
            now += idle / 2;
            assert!(
                auth.authenticate(&new.cookie_token, now).is_ok(),
                "at {now}"
            );
        }
        assert!(auth.authenticate(&new.cookie_token, max_age).is_err());
    }

    #[test]
    fn five_failures_then_rate_limited_and_all_audited() {
        let (store, auth) = ready();
        let now = Instant::now();
        for _ in 0..5 {
            assert!(matches!(
                auth.login("wrong password!!", &source(), 10, now),
                Err(AuthError::InvalidCredentials)
            ));
        }
        assert!(matches!(
            auth.login(PASSWORD, &source(), 10, now),
            Err(AuthError::RateLimited { .. })
        ));
        let entries = store.audit_page(None, 100).unwrap();
        let failed = entries
            .iter()
            .filter(|e| e.action == "login.failed" && e.source == "192.0.2.7")
            .count();
        assert_eq!(failed, 5);
        assert!(entries.iter().any(|e| e.action == "login.rate_limited"));
    }

    #[test]
    fn a_new_setup_token_resets_the_password_and_ends_sessions() {
        let (_store, auth) = ready();
        let new = auth
            .login(PASSWORD, &source(), 2_000, Instant::now())
            .unwrap();
        let token = auth
            .issue_setup_token(&Actor::LocalRoot, &Source::Local, 2_001)
            .unwrap();
        auth.complete_setup(&token, "another long password", &source(), 2_002)
            .unwrap();
        assert!(auth.authenticate(&new.cookie_token, 2_003).is_err());
        assert!(matches!(
            auth.login(PASSWORD, &source(), 2_004, Instant::now()),
            Err(AuthError::InvalidCredentials)
        ));
        assert!(auth
            .login("another long password", &source(), 2_005, Instant::now())
            .is_ok());
    }
}
