//! One pass over the text: a single automaton holds every PII shape, and a
//! check settles each candidate it reports (checksums, number plans, the
//! characters around it).
//!
//! Digits and word boundaries are ASCII-only, so a non-ASCII digit never
//! counts as a digit and the lazy DFA never has to give up on non-ASCII
//! text. The e-mail shape also takes non-ASCII characters, for
//! internationalised addresses.

use std::ops::Range;
use std::sync::LazyLock;

use regex_automata::hybrid::dfa::DFA;
use regex_automata::meta::Regex;
use regex_automata::util::{start, syntax};
use regex_automata::{Anchored, Input, PatternID};

use super::PiiType;
use super::checks::{self, Check};

/// A value found in a text: its type and the bytes it covers.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Detection {
    pub kind: PiiType,
    pub range: Range<usize>,
}

struct Shape {
    kind: PiiType,
    pattern: String,
    /// Accepts a candidate (possibly narrowed) or rejects it.
    check: Check,
    /// Where to look again after a rejection: just past the candidate's
    /// first character, or (for unbounded shapes) past a given byte.
    resume: fn(&str, &Range<usize>) -> usize,
}

/// An ASCII word boundary.
const B: &str = r"(?-u:\b)";
/// Any character outside ASCII. Unicode letter classes would make the
/// automaton megabytes large; the e-mail check sorts letters from the rest.
const NON_ASCII: &str = r"[^\x00-\x7F]";

fn shapes() -> Vec<Shape> {
    let label =
        format!(r"[A-Za-z0-9{NON_ASCII}](?:[A-Za-z0-9\-{NON_ASCII}]*[A-Za-z0-9{NON_ASCII}])?");
    let octet = r"(?:25[0-5]|2[0-4][0-9]|1[0-9]{2}|[1-9]?[0-9])";
    let hex = "[0-9A-Fa-f]";
    let shape = |kind, pattern: String, check| Shape {
        kind,
        pattern,
        check,
        resume: next_char,
    };
    vec![
        Shape {
            kind: PiiType::Email,
            // A local part has at most 64 characters. The bound also keeps
            // each search short: an open-ended local part would let every
            // search run to the end of a long run of name characters.
            pattern: format!(
                r"[A-Za-z0-9._%+'\-{NON_ASCII}]{{1,64}}@{label}(?:\.{label})*\.(?:xn--[A-Za-z0-9\-]+|[A-Za-z{NON_ASCII}]{{2,}})"
            ),
            check: checks::email,
            // Never scan a local part twice.
            resume: past_at_sign,
        },
        shape(
            PiiType::Iban,
            format!(
                r"{B}(?i-u:{countries})[0-9]{{2}}(?: ?[A-Za-z0-9]){{11,30}}",
                countries = checks::iban_countries().join("|")
            ),
            checks::iban,
        ),
        // Issuers' numbers start with 2 to 6 and are printed in groups of
        // two digits or more (4-4-4-4, 4-6-5) or in one piece.
        shape(
            PiiType::CreditCard,
            format!(r"{B}[2-6][0-9]{{1,5}}(?:[ \-]?[0-9]{{2,6}}){{1,8}}{B}"),
            checks::card,
        ),
        shape(
            PiiType::Ssn,
            format!(r"{B}[0-9]{{3}}-[0-9]{{2}}-[0-9]{{4}}{B}"),
            checks::ssn,
        ),
        shape(
            PiiType::Ipv4,
            format!(r"{B}(?:{octet}\.){{3}}{octet}{B}"),
            checks::ipv4,
        ),
        shape(
            PiiType::Ipv6,
            format!(
                r"(?:{hex}{{1,4}}:(?:{hex}{{0,4}}:){{1,7}}|::(?:{hex}{{0,4}}:){{0,6}})(?:[0-9]{{1,3}}(?:\.[0-9]{{1,3}}){{3}}|{hex}{{1,4}}|:)?"
            ),
            checks::ipv6,
        ),
        // +CC or 00CC, an optional "(0)" or "(area)", then digits in any grouping.
        shape(
            PiiType::Phone,
            format!(
                r"(?:\+|{B}00)[1-9][0-9]{{0,2}}(?:[ .\-]?\([0-9]{{1,5}}\))?(?:[ .\-/]?[0-9]){{5,14}}{B}"
            ),
            checks::phone_international,
        ),
        // North American: (415) 555-0132, 415-555-0132, 1-800-555-0199.
        shape(
            PiiType::Phone,
            format!(
                r"(?:{B}1[ .\-]?)?(?:\([2-9][0-9]{{2}}\)[ .\-]?|{B}[2-9][0-9]{{2}}[ .\-])[2-9][0-9]{{2}}[ .\-][0-9]{{4}}{B}"
            ),
            checks::phone_north_american,
        ),
        // French national: 01 23 45 67 89, 06.12.34.56.78.
        shape(
            PiiType::Phone,
            format!(
                r"{B}0[1-9](?: [0-9]{{2}}){{4}}{B}|{B}0[1-9](?:\.[0-9]{{2}}){{4}}{B}|{B}0[1-9](?:-[0-9]{{2}}){{4}}{B}"
            ),
            checks::phone_french,
        ),
        // Trunk-0 national numbers: 020 7946 0958, 0151 23456789, (030) 1234567, 030/1234567.
        shape(
            PiiType::Phone,
            format!(
                r"(?:\(0[1-9][0-9]{{0,4}}\)[ \-/]?|{B}0[1-9][0-9]{{0,4}}[ \-/])[0-9]{{2,8}}(?:[ \-][0-9]{{2,6}}){{0,2}}{B}"
            ),
            checks::phone_national,
        ),
    ]
}

