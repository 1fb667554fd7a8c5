//! A seat's [`SeatTally`] in the fixed-width form `acquire.lua` takes (ARGV 8 to 10, which a
//! queue ticket keeps as they are): the counter digests concatenated, then the caps and the
//! reserves as 23-byte records (`lua/tally.lua` reads them). Fixed widths keep the script's
//! parsing to `string.sub`, with no separator to escape.

use license_core::{Cap, Reserve, SeatLimit, SeatTally};

use crate::compact;

/// The arguments for `tally`: counters, caps, reserves (each empty for an empty tally).
pub(crate) fn args(tally: &SeatTally) -> [Vec<u8>; 3] {
    [
        compact::counters(&tally.counters),
        tally.caps.iter().flat_map(cap).collect(),
        tally.reserves.iter().flat_map(reserve).collect(),
    ]
}

/// Counter digest (12 bytes), the limit's code (1 byte), the most seats (10 digits).
fn cap(cap: &Cap) -> Vec<u8> {
    let mut out = compact::counter(&cap.counter).to_vec();
    out.push(limit_code(cap.limit));
    out.extend_from_slice(format!("{:010}", cap.max).as_bytes());
    out
}

/// Counter digest (12 bytes), `1` for a member else `0`, the seats reserved (10 digits).
fn reserve(reserve: &Reserve) -> Vec<u8> {
    let mut out = compact::counter(&reserve.counter).to_vec();
    out.push(if reserve.member { b'1' } else { b'0' });
    out.extend_from_slice(format!("{:010}", reserve.seats).as_bytes());
    out
}

/// The code of a limit in a cap record (`LIMITS` in `acquire.lua`).
fn limit_code(limit: SeatLimit) -> u8 {
    match limit {
        SeatLimit::Seats => b's',
        SeatLimit::GroupMax => b'g',
        SeatLimit::UserMax => b'u',
        SeatLimit::HostMax => b'h',
        SeatLimit::ProcessesPerHost => b'p',
        SeatLimit::ReservedForOthers => b'r',
        // Never a cap's limit.
        SeatLimit::Queued | SeatLimit::QueueFull => b'q',
    }
}

/// The limit `acquire.lua` names in a `LIMITED` reply (`SeatLimit::as_str`), or `None`.
pub(crate) fn limit_named(name: &str) -> Option<SeatLimit> {
    [
        SeatLimit::GroupMax,
        SeatLimit::UserMax,
        SeatLimit::HostMax,
        SeatLimit::ProcessesPerHost,
        SeatLimit::ReservedForOthers,
        SeatLimit::Queued,
    ]
    .into_iter()
    .find(|limit| limit.as_str() == name)
}

#[cfg(test)]
mod tests {
    use license_core::Counter;

    use super::*;

    #[test]
    fn an_empty_tally_is_three_empty_arguments() {
        assert!(args(&SeatTally::default()).iter().all(Vec::is_empty));
    }

    #[test]
    fn caps_and_reserves_are_23_byte_records() {
        let eng = Counter::group("eng");
        let tally = SeatTally {
            counters: vec![eng.clone(), Counter::user("ann@example.com")],
            caps: vec![Cap {
                counter: eng.clone(),
                max: u32::MAX,
                limit: SeatLimit::GroupMax,
            }],
            reserves: vec![
                Reserve {
                    counter: eng.clone(),
                    seats: 2,
                    member: true,
                },
                Reserve {
                    counter: Counter::group("ops"),
                    seats: 0,
                    member: false,
                },
            ],
        };
        let [counters, caps, reserves] = args(&tally);
        assert_eq!(counters.len(), 24);
        assert_eq!(&counters[..12], &compact::counter(&eng)[..]);
        assert_eq!(caps.len(), 23);
        assert_eq!(&caps[12..], b"g4294967295");
        assert_eq!(reserves.len(), 46);
        assert_eq!(&reserves[12..23], b"10000000002");
        assert_eq!(&reserves[35..], b"00000000000");
    }

    #[test]
    fn every_policy_limit_is_named_back() {
        for limit in [
            SeatLimit::GroupMax,
            SeatLimit::UserMax,
            SeatLimit::HostMax,
            SeatLimit::ProcessesPerHost,
            SeatLimit::ReservedForOthers,
            SeatLimit::Queued,
        ] {
            assert_eq!(limit_named(limit.as_str()), Some(limit));
        }
        // `seats` comes back as NO_SEATS, never as LIMITED.
        assert_eq!(limit_named("seats"), None);
        assert_eq!(limit_named("group"), None);
    }
}
