//! When two recommendation labels say the same thing.
//!
//! A label becomes a set of weighted *terms*: lowercase words, light-stemmed,
//! with multi-word phrases ("real time", "structured data", "call to action")
//! and a small marketing synonym list ("abandonment" = "abandoned", "streamline"
//! = "simplify", "buyer" = "customer", ...) mapped onto one canonical term;
//! stopwords, numbers and timing words are dropped, and word order is ignored.
//! Generic words (verbs such as "add" or "improve", nouns such as "page" or
//! "flow") weigh less than the words that name the thing to do.
//!
//! Two labels are the same recommendation when their weighted Jaccard overlap
//! is high, or when one is nearly contained in the other and they share at least
//! two specific terms. Phrase-level cues adjust this: sharing an ordered pair of
//! specific words ("trust badges", "homepage hero") counts for a little more, and
//! two labels that each name an action but different ones ("test" vs
//! "simplify") need a much higher overlap.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

/// How much a word tells about what the recommendation is.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Class {
    /// Dropped: stopwords, timing and quantity words.
    Stop,
    /// Verbs and nouns every other label uses ("add", "improve", "page").
    Generic,
    /// Common objects of marketing work ("product", "customer", "content").
    Weak,
    /// What to do, when it defines the recommendation ("test", "personalize").
    Action,
    /// Everything else: the specific thing the recommendation is about.
    Specific,
}

impl Class {
    const fn weight(self) -> f64 {
        match self {
            Class::Stop => 0.0,
            Class::Generic => 0.3,
            Class::Weak => 0.5,
            Class::Action | Class::Specific => 1.0,
        }
    }
}

use Class::{Action, Generic, Stop, Weak};

/// Multi-word phrases, matched on stemmed words, and the terms they stand for.
const PHRASES: &[(&str, &[&str])] = &[
    ("a b test", &["test"]),
    ("a b", &["test"]),
    ("split test", &["test"]),
    ("real time", &["realtime"]),
    ("structured data", &["structured_data"]),
    ("schema org", &["structured_data"]),
    ("mark up", &["structured_data"]),
    ("on site", &["site"]),
    ("site wide", &["sitewide"]),
    ("add to cart", &["addtocart"]),
    ("call to action", &["cta"]),
    ("third party", &["independent"]),
    ("first party", &["firstparty"]),
    ("first time", &["new"]),
    ("second time", &["repeat"]),
    ("high traffic", &["top"]),
    ("highest traffic", &["top"]),
    ("most visited", &["top"]),
    ("low traffic", &["lowtraffic"]),
    ("win back", &["recover"]),
    ("speed up", &["speed"]),
    ("page speed", &["speed"]),
    ("load time", &["speed"]),
    ("sign up", &["signup"]),
    ("set up", &["create"]),
    ("clean up", &["remove"]),
    ("turn on", &["enable"]),
    ("roll out", &["launch"]),
    ("post purchase", &["postpurchase"]),
    ("cross device", &["crossdevice"]),
    ("across device", &["crossdevice"]),
    ("cross subdomain", &["crosssubdomain"]),
    ("across subdomain", &["crosssubdomain"]),
    ("alt text", &["alttext"]),
    ("robots txt", &["robot"]),
    ("search engine", &["seo"]),
    ("search result", &["search", "relevance"]),
    ("per month", &["cadence"]),
    ("per week", &["cadence"]),
    ("product detail page", &["product", "page"]),
    ("known profile", &["identity"]),
    ("get featured", &["coverage"]),
    ("get covered", &["coverage"]),
    ("free shipping", &["free", "deliver"]),
    ("home page", &["homepage"]),
    ("check out", &["checkout"]),
    ("e mail", &["email"]),
];