struct Automaton {
    regex: Regex,
    shapes: Vec<Shape>,
    /// For each shape, the bytes a match of it can start with.
    first_bytes: Vec<[bool; 256]>,
}

fn syntax_config() -> syntax::Config {
    syntax::Config::new().unicode(true).utf8(true)
}

#[allow(clippy::expect_used)] // the patterns are constants, covered by tests
static AUTOMATON: LazyLock<Automaton> = LazyLock::new(|| {
    let shapes = shapes();
    let patterns: Vec<&str> = shapes.iter().map(|s| s.pattern.as_str()).collect();
    let regex = Regex::builder()
        .syntax(syntax_config())
        .build_many(&patterns)
        .expect("valid PII patterns");
    let first_bytes = first_bytes(&patterns);
    Automaton {
        regex,
        shapes,
        first_bytes,
    }
});

/// Which bytes each pattern can start with, read off a lazy DFA's first
/// step after every kind of preceding byte (none, word, non-word, newline).
/// A byte counts unless the step is certainly dead (so, all of them if the
/// DFA cannot be built).
fn first_bytes(patterns: &[&str]) -> Vec<[bool; 256]> {
    let built = DFA::builder()
        .configure(DFA::config().starts_for_each_pattern(true))
        .syntax(syntax_config())
        .build_many(patterns);
    let Ok(dfa) = built else {
        return vec![[true; 256]; patterns.len()];
    };
    let mut cache = dfa.create_cache();
    let mut table = vec![[false; 256]; patterns.len()];
    for (id, row) in table.iter_mut().enumerate() {
        let Ok(pattern) = PatternID::new(id) else {
            *row = [true; 256];
            continue;
        };
        for before in [None, Some(b'a'), Some(b' '), Some(b'\n')] {
            let config = start::Config::new()
                .anchored(Anchored::Pattern(pattern))
                .look_behind(before);
            let start = dfa.start_state(&mut cache, &config).ok();
            for (byte, possible) in (0..=255u8).zip(row.iter_mut()) {
                let next = start.and_then(|s| dfa.next_state(&mut cache, s, byte).ok());
                *possible |= next.is_none_or(|n| !n.is_dead());
            }
        }
    }
    table
}

pub(super) fn prepare() {
    LazyLock::force(&AUTOMATON);
}

/// Every PII shape needs an ASCII digit, an `@` or a `:`; text without any
/// skips the automaton.
fn may_hold_pii(text: &str) -> bool {
    text.bytes()
        .any(|b| b.is_ascii_digit() || b == b'@' || b == b':')
}

