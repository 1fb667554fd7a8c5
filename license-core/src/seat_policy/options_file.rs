//! The policy as a license administrator writes it: one rule per line, in the spirit of
//! FlexNet's options file.
//!
//! ```text
//! # comments and blank lines are ignored; keywords are case-insensitive
//! GROUP eng user:alice@acme.com domain:acme.com host:build-01 hardware_id:4C4C-0001
//! GROUP interns domain:interns.acme.com
//! RESERVE 2 eng
//! MAX 3 group:eng
//! MAX 1 user:bob@acme.com
//! MAX 2 host:ws-17
//! INCLUDE eng
//! PRIORITY 10 eng
//! EXCLUDE interns
//! ```
//!
//! A group named on several `GROUP` lines gets the members of all of them.

use super::{Member, PolicyRule, SeatGroup, SeatPolicy, Target};
use crate::error::{Error, Result};

/// Parses an options file into a [`SeatPolicy`] (not yet validated against a license: see
/// [`SeatPolicy::validate`]). Errors name the line.
///
/// ```
/// use license_core::{parse_options, PolicyRule};
/// let policy = parse_options("GROUP eng domain:acme.com\nRESERVE 2 eng\n").unwrap();
/// assert_eq!(policy.rules, vec![PolicyRule::Reserve { seats: 2, group: "eng".into() }]);
/// assert!(parse_options("RESERVE two eng").is_err());
/// ```
pub fn parse_options(text: &str) -> Result<SeatPolicy> {
    let mut policy = SeatPolicy::default();
    for (i, line) in text.lines().enumerate() {
        let line = line.split('#').next().unwrap_or("").trim();
        if line.is_empty() {
            continue;
        }
        let bad = |why: &str| Error::invalid("policy", format!("line {}: {why}", i + 1));
        let words: Vec<&str> = line.split_whitespace().collect();
        let keyword = words[0].to_ascii_uppercase();
        let count = |word: Option<&&str>| -> Result<u32> {
            word.and_then(|w| w.parse().ok())
                .ok_or_else(|| bad("expected a number of seats"))
        };
        let one_group = |rest: &[&str]| -> Result<String> {
            match rest {
                [group] => Ok((*group).to_owned()),
                _ => Err(bad("expected one group name")),
            }
        };
        match keyword.as_str() {
            "GROUP" => {
                let [_, name, members @ ..] = words.as_slice() else {
                    return Err(bad("GROUP needs a name"));
                };
                if members.is_empty() {
                    return Err(bad(
                        "GROUP needs members (user:, domain:, hardware_id:, host:)",
                    ));
                }
                let members = members
                    .iter()
                    .map(|m| member(m).ok_or_else(|| bad(&format!("unknown member {m:?}"))))
                    .collect::<Result<Vec<_>>>()?;
                match policy.groups.iter_mut().find(|g| g.name == *name) {
                    Some(group) => group.members.extend(members),
                    None => policy.groups.push(SeatGroup::new(*name, members)),
                }
            }
            "RESERVE" => policy.rules.push(PolicyRule::Reserve {
                seats: count(words.get(1))?,
                group: one_group(&words[2.min(words.len())..])?,
            }),
            "MAX" => {
                let seats = count(words.get(1))?;
                let target = match &words[2.min(words.len())..] {
                    [t] => target(t).ok_or_else(|| bad("expected group:, user: or host:"))?,
                    _ => return Err(bad("MAX needs a number and one target")),
                };
                policy.rules.push(PolicyRule::Max { seats, target });
            }
            "PRIORITY" => policy.rules.push(PolicyRule::Priority {
                level: words
                    .get(1)
                    .and_then(|w| w.parse().ok())
                    .ok_or_else(|| bad("expected a priority level"))?,
                group: one_group(&words[2.min(words.len())..])?,
            }),
            "INCLUDE" => policy.rules.push(PolicyRule::Include {
                group: one_group(&words[1..])?,
            }),
            "EXCLUDE" => policy.rules.push(PolicyRule::Exclude {
                group: one_group(&words[1..])?,
            }),
            _ => return Err(bad(&format!("unknown keyword {:?}", words[0]))),
        }
    }
    Ok(policy)
}

fn member(word: &str) -> Option<Member> {
    let (kind, value) = word.split_once(':')?;
    let value = value.to_owned();
    Some(match kind.to_ascii_lowercase().as_str() {
        "user" => Member::User(value),
        "domain" => Member::Domain(value),
        "hardware_id" => Member::HardwareId(value),
        "host" => Member::Host(value),
        _ => return None,
    })
}

fn target(word: &str) -> Option<Target> {
    let (kind, value) = word.split_once(':')?;
    let value = value.to_owned();
    Some(match kind.to_ascii_lowercase().as_str() {
        "group" => Target::Group(value),
        "user" => Target::User(value),
        "host" => Target::Host(value),
        _ => return None,
    })
}
