//! CRC32C integrity fields: KMS sends them as JSON int64 (a decimal string, or a number).

use serde::{Deserialize, Deserializer};

/// The CRC32C (Castagnoli) checksum Cloud KMS uses in its integrity fields.
pub(crate) fn crc32c(bytes: &[u8]) -> u32 {
    crc32c::crc32c(bytes)
}

/// Whether `bytes` match the checksum a reply carried.
pub(crate) fn matches(bytes: &[u8], expected: Option<Crc32c>) -> bool {
    expected.is_some_and(|Crc32c(crc)| crc == crc32c(bytes))
}

/// A checksum from a reply: protobuf's `Int64Value` in JSON form, holding a `u32`.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Crc32c(pub(crate) u32);

impl<'de> Deserialize<'de> for Crc32c {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum Int64 {
            Number(u64),
            Text(String),
        }
        let value = match Int64::deserialize(deserializer)? {
            Int64::Number(n) => n,
            Int64::Text(s) => s.parse().map_err(serde::de::Error::custom)?,
        };
        u32::try_from(value)
            .map(Crc32c)
            .map_err(|_| serde::de::Error::custom("a CRC32C must fit in 32 bits"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn is_castagnoli_not_ieee() {
        // The standard check value of CRC-32C (CRC-32/ISCSI); IEEE CRC-32 gives 0xCBF43926.
        assert_eq!(crc32c(b"123456789"), 0xE306_9283);
    }

    #[test]
    fn reads_the_string_and_the_number_forms() {
        let from_string: Crc32c = serde_json::from_str("\"3808858755\"").unwrap();
        let from_number: Crc32c = serde_json::from_str("3808858755").unwrap();
        assert_eq!(from_string, Crc32c(0xE306_9283));
        assert_eq!(from_number, Crc32c(0xE306_9283));
        assert!(matches(b"123456789", Some(from_string)));
    }

    #[test]
    fn refuses_values_past_32_bits_and_junk() {
        assert!(serde_json::from_str::<Crc32c>("\"4294967296\"").is_err());
        assert!(serde_json::from_str::<Crc32c>("\"-1\"").is_err());
        assert!(serde_json::from_str::<Crc32c>("\"abc\"").is_err());
        assert!(serde_json::from_str::<Crc32c>("1.5").is_err());
    }

    #[test]
    fn a_missing_checksum_never_matches() {
        assert!(!matches(b"123456789", None));
        assert!(!matches(b"123456780", Some(Crc32c(0xE306_9283))));
    }
}
