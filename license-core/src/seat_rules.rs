//! A license's seat rules beyond its count: borrowing for offline work, linger after release,
//! the minimum hold an eviction must respect, and a daily cap on overdraft (ADR 0025).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};
use crate::leasing::LeasingStrategy;

/// What a license allows beyond "one live seat per running application".
///
/// ```
/// use license_core::SeatRules;
/// let rules = SeatRules { max_borrow_seconds: 7 * 86_400, ..SeatRules::default() };
/// assert!(rules.validate(10, 0).is_ok());
/// let too_long = SeatRules { max_borrow_seconds: SeatRules::MAX_BORROW_SECONDS + 1, ..rules };
/// assert_eq!(too_long.validate(10, 0).unwrap_err().code(), "invalid_input");
/// ```
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct SeatRules {
    /// Longest borrow, in seconds; 0: borrowing is off.
    pub max_borrow_seconds: u32,
    /// Most seats borrowed at once; `None`: any seat may be borrowed.
    pub max_borrowed_seats: Option<u32>,
    /// After a release the seat stays held for its machine this long (0: freed at once).
    pub linger_seconds: u32,
    /// An eviction of a session younger than this needs `force`.
    pub min_hold_seconds: u32,
    /// Most overdraft seat-minutes per UTC day; once reached, no new grant goes into the
    /// overdraft that day. `None`: no cap.
    pub overdraft_minutes_per_day: Option<u32>,
    /// Who a seat is for: per machine (the default), per user or per process (ADR 0026).
    pub leasing: LeasingStrategy,
    /// Per-process leasing: most processes of one machine holding seats at once (`None`: no
    /// cap). Only with [`LeasingStrategy::PerProcess`].
    pub max_processes_per_host: Option<u32>,
    /// Longest an acquire may wait in the license's queue for a seat, in seconds; 0: no queue,
    /// a refused acquire is refused at once (ADR 0029).
    pub max_wait_seconds: u32,
    /// Most clients waiting at once (`None`: [`SeatRules::DEFAULT_QUEUE_LENGTH`]).
    pub max_queue_length: Option<u32>,
}

impl SeatRules {
    /// Longest borrow a license may allow: 14 days. Tenant key certificates are made to
    /// outlive it, so a borrowed lease verifies offline to its end (ADR 0025).
    pub const MAX_BORROW_SECONDS: u32 = 14 * 86_400;
    /// Longest linger and minimum hold: a day.
    pub const MAX_LINGER_SECONDS: u32 = 86_400;

    /// Checks the rules against the license's `seats` and `overdraft`.
    pub fn validate(&self, seats: u32, overdraft: u32) -> Result<()> {
        if self.max_borrow_seconds > Self::MAX_BORROW_SECONDS {
            return Err(Error::invalid(
                "max_borrow_seconds",
                format!("must be at most {} (14 days)", Self::MAX_BORROW_SECONDS),
            ));
        }
        if let Some(max) = self.max_borrowed_seats
            && max > seats.saturating_add(overdraft)
        {
            return Err(Error::invalid(
                "max_borrowed_seats",
                "must be at most seats_total plus overdraft",
            ));
        }
        if self.linger_seconds > Self::MAX_LINGER_SECONDS {
            return Err(Error::invalid(
                "linger_seconds",
                format!("must be at most {}", Self::MAX_LINGER_SECONDS),
            ));
        }
        if self.min_hold_seconds > Self::MAX_LINGER_SECONDS {
            return Err(Error::invalid(
                "min_hold_seconds",
                format!("must be at most {}", Self::MAX_LINGER_SECONDS),
            ));
        }
        if let Some(max) = self.max_processes_per_host
            && (self.leasing != LeasingStrategy::PerProcess
                || max == 0
                || max > Self::MAX_PROCESSES_PER_HOST)
        {
            return Err(Error::invalid(
                "max_processes_per_host",
                format!(
                    "1 to {}, and only with leasing_strategy per_process",
                    Self::MAX_PROCESSES_PER_HOST
                ),
            ));
        }
        if self.max_wait_seconds > Self::MAX_WAIT_SECONDS {
            return Err(Error::invalid(
                "max_wait_seconds",
                format!("must be at most {} (a day)", Self::MAX_WAIT_SECONDS),
            ));
        }
        if let Some(length) = self.max_queue_length
            && !(1..=Self::MAX_QUEUE_LENGTH).contains(&length)
        {
            return Err(Error::invalid(
                "max_queue_length",
                format!("1 to {}", Self::MAX_QUEUE_LENGTH),
            ));
        }
        if let Some(cap) = self.overdraft_minutes_per_day
            && u64::from(cap) > u64::from(overdraft) * 1440
        {
            return Err(Error::invalid(
                "overdraft_minutes_per_day",
                "must be at most overdraft × 1440 (the most a day can hold)",
            ));
        }
        Ok(())
    }

