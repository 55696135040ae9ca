//! What the agents wrote besides their opportunities: the sentences that back a
//! recommendation, the order of work they state, and the KPIs they measured.

use serde::Serialize;

use std::collections::HashMap;

use super::similarity::{Term, Terms, covered};
use crate::agent_output::AgentOutput;
use crate::agents::AgentId;

/// One sentence of an agent's findings.
pub(super) struct Sentence {
    pub(super) text: String,
    pub(super) terms: Terms,
    pub(super) has_number: bool,
    /// What may back a recommendation: a whole sentence, not a heading, not a
    /// statement of order, and not boilerplate (the agent writes the same
    /// sentence, or one on the same skeleton, more than once: per page, per
    /// segment, ...).
    pub(super) finding: bool,
}

/// Sentences sharing this much of their words are one skeleton.
const SAME_SKELETON: f64 = 0.5;

/// The sentences of an output's findings: summary, key points, insight titles,
/// descriptions and bullets, in that order, without repeats.
pub(super) fn sentences(out: &AgentOutput) -> Vec<Sentence> {
    let mut texts: Vec<String> = split_sentences(&out.overview.summary);
    texts.extend(out.overview.key_points.iter().cloned());
    for insight in &out.insights {
        texts.push(insight.title.clone());
        texts.extend(split_sentences(&insight.description));
        texts.extend(insight.bullets.iter().cloned());
    }
    let texts: Vec<String> = texts.into_iter().map(|t| t.trim().to_owned()).collect();
    let words: Vec<Vec<u64>> = texts.iter().map(|t| word_hashes(t)).collect();
    let repeated = same_skeletons(&words);
    let mut seen = std::collections::HashSet::new();
    texts
        .into_iter()
        .zip(repeated)
        .filter(|(t, _)| !t.is_empty() && seen.insert(t.clone()))
        .map(|(text, repeated)| Sentence {
            terms: Terms::parse(&text),
            has_number: text.chars().any(|c| c.is_ascii_digit()),
            finding: !repeated && is_finding(&text),
            text,
        })
        .collect()
}

/// Which word sets share [`SAME_SKELETON`] of their words with another set.
///
/// Prefix filtering keeps this near linear where comparing every pair was
/// quadratic (a 15 KB output has hundreds of sentences): with each set's
/// words ordered rarest first, two sets that share at least `t` of their
/// union share a word among the first `|set| - ceil(t * |set|) + 1` of each,
/// so only sets meeting in such a word are compared.
fn same_skeletons(words: &[Vec<u64>]) -> Vec<bool> {
    let mut frequency: HashMap<u64, usize> = HashMap::new();
    for w in words.iter().flatten() {
        *frequency.entry(*w).or_default() += 1;
    }
    let mut repeated = vec![false; words.len()];
    let mut by_prefix_word: HashMap<u64, Vec<usize>> = HashMap::new();
    let mut compared_with = vec![usize::MAX; words.len()];
    for (i, set) in words.iter().enumerate() {
        let mut rarest_first: Vec<(usize, u64)> = set.iter().map(|w| (frequency[w], *w)).collect();
        rarest_first.sort_unstable();
        let needed = (SAME_SKELETON * set.len() as f64).ceil() as usize;
        let prefix = &rarest_first[..(set.len() + 1).saturating_sub(needed.max(1))];
        for (_, word) in prefix {
            for &j in by_prefix_word.get(word).into_iter().flatten() {
                if compared_with[j] != i && jaccard(set, &words[j]) >= SAME_SKELETON {
                    repeated[i] = true;
                    repeated[j] = true;
                }
                compared_with[j] = i;
            }
        }
        for (_, word) in prefix {
            by_prefix_word.entry(*word).or_default().push(i);
        }
    }
    repeated
}

