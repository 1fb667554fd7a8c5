//! Who may touch a session. A session records its *holder* — the identity of the credential
//! that acquired it — and, when its license asks for one, the hash of a *session secret*
//! handed out once by acquire. Heartbeat and release check both before anything else, and a
//! refusal is the answer for an unknown session (`session_not_found`), so a session id alone
//! (it travels in every lease token) lets no one renew or end someone else's seat. ADR 0023.
//!
//! - A session acquired by a person (OpenID Connect, [`Actor::User`]) answers only to that
//!   person: another user, or an API key, of the same tenant gets 404.
//! - A client API key is usually baked into every copy of an application, so it names no one:
//!   a session it acquired is bound to nothing but its secret, when the license requires one.
//!
//! ```
//! use license_core::{Actor, Caller, SessionSecret};
//!
//! let secret = SessionSecret::generate()?;
//! let hash = secret.hash();
//! assert!(hash.matches(&secret));
//! assert!(!hash.matches(&SessionSecret::generate()?));
//! // What a client presents: who it is, and the secret it was given.
//! let caller = Caller::new(Actor::User("ada".into())).with_secret(Some(secret));
//! assert!(format!("{caller:?}").contains("***"), "Debug never prints a secret");
//! # Ok::<(), license_core::Error>(())
//! ```

use std::fmt;

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;

use crate::audit::Actor;
use crate::error::{Error, Result};
use crate::session::Session;

/// The secret of one session, returned once by the acquire that made it (or by an acquire
/// retried for the same machine, which replaces it). Reads `ss_` then 43 base64url characters
/// (256 random bits), so a plain SHA-256 hash is a safe thing to store. Its `Debug` never
/// prints it, and it has no `PartialEq` (compare hashes, in constant time).
#[derive(Clone)]
pub struct SessionSecret(String);

impl SessionSecret {
    const PREFIX: &'static str = "ss_";
    const RANDOM_CHARS: usize = 43;

    /// A fresh secret from the operating system's generator.
    pub fn generate() -> Result<Self> {
        let random = crate::random::bytes::<32>()?;
        Ok(Self(format!(
            "{}{}",
            Self::PREFIX,
            URL_SAFE_NO_PAD.encode(random)
        )))
    }

    /// Parses a presented secret (its shape only: whether it is the session's is
    /// [`SessionSecretHash::matches`]'s answer). A malformed one is `invalid_input` naming
    /// `session_secret` whatever the session, so the answer tells nothing about it.
    ///
    /// ```
    /// use license_core::SessionSecret;
    /// let secret = SessionSecret::generate()?;
    /// assert!(SessionSecret::parse(secret.expose()).is_ok());
    /// let e = SessionSecret::parse("hunter2").unwrap_err();
    /// assert!(matches!(e, license_core::Error::InvalidInput { field: "session_secret", .. }));
    /// # Ok::<(), license_core::Error>(())
    /// ```
    pub fn parse(presented: &str) -> Result<Self> {
        let well_formed = presented.strip_prefix(Self::PREFIX).is_some_and(|rest| {
            rest.len() == Self::RANDOM_CHARS
                && rest
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
        });
        if !well_formed {
            return Err(Error::invalid(
                "session_secret",
                "is not a session secret from acquire (ss_ and 43 base64url characters)",
            ));
        }
        Ok(Self(presented.to_owned()))
    }

    /// The secret itself, to hand to the client once.
    pub fn expose(&self) -> &str {
        &self.0
    }

    /// What the store keeps: SHA-256 of the whole secret.
    pub fn hash(&self) -> SessionSecretHash {
        let digest = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, self.0.as_bytes());
        let mut bytes = [0u8; 32];
        bytes.copy_from_slice(digest.as_ref());
        SessionSecretHash(bytes)
    }
}

impl fmt::Debug for SessionSecret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecret(***)")
    }
}

/// SHA-256 of a [`SessionSecret`]: what a session record keeps.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionSecretHash([u8; 32]);

impl SessionSecretHash {
    /// Whether `presented` is the secret this hash was made from (constant-time comparison).
    pub fn matches(&self, presented: &SessionSecret) -> bool {
        aws_lc_rs::constant_time::verify_slices_are_equal(&self.0, &presented.hash().0).is_ok()
    }

    /// Lower-case hex, as stores keep it.
    pub fn to_hex(&self) -> String {
        self.0.iter().map(|b| format!("{b:02x}")).collect()
    }

    /// Parses [`to_hex`](Self::to_hex) output (64 hex digits).
    ///
    /// ```
    /// use license_core::{SessionSecret, SessionSecretHash};
    /// let hash = SessionSecret::generate()?.hash();
    /// assert_eq!(SessionSecretHash::from_hex(&hash.to_hex())?, hash);
    /// assert!(SessionSecretHash::from_hex("abc").is_err());
    /// # Ok::<(), license_core::Error>(())
    /// ```
    pub fn from_hex(hex: &str) -> Result<Self> {
        let bad = || Error::invalid("secret_hash", "must be 64 hexadecimal digits");
        if hex.len() != 64 || !hex.is_ascii() {
            return Err(bad());
        }
        let mut bytes = [0u8; 32];
        for (i, byte) in bytes.iter_mut().enumerate() {
            *byte = u8::from_str_radix(&hex[2 * i..2 * i + 2], 16).map_err(|_| bad())?;
        }
        Ok(Self(bytes))
    }
}