/// Single words: (surface forms, canonical term, class). Words not listed are
/// specific and stand for their own stem.
const WORDS: &[(&[&str], &str, Class)] = &[
    // Stopwords, quantities and timing.
    (
        &[
            "a", "an", "and", "or", "the", "of", "to", "for", "on", "in", "at", "by", "with",
            "from", "into", "via", "your", "our", "their", "its", "this", "that", "these", "those",
            "every", "each", "all", "any", "than", "as", "be", "is", "are", "it", "them", "up",
            "out", "after", "first", "within", "instead", "based", "against", "one", "two",
            "three", "four", "five", "six", "ten", "day", "week", "month", "quarter", "year",
            "next", "across", "so", "then", "both", "also", "only", "most", "about",
        ],
        "",
        Stop,
    ),
    // Generic verbs.
    (
        &[
            "add",
            "create",
            "build",
            "make",
            "develop",
            "produce",
            "publish",
            "introduce",
            "implement",
            "establish",
            "deploy",
            "design",
            "plan",
            "draft",
        ],
        "create",
        Generic,
    ),
    (&["launch", "start", "begin", "kick"], "launch", Generic),
    (
        &["use", "adopt", "apply", "leverage", "utilize", "utilise"],
        "use",
        Generic,
    ),
    (&["run", "conduct", "do"], "run", Generic),
    (
        &["show", "display", "surface", "highlight", "present", "open"],
        "show",
        Generic,
    ),
    (&["offer", "provide", "give", "target"], "offer", Generic),
    (
        &[
            "improve",
            "improvement",
            "optimize",
            "optimise",
            "optimization",
            "optimisation",
            "tune",
            "tuning",
            "enhance",
            "enhancement",
            "better",
            "upgrade",
            "strengthen",
        ],
        "improve",
        Generic,
    ),
    (
        &[
            "increase", "raise", "grow", "growth", "lift", "boost", "more", "expand", "scale",
            "maximize", "maximise",
        ],
        "increase",
        Generic,
    ),
    (
        &[
            "reduce",
            "reduction",
            "decrease",
            "cut",
            "lower",
            "minimize",
            "minimise",
            "shorten",
            "trim",
            "fewer",
            "less",
        ],
        "reduce",
        Generic,
    ),
    (
        &["fix", "repair", "resolve", "address", "correct", "close"],
        "fix",
        Generic,
    ),
    (&["enable", "allow", "support"], "enable", Generic),
    (
        &["measure", "track", "monitor", "record", "log", "capture"],
        "track",
        Generic,
    ),
    (&["send", "email"], "email", Weak),
    (&["get", "earn", "win", "gain"], "get", Generic),
    (&["move", "shift", "migrate"], "move", Generic),
    (&["review", "audit", "assess", "evaluate"], "review", Weak),
    // Generic nouns and qualifiers.
    (
        &[
            "page",
            "site",
            "website",
            "flow",
            "journey",
            "program",
            "programme",
            "process",
            "workflow",
            "experience",
            "strategy",
            "initiative",
            "project",
            "approach",
            "system",
            "tool",
            "option",
            "way",
            "key",
            "overall",
            "relevant",
            "current",
            "existing",
            "sitewide",
            "detail",
            "level",
            "gap",
            "missing",
            "dropped",
            "broken",
            "quick",
            "simple",
            "short",
            "clear",
            "new",
            "series",
            "sequence",
            "group",
            "count",
            "size",
            "date",
            "rule",
            "buying",
            "known",
            "program",
        ],
        "",
        Generic,
    ),
    // Common objects.
    (&["product", "item", "sku"], "product", Weak),
    (
        &[
            "customer",
            "buyer",
            "shopper",
            "client",
            "consumer",
            "purchaser",
        ],
        "customer",
        Weak,
    ),
    (&["visitor", "user", "traffic"], "visitor", Weak),
    (&["content", "copy"], "content", Weak),
    (&["order"], "order", Weak),
    (&["internal"], "internal", Weak),
    (&["landing"], "landing", Weak),
    (&["mobile", "smartphone"], "mobile", Weak),
    (&["campaign"], "campaign", Weak),
    // Actions that define a recommendation.
    (
        &[
            "test",
            "testing",
            "experiment",
            "experimentation",
            "experimental",
            "ab",
            "multivariate",
        ],
        "test",
        Action,
    ),
    (
        &[
            "personalize",
            "personalise",
            "personalization",
            "personalisation",
            "personal",
            "personalized",
            "personalised",
            "tailor",
            "tailored",
        ],
        "personal",
        Action,
    ),
    (
        &[
            "simplify",
            "simplification",
            "streamline",
            "streamlined",
            "friction",
            "frictionless",
            "simpler",
        ],
        "simplify",
        Action,
    ),
    (
        &["recover", "recovery", "rescue", "reclaim"],
        "recover",
        Action,
    ),
    (
        &[
            "refresh",
            "update",
            "outdated",
            "stale",
            "modernize",
            "modernise",
            "revamp",
        ],
        "refresh",
        Action,
    ),
    (
        &[
            "remove",
            "retire",
            "delete",
            "archive",
            "prune",
            "cleanup",
            "deprecate",
            "sunset",
        ],
        "remove",
        Action,
    ),
    (
        &[
            "unify",
            "unified",
            "consolidate",
            "consolidation",
            "merge",
            "combine",
            "dedupe",
            "deduplicate",
        ],
        "unify",
        Action,
    ),
    (
        &[
            "activate",
            "activation",
            "sync",
            "synchronise",
            "synchronize",
            "push",
        ],
        "activate",
        Action,
    ),
    (
        &[
            "localise",
            "localize",
            "localization",
            "localisation",
            "local",
        ],
        "local",
        Action,
    ),
    (
        &[
            "standardise",
            "standardize",
            "standardization",
            "standardisation",
            "standard",
        ],
        "standard",
        Action,
    ),
    (
        &["reassure", "reassurance", "reassuring"],
        "reassure",
        Action,
    ),
    (&["redirect"], "redirect", Action),
    (&["stitch", "stitching"], "stitch", Action),
    (&["reconcile", "reconciliation"], "reconcile", Action),
    (&["rewrite", "rework", "reword"], "rewrite", Action),
    (&["automate", "automation"], "automate", Action),
    (&["retarget", "retargeting", "remarket"], "retarget", Action),
    (&["translate", "translation"], "translate", Action),
    // Specific synonyms.
    (
        &[
            "abandon",
            "abandonment",
            "abandoned",
            "abandoning",
            "abandoner",
        ],
        "abandon",
        Class::Specific,
    ),
    (
        &[
            "delivery",
            "deliver",
            "delivered",
            "shipping",
            "ship",
            "shipment",
            "postage",
        ],
        "deliver",
        Class::Specific,
    ),
    (&["cost", "fee", "charge"], "cost", Class::Specific),
    (
        &["velocity", "cadence", "frequency", "throughput"],
        "cadence",
        Class::Specific,
    ),
    (
        &["audience", "segment", "cohort"],
        "segment",
        Class::Specific,
    ),
    (
        &["recommendation", "recommend", "recommender"],
        "recommend",
        Class::Specific,
    ),
    (&["schema", "markup"], "structured_data", Class::Specific),
    (&["cta"], "cta", Class::Specific),
    (&["loyal", "loyalty"], "loyal", Class::Specific),
    (
        &["repeat", "returning", "recurring"],
        "repeat",
        Class::Specific,
    ),
    (&["untagged", "tag", "tagging"], "tag", Class::Specific),
    (&["unblock", "block", "blocking"], "block", Class::Specific),
    (
        &["identify", "identity", "identification"],
        "identity",
        Class::Specific,
    ),
    (&["identifier", "id"], "id", Class::Specific),
    (
        &["persist", "persistence", "persistent"],
        "persist",
        Class::Specific,
    ),
    (
        &["alternative", "competitor", "rival"],
        "competitor",
        Class::Specific,
    ),
    (
        &["coverage", "featured", "feature", "mention"],
        "coverage",
        Class::Specific,
    ),
    (&["message", "messaging"], "message", Class::Specific),
    (&["reminder", "remind"], "remind", Class::Specific),
    (&["article", "post", "blog"], "article", Class::Specific),
    (&["link", "linking"], "link", Class::Specific),
    (&["filter", "filtering"], "filter", Class::Specific),
    (&["benefit", "perk"], "benefit", Class::Specific),
    (&["lead", "led"], "lead", Class::Specific),
    (&["region", "regional"], "region", Class::Specific),
    (&["season", "seasonal"], "season", Class::Specific),
    (&["reuse", "reusable"], "reuse", Class::Specific),
    (&["share", "shared"], "share", Class::Specific),
    (&["recent", "recently"], "recent", Class::Specific),
    (&["view", "viewed"], "view", Class::Specific),
    (&["spec", "specification"], "spec", Class::Specific),
    (
        &["summary", "summarize", "summarise"],
        "summary",
        Class::Specific,
    ),
    (&["onboard", "onboarding"], "onboard", Class::Specific),
    (&["conversion", "convert"], "conversion", Class::Specific),
    (&["analytics", "analytic"], "analytics", Class::Specific),
    (
        &["approval", "approve", "approver"],
        "approval",
        Class::Specific,
    ),
    (
        &["expiry", "expire", "expired", "expiration"],
        "expire",
        Class::Specific,
    ),
];

