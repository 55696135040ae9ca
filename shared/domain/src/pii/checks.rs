//! Second looks at the automaton's candidates: checksums, number plans and
//! the characters around a match. Each check returns the bytes to redact
//! (the candidate, or a narrower part of it) or `None` to reject it.

use std::net::Ipv6Addr;
use std::ops::Range;

pub(super) type Check = fn(&str, Range<usize>) -> Option<Range<usize>>;

/// Characters that join digit groups into one longer number (a date, a
/// version, an id), unlike a space, which also separates words.
const JOINERS: &[u8] = b"-./:,";

/// The byte before `i`. A redaction tag stands where a value was, so its
/// closing `]` reads as a digit: a second pass sees what the first one saw.
fn byte_before(text: &str, i: usize) -> Option<u8> {
    let b = *text.as_bytes().get(i.checked_sub(1)?)?;
    Some(if b == b']' && super::tag_closes_at(text, i) {
        b'0'
    } else {
        b
    })
}

/// The byte at `i`, with a redaction tag's opening `[` read as a digit.
fn byte_after(text: &str, i: usize) -> Option<u8> {
    let bytes = text.as_bytes();
    let b = *bytes.get(i)?;
    Some(if bytes[i..].starts_with(super::TAG_START) {
        b'0'
    } else {
        b
    })
}

/// True when the candidate continues a longer number on its left: a letter or
/// digit right before it, a `+`, or a joiner preceded by a digit.
fn joined_before(text: &str, start: usize) -> bool {
    match byte_before(text, start) {
        None => false,
        Some(b) if b.is_ascii_alphanumeric() || b == b'+' => true,
        Some(b) if JOINERS.contains(&b) => {
            byte_before(text, start - 1).is_some_and(|b| b.is_ascii_digit())
        }
        Some(_) => false,
    }
}

/// True when the number goes on after the candidate: a letter or digit right
/// after it, or a joiner followed by a digit.
fn joined_after(text: &str, end: usize) -> bool {
    match byte_after(text, end) {
        None => false,
        Some(b) if b.is_ascii_alphanumeric() => true,
        Some(b) if JOINERS.contains(&b) => {
            byte_after(text, end + 1).is_some_and(|b| b.is_ascii_digit())
        }
        Some(_) => false,
    }
}

fn standalone(text: &str, range: &Range<usize>) -> bool {
    !joined_before(text, range.start) && !joined_after(text, range.end)
}

/// True when a digit group and one space come right before: the candidate is
/// the tail of a longer grouped number (an IBAN, a tracking number).
fn after_digit_group(text: &str, start: usize) -> bool {
    byte_before(text, start) == Some(b' ')
        && byte_before(text, start - 1).is_some_and(|b| b.is_ascii_digit())
}

/// A phone number stands alone and does not continue a grouped number.
fn phone_alone(text: &str, range: &Range<usize>) -> bool {
    standalone(text, range) && !after_digit_group(text, range.start)
}

fn ascii_digits(s: &str) -> impl Iterator<Item = u32> + '_ {
    s.bytes()
        .filter(u8::is_ascii_digit)
        .map(|b| u32::from(b - b'0'))
}

/// Combining marks and joiners that letters carry in many scripts (accents,
/// Indic vowel signs and viramas, Arabic and Hebrew points, Thai tone marks).
fn combining(c: char) -> bool {
    matches!(u32::from(c),
        0x0300..=0x036F
        | 0x0483..=0x0489
        | 0x0591..=0x05C7
        | 0x0610..=0x061A
        | 0x064B..=0x065F
        | 0x0670
        | 0x06D6..=0x06ED
        | 0x0900..=0x0963
        | 0x0966..=0x0DFF
        | 0x0E31..=0x0E3A
        | 0x0E47..=0x0E4E
        | 0x0EB1..=0x0EBC
        | 0x0EC8..=0x0ECD
        | 0x1AB0..=0x1AFF
        | 0x1DC0..=0x1DFF
        | 0x200C..=0x200D
        | 0x20D0..=0x20FF
        | 0x3099..=0x309A
        | 0xFE20..=0xFE2F)
}

/// Letters, digits and marks outside ASCII; punctuation, symbols and spaces
/// (curly quotes, dashes, ellipses, ideographic stops) end an address.
fn name_char(c: char) -> bool {
    c.is_alphanumeric() || combining(c)
}

