//! A seat policy as options-file text: what `license license policy show` prints and
//! `policy set --file` reads back (`license_core::parse_options`), one group or rule a line.

use license_core::{Member, PolicyRule, SeatPolicy, Target};

/// The policy as an options file; a comment line when it is empty. Parsing the text gives the
/// policy back.
pub fn options_text(policy: &SeatPolicy) -> String {
    if policy.is_empty() {
        return "# no seat policy: anyone with the license key may take any free seat\n".into();
    }
    let mut text = String::new();
    for group in &policy.groups {
        text.push_str("GROUP ");
        text.push_str(&group.name);
        for member in &group.members {
            let kind = match member {
                Member::User(_) => "user",
                Member::Domain(_) => "domain",
                Member::HardwareId(_) => "hardware_id",
                Member::Host(_) => "host",
            };
            text.push_str(&format!(" {kind}:{}", member.value()));
        }
        text.push('\n');
    }
    for rule in &policy.rules {
        let line = match rule {
            PolicyRule::Reserve { seats, group } => format!("RESERVE {seats} {group}"),
            PolicyRule::Max { seats, target } => {
                let (kind, value) = match target {
                    Target::Group(v) => ("group", v),
                    Target::User(v) => ("user", v),
                    Target::Host(v) => ("host", v),
                };
                format!("MAX {seats} {kind}:{value}")
            }
            PolicyRule::Include { group } => format!("INCLUDE {group}"),
            PolicyRule::Exclude { group } => format!("EXCLUDE {group}"),
            PolicyRule::Priority { level, group } => format!("PRIORITY {level} {group}"),
        };
        text.push_str(&line);
        text.push('\n');
    }
    text
}

#[cfg(test)]
mod tests {
    use license_core::parse_options;

    use super::*;

    const EVERY_KIND: &str = "\
GROUP eng user:ada@acme.com domain:acme.com host:build-01 hardware_id:4C4C-0001
GROUP interns domain:interns.acme.com
RESERVE 2 eng
MAX 3 group:eng
MAX 1 user:bob@acme.com
MAX 2 host:ws-17
INCLUDE eng
EXCLUDE interns
PRIORITY 10 eng
";

    #[test]
    fn the_text_parses_back_to_the_same_policy() {
        let policy = parse_options(EVERY_KIND).unwrap();
        let text = options_text(&policy);
        assert_eq!(text, EVERY_KIND);
        assert_eq!(parse_options(&text).unwrap(), policy);
    }

    #[test]
    fn an_empty_policy_is_a_comment_that_parses_to_nothing() {
        let text = options_text(&SeatPolicy::default());
        assert!(text.starts_with('#'), "{text}");
        assert!(parse_options(&text).unwrap().is_empty());
    }
}