/// Words that name a noun even though their stem is a verb in [`WORDS`].
const NOUN_ENDINGS: [&str; 6] = ["ion", "ment", "ing", "ance", "ence", "ness"];

#[derive(Clone, Copy)]
struct Entry {
    term: &'static str,
    class: Class,
}

/// Every surface form and its stem, to its canonical term.
static LEXICON: LazyLock<HashMap<String, Entry>> = LazyLock::new(|| {
    let mut map = HashMap::new();
    for (words, term, class) in WORDS {
        for word in *words {
            let entry = Entry {
                term: if term.is_empty() { word } else { term },
                class: *class,
            };
            map.entry(stem(word)).or_insert(entry);
            map.insert((*word).to_owned(), entry);
        }
    }
    map
});

/// The phrases as stemmed word lists, longest first.
static PHRASE_STEMS: LazyLock<Vec<(Vec<String>, &'static [&'static str])>> = LazyLock::new(|| {
    let mut phrases: Vec<(Vec<String>, &'static [&'static str])> = PHRASES
        .iter()
        .map(|(p, terms)| (p.split(' ').map(stem).collect(), *terms))
        .collect();
    phrases.sort_by_key(|(words, _)| std::cmp::Reverse(words.len()));
    phrases
});

/// A light stemmer: plurals, then common derivational suffixes, repeatedly,
/// while at least four letters remain; a doubled final consonant is undoubled
/// ("tagging" and "tag" meet).
pub(crate) fn stem(word: &str) -> String {
    const SUFFIXES: [&str; 16] = [
        "izations", "ization", "isation", "ations", "ation", "izing", "ising", "ized", "ised",
        "ize", "ise", "able", "ment", "ing", "ed", "e",
    ];
    let mut w = word.to_owned();
    if w.len() > 4 && w.ends_with("ies") {
        w.truncate(w.len() - 3);
        w.push('y');
    } else if w.ends_with("sses") {
        w.truncate(w.len() - 2);
    } else if w.len() > 3
        && w.ends_with('s')
        && !w.ends_with("ss")
        && !w.ends_with("us")
        && !w.ends_with("is")
    {
        w.pop();
    }
    while let Some(next) = SUFFIXES
        .iter()
        .find_map(|s| w.strip_suffix(s).filter(|rest| rest.len() >= 4))
    {
        w = next.to_owned();
    }
    let bytes = w.as_bytes();
    if let [.., a, b] = bytes
        && a == b
        && !matches!(a, b'l' | b's' | b'z' | b'f' | b'e' | b'o')
        && a.is_ascii_alphabetic()
        && w.len() > 3
    {
        w.pop();
    }
    w
}