fn local_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || "._%+'-".contains(c)
    } else {
        name_char(c)
    }
}

fn domain_char(c: char) -> bool {
    if c.is_ascii() {
        c.is_ascii_alphanumeric() || c == '-' || c == '.'
    } else {
        name_char(c)
    }
}

/// The address inside the candidate: the name characters around its `@`,
/// ending in a top-level domain of letters (or an `xn--` label).
pub(super) fn email(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    let candidate = &text[range.clone()];
    let at = candidate.find('@')?;
    let local_len: usize = candidate[..at]
        .chars()
        .rev()
        .take_while(|c| local_char(*c))
        .map(char::len_utf8)
        .sum();
    // Quotes, dots and dashes before the name are punctuation, not address.
    let local = candidate[at - local_len..at].trim_start_matches(['.', '\'', '-']);
    let start = range.start + at - local.len();
    let domain_len: usize = candidate[at + 1..]
        .chars()
        .take_while(|c| domain_char(*c))
        .map(char::len_utf8)
        .sum();
    let domain = candidate[at + 1..at + 1 + domain_len].trim_end_matches(['.', '-']);
    let tld = domain.rsplit_once('.').map_or("", |(_, tld)| tld);
    let tld_valid = (tld.len() > 4 && tld.starts_with("xn--"))
        || (tld.chars().nth(1).is_some() && tld.chars().all(|c| c.is_alphabetic() || combining(c)));
    // Retina image names (logo@2x.png) share the shape.
    let retina = domain
        .split('.')
        .next()
        .and_then(|label| label.strip_suffix('x'))
        .is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()));
    // An address glued to another's domain (a@b.cc@d.ee) is not one.
    let glued = start > 0 && text.as_bytes()[start - 1] == b'@';
    (!local.is_empty() && tld_valid && !retina && !glued)
        .then_some(start..range.start + at + 1 + domain.len())
}

/// Registered IBAN lengths by country (ISO 13616).
const IBAN_LENGTHS: &[(&[u8; 2], usize)] = &[
    (b"AD", 24),
    (b"AE", 23),
    (b"AL", 28),
    (b"AT", 20),
    (b"AZ", 28),
    (b"BA", 20),
    (b"BE", 16),
    (b"BG", 22),
    (b"BH", 22),
    (b"BI", 27),
    (b"BR", 29),
    (b"BY", 28),
    (b"CH", 21),
    (b"CR", 22),
    (b"CY", 28),
    (b"CZ", 24),
    (b"DE", 22),
    (b"DJ", 27),
    (b"DK", 18),
    (b"DO", 28),
    (b"EE", 20),
    (b"EG", 29),
    (b"ES", 24),
    (b"FI", 18),
    (b"FK", 18),
    (b"FO", 18),
    (b"FR", 27),
    (b"GB", 22),
    (b"GE", 22),
    (b"GI", 23),
    (b"GL", 18),
    (b"GR", 27),
    (b"GT", 28),
    (b"HN", 28),
    (b"HR", 21),
    (b"HU", 28),
    (b"IE", 22),
    (b"IL", 23),
    (b"IQ", 23),
    (b"IS", 26),
    (b"IT", 27),
    (b"JO", 30),
    (b"KW", 30),
    (b"KZ", 20),
    (b"LB", 28),
    (b"LC", 32),
    (b"LI", 21),
    (b"LT", 20),
    (b"LU", 20),
    (b"LV", 21),
    (b"LY", 25),
    (b"MC", 27),
    (b"MD", 24),
    (b"ME", 22),
    (b"MK", 19),
    (b"MN", 20),
    (b"MR", 27),
    (b"MT", 31),
    (b"MU", 30),
    (b"NI", 28),
    (b"NL", 18),
    (b"NO", 15),
    (b"OM", 23),
    (b"PK", 24),
    (b"PL", 28),
    (b"PS", 29),
    (b"PT", 25),
    (b"QA", 29),
    (b"RO", 24),
    (b"RS", 22),
    (b"RU", 33),
    (b"SA", 24),
    (b"SC", 31),
    (b"SD", 18),
    (b"SE", 24),
    (b"SI", 19),
    (b"SK", 24),
    (b"SM", 27),
    (b"SO", 23),
    (b"ST", 25),
    (b"SV", 28),
    (b"TL", 23),
    (b"TN", 24),
    (b"TR", 26),
    (b"UA", 29),
    (b"VA", 22),
    (b"VG", 24),
    (b"XK", 20),
    (b"YE", 30),
];