    /// Most processes per host a per-process license may allow.
    pub const MAX_PROCESSES_PER_HOST: u32 = 1_000;
    /// Longest wait in a queue a license may allow: a day.
    pub const MAX_WAIT_SECONDS: u32 = 86_400;
    /// Most clients a queue holds unless the license says otherwise.
    pub const DEFAULT_QUEUE_LENGTH: u32 = 1_000;
    /// Most clients a license's queue may be allowed to hold (each waiter is checked by every
    /// acquire ahead of it: ADR 0029).
    pub const MAX_QUEUE_LENGTH: u32 = 10_000;

    /// Whether a refused acquire may wait for a seat.
    pub fn queueing(&self) -> bool {
        self.max_wait_seconds > 0
    }

    /// Most clients waiting at once.
    pub fn queue_length(&self) -> u32 {
        self.max_queue_length.unwrap_or(Self::DEFAULT_QUEUE_LENGTH)
    }

    /// Whether the license lends seats.
    pub fn borrowing(&self) -> bool {
        self.max_borrow_seconds > 0
    }
}

/// A change to [`SeatRules`]; `None` fields stay as they are (for the optional rules,
/// `Some(None)` removes the cap).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct SeatRulesChange {
    /// New longest borrow.
    pub max_borrow_seconds: Option<u32>,
    /// New cap on borrowed seats.
    pub max_borrowed_seats: Option<Option<u32>>,
    /// New linger.
    pub linger_seconds: Option<u32>,
    /// New minimum hold.
    pub min_hold_seconds: Option<u32>,
    /// New daily overdraft cap.
    pub overdraft_minutes_per_day: Option<Option<u32>>,
    /// New leasing strategy.
    pub leasing: Option<LeasingStrategy>,
    /// New cap on processes per host.
    pub max_processes_per_host: Option<Option<u32>>,
    /// New longest wait in the queue (0 turns the queue off).
    pub max_wait_seconds: Option<u32>,
    /// New most clients waiting.
    pub max_queue_length: Option<Option<u32>>,
}

impl SeatRulesChange {
    /// `rules` with this change applied (not yet validated).
    ///
    /// ```
    /// use license_core::{SeatRules, SeatRulesChange};
    /// let change = SeatRulesChange { linger_seconds: Some(60), ..SeatRulesChange::default() };
    /// assert_eq!(change.apply(SeatRules::default()).linger_seconds, 60);
    /// ```
    pub fn apply(&self, rules: SeatRules) -> SeatRules {
        SeatRules {
            max_borrow_seconds: self.max_borrow_seconds.unwrap_or(rules.max_borrow_seconds),
            max_borrowed_seats: self.max_borrowed_seats.unwrap_or(rules.max_borrowed_seats),
            linger_seconds: self.linger_seconds.unwrap_or(rules.linger_seconds),
            min_hold_seconds: self.min_hold_seconds.unwrap_or(rules.min_hold_seconds),
            overdraft_minutes_per_day: self
                .overdraft_minutes_per_day
                .unwrap_or(rules.overdraft_minutes_per_day),
            leasing: self.leasing.unwrap_or(rules.leasing),
            max_processes_per_host: self
                .max_processes_per_host
                .unwrap_or(rules.max_processes_per_host),
            max_wait_seconds: self.max_wait_seconds.unwrap_or(rules.max_wait_seconds),
            max_queue_length: self.max_queue_length.unwrap_or(rules.max_queue_length),
        }
    }

    /// Whether it changes nothing.
    pub fn is_empty(&self) -> bool {
        *self == Self::default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_rule_names_its_field_when_out_of_range() {
        let cases = [
            (
                SeatRules {
                    max_borrowed_seats: Some(12),
                    ..SeatRules::default()
                },
                "max_borrowed_seats",
            ),
            (
                SeatRules {
                    linger_seconds: 86_401,
                    ..SeatRules::default()
                },
                "linger_seconds",
            ),
            (
                SeatRules {
                    min_hold_seconds: 86_401,
                    ..SeatRules::default()
                },
                "min_hold_seconds",
            ),
            (
                SeatRules {
                    overdraft_minutes_per_day: Some(1441),
                    ..SeatRules::default()
                },
                "overdraft_minutes_per_day",
            ),
            (
                SeatRules {
                    max_wait_seconds: 86_401,
                    ..SeatRules::default()
                },
                "max_wait_seconds",
            ),
            (
                SeatRules {
                    max_queue_length: Some(0),
                    ..SeatRules::default()
                },
                "max_queue_length",
            ),
        ];
        for (rules, field) in cases {
            match rules.validate(10, 1) {
                Err(Error::InvalidInput { field: f, .. }) => assert_eq!(f, field),
                other => panic!("{field}: {other:?}"),
            }
        }
        assert!(
            SeatRules {
                max_borrowed_seats: Some(11),
                overdraft_minutes_per_day: Some(1440),
                ..SeatRules::default()
            }
            .validate(10, 1)
            .is_ok()
        );
    }
}