/// One canonical term of a label.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Term {
    pub(crate) term: String,
    pub(crate) weight: f64,
    pub(crate) action: bool,
}

/// A label (or any short phrase) as weighted terms, in reading order.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct Terms {
    /// Distinct terms, in the order they first appear.
    terms: Vec<Term>,
    /// Pairs of specific terms that are adjacent in the label, in order.
    bigrams: Vec<(String, String)>,
    /// The label reads as an instruction: its first word is a verb.
    pub(crate) imperative: bool,
}

impl Terms {
    pub(crate) fn parse(label: &str) -> Terms {
        let lower = label.to_lowercase();
        let words: Vec<&str> = lower
            .split(|c: char| !c.is_alphanumeric())
            .filter(|w| !w.is_empty())
            .collect();
        let stems: Vec<String> = words.iter().map(|w| stem(w)).collect();
        let mut out = Terms::default();
        // (term, class) per position, before dedup, for bigrams.
        let mut sequence: Vec<(String, Class)> = Vec::new();
        let mut i = 0;
        while i < words.len() {
            if let Some((len, terms)) = PHRASE_STEMS.iter().find_map(|(phrase, terms)| {
                let end = i + phrase.len();
                (end <= stems.len() && stems[i..end] == phrase[..])
                    .then_some((phrase.len(), *terms))
            }) {
                for t in terms {
                    let entry = LEXICON.get(*t).copied();
                    if i == 0 {
                        out.imperative |= entry.is_some_and(|e| is_verb(t, e));
                    }
                    sequence.push(match entry {
                        Some(e) => (e.term.to_owned(), e.class),
                        None => (stem(t), Class::Specific),
                    });
                }
                i += len;
                continue;
            }
            let word = words[i];
            let entry = LEXICON
                .get(word)
                .or_else(|| LEXICON.get(&stems[i]))
                .copied();
            if i == 0 {
                out.imperative = entry.is_some_and(|e| is_verb(word, e));
            }
            match entry {
                Some(e) if e.class == Stop => {}
                Some(e) => sequence.push((e.term.to_owned(), e.class)),
                None if word.chars().all(|c| c.is_ascii_digit()) => {}
                None => sequence.push((stems[i].clone(), Class::Specific)),
            }
            i += 1;
        }
        for pair in sequence.windows(2) {
            let [(a, ca), (b, cb)] = pair else { continue };
            if *ca != Generic && *cb != Generic && *ca != Weak && *cb != Weak && a != b {
                out.bigrams.push((a.clone(), b.clone()));
            }
        }
        for (term, class) in sequence {
            if class == Stop || out.terms.iter().any(|t| t.term == term) {
                continue;
            }
            out.terms.push(Term {
                term,
                weight: class.weight(),
                action: class == Action,
            });
        }
        out
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.terms.is_empty()
    }