/// The country codes that have IBANs.
pub(super) fn iban_countries() -> Vec<&'static str> {
    IBAN_LENGTHS
        .iter()
        .filter_map(|(code, _)| std::str::from_utf8(*code).ok())
        .collect()
}

/// An IBAN of its country's length, written compact or with single spaces,
/// whose mod-97 check equals 1. The candidate may run on into the next
/// word; the IBAN ends where its country's length is reached.
pub(super) fn iban(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    if byte_before(text, range.start).is_some_and(|b| b.is_ascii_alphanumeric()) {
        return None;
    }
    let bytes = &text.as_bytes()[range.clone()];
    let [first, second, ..] = bytes else {
        return None;
    };
    let country = [first.to_ascii_uppercase(), second.to_ascii_uppercase()];
    let (_, length) = IBAN_LENGTHS.iter().find(|(c, _)| **c == country)?;
    let mut chars = Vec::with_capacity(*length);
    let mut end = range.start;
    for (i, b) in bytes.iter().enumerate() {
        if chars.len() == *length {
            break;
        }
        if *b != b' ' {
            chars.push(b.to_ascii_uppercase());
            end = range.start + i + 1;
        }
    }
    if chars.len() < *length || joined_after(text, end) {
        return None;
    }
    // Rearranged (country and check digits last), letters as 10..35.
    let remainder = chars[4..]
        .iter()
        .chain(&chars[..4])
        .fold(0u32, |acc, &c| match c {
            b'0'..=b'9' => (acc * 10 + u32::from(c - b'0')) % 97,
            _ => (acc * 100 + u32::from(c - b'A') + 10) % 97,
        });
    (remainder == 1).then_some(range.start..end)
}

/// Whether an issuer uses this prefix with this many digits. No card starts
/// with 0, 1, 7, 8 or 9, and none has 13 digits any more, which keeps
/// EAN-13 barcodes and epoch milliseconds out.
fn issued(digits: &[u32]) -> bool {
    let prefix = |n: usize| digits.iter().take(n).fold(0, |acc, d| acc * 10 + d);
    let n = digits.len();
    match digits.first() {
        Some(2) => (2221..=2720).contains(&prefix(4)) && n == 16,
        Some(3) => match prefix(2) {
            34 | 37 => n == 15,
            30 | 36 | 38 | 39 => (14..=19).contains(&n),
            35 => (3528..=3589).contains(&prefix(4)) && (16..=19).contains(&n),
            _ => false,
        },
        Some(4) => n == 16 || n == 19,
        Some(5) if (51..=55).contains(&prefix(2)) => n == 16,
        Some(5 | 6) => (16..=19).contains(&n),
        _ => false,
    }
}

fn luhn(digits: &[u32]) -> bool {
    let sum: u32 = digits
        .iter()
        .rev()
        .enumerate()
        .map(|(i, &d)| match (i % 2 == 1, d * 2) {
            (true, twice) if twice > 9 => twice - 9,
            (true, twice) => twice,
            (false, _) => d,
        })
        .sum();
    sum.is_multiple_of(10)
}

/// A payment card: an issuer prefix and length, Luhn, one kind of separator.
/// A trailing group may be something else (`4111 1111 1111 1111 12/28`), so
/// the longest run of whole groups that passes is taken.
pub(super) fn card(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    let candidate = &text.as_bytes()[range.clone()];
    // Most look-alikes fail on the first digit: settle those before anything else.
    if !matches!(candidate.first(), Some(b'2'..=b'6')) || joined_before(text, range.start) {
        return None;
    }
    let passes = |digits: &[u32], end: usize| {
        issued(digits) && luhn(digits) && !joined_after(text, range.start + end)
    };
    let mut digits = [0u32; 19];
    let mut n = 0;
    let mut separator = None;
    let mut passing = None;
    for (i, &b) in candidate.iter().enumerate() {
        if b.is_ascii_digit() {
            // Longer than any card: what came before may still be one.
            let Some(slot) = digits.get_mut(n) else {
                return passing;
            };
            *slot = u32::from(b - b'0');
            n += 1;
            continue;
        }
        // A second kind of separator ends the card; any separator ends a group.
        if separator.is_some_and(|s| s != b) {
            return passing;
        }
        separator = Some(b);
        if passes(&digits[..n], i) {
            passing = Some(range.start..range.start + i);
        }
    }
    if passes(&digits[..n], candidate.len()) {
        passing = Some(range);
    }
    passing
}