/// The sentence's distinct lowercase words, as sorted hashes (FNV-1a).
fn word_hashes(text: &str) -> Vec<u64> {
    let mut out: Vec<u64> = text
        .split(|c: char| !c.is_alphabetic())
        .filter(|w| !w.is_empty())
        .map(|w| {
            w.chars()
                .flat_map(char::to_lowercase)
                .fold(0xcbf2_9ce4_8422_2325u64, |h, c| {
                    (h ^ u64::from(c)).wrapping_mul(0x0100_0000_01b3)
                })
        })
        .collect();
    out.sort_unstable();
    out.dedup();
    out
}

/// Jaccard overlap of two sorted, distinct lists.
fn jaccard(a: &[u64], b: &[u64]) -> f64 {
    let (shorter, longer) = (a.len().min(b.len()), a.len().max(b.len()));
    if longer == 0 || (shorter as f64) < SAME_SKELETON * longer as f64 {
        return 0.0;
    }
    let (mut i, mut j, mut shared) = (0, 0, 0usize);
    while i < a.len() && j < b.len() {
        match a[i].cmp(&b[j]) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                shared += 1;
                i += 1;
                j += 1;
            }
        }
    }
    shared as f64 / (a.len() + b.len() - shared) as f64
}

/// Splits prose after `.`, `!` or `?` followed by a space and a capital, a
/// digit or an opening quote (so "2.5%" and "e.g. this" stay whole).
fn split_sentences(text: &str) -> Vec<String> {
    let mut out = Vec::new();
    let mut start = 0;
    let chars: Vec<(usize, char)> = text.char_indices().collect();
    for w in chars.windows(3) {
        let [(_, end), (_, space), (next_at, next)] = w else {
            continue;
        };
        if matches!(end, '.' | '!' | '?')
            && *space == ' '
            && (next.is_uppercase()
                || next.is_ascii_digit()
                || matches!(next, '\'' | '"' | '\u{201c}'))
        {
            out.push(text[start..*next_at].trim().to_owned());
            start = *next_at;
        }
    }
    out.push(text[start..].trim().to_owned());
    out.retain(|s| !s.is_empty());
    out
}

/// Whether a sentence may back a recommendation: whole (ending as a sentence
/// ends, long enough to say something) and not a statement of order.
fn is_finding(text: &str) -> bool {
    let text = text.trim_end();
    text.split_whitespace().count() >= EVIDENCE_MIN_WORDS
        && text.ends_with(['.', '!', '?'])
        && order_of_work(text).is_none()
}

/// A finding that backs a recommendation.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Evidence {
    pub agent: AgentId,
    pub text: String,
}

/// How rare each term is in the agents' findings: a term few sentences use
/// ("alt text") says more about what a sentence is about than one many use
/// ("homepage").
pub(super) struct Rarity {
    sentences: f64,
    used_by: HashMap<String, usize>,
}

impl Rarity {
    pub(super) fn of<'a>(sentences: impl Iterator<Item = &'a Sentence>) -> Rarity {
        let mut used_by: HashMap<String, usize> = HashMap::new();
        let mut n = 0usize;
        for s in sentences {
            n += 1;
            for t in s.terms.iter() {
                *used_by.entry(t.term.clone()).or_default() += 1;
            }
        }
        Rarity {
            sentences: n as f64,
            used_by,
        }
    }

    /// The term's class weight times its smoothed inverse sentence frequency.
    fn weight(&self, term: &Term) -> f64 {
        let used = self.used_by.get(&term.term).copied().unwrap_or(0) as f64;
        term.weight * (((self.sentences + 1.0) / (used + 1.0)).ln() + 1.0)
    }
}

/// A sentence backs a recommendation when it shares a specific term with one
/// of its wordings and carries at least this share of that wording's weight.
const EVIDENCE_COVERAGE: f64 = 0.35;
/// Shorter texts are headings, not findings.
const EVIDENCE_MIN_WORDS: usize = 6;