    pub(crate) fn weight(&self) -> f64 {
        self.terms.iter().map(|t| t.weight).sum()
    }

    /// The distinct terms, in reading order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = &Term> {
        self.terms.iter()
    }

    pub(crate) fn has(&self, term: &str) -> bool {
        self.get(term).is_some()
    }

    fn get(&self, term: &str) -> Option<&Term> {
        self.terms.iter().find(|t| t.term == term)
    }

    /// Sorted canonical terms: the same for labels that differ only in word
    /// order, inflection, stopwords or listed synonyms.
    pub(crate) fn key(&self) -> String {
        let mut terms: Vec<&str> = self.terms.iter().map(|t| t.term.as_str()).collect();
        terms.sort_unstable();
        terms.join(" ")
    }
}

/// Canonical terms of the generic verbs (the rest of that class are nouns).
const VERB_TERMS: [&str; 16] = [
    "create", "launch", "use", "run", "show", "offer", "improve", "increase", "reduce", "fix",
    "enable", "track", "email", "get", "move", "review",
];

/// The word, first in a label, makes it an instruction ("Reduce checkout
/// friction", not "Checkout friction reduction" or "Personalization of ...").
fn is_verb(word: &str, entry: Entry) -> bool {
    const NOT_VERBS: [&str; 12] = [
        "more", "better", "less", "fewer", "new", "stale", "outdated", "personal", "local",
        "standard", "friction", "quick",
    ];
    (entry.class == Action || VERB_TERMS.contains(&entry.term))
        && !NOT_VERBS.contains(&word)
        && !NOUN_ENDINGS.iter().any(|s| word.ends_with(s))
}