/// Calls `found` for each value in `text`, left to right, without overlaps.
pub(super) fn scan(text: &str, mut found: impl FnMut(Detection)) {
    if !may_hold_pii(text) {
        return;
    }
    let Automaton { regex, shapes, .. } = &*AUTOMATON;
    let mut at = 0;
    while at < text.len() {
        let Some(m) = regex.search(&Input::new(text).range(at..)) else {
            return;
        };
        let shape = &shapes[m.pattern().as_usize()];
        let accepted = (shape.check)(text, m.range())
            .map(|range| (shape.kind, range))
            .or_else(|| other_shape_at(text, m.start(), m.pattern()));
        match accepted {
            Some((kind, range)) if !range.is_empty() && range.start >= m.start() => {
                at = range.end;
                found(Detection { kind, range });
            }
            _ => at = (shape.resume)(text, &m.range()),
        }
    }
}

/// When the preferred shape at `start` is rejected, another may still fit there
/// (a number that fails Luhn can be a phone number).
fn other_shape_at(
    text: &str,
    start: usize,
    rejected: PatternID,
) -> Option<(PiiType, Range<usize>)> {
    let Automaton {
        regex,
        shapes,
        first_bytes,
    } = &*AUTOMATON;
    let first = *text.as_bytes().get(start)?;
    // Shapes listed before the rejected one do not match here: it won on priority.
    shapes
        .iter()
        .enumerate()
        .skip(rejected.as_usize() + 1)
        .filter(|(id, _)| first_bytes[*id][usize::from(first)])
        .find_map(|(id, shape)| {
            let pattern = PatternID::new(id).ok()?;
            let input = Input::new(text)
                .range(start..)
                .anchored(Anchored::Pattern(pattern));
            let m = regex.search(&input)?;
            (shape.check)(text, m.range()).map(|range| (shape.kind, range))
        })
}

fn next_char(text: &str, candidate: &Range<usize>) -> usize {
    text[candidate.start..]
        .chars()
        .next()
        .map_or(text.len(), |c| candidate.start + c.len_utf8())
}

fn past_at_sign(text: &str, candidate: &Range<usize>) -> usize {
    text[candidate.clone()]
        .find('@')
        .map_or_else(|| next_char(text, candidate), |at| candidate.start + at + 1)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn kinds(text: &str) -> Vec<(PiiType, &str)> {
        let mut out = Vec::new();
        scan(text, |d| out.push((d.kind, &text[d.range])));
        out
    }

    #[test]
    fn every_pattern_compiles_into_a_small_automaton() {
        assert_eq!(AUTOMATON.regex.pattern_len(), AUTOMATON.shapes.len());
        // Unicode letter classes in the e-mail shape would take megabytes.
        let bytes = AUTOMATON.regex.memory_usage();
        assert!(bytes < 512 * 1024, "{bytes} bytes");
    }

    #[test]
    fn first_bytes_are_read_off_the_patterns() {
        let starts = |kind: PiiType, byte: u8| {
            AUTOMATON
                .shapes
                .iter()
                .zip(&AUTOMATON.first_bytes)
                .filter(|(s, _)| s.kind == kind)
                .any(|(_, bytes)| bytes[usize::from(byte)])
        };
        assert!(starts(PiiType::CreditCard, b'4'));
        assert!(!starts(PiiType::CreditCard, b'1'));
        assert!(starts(PiiType::Phone, b'+') && starts(PiiType::Phone, b'('));
        assert!(!starts(PiiType::Phone, b'a'));
        assert!(starts(PiiType::Email, 0xC3) && !starts(PiiType::Email, b' '));
        assert!(starts(PiiType::Iban, b'd') && !starts(PiiType::Iban, b'W'));
    }

    #[test]
    fn a_rejected_shape_leaves_room_for_another_at_the_same_place() {
        // Card-shaped (14 digits), rejected as a card, and a phone number
        // followed by a year.
        assert_eq!(
            kinds("call 415-555-0132 2026"),
            vec![(PiiType::Phone, "415-555-0132")]
        );
        assert_eq!(
            kinds("dial 0044 20 7946 0958 now"),
            vec![(PiiType::Phone, "0044 20 7946 0958")]
        );
    }

    #[test]
    fn a_rejected_address_is_not_scanned_again_from_inside_its_local_part() {
        let text = format!("{}@2x.png", "a".repeat(10_000));
        assert!(kinds(&text).is_empty());
        assert_eq!(past_at_sign(&text, &(0..text.len())), 10_001);
        assert_eq!(next_char("é1", &(0..3)), 2);
    }
}
