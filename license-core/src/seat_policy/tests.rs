use super::*;

fn policy(text: &str) -> SeatPolicy {
    parse_options(text).unwrap()
}

fn who<'a>(email: &'a str, host: Option<&'a str>) -> Requester<'a> {
    Requester {
        hardware_id: "hw-1",
        user_email: Some(email),
        subject: None,
        host_name: host,
    }
}

#[test]
fn the_options_file_reads_every_rule_and_merges_group_lines() {
    let p = policy(
        "# team\nGROUP eng user:alice@acme.com\ngroup eng domain:acme.com host:b1\n\
         RESERVE 2 eng\nMAX 3 group:eng\nMAX 1 user:bob@acme.com\nMAX 2 host:ws\n\
         INCLUDE eng\nEXCLUDE eng\n",
    );
    assert_eq!(p.groups.len(), 1);
    assert_eq!(p.groups[0].members.len(), 3);
    assert_eq!(p.rules.len(), 6);
    assert!(p.validate(2).is_ok());
    let e = parse_options("GROUP eng\n").unwrap_err();
    assert!(e.to_string().contains("line 1"), "{e}");
    let e = parse_options("\nMAX 2 team:eng").unwrap_err();
    assert!(e.to_string().contains("line 2"), "{e}");
}

#[test]
fn validation_names_what_is_wrong() {
    let undefined = policy("RESERVE 1 eng");
    assert!(
        undefined
            .validate(5)
            .unwrap_err()
            .to_string()
            .contains("eng")
    );
    let twice = policy("GROUP a user:x\nRESERVE 1 a\nRESERVE 1 a");
    let e = twice.validate(5).unwrap_err();
    assert_eq!(e.code(), "invalid_input");
    assert!(e.to_string().contains("rules[1]: reserve for \"a\""), "{e}");
    let second_group = SeatPolicy {
        groups: vec![
            SeatGroup::new("a", vec![Member::User("x".into())]),
            SeatGroup::new("b", vec![]),
        ],
        rules: vec![],
    };
    let e = second_group.validate(1).unwrap_err();
    assert!(e.to_string().contains("groups[1]: the group \"b\""), "{e}");
    let too_many = policy("GROUP a user:x\nGROUP b user:y\nRESERVE 2 a\nRESERVE 2 b");
    assert!(too_many.validate(3).is_err());
    assert!(too_many.validate(4).is_ok());
    let bad_name = SeatPolicy {
        groups: vec![SeatGroup::new("a b", vec![Member::User("x".into())])],
        rules: vec![],
    };
    assert!(bad_name.validate(1).is_err());
    let hidden = SeatPolicy {
        groups: vec![SeatGroup::new("a", vec![Member::User("x\u{202e}y".into())])],
        rules: vec![],
    };
    assert!(hidden.validate(1).is_err());
}

#[test]
fn exclude_beats_include_and_include_admits_members_only() {
    let p = policy(
        "GROUP eng domain:acme.com\nGROUP interns user:kim@acme.com\nINCLUDE eng\nEXCLUDE interns",
    );
    assert!(Admission::of(&p, &who("ann@acme.com", None), None).is_ok());
    let kim = Admission::of(&p, &who("KIM@acme.com", None), None).unwrap_err();
    assert_eq!(kim.code(), "excluded");
    let outsider = Admission::of(&p, &who("joe@other.com", None), None).unwrap_err();
    assert_eq!(outsider.code(), "excluded");
    let nobody = Requester {
        hardware_id: "hw",
        ..Requester::default()
    };
    assert!(Admission::of(&p, &nobody, None).is_err());
}

#[test]
fn the_tally_counts_the_groups_and_caps_that_apply() {
    let p = policy(
        "GROUP eng domain:acme.com\nGROUP ops host:ops-1\nRESERVE 2 eng\nRESERVE 1 ops\n\
         MAX 3 group:eng\nMAX 1 user:ann@acme.com\nMAX 1 host:hw-1",
    );
    let t = Admission::of(&p, &who("Ann@acme.com", None), Some(4)).unwrap();
    assert_eq!(
        t.counters,
        vec![
            Counter::group("eng"),
            Counter::host("hw-1"),
            Counter::machine("hw-1"),
            Counter::user("ann@acme.com"),
        ]
    );
    assert_eq!(t.caps.len(), 4);
    assert_eq!(t.reserves.len(), 2);
    assert!(
        t.reserves
            .iter()
            .any(|r| r.member && r.counter == Counter::group("eng"))
    );
    assert!(
        t.reserves
            .iter()
            .any(|r| !r.member && r.counter == Counter::group("ops"))
    );
    let joe = Requester {
        hardware_id: "hw-2",
        ..who("joe@else.com", Some("x"))
    };
    let other = Admission::of(&p, &joe, None).unwrap();
    assert!(other.counters.is_empty());
    assert!(other.caps.is_empty());
}

#[test]
fn the_check_keeps_reserves_and_caps() {
    let eng = Counter::group("eng");
    let for_eng = |member| SeatTally {
        counters: vec![],
        caps: vec![Cap {
            counter: eng.clone(),
            max: 3,
            limit: SeatLimit::GroupMax,
        }],
        reserves: vec![Reserve {
            counter: eng.clone(),
            seats: 2,
            member,
        }],
    };
    let counts = |n: u32| move |c: &Counter| if c.0 == "g:eng" { n } else { 0 };
    // 4 seats; eng holds none: outsiders get 2, eng members all 4 (up to its cap of 3).
    assert_eq!(for_eng(false).check(counts(0), 1, 4), None);
    assert_eq!(
        for_eng(false).check(counts(0), 2, 4),
        Some(SeatLimit::ReservedForOthers)
    );
    assert_eq!(for_eng(true).check(counts(0), 2, 4), None);
    assert_eq!(
        for_eng(true).check(counts(3), 3, 4),
        Some(SeatLimit::GroupMax)
    );
    // Once eng holds its 2, the rest is anyone's.
    assert_eq!(for_eng(false).check(counts(2), 3, 4), None);
    assert_eq!(
        for_eng(false).check(counts(2), 4, 4),
        Some(SeatLimit::Seats)
    );
}