/// How well a sentence backs a recommendation (its best-covered wording), if
/// it does. Only whole sentences count ("Journey stage: Cart" is a heading),
/// not the agent's boilerplate, and not the statements of order, which are
/// shown as dependencies.
pub(super) fn support(sentence: &Sentence, wordings: &[Terms], rarity: &Rarity) -> Option<f64> {
    if !sentence.finding {
        return None;
    }
    wordings
        .iter()
        .filter_map(|w| {
            let (mut shared, mut total, mut specific) = (0.0, 0.0, false);
            for t in w.iter() {
                let weight = rarity.weight(t);
                total += weight;
                if sentence.terms.has(&t.term) {
                    shared += weight;
                    specific |= t.weight >= 1.0;
                }
            }
            let share = if total > 0.0 { shared / total } else { 0.0 };
            (specific && share >= EVIDENCE_COVERAGE).then_some(share)
        })
        .max_by(f64::total_cmp)
}

/// The agent's finding that best backs a recommendation, with how well: one
/// with a number first (the agents' measurements are what a reader wants),
/// then the best backing, then the shorter.
pub(super) fn best_evidence<'a>(
    sentences: &'a [Sentence],
    wordings: &[Terms],
    rarity: &Rarity,
) -> Option<(&'a Sentence, f64)> {
    sentences
        .iter()
        .filter_map(|s| support(s, wordings, rarity).map(|share| (s, share)))
        .max_by(|(sa, a), (sb, b)| {
            sa.has_number
                .cmp(&sb.has_number)
                .then(a.total_cmp(b))
                .then(sb.text.len().cmp(&sa.text.len()))
        })
}

/// "Do A before B", as an agent wrote it.
pub(super) struct Statement {
    pub(super) text: String,
    pub(super) first: Terms,
    pub(super) then: Terms,
}

/// Sentences that state an order of work: "A before B", "B depends on A",
/// "A is a prerequisite for B", "B needs A first".
pub(super) fn statements(sentences: &[Sentence]) -> Vec<Statement> {
    sentences
        .iter()
        .filter_map(|s| {
            let (first, then) = order_of_work(&s.text)?;
            let (first, then) = (Terms::parse(&first), Terms::parse(&then));
            (!first.is_empty() && !then.is_empty()).then(|| Statement {
                text: s.text.clone(),
                first,
                then,
            })
        })
        .collect()
}

/// (what comes first, what comes after) in one sentence, if it says so.
fn order_of_work(sentence: &str) -> Option<(String, String)> {
    let lower = sentence.to_lowercase();
    // (cue, the prerequisite is the part before the cue)
    const CUES: [(&str, bool); 6] = [
        (" before ", true),
        (" are prerequisites for ", true),
        (" is a prerequisite for ", true),
        (" depends on ", false),
        (" depend on ", false),
        (" need ", false),
    ];
    for (cue, prerequisite_first) in CUES {
        let Some(at) = lower.find(cue) else { continue };
        let left = clause_before(&lower[..at]);
        let mut right = clause_after(&lower[at + cue.len()..]);
        if cue == " need " {
            // Only "B need(s) A first" states an order.
            right = right.strip_suffix(" first")?.to_owned();
        }
        let right = right
            .strip_suffix(" first")
            .map_or(right.clone(), str::to_owned);
        return Some(if prerequisite_first {
            (left, right)
        } else {
            (right, left)
        });
    }
    // "needs ... first" with the singular verb.
    let at = lower.find(" needs ")?;
    let right = clause_after(&lower[at + " needs ".len()..]);
    let right = right.strip_suffix(" first")?.to_owned();
    Some((right, clause_before(&lower[..at])))
}

/// The clause that ends where the cue starts.
fn clause_before(text: &str) -> String {
    let start = text.rfind([',', ';', ':']).map_or(0, |i| i + 1);
    text[start..].trim().to_owned()
}

/// The clause that starts after the cue.
fn clause_after(text: &str) -> String {
    let end = text.find([',', ';', ':', '.']).unwrap_or(text.len());
    text[..end].trim().to_owned()
}