pub(super) fn ssn(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    let candidate = &text[range.clone()];
    let mut parts = candidate.split('-');
    let (area, group, serial) = (parts.next()?, parts.next()?, parts.next()?);
    let valid = area != "000"
        && area != "666"
        && !area.starts_with('9')
        && group != "00"
        && serial != "0000";
    (valid && standalone(text, &range)).then_some(range)
}

/// Words after which a dotted quad is a version, not an address.
const VERSION_WORDS: &[&str] = &["version", "ver", "v", "build", "release", "firmware"];

pub(super) fn ipv4(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    let before = text[..range.start].trim_end_matches([' ', '.', ':']);
    // ASCII letters are one byte each, so this is a char boundary.
    let word_len = before
        .bytes()
        .rev()
        .take_while(u8::is_ascii_alphabetic)
        .count();
    let word = &before[before.len() - word_len..];
    let versioned = VERSION_WORDS.iter().any(|w| word.eq_ignore_ascii_case(w));
    // A port (`:8080`) may follow; another dotted group or a prefix length
    // (`10.0.0.0/8`, a network) may not.
    let more = byte_after(text, range.end).is_some_and(|b| b == b'.' || b == b'/')
        && byte_after(text, range.end + 1).is_some_and(|b| b.is_ascii_digit());
    (!versioned && !more && !joined_before(text, range.start)).then_some(range)
}

pub(super) fn ipv6(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    let candidate = &text[range.clone()];
    let glued = |b: Option<u8>| b.is_some_and(|b| b.is_ascii_alphanumeric() || b == b':');
    let groups = candidate.split(':').filter(|g| !g.is_empty()).count();
    // Needs a digit: `a::b` in a code path parses, but is no address.
    let valid = !glued(byte_before(text, range.start))
        && !glued(byte_after(text, range.end))
        && groups >= 2
        && candidate.bytes().any(|b| b.is_ascii_digit())
        && candidate.parse::<Ipv6Addr>().is_ok();
    valid.then_some(range)
}

/// +CC (or 00CC) numbers: 8 to 15 digits as E.164 allows, not counting a
/// "(0)" trunk marker, and not a signed number with thousands separators.
/// A trailing group may be something else (`+44 20 7946 0958 2026-11-25`),
/// so the longest run of whole groups that passes is taken.
pub(super) fn phone_international(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    let candidate = &text[range.clone()];
    let before = byte_before(text, range.start);
    let dialled_00 = candidate.starts_with("00");
    if before.is_some_and(|b| b.is_ascii_alphanumeric() || b == b'+')
        || (dialled_00 && after_digit_group(text, range.start))
    {
        return None;
    }
    let group_ends = candidate
        .bytes()
        .enumerate()
        .filter(|(_, b)| *b == b' ')
        .map(|(i, _)| i)
        .chain([candidate.len()]);
    let mut passing = None;
    for end in group_ends {
        let prefix = &candidate[..end];
        let number = prefix.replace("(0)", "");
        let number = number.strip_prefix("00").unwrap_or(&number);
        let digits = ascii_digits(number).count();
        // Signed amounts (+15 000 000) are short; longer ones are phone numbers.
        let amount = digits <= 10 && thousands(prefix.trim_start_matches(['+', '0']));
        if (8..=15).contains(&digits) && !amount && !joined_after(text, range.start + end) {
            passing = Some(range.start..range.start + end);
        }
    }
    passing
}

/// `15 000 000` or `2.500.000`: groups of three behind one kind of separator.
fn thousands(number: &str) -> bool {
    let separators: Vec<u8> = number.bytes().filter(|b| !b.is_ascii_digit()).collect();
    let groups: Vec<&str> = number.split(|c: char| !c.is_ascii_digit()).collect();
    separators.len() >= 2
        && separators.windows(2).all(|w| w[0] == w[1])
        && groups[1..].iter().all(|g| g.len() == 3)
}

pub(super) fn phone_north_american(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    phone_alone(text, &range).then_some(range)
}

pub(super) fn phone_french(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    phone_alone(text, &range).then_some(range)
}

