//! Durations on the command line (`--for 7d`, `--hold-off 10m`, `--linger 90s`), as whole
//! seconds the server takes: a bare number is seconds; anything else is read by humantime
//! (`1h 30m`, `2days`, `45s`).

/// Whole seconds from `raw`; the message says what is wrong (clap prints it with the flag).
pub fn seconds(raw: &str) -> Result<u32, String> {
    let raw = raw.trim();
    let whole = match raw.parse::<u64>() {
        Ok(seconds) => seconds,
        Err(_) => {
            let duration = humantime::parse_duration(raw).map_err(|e| {
                format!("{e}: use seconds (3600) or a duration such as 90s, 10m, 12h, 7d")
            })?;
            if duration.subsec_nanos() != 0 {
                return Err("must be whole seconds".into());
            }
            duration.as_secs()
        }
    };
    u32::try_from(whole).map_err(|_| format!("{whole} s is too long"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations_are_whole_seconds() {
        for (raw, expected) in [
            ("3600", 3600),
            ("0", 0),
            ("90s", 90),
            ("10m", 600),
            ("12h", 43_200),
            ("7d", 604_800),
            ("1h 30m", 5400),
            ("2days", 172_800),
        ] {
            assert_eq!(seconds(raw), Ok(expected), "{raw}");
        }
        for bad in ["", "-1", "soon", "1.5s", "500ms", "200years", "99999999999"] {
            assert!(seconds(bad).is_err(), "{bad}");
        }
    }
}
