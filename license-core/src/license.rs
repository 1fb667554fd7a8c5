//! Licenses: what a tenant sells, and the rules that decide whether it may grant a seat.

use std::fmt;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::error::{Error, InactiveReason, Result};
use crate::ids::{LicenseId, TenantId};
pub use crate::lease_policy::LeasePolicy;
use crate::seat_policy::SeatPolicy;
use crate::seat_rules::SeatRules;

/// The secret-ish key a customer types into the application: 8–64 characters of
/// `A–Z a–z 0–9 - _`. [`LicenseKey::parse`] checks the shape only; a key a vendor chooses
/// must also be hard to guess ([`LicenseKey::ensure_strong`]), generated ones are.
///
/// ```
/// use license_core::LicenseKey;
/// assert!(LicenseKey::parse("ACME-PRO-2026-0001").is_ok());
/// assert!(LicenseKey::parse("short").is_err());
/// assert!(LicenseKey::parse("has space in it").is_err());
/// ```
#[derive(Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LicenseKey(String);

impl LicenseKey {
    /// Shortest accepted key.
    pub const MIN_LEN: usize = 8;
    /// Longest accepted key.
    pub const MAX_LEN: usize = 64;

    /// Validates a key.
    pub fn parse(key: &str) -> Result<Self> {
        validate_token_chars("license_key", key, Self::MIN_LEN, Self::MAX_LEN, |c| {
            c.is_ascii_alphanumeric() || c == '-' || c == '_'
        })?;
        Ok(Self(key.to_owned()))
    }

    /// A fresh random key (`XXXXX-XXXXX-XXXXX-XXXXX`, 100 bits of entropy).
    pub fn generate() -> Result<Self> {
        const ALPHABET: &[u8] = b"ABCDEFGHJKLMNPQRSTUVWXYZ23456789";
        let bytes = crate::random::bytes::<20>()?;
        let mut key = String::with_capacity(23);
        for (i, b) in bytes.iter().enumerate() {
            if i > 0 && i % 5 == 0 {
                key.push('-');
            }
            key.push(char::from(ALPHABET[usize::from(*b) % ALPHABET.len()]));
        }
        Ok(Self(key))
    }

    /// The key as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

// License keys are credentials of a sort: keep them out of logs.
impl fmt::Debug for LicenseKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let shown: String = self.0.chars().take(4).collect();
        write!(f, "LicenseKey({shown}…)")
    }
}

impl TryFrom<String> for LicenseKey {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<LicenseKey> for String {
    fn from(key: LicenseKey) -> Self {
        key.0
    }
}

/// Checks length (in characters) and charset of a token-like string.
pub(crate) fn validate_token_chars(
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
    allowed: impl Fn(char) -> bool,
) -> Result<()> {
    let len = value.chars().count();
    if len < min || len > max {
        return Err(Error::invalid(
            field,
            format!("must be {min} to {max} characters long, got {len}"),
        ));
    }
    if let Some(bad) = value.chars().find(|c| !allowed(*c)) {
        return Err(Error::invalid(
            field,
            format!("contains the character {bad:?}, which is not allowed"),
        ));
    }
    Ok(())
}

/// How many seats a license sells: 1 to 1,000,000.
///
/// ```
/// use license_core::SeatCount;
/// assert_eq!(SeatCount::new(5).unwrap().get(), 5);
/// assert!(SeatCount::new(0).is_err());
/// ```
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "u32", into = "u32")]
pub struct SeatCount(u32);

impl SeatCount {
    /// Largest seat count a license may have.
    pub const MAX: u32 = 1_000_000;

    /// Validates a seat count.
    pub fn new(seats: u32) -> Result<Self> {
        if seats == 0 || seats > Self::MAX {
            return Err(Error::invalid(
                "seats_total",
                format!("must be between 1 and {}", Self::MAX),
            ));
        }
        Ok(Self(seats))
    }

    /// The number of seats.
    pub const fn get(self) -> u32 {
        self.0
    }
}

impl TryFrom<u32> for SeatCount {
    type Error = Error;
    fn try_from(value: u32) -> Result<Self> {
        Self::new(value)
    }
}

impl From<SeatCount> for u32 {
    fn from(seats: SeatCount) -> Self {
        seats.0
    }
}

/// Whether a license may hand out seats.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LicenseStatus {
    /// Seats may be acquired.
    Active,
    /// Temporarily blocked; existing sessions end at their next heartbeat.
    Suspended,
    /// Permanently blocked.
    Revoked,
}

impl LicenseStatus {
    /// The stored and wire name.
    pub const fn as_str(self) -> &'static str {
        match self {
            LicenseStatus::Active => "active",
            LicenseStatus::Suspended => "suspended",
            LicenseStatus::Revoked => "revoked",
        }
    }

    /// Parses [`LicenseStatus::as_str`] output.
    pub fn parse(s: &str) -> Result<Self> {
        match s {
            "active" => Ok(LicenseStatus::Active),
            "suspended" => Ok(LicenseStatus::Suspended),
            "revoked" => Ok(LicenseStatus::Revoked),
            _ => Err(Error::invalid(
                "status",
                "must be active, suspended or revoked",
            )),
        }
    }
}

