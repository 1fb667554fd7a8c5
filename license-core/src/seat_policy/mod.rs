//! Who may use a license's seats, and how many each may take: named groups of users, e-mail
//! domains, machines and host names, and the rules a license administrator sets on them —
//! `reserve N for GROUP`, `max N for GROUP|USER|HOST`, `include GROUP`, `exclude GROUP`
//! (FlexNet's options file, RLM's ISV options; ADR 0026).
//!
//! Include and exclude are decided by the use case before the ledger ([`Admission`]); the
//! counting rules travel to the ledger as a [`SeatTally`], so they are checked in the same
//! atomic step that grants the seat. A policy change applies to the next grant and never
//! evicts: a seat keeps the counters it was granted under until it frees.

mod membership;
mod options_file;
mod tally;

use std::collections::BTreeSet;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

pub use membership::{Admission, Requester};
pub use options_file::parse_options;
pub use tally::{Cap, Counter, Reserve, SeatLimit, SeatTally};

/// A license's groups and rules. The default is no policy: anyone holding the license key may
/// take any free seat.
///
/// ```
/// use license_core::{PolicyRule, SeatGroup, SeatPolicy, Member, Target};
/// let policy = SeatPolicy {
///     groups: vec![SeatGroup::new("eng", vec![Member::Domain("acme.com".into())])],
///     rules: vec![PolicyRule::Reserve { seats: 2, group: "eng".into() }],
/// };
/// assert!(policy.validate(5).is_ok());
/// assert_eq!(policy.validate(1).unwrap_err().code(), "invalid_input"); // reserves > seats
/// ```
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(default)]
pub struct SeatPolicy {
    /// Named groups, each name once.
    pub groups: Vec<SeatGroup>,
    /// The rules, in any order (their effect does not depend on it).
    pub rules: Vec<PolicyRule>,
}

/// A named set of users, e-mail domains, machines and host names.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct SeatGroup {
    /// 1–64 characters: letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// Who belongs (anyone matching any member).
    pub members: Vec<Member>,
}

impl SeatGroup {
    /// A group named `name` of `members`.
    pub fn new(name: impl Into<String>, members: Vec<Member>) -> Self {
        Self {
            name: name.into(),
            members,
        }
    }
}

/// One member of a group. Users, domains and host names match case-insensitively; users and
/// host names are what the client asserts (`user_email`, `host_name`) unless the caller signed
/// in (an OIDC subject is matched as a user too).
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Member {
    /// An e-mail address or an OIDC subject.
    User(String),
    /// Every e-mail address at this domain (`acme.com` matches `a@acme.com`, not
    /// `a@sub.acme.com`).
    Domain(String),
    /// A machine, by its hardware id (exact).
    HardwareId(String),
    /// A host, by the name its client reports.
    Host(String),
}

/// What a `max` rule limits.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "kind", content = "value", rename_all = "snake_case")]
pub enum Target {
    /// The members of a group, together.
    Group(String),
    /// One user (e-mail address or OIDC subject).
    User(String),
    /// One host (host name or hardware id).
    Host(String),
}

/// One rule of a policy.
#[derive(Clone, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(tag = "rule", rename_all = "snake_case")]
pub enum PolicyRule {
    /// `seats` seats are kept for the group's members: nobody else gets one of them.
    Reserve {
        /// How many.
        seats: u32,
        /// For whom.
        group: String,
    },
    /// The target holds at most `seats` seats at once.
    Max {
        /// How many.
        seats: u32,
        /// Who.
        target: Target,
    },
    /// Only members of included groups may take a seat (with several, any of them).
    Include {
        /// The group.
        group: String,
    },
    /// Members of the group stand ahead of lower levels in the license's queue (ADR 0029):
    /// a requester's priority is the highest level of its groups, 0 without one.
    Priority {
        /// 1 to [`MAX_PRIORITY`](crate::MAX_PRIORITY).
        level: u32,
        /// The group.
        group: String,
    },
    /// Members of the group may not take a seat (even when also included).
    Exclude {
        /// The group.
        group: String,
    },
}

impl SeatPolicy {
    /// Most groups per license.
    pub const MAX_GROUPS: usize = 64;
    /// Most members per group.
    pub const MAX_MEMBERS: usize = 1_000;
    /// Most rules per license.
    pub const MAX_RULES: usize = 64;
    /// Longest group name.
    pub const MAX_NAME_LEN: usize = 64;
    /// Longest member or target value.
    pub const MAX_VALUE_LEN: usize = 254;

    /// Whether the policy has no group and no rule.
    pub fn is_empty(&self) -> bool {
        self.groups.is_empty() && self.rules.is_empty()
    }