/// A phrase from a statement names a recommendation when it says enough
/// (more than one generic word) and the recommendation's wording covers it.
pub(super) fn names(phrase: &Terms, label: &Terms) -> bool {
    const MIN_WEIGHT: f64 = 1.3;
    const MIN_COVERED: f64 = 0.8;
    if phrase.weight() < MIN_WEIGHT {
        return false;
    }
    let (share, specific) = covered(phrase, label);
    share >= MIN_COVERED && specific >= 1.0
}

/// A metric an agent measured that a phase can move: a rate, a score or a
/// duration, with its value today.
#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Kpi {
    pub name: String,
    /// The value the agent measured.
    pub baseline: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
    pub agent: AgentId,
}

/// The agent's hero metrics that are KPIs measured today: rates, scores and
/// durations ("Event loss 2.1%"), not counts of its own work ("Pages audited
/// 412") or forecasts ("Projected lift 9%").
pub(super) fn kpis(agent: AgentId, out: &AgentOutput) -> Vec<Kpi> {
    out.hero
        .metrics
        .iter()
        .filter(|m| {
            let v = m.value.trim();
            let label = m.label.to_lowercase();
            let forecast = ["projected", "expected", "estimated", "forecast"]
                .iter()
                .any(|w| label.contains(w));
            !forecast && (v.ends_with('%') || v.contains("/100") || v.ends_with(" days"))
        })
        .map(|m| Kpi {
            name: m.label.trim().to_owned(),
            baseline: m.value.trim().to_owned(),
            note: m.hint.as_ref().map(|h| h.trim().to_owned()),
            agent,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// The prefix filter finds exactly the pairs comparing every pair finds.
        #[test]
        fn same_skeletons_matches_comparing_every_pair(
            sets in prop::collection::vec(prop::collection::btree_set(0u64..24, 0..9), 0..40)
        ) {
            let words: Vec<Vec<u64>> = sets.into_iter().map(|s| s.into_iter().collect()).collect();
            let every_pair: Vec<bool> = (0..words.len())
                .map(|i| (0..words.len()).any(|j| i != j && jaccard(&words[i], &words[j]) >= SAME_SKELETON))
                .collect();
            prop_assert_eq!(same_skeletons(&words), every_pair);
        }
    }

    #[test]
    fn prose_splits_into_sentences_but_not_at_decimals() {
        assert_eq!(
            split_sentences("Loss is 2.5% at peak. Off-peak it is low! 3 pages lack tags."),
            vec![
                "Loss is 2.5% at peak.",
                "Off-peak it is low!",
                "3 pages lack tags."
            ]
        );
    }

    #[test]
    fn statements_of_order_are_read_both_ways() {
        let order = |s: &str| order_of_work(s);
        assert_eq!(
            order(
                "Fix tagging and event loss before launching the first experiments, so tests can be trusted."
            ),
            Some((
                "fix tagging and event loss".into(),
                "launching the first experiments".into()
            ))
        );
        assert_eq!(
            order("Checkout tests depend on tagging the untagged checkout templates first."),
            Some((
                "tagging the untagged checkout templates".into(),
                "checkout tests".into()
            ))
        );
        assert_eq!(
            order("Recommendation ideas need the catalog feed to be healthy first."),
            Some((
                "the catalog feed to be healthy".into(),
                "recommendation ideas".into()
            ))
        );
        assert_eq!(order("Visitors need reassurance on delivery."), None);
        assert_eq!(order("Most traffic lands on a few pages."), None);
    }

    #[test]
    fn a_phrase_names_a_label_it_is_covered_by() {
        let p = |s: &str| Terms::parse(s);
        assert!(names(
            &p("tagging the untagged checkout templates"),
            &p("Tag the 7 untagged checkout and account templates")
        ));
        assert!(names(
            &p("checkout tests"),
            &p("Test checkout trust badges")
        ));
        assert!(!names(&p("checkout tests"), &p("Reduce checkout friction")));
        assert!(!names(&p("launch"), &p("Launch a loyalty programme")));
    }
}