impl fmt::Debug for SessionSecretHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionSecretHash(..)")
    }
}

/// Who asks to heartbeat or release a session: the identity of the credential it calls with,
/// and the session secret acquire gave it, if any.
#[derive(Clone, Debug)]
pub struct Caller {
    /// The credential's identity (an OIDC subject, an API key, or the embedding application
    /// itself: [`Actor::System`]). Release writes it to the audit log.
    pub actor: Actor,
    /// The session secret, for sessions whose license requires one.
    pub secret: Option<SessionSecret>,
}

impl Caller {
    /// A caller presenting no secret.
    pub fn new(actor: Actor) -> Self {
        Self {
            actor,
            secret: None,
        }
    }

    /// The same caller presenting `secret`.
    pub fn with_secret(mut self, secret: Option<SessionSecret>) -> Self {
        self.secret = secret;
        self
    }

    /// Whether this caller may heartbeat or release `session`: the person who acquired it (if
    /// a person did), with its secret (if it has one). Anything else answers like a missing
    /// session.
    pub(crate) fn may_touch(&self, session: &Session) -> bool {
        holder_admits(session.holder.as_ref(), &self.actor)
            && session.secret_hash.is_none_or(|hash| {
                self.secret
                    .as_ref()
                    .is_some_and(|secret| hash.matches(secret))
            })
    }
}

/// Whether a session held by `holder` answers to `caller`: a person's session only to that
/// person; a session acquired with an API key (shared by every copy of an app), by the
/// embedding application, or before holders were recorded, to any client of the tenant.
pub(crate) fn holder_admits(holder: Option<&Actor>, caller: &Actor) -> bool {
    match holder {
        Some(Actor::User(subject)) => matches!(caller, Actor::User(s) if s == subject),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use chrono::Utc;

    use super::*;
    use crate::ids::{ApiKeyId, LicenseId, SessionId, TenantId};
    use crate::session::HardwareId;

    fn session(holder: Option<Actor>, secret: Option<&SessionSecret>) -> Session {
        let now = Utc::now();
        let mut s = Session::start(
            SessionId::new(),
            TenantId::new(),
            LicenseId::new(),
            HardwareId::parse("pc-1").unwrap(),
            None,
            now,
            now,
        )
        .with_secret(secret.map(SessionSecret::hash));
        s.holder = holder;
        s
    }

    #[test]
    fn a_persons_session_answers_only_to_that_person() {
        let ada = Actor::User("ada".into());
        let s = session(Some(ada.clone()), None);
        assert!(Caller::new(ada).may_touch(&s));
        assert!(!Caller::new(Actor::User("bob".into())).may_touch(&s));
        assert!(!Caller::new(Actor::User("ADA".into())).may_touch(&s));
        assert!(!Caller::new(Actor::ApiKey(ApiKeyId::new())).may_touch(&s));
        assert!(!Caller::new(Actor::System).may_touch(&s));
    }

    #[test]
    fn a_key_acquired_session_is_bound_to_nothing_but_its_secret() {
        let key = Actor::ApiKey(ApiKeyId::new());
        let open = session(Some(key.clone()), None);
        let legacy = session(None, None);
        for caller in [
            key.clone(),
            Actor::ApiKey(ApiKeyId::new()),
            Actor::User("bob".into()),
        ] {
            assert!(Caller::new(caller.clone()).may_touch(&open));
            assert!(Caller::new(caller).may_touch(&legacy));
        }

        let secret = SessionSecret::generate().unwrap();
        let guarded = session(Some(key.clone()), Some(&secret));
        assert!(!Caller::new(key.clone()).may_touch(&guarded), "no secret");
        let wrong = SessionSecret::generate().unwrap();
        assert!(
            !Caller::new(key.clone())
                .with_secret(Some(wrong))
                .may_touch(&guarded)
        );
        assert!(
            Caller::new(Actor::ApiKey(ApiKeyId::new()))
                .with_secret(Some(secret.clone()))
                .may_touch(&guarded),
            "the secret, from any copy of the app"
        );
    }

    #[test]
    fn a_persons_session_with_a_secret_needs_both() {
        let ada = Actor::User("ada".into());
        let secret = SessionSecret::generate().unwrap();
        let s = session(Some(ada.clone()), Some(&secret));
        assert!(!Caller::new(ada.clone()).may_touch(&s));
        assert!(
            !Caller::new(Actor::User("bob".into()))
                .with_secret(Some(secret.clone()))
                .may_touch(&s)
        );
        assert!(Caller::new(ada).with_secret(Some(secret)).may_touch(&s));
    }

    #[test]
    fn secrets_are_random_well_formed_and_hashed_with_sha256() {
        let a = SessionSecret::generate().unwrap();
        let b = SessionSecret::generate().unwrap();
        assert_ne!(a.expose(), b.expose());
        assert_eq!(a.expose().len(), 46);
        assert!(SessionSecret::parse(a.expose()).is_ok());
        for bad in [
            "",
            "ss_",
            "lk_x",
            &a.expose()[..45],
            &format!("{}=", a.expose()),
        ] {
            assert!(SessionSecret::parse(bad).is_err(), "{bad:?}");
        }
        let expected = aws_lc_rs::digest::digest(&aws_lc_rs::digest::SHA256, a.expose().as_bytes());
        assert_eq!(a.hash().0.as_slice(), expected.as_ref());
        assert!(!format!("{a:?}").contains(&a.expose()[3..]));
    }
}