    /// Checks names, sizes and references, and that the reserves fit in `seats` (the seats
    /// sold: overdraft is never reserved). The error names the field (`groups` or `rules`)
    /// and its message the entry (`groups[1]: …`, `rules[0]: …`, counted from 0).
    pub fn validate(&self, seats: u32) -> Result<()> {
        if self.groups.len() > Self::MAX_GROUPS {
            return Err(Error::invalid(
                "groups",
                format!("at most {} groups", Self::MAX_GROUPS),
            ));
        }
        if self.rules.len() > Self::MAX_RULES {
            return Err(Error::invalid(
                "rules",
                format!("at most {} rules", Self::MAX_RULES),
            ));
        }
        let mut names = BTreeSet::new();
        for (i, group) in self.groups.iter().enumerate() {
            let at = |e: Error| entry("groups", i, e);
            check_name(&group.name).map_err(at)?;
            if !names.insert(group.name.as_str()) {
                return Err(at(Error::invalid(
                    "groups",
                    format!("the group {:?} is defined twice", group.name),
                )));
            }
            if group.members.is_empty() || group.members.len() > Self::MAX_MEMBERS {
                return Err(at(Error::invalid(
                    "groups",
                    format!(
                        "the group {:?} needs 1 to {} members",
                        group.name,
                        Self::MAX_MEMBERS
                    ),
                )));
            }
            for member in &group.members {
                check_value("groups", member.value()).map_err(at)?;
            }
        }
        let known = |group: &str| -> Result<()> {
            if names.contains(group) {
                Ok(())
            } else {
                Err(Error::invalid(
                    "rules",
                    format!("no group named {group:?} is defined"),
                ))
            }
        };
        let mut reserved = 0u64;
        let mut reserving = BTreeSet::new();
        for (i, rule) in self.rules.iter().enumerate() {
            let at = |e: Error| entry("rules", i, e);
            match rule {
                PolicyRule::Reserve { seats: n, group } => {
                    known(group).map_err(at)?;
                    if *n == 0 || !reserving.insert(group.as_str()) {
                        return Err(at(Error::invalid(
                            "rules",
                            format!("reserve for {group:?}: at least 1 seat, one rule per group"),
                        )));
                    }
                    reserved += u64::from(*n);
                }
                PolicyRule::Max { target, .. } => match target {
                    Target::Group(group) => known(group).map_err(at)?,
                    Target::User(v) | Target::Host(v) => check_value("rules", v).map_err(at)?,
                },
                PolicyRule::Include { group } | PolicyRule::Exclude { group } => {
                    known(group).map_err(at)?
                }
                PolicyRule::Priority { level, group } => {
                    known(group).map_err(at)?;
                    if !(1..=crate::MAX_PRIORITY).contains(level) {
                        return Err(at(Error::invalid(
                            "rules",
                            format!("priority for {group:?}: 1 to {}", crate::MAX_PRIORITY),
                        )));
                    }
                }
            }
        }
        if reserved > u64::from(seats) {
            return Err(Error::invalid(
                "rules",
                format!("the reserves add up to {reserved} seats, more than the {seats} sold"),
            ));
        }
        Ok(())
    }
}

impl Member {
    /// The member's text.
    pub fn value(&self) -> &str {
        match self {
            Member::User(v) | Member::Domain(v) | Member::HardwareId(v) | Member::Host(v) => v,
        }
    }
}

/// `e`, an invalid-input error about the list `field`, with its entry `i` named first.
fn entry(field: &'static str, i: usize, e: Error) -> Error {
    match e {
        Error::InvalidInput { reason, .. } => {
            Error::invalid(field, format!("{field}[{i}]: {reason}"))
        }
        other => other,
    }
}

fn check_name(name: &str) -> Result<()> {
    let ok = !name.is_empty()
        && name.len() <= SeatPolicy::MAX_NAME_LEN
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.'));
    if ok {
        Ok(())
    } else {
        Err(Error::invalid(
            "groups",
            format!(
                "group name {name:?}: 1 to {} letters, digits, '-', '_' or '.'",
                SeatPolicy::MAX_NAME_LEN
            ),
        ))
    }
}

fn check_value(field: &'static str, value: &str) -> Result<()> {
    if value.is_empty() || value.len() > SeatPolicy::MAX_VALUE_LEN {
        return Err(Error::invalid(
            field,
            format!("{value:?}: 1 to {} bytes", SeatPolicy::MAX_VALUE_LEN),
        ));
    }
    crate::text::check_readable(field, value)?;
    if value.chars().any(char::is_whitespace) {
        return Err(Error::invalid(field, format!("{value:?}: no spaces")));
    }
    Ok(())
}

#[cfg(test)]
mod tests;
