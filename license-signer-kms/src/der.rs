//! ECDSA P-256 signatures from DER (`SEQUENCE { r INTEGER, s INTEGER }`, what Cloud KMS returns)
//! to the fixed-width `r‖s` that JWS ES256 requires (RFC 7518 §3.4). RustCrypto's `ecdsa` does
//! the parsing; this module only names which step failed.

use std::fmt;

use p256::NistP256;

/// Why a KMS signature is not a usable ES256 signature.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum MalformedSignature {
    /// Not strict DER `SEQUENCE { r INTEGER, s INTEGER }` with two positive, minimal integers of
    /// at most 32 bytes and nothing after the sequence.
    NotDer,
    /// `r` or `s` is zero or not below the P-256 group order: no valid signature has that.
    OutOfRange,
}

impl fmt::Display for MalformedSignature {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::NotDer => "it is not a DER SEQUENCE of two P-256-sized INTEGERs",
            Self::OutOfRange => "r or s is zero or not below the P-256 group order",
        })
    }
}

/// The JWS form of a DER P-256 signature: `r‖s`, each left-padded to 32 bytes. The two steps of
/// `ecdsa::Signature::from_der`, taken apart so the error says which one failed.
pub(crate) fn es256_from_der(der: &[u8]) -> Result<[u8; 64], MalformedSignature> {
    let der = ecdsa::der::Signature::<NistP256>::from_bytes(der)
        .map_err(|_| MalformedSignature::NotDer)?;
    let signature =
        ecdsa::Signature::<NistP256>::try_from(der).map_err(|_| MalformedSignature::OutOfRange)?;
    Ok(signature.to_bytes().into())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// DER of `SEQUENCE { INTEGER r, INTEGER s }` from the integers' content bytes.
    fn der(r: &[u8], s: &[u8]) -> Vec<u8> {
        let mut body = vec![0x02, r.len() as u8];
        body.extend_from_slice(r);
        body.extend_from_slice(&[0x02, s.len() as u8]);
        body.extend_from_slice(s);
        let mut out = vec![0x30, body.len() as u8];
        out.extend(body);
        out
    }

    #[test]
    fn full_width_values_are_copied() {
        let r = [0x11; 32];
        let s = [0x22; 32];
        let fixed = es256_from_der(&der(&r, &s)).unwrap();
        assert_eq!(&fixed[..32], &r);
        assert_eq!(&fixed[32..], &s);
    }

    #[test]
    fn the_sign_padding_zero_is_dropped() {
        // Both top bits set, both below the P-256 order (0xffffffff00000000…).
        let mut r = vec![0x00];
        r.extend([0x80; 32]);
        let mut s = vec![0x00];
        s.extend([0xfe; 32]);
        let fixed = es256_from_der(&der(&r, &s)).unwrap();
        assert_eq!(fixed.len(), 64);
        assert_eq!(&fixed[..32], &[0x80; 32]);
        assert_eq!(&fixed[32..], &[0xfe; 32]);
    }

    #[test]
    fn short_values_are_left_padded() {
        // r with one leading zero byte stripped by DER, s far shorter.
        let r = [0x7f; 31];
        let s = [0x01, 0x02];
        let fixed = es256_from_der(&der(&r, &s)).unwrap();
        assert_eq!(fixed[0], 0);
        assert_eq!(&fixed[1..32], &r);
        assert_eq!(&fixed[32..62], &[0; 30]);
        assert_eq!(&fixed[62..], &s);
    }

    #[test]
    fn a_short_value_with_its_top_bit_set_keeps_its_padding_zero() {
        // 31 significant bytes whose top bit is set: DER writes 0x00 then the 31 bytes.
        let mut r = vec![0x00];
        r.extend([0x90; 31]);
        let fixed = es256_from_der(&der(&r, &[0x05])).unwrap();
        assert_eq!(fixed[0], 0);
        assert_eq!(&fixed[1..32], &[0x90; 31]);
        assert_eq!(fixed[63], 0x05);
    }

    #[test]
    fn malformed_signatures_are_refused() {
        let good = der(&[0x11; 32], &[0x22; 32]);
        let mut cases: Vec<(&str, Vec<u8>)> = vec![
            ("empty", vec![]),
            ("not a sequence", {
                let mut d = good.clone();
                d[0] = 0x31;
                d
            }),
            ("trailing bytes", {
                let mut d = good.clone();
                d.push(0);
                d
            }),
            ("truncated", good[..good.len() - 1].to_vec()),
            ("sequence too long for its content", {
                let mut d = good.clone();
                d[1] += 1;
                d
            }),
            (
                "long-form length",
                vec![0x30, 0x81, 0x04, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
            ),
            ("three integers", {
                let mut d = der(&[0x11; 3], &[0x22; 3]);
                d.extend([0x02, 0x01, 0x01]);
                d[1] += 3;
                d
            }),
            ("empty integer", der(&[], &[0x22])),
            ("negative integer", der(&[0x80, 0x01], &[0x22])),
            ("non-minimal integer", der(&[0x00, 0x01], &[0x22])),
            ("integer wider than the curve", der(&[0x11; 33], &[0x22])),
            ("padded integer wider than the curve", {
                let mut r = vec![0x00];
                r.extend([0x80; 33]);
                der(&r, &[0x22])
            }),
            ("wrong integer tag", {
                let mut d = der(&[0x11], &[0x22]);
                d[2] = 0x04;
                d
            }),
        ];
        cases.push(("raw r‖s instead of DER", vec![0x11; 64]));
        for (what, input) in cases {
            assert_eq!(
                es256_from_der(&input),
                Err(MalformedSignature::NotDer),
                "{what}"
            );
        }
    }

    #[test]
    fn well_formed_signatures_with_impossible_values_are_refused() {
        let mut at_least_the_order = vec![0x00];
        at_least_the_order.extend([0xff; 32]);
        for (what, input) in [
            ("zero r", der(&[0x00], &[0x22; 32])),
            ("zero s", der(&[0x11; 32], &[0x00])),
            (
                "s not below the order",
                der(&[0x11; 32], &at_least_the_order),
            ),
        ] {
            assert_eq!(
                es256_from_der(&input),
                Err(MalformedSignature::OutOfRange),
                "{what}"
            );
        }
    }

    #[test]
    fn real_signatures_convert_to_ones_that_verify_in_fixed_form() {
        use aws_lc_rs::rand::SystemRandom;
        use aws_lc_rs::signature::{
            ECDSA_P256_SHA256_ASN1_SIGNING, ECDSA_P256_SHA256_FIXED, EcdsaKeyPair, KeyPair,
            UnparsedPublicKey,
        };
        let rng = SystemRandom::new();
        let pkcs8 = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng).unwrap();
        let key =
            EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, pkcs8.as_ref()).unwrap();
        let public = UnparsedPublicKey::new(&ECDSA_P256_SHA256_FIXED, key.public_key().as_ref());
        // Enough signatures that some r or s is usually shorter than 32 bytes (1 in 128 each).
        for i in 0..300_u32 {
            let message = i.to_be_bytes();
            let der = key.sign(&rng, &message).unwrap();
            let fixed = es256_from_der(der.as_ref()).unwrap();
            assert_eq!(fixed.len(), 64);
            public.verify(&message, &fixed).unwrap();
        }
    }
}
