//! What the log and `health` say of a certificate: its subject's common name and its expiry,
//! read from the DER with a few lines of walking (no X.509 library for two fields).
//!
//! `Certificate ::= SEQUENCE { tbsCertificate, signatureAlgorithm, signature }` and
//! `TBSCertificate ::= SEQUENCE { [0] version OPTIONAL, serialNumber, signature, issuer,
//! validity SEQUENCE { notBefore, notAfter }, subject, … }` (RFC 5280, 4.1).

const SEQUENCE: u8 = 0x30;
const SET: u8 = 0x31;
const OID: u8 = 0x06;
const UTC_TIME: u8 = 0x17;
const GENERALIZED_TIME: u8 = 0x18;
const VERSION: u8 = 0xa0;
/// id-at-commonName, 2.5.4.3.
const COMMON_NAME: &[u8] = &[0x55, 0x04, 0x03];

/// The two fields, when the DER has them where RFC 5280 puts them.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct CertInfo {
    /// The subject's common name (CN), if it has one.
    pub subject_cn: Option<String>,
    /// `notAfter` in Unix seconds.
    pub not_after: Option<i64>,
}

/// Reads what it can of `der`; a shape it does not expect leaves the field empty.
pub fn read(der: &[u8]) -> CertInfo {
    let Some(tbs) = tbs_fields(der) else {
        return CertInfo::default();
    };
    let [validity, subject] = tbs;
    CertInfo {
        subject_cn: common_name(subject),
        not_after: not_after(validity),
    }
}

/// One TLV: its tag, its contents, and what follows it.
fn tlv(input: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let (&tag, rest) = input.split_first()?;
    let (&first, rest) = rest.split_first()?;
    let (len, rest) = if first < 0x80 {
        (usize::from(first), rest)
    } else {
        let count = usize::from(first & 0x7f);
        if count == 0 || count > 4 || rest.len() < count {
            return None;
        }
        let (bytes, rest) = rest.split_at(count);
        let len = bytes
            .iter()
            .fold(0usize, |acc, &b| (acc << 8) | usize::from(b));
        (len, rest)
    };
    if rest.len() < len {
        return None;
    }
    let (contents, rest) = rest.split_at(len);
    Some((tag, contents, rest))
}

/// The contents of a TLV with tag `want`, and what follows it.
fn expect(input: &[u8], want: u8) -> Option<(&[u8], &[u8])> {
    let (tag, contents, rest) = tlv(input)?;
    (tag == want).then_some((contents, rest))
}

/// The validity and subject of the TBSCertificate.
fn tbs_fields(der: &[u8]) -> Option<[&[u8]; 2]> {
    let (cert, _) = expect(der, SEQUENCE)?;
    let (mut tbs, _) = expect(cert, SEQUENCE)?;
    if tbs.first() == Some(&VERSION) {
        tbs = tlv(tbs)?.2;
    }
    // serialNumber, signature, issuer: skipped whatever they are.
    for _ in 0..3 {
        tbs = tlv(tbs)?.2;
    }
    let (validity, rest) = expect(tbs, SEQUENCE)?;
    let (subject, _) = expect(rest, SEQUENCE)?;
    Some([validity, subject])
}

fn not_after(validity: &[u8]) -> Option<i64> {
    let (_, _, rest) = tlv(validity)?;
    let (tag, time, _) = tlv(rest)?;
    let text = std::str::from_utf8(time).ok()?.strip_suffix('Z')?;
    let full = match tag {
        // YYMMDDHHMMSS: 50 to 99 are 1950 to 1999 (RFC 5280, 4.1.2.5.1).
        UTC_TIME if text.len() == 12 => {
            let yy: u32 = text.get(..2)?.parse().ok()?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{text}")
        }
        GENERALIZED_TIME if text.len() == 14 => text.to_owned(),
        _ => return None,
    };
    if !full.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let field = |range: std::ops::Range<usize>| full.get(range)?.parse::<u32>().ok();
    let month = time::Month::try_from(u8::try_from(field(4..6)?).ok()?).ok()?;
    let date = time::Date::from_calendar_date(
        i32::try_from(field(0..4)?).ok()?,
        month,
        u8::try_from(field(6..8)?).ok()?,
    )
    .ok()?;
    let at = date
        .with_hms(
            u8::try_from(field(8..10)?).ok()?,
            u8::try_from(field(10..12)?).ok()?,
            u8::try_from(field(12..14)?).ok()?,
        )
        .ok()?;
    Some(at.assume_utc().unix_timestamp())
}

/// The first CN in `Name ::= SEQUENCE OF SET OF SEQUENCE { type OID, value }`.
fn common_name(mut name: &[u8]) -> Option<String> {
    while !name.is_empty() {
        let (mut set, rest) = expect(name, SET)?;
        name = rest;
        while !set.is_empty() {
            let (pair, rest) = expect(set, SEQUENCE)?;
            set = rest;
            let (oid, value) = expect(pair, OID)?;
            if oid == COMMON_NAME {
                let (_, text, _) = tlv(value)?;
                return Some(String::from_utf8_lossy(text).into_owned());
            }
        }
    }
    None
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    fn cert(cn: Option<&str>, not_after: time::OffsetDateTime) -> Vec<u8> {
        let key = rcgen::KeyPair::generate().unwrap();
        let mut params = rcgen::CertificateParams::new(vec!["localhost".to_owned()]).unwrap();
        params.distinguished_name = rcgen::DistinguishedName::new();
        if let Some(cn) = cn {
            params
                .distinguished_name
                .push(rcgen::DnType::OrganizationName, "Veil tests");
            params
                .distinguished_name
                .push(rcgen::DnType::CommonName, cn);
        }
        params.not_after = not_after;
        params.self_signed(&key).unwrap().der().to_vec()
    }

    #[test]
    fn reads_the_common_name_and_expiry() {
        // 2049 is a UTCTime, 2050 and later a GeneralizedTime.
        for (year, unix) in [(2049, 2_524_607_999), (2051, 2_587_679_999)] {
            let at = time::Date::from_calendar_date(year, time::Month::December, 31)
                .unwrap()
                .with_hms(23, 59, 59)
                .unwrap()
                .assume_utc();
            let info = read(&cert(Some("api.example.com"), at));
            assert_eq!(info.subject_cn.as_deref(), Some("api.example.com"));
            assert_eq!(info.not_after, Some(unix), "{year}");
        }
    }

    #[test]
    fn a_missing_name_or_garbage_leaves_fields_empty() {
        let at = time::OffsetDateTime::from_unix_timestamp(1_900_000_000).unwrap();
        let info = read(&cert(None, at));
        assert_eq!(info.subject_cn, None);
        assert_eq!(info.not_after, Some(1_900_000_000));
        for junk in [
            &b""[..],
            b"\x30",
            b"\x30\x84\xff\xff\xff\xff",
            b"not a cert at all",
        ] {
            assert_eq!(read(junk), CertInfo::default());
        }
    }
}
