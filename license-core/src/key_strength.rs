//! How guessable a license key a vendor chose is. A client credential of a tenant plus a
//! guessed key of that tenant takes a seat, so a key like `ACME-PRO-2026-0001` (a product, a
//! year and a serial number) is a seat for anyone who can count. Generated keys carry 100
//! random bits and are never checked; a chosen key needs [`LicenseKey::MIN_CHOSEN_BITS`] by a
//! conservative estimate, or the vendor's explicit `allow_weak_key` (ADR 0024).

use crate::error::{Error, Result};
use crate::license::LicenseKey;

impl LicenseKey {
    /// Least estimated entropy of a key a vendor chooses, in bits. About 20 random letters
    /// and digits reach it (a random key of 20 characters of `A–Z 0–9` falls short about
    /// once in 8,000 draws; of 22 characters, never in 200,000), and so does a UUID.
    pub const MIN_CHOSEN_BITS: u32 = 64;

    /// A conservative estimate of the key's entropy, in whole bits, for a key whose maker
    /// is unknown. Each letter counts log2 26 bits, and one more if its case differs from the
    /// letter before it; each digit counts log2 10 bits; `-` and `_` nothing. A character
    /// that repeats the one before it, continues a run of three like `123` or `cba`, or
    /// completes a group of three characters seen earlier in the key counts nothing.
    ///
    /// It sees the string, not how it was made: it catches short keys, serial numbers,
    /// repetitions and runs, not a long key made of words.
    ///
    /// ```
    /// use license_core::LicenseKey;
    /// let serial = LicenseKey::parse("ACME-PRO-2026-0001")?;
    /// assert!(serial.estimated_bits() < LicenseKey::MIN_CHOSEN_BITS);
    /// let random = LicenseKey::parse("7QX2M-9KD4P-VTH8W-ZC3RN")?;
    /// assert!(random.estimated_bits() >= LicenseKey::MIN_CHOSEN_BITS);
    /// # Ok::<(), license_core::Error>(())
    /// ```
    pub fn estimated_bits(&self) -> u32 {
        // At most 64 characters of at most log2 52 bits: far from u32's or f64's limits.
        estimate(self.as_str()).floor() as u32
    }

    /// Refuses a chosen key below [`LicenseKey::MIN_CHOSEN_BITS`]: `invalid_input` naming
    /// `license_key`, saying how to get past it.
    ///
    /// ```
    /// use license_core::LicenseKey;
    /// let e = LicenseKey::parse("ACME-PRO-2026-0001")?.ensure_strong().unwrap_err();
    /// assert_eq!(e.code(), "invalid_input");
    /// assert!(LicenseKey::generate()?.as_str().len() == 23);
    /// # Ok::<(), license_core::Error>(())
    /// ```
    pub fn ensure_strong(&self) -> Result<()> {
        let bits = self.estimated_bits();
        if bits >= Self::MIN_CHOSEN_BITS {
            return Ok(());
        }
        Err(Error::invalid(
            "license_key",
            format!(
                "is too easy to guess (about {bits} bits by a conservative estimate, at least {} \
                 needed): leave license_key out to have a random one generated, choose about 20 \
                 random letters and digits, or send allow_weak_key: true to keep this one",
                Self::MIN_CHOSEN_BITS
            ),
        ))
    }
}

/// The estimate of [`LicenseKey::estimated_bits`], before rounding down.
fn estimate(key: &str) -> f64 {
    let chars: Vec<char> = key.chars().filter(char::is_ascii_alphanumeric).collect();
    let letter_bits = 26f64.log2();
    let digit_bits = 10f64.log2();
    let mut bits = 0.0;
    // Case adds a bit only where it changes: `AcmePro` is as guessable as `acmepro`, nearly.
    let mut last_upper = None;
    for (i, c) in chars.iter().enumerate() {
        let counts = !predictable(&chars, i);
        if c.is_ascii_digit() {
            bits += if counts { digit_bits } else { 0.0 };
            continue;
        }
        let upper = c.is_ascii_uppercase();
        if counts {
            bits += letter_bits;
            if last_upper.is_some_and(|was| was != upper) {
                bits += 1.0;
            }
        }
        last_upper = Some(upper);
    }
    bits
}

/// Whether `chars[i]` follows from the characters before it: it repeats the previous one,
/// continues a run of three consecutive characters up or down, or completes a group of three
/// that appeared earlier.
fn predictable(chars: &[char], i: usize) -> bool {
    let at = |j: usize| i64::from(u32::from(chars[j]));
    if i >= 1 && chars[i] == chars[i - 1] {
        return true;
    }
    if i >= 2 {
        let step = at(i) - at(i - 1);
        if step.abs() == 1 && step == at(i - 1) - at(i - 2) {
            return true;
        }
    }
    if i >= 3 {
        let group = &chars[i - 2..=i];
        // Earlier groups end before `i`; they may overlap this one (`ABABA`).
        if chars[..i].windows(3).any(|earlier| earlier == group) {
            return true;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bits(key: &str) -> u32 {
        LicenseKey::parse(key).unwrap().estimated_bits()
    }

    #[test]
    fn serial_number_keys_are_weak() {
        for key in [
            "ACME-PRO-2026-0001",
            "ACME-PRO-2026-0417",
            "AcmePro-2026-00417",
            "Acme-Pro-2026-0001-x",
            "ACME-CAD-0001",
            "CADPRO-TEST-0001",
            "GLOBEX-0001",
            "bench-heartbeat",
            "AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA",
            "ABABABABABABABABABABABABABABABAB",
            "0123456789012345678901234567890123456789",
            "abcdefghijklmnopqrstuvwxyz",
            "KEY-KEY-KEY-KEY-KEY-KEY-KEY-KEY-KEY",
        ] {
            let key = LicenseKey::parse(key).unwrap();
            let e = key.ensure_strong().unwrap_err();
            assert!(
                matches!(
                    e,
                    Error::InvalidInput {
                        field: "license_key",
                        ..
                    }
                ),
                "{key:?}: {e:?}"
            );
        }
    }

    #[test]
    fn random_keys_of_twenty_characters_and_uuids_are_strong() {
        for key in [
            "7QX2M-9KD4P-VTH8W-ZC3RN",
            "GLOBEX-7QX2M9KD4PVTH8WZ",
            "f47ac10b-58cc-4372-a567-0e02b2c3d479",
            "q8Zr2VtLx9PmK4cW7nHs",
        ] {
            let key = LicenseKey::parse(key).unwrap();
            assert!(
                key.ensure_strong().is_ok(),
                "{key:?}: {}",
                key.estimated_bits()
            );
        }
    }

    #[test]
    fn letters_digits_cases_and_predictable_characters_weigh_as_documented() {
        assert_eq!(
            bits("QWRT-PLMK"),
            37,
            "8 letters × log2 26, separators nothing"
        );
        assert_eq!(bits("90817263"), 26, "8 digits × log2 10");
        assert_eq!(bits("13572468"), 26, "steps of two are no run: all count");
        assert_eq!(bits("12345678"), 6, "a run: only the first two count");
        assert_eq!(bits("QQQQQQQQ"), 4, "repeats: only the first counts");
        assert_eq!(
            bits("ABCXyzzz"),
            24,
            "A B X y z × log2 26, one case change (C ends a run, zz repeat)"
        );
        assert_eq!(bits("AcmePro-"), 35, "7 letters × log2 26 + 3 case changes");
        assert_eq!(
            bits("QWEQWEQWE"),
            23,
            "Q W E Q W × log2 26: then each group of three was seen before"
        );
    }
}
