//! ECDSA signatures from DER (`SEQUENCE { r INTEGER, s INTEGER }`, what Cloud KMS returns) to
//! the fixed-width `r‖s` that JWS ES256 requires (RFC 7518 §3.4).

/// Converts a DER ECDSA signature into `r‖s`, each left-padded to `scalar_len` bytes (32 for
/// P-256). Only strict DER is accepted: short-form lengths, minimal positive integers, nothing
/// after the sequence. `None` for anything else.
pub(crate) fn ecdsa_der_to_fixed(der: &[u8], scalar_len: usize) -> Option<Vec<u8>> {
    let (content, rest) = read_tlv(der, 0x30)?;
    if !rest.is_empty() {
        return None;
    }
    let (r, content) = read_tlv(content, 0x02)?;
    let (s, content) = read_tlv(content, 0x02)?;
    if !content.is_empty() {
        return None;
    }
    let mut out = vec![0; 2 * scalar_len];
    put_unsigned(r, &mut out[..scalar_len])?;
    put_unsigned(s, &mut out[scalar_len..])?;
    Some(out)
}

/// One tag-length-value with a short-form length (< 128, enough for P-256 and P-384): the
/// value and what follows it.
fn read_tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&actual, input) = input.split_first()?;
    let (&len, input) = input.split_first()?;
    if actual != tag || len >= 0x80 || input.len() < usize::from(len) {
        return None;
    }
    Some(input.split_at(usize::from(len)))
}

/// Writes a DER INTEGER's content, which must be positive and minimal, right-aligned in `out`.
fn put_unsigned(integer: &[u8], out: &mut [u8]) -> Option<()> {
    let magnitude = match integer {
        [] => return None,
        // Negative: ECDSA's r and s never are.
        [first, ..] if first & 0x80 != 0 => return None,
        // A leading zero is allowed only to keep the next byte's top bit from reading as a sign.
        [0, next, ..] if next & 0x80 == 0 => return None,
        [0, rest @ ..] if !rest.is_empty() => rest,
        all => all,
    };
    if magnitude.len() > out.len() {
        return None;
    }
    let start = out.len() - magnitude.len();
    out[start..].copy_from_slice(magnitude);
    Some(())
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
        let fixed = ecdsa_der_to_fixed(&der(&r, &s), 32).unwrap();
        assert_eq!(&fixed[..32], &r);
        assert_eq!(&fixed[32..], &s);
    }

    #[test]
    fn the_sign_padding_zero_is_dropped() {
        let mut r = vec![0x00];
        r.extend([0x80; 32]);
        let mut s = vec![0x00];
        s.extend([0xff; 32]);
        let fixed = ecdsa_der_to_fixed(&der(&r, &s), 32).unwrap();
        assert_eq!(fixed.len(), 64);
        assert_eq!(&fixed[..32], &[0x80; 32]);
        assert_eq!(&fixed[32..], &[0xff; 32]);
    }

    #[test]
    fn short_values_are_left_padded() {
        // r with one leading zero byte stripped by DER, s far shorter.
        let r = [0x7f; 31];
        let s = [0x01, 0x02];
        let fixed = ecdsa_der_to_fixed(&der(&r, &s), 32).unwrap();
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
        let fixed = ecdsa_der_to_fixed(&der(&r, &[0x05]), 32).unwrap();
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
            assert_eq!(ecdsa_der_to_fixed(&input, 32), None, "{what}");
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
            let fixed = ecdsa_der_to_fixed(der.as_ref(), 32).unwrap();
            assert_eq!(fixed.len(), 64);
            public.verify(&message, &fixed).unwrap();
        }
    }
}