/// How two labels overlap, 0–1 each.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Overlap {
    /// Weighted Jaccard: shared weight over the union's weight.
    pub(crate) jaccard: f64,
    /// Shared weight over the smaller label's weight.
    pub(crate) containment: f64,
    /// Weight of the shared specific and action terms.
    pub(crate) shared_specific: f64,
    /// Both labels name an action, and no action is common to both.
    pub(crate) different_actions: bool,
    /// They share an ordered pair of specific words.
    pub(crate) shared_phrase: bool,
}

fn actions(t: &Terms) -> Vec<&str> {
    t.terms
        .iter()
        .filter(|x| x.action)
        .map(|x| x.term.as_str())
        .collect()
}

pub(crate) fn overlap(a: &Terms, b: &Terms) -> Overlap {
    let mut shared = 0.0;
    let mut shared_specific = 0.0;
    for t in &a.terms {
        if b.get(&t.term).is_some() {
            shared += t.weight;
            if t.weight >= 1.0 {
                shared_specific += t.weight;
            }
        }
    }
    let (wa, wb) = (a.weight(), b.weight());
    let union = wa + wb - shared;
    let (aa, ab) = (actions(a), actions(b));
    Overlap {
        jaccard: if union > 0.0 { shared / union } else { 0.0 },
        containment: if wa.min(wb) > 0.0 {
            shared / wa.min(wb)
        } else {
            0.0
        },
        shared_specific,
        different_actions: !aa.is_empty() && !ab.is_empty() && !aa.iter().any(|x| ab.contains(x)),
        shared_phrase: a.bigrams.iter().any(|p| b.bigrams.contains(p)),
    }
}

/// Share of `part`'s weight that `whole` also carries, 0–1, and the weight of
/// the shared specific terms.
pub(crate) fn covered(part: &Terms, whole: &Terms) -> (f64, f64) {
    let mut shared = 0.0;
    let mut specific = 0.0;
    for t in &part.terms {
        if whole.get(&t.term).is_some() {
            shared += t.weight;
            if t.weight >= 1.0 {
                specific += t.weight;
            }
        }
    }
    let total = part.weight();
    (if total > 0.0 { shared / total } else { 0.0 }, specific)
}

/// Jaccard overlap from which two labels are one recommendation.
pub const SAME_JACCARD: f64 = 0.55;
/// Containment from which a label is a wording of a longer one (with two
/// specific terms in common).
pub const SAME_CONTAINMENT: f64 = 0.85;
/// Jaccard needed when the labels name different actions.
const SAME_JACCARD_DIFFERENT_ACTIONS: f64 = 0.75;
/// What sharing an ordered phrase adds to the Jaccard overlap.
const PHRASE_BONUS: f64 = 0.08;

/// The labels name the same recommendation.
pub(crate) fn same(o: &Overlap) -> bool {
    let jaccard = o.jaccard + if o.shared_phrase { PHRASE_BONUS } else { 0.0 };
    if o.different_actions {
        return jaccard >= SAME_JACCARD_DIFFERENT_ACTIONS;
    }
    jaccard >= SAME_JACCARD || (o.containment >= SAME_CONTAINMENT && o.shared_specific >= 2.0)
}