/// Trunk-0 national numbers (British, German, Dutch, Italian ...): 10 to 12 digits.
pub(super) fn phone_national(text: &str, range: Range<usize>) -> Option<Range<usize>> {
    let digits = ascii_digits(&text[range.clone()]).count();
    ((10..=12).contains(&digits) && phone_alone(text, &range)).then_some(range)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn whole(check: Check, text: &str) -> Option<&str> {
        check(text, 0..text.len()).map(|r| &text[r])
    }

    #[test]
    fn an_address_ends_where_its_name_characters_end() {
        let found = |text: &'static str| email(text, 0..text.len()).map(|r| &text[r]);
        assert_eq!(
            found("\u{201c}jürgen@bücher.de\u{201d}"),
            Some("jürgen@bücher.de")
        );
        assert_eq!(found("मनोज@उदाहरण.भारत।"), Some("मनोज@उदाहरण.भारत"));
        assert_eq!(found("jane@example.com\u{2026}"), Some("jane@example.com"));
        assert_eq!(found("jane@example.c\u{2026}"), None);
        assert_eq!(found("logo@2x.png"), None);
    }

    #[test]
    fn iban_needs_its_country_length_and_mod_97() {
        assert_eq!(
            whole(iban, "DE89 3704 0044 0532 0130 00"),
            Some("DE89 3704 0044 0532 0130 00")
        );
        assert_eq!(
            whole(iban, "GB29NWBK60161331926819"),
            Some("GB29NWBK60161331926819")
        );
        assert_eq!(whole(iban, "DE89 3704 0044 0532 0130 01"), None);
        // Unknown country, and a length that does not fit Germany.
        assert_eq!(whole(iban, "ZZ89 3704 0044 0532 0130 00"), None);
        assert_eq!(whole(iban, "DE89 3704 0044 0532 0130 0"), None);
        // The candidate ran on into the next word; the IBAN ends at its length.
        let text = "DE89 3704 0044 0532 0130 00 EUR";
        assert_eq!(iban(text, 0..text.len()), Some(0..27));
    }

    #[test]
    fn cards_need_an_issuer_prefix_a_length_and_luhn() {
        assert_eq!(
            whole(card, "4111 1111 1111 1111"),
            Some("4111 1111 1111 1111")
        );
        // Luhn passes but no issuer uses 1 or 9 (epoch milliseconds, ISBN-13 look-alikes).
        assert_eq!(whole(card, "1764000000000"), None);
        assert_eq!(whole(card, "9780306406157"), None);
        // Visa has no 15-digit numbers; Amex only 15; 13 digits is an EAN-13.
        assert_eq!(whole(card, "411111111111116"), None);
        assert_eq!(whole(card, "4222222222222"), None);
        assert_eq!(whole(card, "5901234123457"), None);
        assert_eq!(whole(card, "371449635398431"), Some("371449635398431"));
        // A trailing group is not part of the card.
        assert_eq!(
            whole(card, "4111 1111 1111 1111 12"),
            Some("4111 1111 1111 1111")
        );
        assert_eq!(whole(card, "4111-1111 1111-1111"), None);
        // A card followed by more digit groups than any card has.
        assert_eq!(
            whole(card, "4111 1111 1111 1111 1234 5678"),
            Some("4111 1111 1111 1111")
        );
    }

    #[test]
    fn neighbours_decide_whether_a_number_stands_alone() {
        assert!(joined_before("1.2", 2));
        assert!(joined_before("ab", 1));
        assert!(!joined_before("a 2", 2));
        assert!(joined_after("1-2", 1));
        assert!(!joined_after("1, x", 1));
        assert!(!joined_after("1 2", 1));
    }

    #[test]
    fn dotted_quads_after_version_words_are_versions() {
        assert_eq!(whole(ipv4, "10.1.2.3"), Some("10.1.2.3"));
        let text = "Version 10.1.2.3";
        assert_eq!(ipv4(text, 8..text.len()), None);
        let text = "from 10.1.2.3";
        assert_eq!(ipv4(text, 5..text.len()), Some(5..13));
        let text = "é10.1.2.3";
        assert_eq!(ipv4(text, 2..text.len()), Some(2..10));
    }

    #[test]
    fn international_numbers_are_e164_sized_and_not_amounts() {
        assert!(whole(phone_international, "+44 20 7946 0958").is_some());
        assert!(whole(phone_international, "+44 (0)20 7946 0958").is_some());
        assert!(whole(phone_international, "+15 000 000").is_none());
        assert!(whole(phone_international, "+1 234 5").is_none());
        assert!(whole(phone_international, "+49 151 234567890123").is_none());
    }
}
