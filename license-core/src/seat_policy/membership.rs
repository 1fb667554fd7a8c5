//! Which groups a requester belongs to, and what that means for its seat: refused outright
//! (include / exclude), or a [`SeatTally`] for the ledger.

use std::collections::BTreeSet;

use super::tally::{Cap, Counter, Reserve, SeatLimit, SeatTally};
use super::{Member, PolicyRule, SeatPolicy, Target};
use crate::error::{Error, Result};

/// Who asks for a seat, as far as a policy can tell: what the client asserts (`user_email`,
/// `host_name`) and, when the caller signed in, its OIDC subject.
#[derive(Clone, Copy, Debug, Default)]
pub struct Requester<'a> {
    /// The machine.
    pub hardware_id: &'a str,
    /// The e-mail address the client gave.
    pub user_email: Option<&'a str>,
    /// The OIDC subject of the signed-in caller.
    pub subject: Option<&'a str>,
    /// The host name the client gave.
    pub host_name: Option<&'a str>,
}

impl Requester<'_> {
    fn is(&self, member: &Member) -> bool {
        match member {
            Member::User(user) => self.is_user(user),
            Member::Domain(domain) => self
                .user_email
                .and_then(|e| e.rsplit_once('@'))
                .is_some_and(|(_, d)| d.eq_ignore_ascii_case(domain)),
            Member::HardwareId(id) => self.hardware_id == id,
            Member::Host(host) => self.has_host_name(host),
        }
    }

    fn is_user(&self, user: &str) -> bool {
        self.user_email
            .is_some_and(|e| e.eq_ignore_ascii_case(user))
            || self.subject.is_some_and(|s| s == user)
    }

    fn has_host_name(&self, host: &str) -> bool {
        self.host_name.is_some_and(|h| h.eq_ignore_ascii_case(host))
    }

    fn is_host(&self, host: &str) -> bool {
        self.has_host_name(host) || self.hardware_id == host
    }
}

impl SeatPolicy {
    /// The names of the policy's groups `requester` belongs to, in the policy's order (usage
    /// reports break seat time down by them).
    pub fn groups_of(&self, requester: &Requester<'_>) -> Vec<&str> {
        self.groups
            .iter()
            .filter(|g| g.members.iter().any(|m| requester.is(m)))
            .map(|g| g.name.as_str())
            .collect()
    }
}

/// A policy applied to one requester.
///
/// ```
/// use license_core::{Admission, Member, PolicyRule, Requester, SeatGroup, SeatPolicy};
/// let policy = SeatPolicy {
///     groups: vec![SeatGroup::new("interns", vec![Member::Domain("interns.acme.com".into())])],
///     rules: vec![PolicyRule::Exclude { group: "interns".into() }],
/// };
/// let intern = Requester {
///     hardware_id: "laptop-7",
///     user_email: Some("kim@interns.acme.com"),
///     ..Requester::default()
/// };
/// let refused = Admission::of(&policy, &intern, None).unwrap_err();
/// assert_eq!(refused.code(), "excluded");
/// ```
#[derive(Debug)]
pub struct Admission;

impl Admission {
    /// `Ok(tally)` when `requester` may take a seat under `policy` (and `processes_per_host`,
    /// per-process leasing's cap per machine); `Err(Excluded)` when an `exclude` rule names
    /// one of its groups, or `include` rules exist and name none.
    pub fn of(
        policy: &SeatPolicy,
        requester: &Requester<'_>,
        processes_per_host: Option<u32>,
    ) -> Result<SeatTally> {
        let groups: BTreeSet<&str> = policy.groups_of(requester).into_iter().collect();
        let mut included = None;
        for rule in &policy.rules {
            match rule {
                PolicyRule::Exclude { group } if groups.contains(group.as_str()) => {
                    return Err(Error::Excluded(format!(
                        "members of the group {group:?} may not use this license"
                    )));
                }
                PolicyRule::Include { group } => {
                    included = Some(included.unwrap_or(false) || groups.contains(group.as_str()));
                }
                _ => {}
            }
        }
        if included == Some(false) {
            return Err(Error::Excluded(
                "this license is for members of its included groups only".into(),
            ));
        }

        let mut tally = SeatTally::default();
        for rule in &policy.rules {
            match rule {
                PolicyRule::Reserve { seats, group } => {
                    let counter = Counter::group(group);
                    let member = groups.contains(group.as_str());
                    if member {
                        tally.counters.push(counter.clone());
                    }
                    tally.reserves.push(Reserve {
                        counter,
                        seats: *seats,
                        member,
                    });
                }
                PolicyRule::Max { seats, target } => {
                    let (counter, limit) = match target {
                        Target::Group(g) if groups.contains(g.as_str()) => {
                            (Counter::group(g), SeatLimit::GroupMax)
                        }
                        Target::User(u) if requester.is_user(u) => {
                            (Counter::user(&u.to_lowercase()), SeatLimit::UserMax)
                        }
                        Target::Host(h) if requester.is_host(h) => {
                            (Counter::host(&h.to_lowercase()), SeatLimit::HostMax)
                        }
                        _ => continue,
                    };
                    tally.counters.push(counter.clone());
                    tally.caps.push(Cap {
                        counter,
                        max: *seats,
                        limit,
                    });
                }
                PolicyRule::Include { .. }
                | PolicyRule::Exclude { .. }
                | PolicyRule::Priority { .. } => {}
            }
        }
        if let Some(max) = processes_per_host {
            let counter = Counter::machine(requester.hardware_id);
            tally.counters.push(counter.clone());
            tally.caps.push(Cap {
                counter,
                max,
                limit: SeatLimit::ProcessesPerHost,
            });
        }
        tally.counters.sort();
        tally.counters.dedup();
        Ok(tally)
    }

    /// The requester's place in the license's queue: the highest `priority` level of its
    /// groups, 0 when none names one (ADR 0029).
    ///
    /// ```
    /// use license_core::{Admission, Member, PolicyRule, Requester, SeatGroup, SeatPolicy};
    /// let policy = SeatPolicy {
    ///     groups: vec![SeatGroup::new("ops", vec![Member::Host("pager-1".into())])],
    ///     rules: vec![PolicyRule::Priority { level: 10, group: "ops".into() }],
    /// };
    /// let on_call = Requester { hardware_id: "x", host_name: Some("pager-1"), ..Requester::default() };
    /// assert_eq!(Admission::priority(&policy, &on_call), 10);
    /// assert_eq!(Admission::priority(&policy, &Requester::default()), 0);
    /// ```
    pub fn priority(policy: &SeatPolicy, requester: &Requester<'_>) -> u32 {
        policy
            .rules
            .iter()
            .filter_map(|rule| match rule {
                PolicyRule::Priority { level, group } => Some((*level, group)),
                _ => None,
            })
            .filter(|(_, group)| {
                policy
                    .groups
                    .iter()
                    .any(|g| g.name == **group && g.members.iter().any(|m| requester.is(m)))
            })
            .map(|(level, _)| level)
            .max()
            .unwrap_or(0)
    }
}