/// Whether two labels name the same recommendation.
pub fn same_recommendation(a: &str, b: &str) -> bool {
    let (ta, tb) = (Terms::parse(a), Terms::parse(b));
    !ta.is_empty() && !tb.is_empty() && same(&overlap(&ta, &tb))
}

/// Groups labels into clusters of one recommendation each, by complete linkage:
/// the most similar pairs are considered first, and two clusters join only when
/// every label of one is the same recommendation as every label of the other,
/// so no chain of look-alikes drifts from one topic to another. The result
/// depends only on the labels, not on their order; each cluster lists indices
/// ascending, clusters ordered by their first index.
pub(crate) fn cluster(labels: &[Terms]) -> Vec<Vec<usize>> {
    let n = labels.len();
    let keys: Vec<String> = labels.iter().map(Terms::key).collect();
    let mut same_pair = vec![vec![false; n]; n];
    let mut candidates: Vec<(f64, usize, usize)> = Vec::new();
    for i in 0..n {
        same_pair[i][i] = true;
        for j in i + 1..n {
            let o = overlap(&labels[i], &labels[j]);
            if same(&o) {
                same_pair[i][j] = true;
                same_pair[j][i] = true;
                candidates.push((o.jaccard, i, j));
            }
        }
    }
    // Most similar first; ties by the labels' terms, never by position.
    candidates.sort_by(|a, b| {
        b.0.total_cmp(&a.0).then_with(|| {
            let ka = ordered(&keys[a.1], &keys[a.2]);
            let kb = ordered(&keys[b.1], &keys[b.2]);
            ka.cmp(&kb)
        })
    });
    let mut cluster_of: Vec<usize> = (0..n).collect();
    let mut members: BTreeMap<usize, Vec<usize>> = (0..n).map(|i| (i, vec![i])).collect();
    for (_, i, j) in candidates {
        let (ci, cj) = (cluster_of[i], cluster_of[j]);
        if ci == cj {
            continue;
        }
        let joinable = members[&ci]
            .iter()
            .all(|&x| members[&cj].iter().all(|&y| same_pair[x][y]));
        if !joinable {
            continue;
        }
        let (keep, gone) = (ci.min(cj), ci.max(cj));
        let moved = members.remove(&gone).unwrap_or_default();
        for &m in &moved {
            cluster_of[m] = keep;
        }
        if let Some(list) = members.get_mut(&keep) {
            list.extend(moved);
            list.sort_unstable();
        }
    }
    let mut clusters: Vec<Vec<usize>> = members.into_values().collect();
    clusters.sort_by_key(|c| c.first().copied());
    clusters
}

fn ordered<'a>(a: &'a str, b: &'a str) -> (&'a str, &'a str) {
    if a <= b { (a, b) } else { (b, a) }
}

#[cfg(test)]
mod tests {
    use super::*;

    const PAIRS: &str = include_str!("labelled_pairs.tsv");

    fn pairs() -> Vec<(bool, &'static str, &'static str)> {
        PAIRS
            .lines()
            .filter(|l| !l.trim().is_empty() && !l.starts_with('#'))
            .map(|l| {
                let cols: Vec<&str> = l.split('\t').collect();
                assert_eq!(cols.len(), 3, "three columns: {l}");
                let same = match cols[0] {
                    "same" => true,
                    "distinct" => false,
                    other => panic!("unknown label {other}"),
                };
                (same, cols[1], cols[2])
            })
            .collect()
    }

