//! `license session list` follows the server's pages: every live session, once each.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

use std::collections::HashSet;

use support::Fixture;

#[test]
fn session_list_follows_every_page() {
    let fixture = Fixture::new(5);
    let mut acquired = HashSet::new();
    for i in 0..5 {
        let lease = fixture.acquire(&format!("machine-{i}"));
        acquired.insert(lease["session_id"].as_str().unwrap().to_owned());
    }
    // Pages of 2: three requests, each following the previous page's cursor.
    let listed = fixture
        .admin()
        .run(&[
            "-o",
            "json",
            "session",
            "list",
            &fixture.license_id,
            "--page-size",
            "2",
        ])
        .success()
        .json();
    let ids: Vec<String> = listed
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids.len(), 5, "{listed}");
    assert_eq!(ids.iter().cloned().collect::<HashSet<_>>(), acquired);
    // The default page (500) lists the same sessions in the same order.
    let default: Vec<String> = fixture
        .live_sessions()
        .iter()
        .map(|s| s["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(default, ids);
    // The server's page cap is the flag's range.
    let too_big =
        fixture
            .admin()
            .run(&["session", "list", &fixture.license_id, "--page-size", "501"]);
    assert_eq!(too_big.code, 2, "{}", too_big.stderr);
    assert!(too_big.stderr.contains("1..=500"), "{}", too_big.stderr);
}