/// A feature name granted by a license (`pro`, `export-pdf`): 1–64 of `A–Z a–z 0–9 . _ : -`.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct Entitlement(String);

impl Entitlement {
    /// Validates a feature name.
    pub fn parse(name: &str) -> Result<Self> {
        validate_token_chars("entitlements", name, 1, 64, |c| {
            c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | ':' | '-')
        })?;
        Ok(Self(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl TryFrom<String> for Entitlement {
    type Error = Error;
    fn try_from(value: String) -> Result<Self> {
        Self::parse(&value)
    }
}

impl From<Entitlement> for String {
    fn from(e: Entitlement) -> Self {
        e.0
    }
}

/// A floating license: `seats` concurrent sessions (plus `overdraft`), for one product.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct License {
    /// Its id.
    pub id: LicenseId,
    /// The vendor that sold it.
    pub tenant_id: TenantId,
    /// The key clients present.
    pub key: LicenseKey,
    /// Product name, free text (1–128 characters, [readable](crate::text)).
    pub product: String,
    /// Seats sold.
    pub seats: SeatCount,
    /// Extra seats tolerated above `seats` (0 when the license grants none).
    pub overdraft: u32,
    /// Active, suspended or revoked.
    pub status: LicenseStatus,
    /// No seats after this instant; `None` for perpetual licenses.
    pub expires_at: Option<DateTime<Utc>>,
    /// TTL and heartbeat interval of its leases.
    pub lease: LeasePolicy,
    /// Features clients may enable; copied into every lease token.
    pub entitlements: Vec<Entitlement>,
    /// Whether acquire hands each new session a secret that its heartbeats and releases must
    /// present (for applications sharing one client API key; see [`holder`](crate::holder)).
    #[serde(default)]
    pub require_session_secret: bool,
    /// Borrowing, linger, minimum hold, the overdraft cap and the leasing strategy.
    #[serde(default)]
    pub rules: SeatRules,
    /// Groups and who may take how many seats (ADR 0026); empty: anyone, any free seat.
    #[serde(default)]
    pub policy: SeatPolicy,
    /// When it was created.
    pub created_at: DateTime<Utc>,
    /// When it last changed.
    pub updated_at: DateTime<Utc>,
}

impl License {
    /// Most overdraft a license may grant, as a multiple of its seats.
    pub const MAX_OVERDRAFT_FACTOR: u32 = 10;
    /// Longest product name, in characters.
    pub const MAX_PRODUCT_LEN: usize = 128;

    /// Most live sessions at once: seats plus overdraft.
    pub fn seat_limit(&self) -> u32 {
        self.seats.get().saturating_add(self.overdraft)
    }

    /// Whether new seats may be granted (and existing ones renewed) at `now`.
    ///
    /// ```
    /// # use license_core::*;
    /// # let now = chrono::Utc::now();
    /// # let mut license = License {
    /// #     id: LicenseId::new(), tenant_id: TenantId::new(),
    /// #     key: LicenseKey::parse("ACME-0000-0001").unwrap(), product: "CAD".into(),
    /// #     seats: SeatCount::new(2).unwrap(), overdraft: 0, status: LicenseStatus::Active,
    /// #     expires_at: None, lease: LeasePolicy::default(), entitlements: vec![],
    /// #     require_session_secret: false, rules: SeatRules::default(), policy: SeatPolicy::default(),
    /// #     created_at: now, updated_at: now };
    /// assert!(license.ensure_usable(now).is_ok());
    /// license.status = LicenseStatus::Suspended;
    /// assert_eq!(license.ensure_usable(now).unwrap_err().code(), "license_suspended");
    /// ```
    pub fn ensure_usable(&self, now: DateTime<Utc>) -> Result<()> {
        match self.status {
            LicenseStatus::Suspended => {
                return Err(Error::LicenseInactive(InactiveReason::Suspended));
            }
            LicenseStatus::Revoked => return Err(Error::LicenseInactive(InactiveReason::Revoked)),
            LicenseStatus::Active => {}
        }
        match self.expires_at {
            Some(at) if at <= now => Err(Error::LicenseInactive(InactiveReason::Expired)),
            _ => Ok(()),
        }
    }

    /// Validates the fields that have no type of their own.
    pub fn validate(&self) -> Result<()> {
        crate::text::parse_name("product", &self.product, Self::MAX_PRODUCT_LEN)?;
        if self.overdraft > self.seats.get().saturating_mul(Self::MAX_OVERDRAFT_FACTOR) {
            return Err(Error::invalid(
                "overdraft",
                format!(
                    "must be at most {} times seats_total",
                    Self::MAX_OVERDRAFT_FACTOR
                ),
            ));
        }
        if self.entitlements.len() > 64 {
            return Err(Error::invalid("entitlements", "at most 64 entries"));
        }
        self.rules.validate(self.seats.get(), self.overdraft)?;
        self.policy.validate(self.seats.get())
    }
}