    /// Precision and recall of the merge decision on the labelled pairs.
    #[test]
    fn merging_is_precise_and_complete_on_the_labelled_pairs() {
        let pairs = pairs();
        assert!(pairs.len() >= 100, "{} pairs", pairs.len());
        let (mut tp, mut fp, mut fn_) = (0u32, 0u32, 0u32);
        let mut wrong = Vec::new();
        for (expected, a, b) in &pairs {
            let got = same_recommendation(a, b);
            assert_eq!(got, same_recommendation(b, a), "symmetric: {a} / {b}");
            match (expected, got) {
                (true, true) => tp += 1,
                (false, true) => fp += 1,
                (true, false) => fn_ += 1,
                (false, false) => {}
            }
            // OSA_PAIRS_DEBUG=1 prints every pair's overlap, to see the margins.
            if std::env::var_os("OSA_PAIRS_DEBUG").is_some() {
                let o = overlap(&Terms::parse(a), &Terms::parse(b));
                eprintln!(
                    "{expected} {got} j={:.2} c={:.2} s={} d={} p={} | {a} | {b}",
                    o.jaccard,
                    o.containment,
                    o.shared_specific,
                    o.different_actions,
                    o.shared_phrase
                );
            }
            if *expected != got {
                let o = overlap(&Terms::parse(a), &Terms::parse(b));
                wrong.push(format!("expected same={expected}: {a} | {b} {o:?}"));
            }
        }
        let precision = f64::from(tp) / f64::from(tp + fp);
        let recall = f64::from(tp) / f64::from(tp + fn_);
        eprintln!(
            "labelled pairs: {} ({} same); precision {precision:.3}, recall {recall:.3}\n{}",
            pairs.len(),
            tp + fn_,
            wrong.join("\n")
        );
        assert!(precision >= 0.95, "precision {precision:.3}: {wrong:#?}");
        assert!(recall >= 0.95, "recall {recall:.3}: {wrong:#?}");
    }

    #[test]
    fn stems_meet_across_inflections() {
        for (a, b) in [
            ("tagging", "tag"),
            ("pages", "page"),
            ("badges", "badge"),
            ("personalized", "personalization"),
            ("categories", "category"),
            ("stopping", "stop"),
            ("retired", "retire"),
        ] {
            assert_eq!(stem(a), stem(b), "{a} / {b}");
        }
        assert_ne!(stem("test"), stem("taste"));
    }

    #[test]
    fn keys_ignore_order_inflection_and_synonyms() {
        let key = |l: &str| Terms::parse(l).key();
        assert_eq!(
            key("Personalize the homepage hero"),
            key("Homepage hero personalization")
        );
        assert_eq!(
            key("Recover abandoned carts"),
            key("Cart abandonment recovery")
        );
        assert_eq!(
            key("Reduce checkout friction"),
            key("Checkout friction reduction")
        );
        assert_ne!(key("Optimize checkout"), key("Optimize search"));
        assert_eq!(key("the of and 30 days"), "");
    }

    #[test]
    fn imperative_labels_are_recognised() {
        let imperative = |l: &str| Terms::parse(l).imperative;
        assert!(imperative("Reduce checkout friction"));
        assert!(imperative("Personalize homepage hero"));
        assert!(imperative("Recover abandoned carts"));
        assert!(!imperative("Checkout friction reduction"));
        assert!(!imperative("Personalization of the homepage hero"));
        assert!(!imperative("Structured data for product pages"));
    }

    #[test]
    fn clusters_join_only_when_every_member_agrees() {
        let labels: Vec<Terms> = [
            "Reduce checkout friction",
            "Test checkout trust badges",
            "Simplify the checkout flow",
            "Checkout friction reduction",
            "A/B test trust badges in checkout",
        ]
        .iter()
        .map(|l| Terms::parse(l))
        .collect();
        assert_eq!(cluster(&labels), vec![vec![0, 2, 3], vec![1, 4]]);
        let mut reversed = labels.clone();
        reversed.reverse();
        let back: Vec<Vec<usize>> = cluster(&reversed)
            .into_iter()
            .map(|c| {
                let mut c: Vec<usize> = c.into_iter().map(|i| 4 - i).collect();
                c.sort_unstable();
                c
            })
            .collect();
        let mut back = back;
        back.sort();
        assert_eq!(back, vec![vec![0, 2, 3], vec![1, 4]], "order-independent");
    }
}
