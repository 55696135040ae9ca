//! Realistic, schema-valid `agent_data` for the nine simulated OPAL agents.
//!
//! Every agent has a hand-written profile (its vocabulary, metrics, findings and
//! recommendations); a small template language fills in numbers and choices from a
//! seeded PRNG, so the output is deterministic for one (agent, company, seed).
//! Each agent's findings end with per-item detail (pages, segments, tests, ...)
//! added until the JSON is about 15 KB, like a real agent's long report.
//!
//! Template placeholders: `{c}` the company, `{e}` the current item,
//! `{n:a:b}` an integer in a..=b, `{p:a:b}` a percentage in a..b with one decimal,
//! `{x:one|two|three}` one of the options.

use osa_domain::AgentId;
use rand::rngs::StdRng;
use rand::seq::SliceRandom;
use rand::{Rng, SeedableRng};
use serde_json::{Value, json};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// Serialised size the output aims for: a target is drawn from this range.
const TARGET_BYTES: (usize, usize) = (14_000, 15_600);

#[derive(Clone, Copy)]
enum Level {
    High,
    Medium,
    Low,
}

impl Level {
    const fn as_str(self) -> &'static str {
        match self {
            Level::High => "High",
            Level::Medium => "Medium",
            Level::Low => "Low",
        }
    }
}

use Level::{High, Low, Medium};

struct InsightTpl {
    title: &'static str,
    description: &'static str,
    bullets: &'static [&'static str],
}

struct Profile {
    tier: &'static str,
    maturities: &'static [&'static str],
    title: &'static str,
    promises: &'static [&'static str],
    /// label, value template, hint
    metrics: [(&'static str, &'static str, Option<&'static str>); 3],
    confidence: (u32, u32),
    confidence_note: &'static str,
    summary: &'static [&'static str],
    key_points: &'static [&'static str],
    insights: &'static [InsightTpl],
    /// Per-item detail: title template, item names, description and bullet templates.
    item_title: &'static str,
    items: &'static [&'static str],
    item_descriptions: &'static [&'static str],
    item_bullets: &'static [&'static str],
    opportunities: &'static [(&'static str, Level, Level)],
    /// (index into SHARED_OPPORTUNITIES, which label variant this agent uses)
    shared: &'static [(usize, usize)],
    next_steps: &'static [(&'static str, &'static str, &'static str)],
}

/// Opportunities several agents find, each under its own wording; synthesis merges them.
const SHARED_OPPORTUNITIES: &[([&str; 3], Level, Level)] = &[
    (
        [
            "Personalize homepage hero",
            "Homepage hero personalization",
            "Personalize the homepage hero by audience segment",
        ],
        High,
        Medium,
    ),
    (
        [
            "Reduce checkout friction",
            "Checkout friction reduction",
            "Simplify the checkout flow",
        ],
        High,
        Medium,
    ),
    (
        [
            "Add product structured data",
            "Structured data for product pages",
            "Add schema.org markup to product pages",
        ],
        Medium,
        Low,
    ),
    (
        [
            "Unify content taxonomy",
            "Content taxonomy consolidation",
            "Consolidate content tags into one taxonomy",
        ],
        Medium,
        Medium,
    ),
    (
        [
            "Recover abandoned carts",
            "Cart abandonment recovery journey",
            "Abandoned cart recovery flow",
        ],
        High,
        Medium,
    ),
    (
        [
            "Activate real-time ODP segments",
            "Real-time audience activation from ODP",
            "Sync ODP segments to experimentation in real time",
        ],
        High,
        Medium,
    ),
    (
        [
            "Increase experiment velocity",
            "Raise experimentation cadence",
            "Run more experiments per month",
        ],
        Medium,
        Medium,
    ),
    (
        [
            "Refresh outdated top pages",
            "Update stale high-traffic content",
            "Content refresh for top landing pages",
        ],
        Medium,
        Low,
    ),
    (
        [
            "Improve on-site search relevance",
            "On-site search relevance lifecycle",
            "Tune site search results",
        ],
        Medium,
        Medium,
    ),
];

/// Realistic, schema-valid `agent_data` for one agent, about 15 KB of JSON,
/// deterministic for a given (agent, company, seed).
pub fn agent_data(agent: AgentId, company: &str, seed: u64) -> Value {
    let company = clean_company(company);
    let mut rng = StdRng::seed_from_u64(mix(seed, agent, &company));
    let p = profile(agent);
    let f = |rng: &mut StdRng, t: &str| fill(t, rng, &company, "");

    let promise = {
        let t = pick(&mut rng, p.promises);
        let text = f(&mut rng, t);
        truncate_chars(text, 200)
    };
    let metrics: Vec<Value> = p
        .metrics
        .iter()
        .map(|(label, value, hint)| {
            let mut m = json!({"label": label, "value": f(&mut rng, value)});
            if let Some(h) = hint {
                m["hint"] = json!(f(&mut rng, h));
            }
            m
        })
        .collect();
    let confidence = rng.random_range(p.confidence.0..=p.confidence.1);
    let hero = json!({
        "title": f(&mut rng, p.title),
        "promise": promise,
        "metrics": metrics,
        "confidence": confidence,
        "confidenceNote": f(&mut rng, p.confidence_note),
    });

    let summary = p
        .summary
        .iter()
        .map(|s| f(&mut rng, s))
        .collect::<Vec<_>>()
        .join(" ");
    let mut key_points: Vec<String> = p.key_points.iter().map(|k| f(&mut rng, k)).collect();
    key_points.shuffle(&mut rng);
    key_points.truncate(rng.random_range(3..=4).min(key_points.len()));
    let overview = json!({"summary": summary, "keyPoints": key_points});

    let mut insights: Vec<Value> = p
        .insights
        .iter()
        .map(|ins| {
            let bullets: Vec<String> = ins.bullets.iter().map(|b| f(&mut rng, b)).collect();
            json!({
                "title": f(&mut rng, ins.title),
                "description": f(&mut rng, ins.description),
                "bullets": bullets,
            })
        })
        .collect();

    let mut opportunities: Vec<Value> = p
        .opportunities
        .iter()
        .map(|(label, impact, effort)| {
            let label = f(&mut rng, label);
            opportunity(&mut rng, &label, *impact, *effort)
        })
        .collect();
    for &(index, variant) in p.shared {
        if let Some((labels, impact, effort)) = SHARED_OPPORTUNITIES.get(index) {
            let label = labels[variant % labels.len()];
            opportunities.push(opportunity(&mut rng, label, *impact, *effort));
        }
    }
    opportunities.shuffle(&mut rng);

    let next_steps: Vec<Value> = p
        .next_steps
        .iter()
        .map(|(label, owner, timeframe)| {
            json!({"label": f(&mut rng, label), "ownerHint": owner, "timeframeHint": timeframe})
        })
        .collect();

    let maturity = pick(&mut rng, p.maturities);
    let meta = json!({
        "tier": p.tier,
        "agents": [agent.as_str()],
        "maturity": maturity,
        "lastUpdated": last_updated(&mut rng),
    });

    let mut out = json!({
        "hero": hero,
        "overview": overview,
        "insights": [],
        "opportunities": opportunities,
        "nextSteps": next_steps,
        "meta": meta,
    });

    // Per-item detail until the report reaches its target size.
    let target = rng.random_range(TARGET_BYTES.0..=TARGET_BYTES.1);
    let mut items: Vec<&str> = p.items.to_vec();
    items.shuffle(&mut rng);
    let base_len = serialized_len(&out);
    let mut insights_len: usize =
        insights.iter().map(serialized_len).sum::<usize>() + insights.len();
    for item in items {
        if base_len + insights_len >= target {
            break;
        }
        let g = |rng: &mut StdRng, t: &str| fill(t, rng, &company, item);
        let mut bullets: Vec<&str> = p.item_bullets.to_vec();
        bullets.shuffle(&mut rng);
        let n = rng.random_range(bullets.len().saturating_sub(2)..=bullets.len());
        let bullets: Vec<String> = bullets[..n].iter().map(|b| g(&mut rng, b)).collect();
        let mut descriptions: Vec<&str> = p.item_descriptions.to_vec();
        descriptions.shuffle(&mut rng);
        let description = descriptions
            .iter()
            .take(2)
            .map(|d| g(&mut rng, d))
            .collect::<Vec<_>>()
            .join(" ");
        let insight = json!({
            "title": g(&mut rng, p.item_title),
            "description": description,
            "bullets": bullets,
        });
        insights_len += serialized_len(&insight) + 1;
        insights.push(insight);
    }
    out["insights"] = Value::Array(insights);
    out
}

fn opportunity(rng: &mut StdRng, label: &str, impact: Level, effort: Level) -> Value {
    let confidence = match impact {
        High => rng.random_range(72..=93),
        Medium => rng.random_range(60..=86),
        Low => rng.random_range(50..=78),
    };
    json!({
        "label": label,
        "impactLevel": impact.as_str(),
        "effortLevel": effort.as_str(),
        "confidence": confidence,
    })
}

fn serialized_len(v: &Value) -> usize {
    serde_json::to_vec(v).map_or(0, |b| b.len())
}

fn pick<'a>(rng: &mut StdRng, options: &[&'a str]) -> &'a str {
    if options.is_empty() {
        return "";
    }
    options[rng.random_range(0..options.len())]
}

fn truncate_chars(s: String, max: usize) -> String {
    if s.chars().count() <= max {
        s
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

/// A printable company name of at most 80 characters.
fn clean_company(company: &str) -> String {
    let c: String = company
        .chars()
        .filter(|ch| !ch.is_control() && *ch != '{' && *ch != '}')
        .take(80)
        .collect();
    let c = c.trim();
    if c.is_empty() {
        "your company".to_owned()
    } else {
        c.to_owned()
    }
}

/// FNV-1a over the company name, mixed with the agent and the seed.
fn mix(seed: u64, agent: AgentId, company: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in company.bytes().chain(agent.as_str().bytes()) {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15)
}

/// A plausible, seed-determined report time in 2026 (the simulator overwrites it with
/// the send time).
fn last_updated(rng: &mut StdRng) -> String {
    const BASE: i64 = 1_767_603_600; // 2026-01-05T09:00:00Z
    let offset = rng.random_range(0..200 * 86_400);
    OffsetDateTime::from_unix_timestamp(BASE + offset)
        .ok()
        .and_then(|t| t.format(&Rfc3339).ok())
        .unwrap_or_else(|| "2026-01-05T09:00:00Z".to_owned())
}

/// Expands the template placeholders described in the module docs.
fn fill(template: &str, rng: &mut StdRng, company: &str, item: &str) -> String {
    let mut out = String::with_capacity(template.len() + 32);
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        out.push_str(&rest[..open]);
        let after = &rest[open + 1..];
        let Some(close) = after.find('}') else {
            out.push_str(&rest[open..]);
            return out;
        };
        let spec = &after[..close];
        match spec {
            "c" => out.push_str(company),
            "e" => out.push_str(item),
            _ => expand(spec, rng, &mut out),
        }
        rest = &after[close + 1..];
    }
    out.push_str(rest);
    out
}

fn expand(spec: &str, rng: &mut StdRng, out: &mut String) {
    let Some((kind, args)) = spec.split_once(':') else {
        out.push_str(spec);
        return;
    };
    match kind {
        "n" => {
            let (lo, hi) = bounds::<u64>(args);
            let n = if lo < hi {
                rng.random_range(lo..=hi)
            } else {
                lo
            };
            out.push_str(&thousands(n));
        }
        "p" => {
            let (lo, hi) = bounds::<f64>(args);
            let x = if lo < hi {
                rng.random_range(lo..hi)
            } else {
                lo
            };
            out.push_str(&format!("{x:.1}%"));
        }
        "x" => {
            let options: Vec<&str> = args.split('|').collect();
            out.push_str(pick(rng, &options));
        }
        _ => out.push_str(spec),
    }
}

fn bounds<T: std::str::FromStr + Default>(args: &str) -> (T, T) {
    let (a, b) = args.split_once(':').unwrap_or((args, args));
    (a.parse().unwrap_or_default(), b.parse().unwrap_or_default())
}

fn thousands(n: u64) -> String {
    let digits = n.to_string();
    if n < 10_000 {
        return digits;
    }
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

fn profile(agent: AgentId) -> &'static Profile {
    match agent {
        AgentId::IntegrationHealth => &INTEGRATION_HEALTH,
        AgentId::ContentReview => &CONTENT_REVIEW,
        AgentId::GeoAudit => &GEO_AUDIT,
        AgentId::AudienceSuggester => &AUDIENCE_SUGGESTER,
        AgentId::ExperimentBlueprinter => &EXPERIMENT_BLUEPRINTER,
        AgentId::PersonalizationIdeaGenerator => &PERSONALIZATION,
        AgentId::CustomerJourney => &CUSTOMER_JOURNEY,
        AgentId::RoadmapGenerator => &ROADMAP_GENERATOR,
        AgentId::CmpOrganizer => &CMP_ORGANIZER,
    }
}

// ---- the nine profiles ----------------------------------------------------------

static INTEGRATION_HEALTH: Profile = Profile {
    tier: "dxptools",
    maturities: &["crawl", "walk"],
    title: "Integration health for {c}",
    promises: &[
        "Fix the {n:2:4} integration gaps that silently drop experiment and audience data before scaling personalization",
        "Restore a trustworthy data flow between your Optimizely products so every later recommendation rests on clean data",
    ],
    metrics: [
        (
            "Integrations checked",
            "{n:9:12}",
            Some("snippet, ODP, CMS, CMP, analytics and feeds"),
        ),
        (
            "Health score",
            "{n:64:88}/100",
            Some("weighted by business impact"),
        ),
        (
            "Event loss",
            "{p:0.6:3.9}",
            Some("events sent but never ingested, last 7 days"),
        ),
    ],
    confidence: (82, 95),
    confidence_note: "Based on {n:7:14} days of delivery logs and live checks against every configured endpoint.",
    summary: &[
        "{c} runs most of its Optimizely stack in a healthy state, but {n:2:4} integrations show intermittent failures that affect downstream analysis.",
        "The experimentation snippet loads on {p:91:98.5} of tracked pages; the remainder are templates added after the last tag audit.",
        "Event forwarding from the commerce platform into ODP loses roughly {p:0.6:3.9} of purchase events during peak hours, which understates conversion in every experiment readout.",
        "Fixing these issues first keeps the audience, experiment and personalization recommendations in this report from being built on partial data.",
    ],
    key_points: &[
        "The experimentation snippet is missing from {n:3:11} page templates, mostly checkout and account pages.",
        "ODP purchase events drop under load; a retry queue on the sender side closes most of the gap.",
        "CMS publish webhooks time out {n:4:19} times a week because the receiving endpoint waits on image processing.",
        "Consent signals reach ODP about {n:2:9} seconds after the first page view, so first-visit audiences are incomplete.",
        "Catalog feed sync is healthy: {p:98:99.9} of products match between commerce and recommendations.",
    ],
    insights: &[
        InsightTpl {
            title: "Snippet coverage has gaps on revenue pages",
            description: "A crawl of {n:1200:4800} URLs found the Web Experimentation snippet on most templates, but the pages closest to revenue are the ones missing it, which blocks tests exactly where they matter most.",
            bullets: &[
                "Checkout step templates ({n:2:4} of them) were rebuilt last quarter without the tag manager container.",
                "Account and order-history pages load the snippet asynchronously, causing visible flicker on {p:8:22} of views.",
                "Snippet size is {n:180:420} KB; trimming unused pages and audiences would cut it by about a third.",
                "Two legacy projects still load a second snippet on the blog subdomain.",
                "Checkout tests depend on tagging the untagged checkout templates first.",
            ],
        },
        InsightTpl {
            title: "ODP event ingestion loses purchases at peak",
            description: "Purchase and add-to-cart events are forwarded to ODP by a server-side job. During traffic peaks the job hits rate limits and drops batches instead of retrying them.",
            bullets: &[
                "Peak-hour loss reaches {p:2.5:7.5} of purchase events; off-peak loss is under 0.5%.",
                "Dropped batches are logged but never replayed.",
                "Revenue-based experiment metrics are therefore biased low by a similar margin.",
                "A bounded retry with backoff and an overflow queue would remove nearly all of the loss.",
            ],
        },
        InsightTpl {
            title: "CMS and CMP webhooks are slow, not broken",
            description: "Content publish notifications reach their consumers, but {p:3:12} of them only after retries, because the receiving endpoint does synchronous work before it replies.",
            bullets: &[
                "Median webhook round trip is {n:900:2400} ms against a sender timeout of 3 seconds.",
                "Retries create duplicate cache purges and occasional duplicate search index updates.",
                "Acknowledging first and processing asynchronously would make the pipeline idempotent and fast.",
                "CMP asset metadata sync runs hourly; campaign launches would benefit from a near-real-time trigger.",
            ],
        },
        InsightTpl {
            title: "Consent and identity arrive late in the session",
            description: "The consent banner resolves before the ODP tag fires on most pages, but the identity stitch for returning visitors happens only after login, which leaves anonymous returning visitors unrecognised.",
            bullets: &[
                "About {p:18:34} of returning visitors are treated as new on their first page view.",
                "Real-time segments that rely on prior purchases miss these visitors entirely.",
                "Persisting a first-party identifier across subdomains would recover most of them.",
                "Consent state should be forwarded with every event so audiences respect it automatically.",
            ],
        },
        InsightTpl {
            title: "Analytics and experimentation disagree on conversions",
            description: "Analytics reports {p:4:11} more orders than the experimentation results for the same period, mostly because of the event loss and the untagged checkout templates described above.",
            bullets: &[
                "Goal definitions differ: analytics counts order confirmation views, experiments count purchase events.",
                "Aligning on the server-side purchase event removes double counting on page refresh.",
                "A weekly reconciliation report would catch future drift early.",
                "Bot filtering is enabled in analytics but not in the experimentation project.",
            ],
        },
    ],
    item_title: "Integration check: {e}",
    items: &[
        "Web Experimentation snippet",
        "ODP event stream",
        "ODP customer profile sync",
        "CMS publish webhooks",
        "CMP asset API",
        "Analytics export",
        "Commerce catalog feed",
        "Product recommendations feed",
        "Consent management signals",
        "Site search index sync",
        "CDN cache purge hooks",
        "Feature flag SDK",
        "Email platform audience export",
    ],
    item_descriptions: &[
        "{e} was probed every {n:5:15} minutes for {n:7:14} days and checked for latency, error rate, freshness and schema drift.",
        "Live checks and delivery logs for {e} were compared against the expected volumes for {c}; the findings below are ordered by impact.",
        "{e} is part of the data path most later recommendations depend on, so it was checked end to end rather than just for availability.",
    ],
    item_bullets: &[
        "Availability over the window was {p:97.5:99.99}, with {n:0:6} incidents longer than five minutes.",
        "p95 latency is {n:120:1900} ms; the agreed target is {x:500|800|1000} ms.",
        "Error rate is {p:0.1:4.5}, mostly {x:timeouts|rate-limit responses|authentication refreshes|malformed payloads}.",
        "Last successful sync was {n:2:55} minutes before the check; freshness target is 60 minutes.",
        "Daily volume is about {n:12000:480000} records, within {p:2:14} of the expected baseline.",
        "Schema drift: {n:0:7} fields changed type or disappeared since the last audit.",
        "Credentials rotate every {x:30|60|90} days; the current ones expire in {n:6:80} days.",
        "Retries are {x:configured with backoff|configured without backoff|not configured}, and failures are {x:alerted on|only logged|silently dropped}.",
        "Monitoring coverage: {x:dashboard and alert in place|dashboard only|no dedicated monitoring yet}.",
    ],
    opportunities: &[
        (
            "Tag the {n:3:11} untagged checkout and account templates",
            High,
            Low,
        ),
        (
            "Add retry and replay to the ODP event forwarder",
            High,
            Medium,
        ),
        (
            "Acknowledge CMS webhooks before processing them",
            Medium,
            Low,
        ),
        (
            "Persist a first-party identifier across subdomains",
            Medium,
            Medium,
        ),
        (
            "Reconcile analytics and experiment conversion counts weekly",
            Medium,
            Low,
        ),
        (
            "Trim the experimentation snippet by archiving unused pages",
            Low,
            Low,
        ),
        (
            "Enable bot filtering in the experimentation project",
            Low,
            Low,
        ),
    ],
    shared: &[(5, 0), (6, 2)],
    next_steps: &[
        (
            "Add the tag manager container to the checkout and account templates",
            "Web platform team",
            "This sprint",
        ),
        (
            "Ship retry with backoff and a replay queue for ODP purchase events",
            "Data engineering",
            "Within 2 weeks",
        ),
        (
            "Move CMS webhook processing behind an immediate acknowledgement",
            "CMS developers",
            "Within 2 weeks",
        ),
        (
            "Define one purchase event as the source of truth for experiments and analytics",
            "Analytics lead",
            "Within 30 days",
        ),
        (
            "Set up alerts on event loss, webhook latency and feed freshness",
            "Operations",
            "Within 30 days",
        ),
    ],
};

static CONTENT_REVIEW: Profile = Profile {
    tier: "insights",
    maturities: &["walk", "run"],
    title: "Content review for {c}",
    promises: &[
        "Fix the {n:8:15} pages that lose the most visitors and lift organic entrances by an estimated {p:6:14}",
        "Turn the highest-traffic pages into clear, current, conversion-ready content within one quarter",
    ],
    metrics: [
        ("Pages audited", "{n:380:1450}", None),
        (
            "Thin or outdated pages",
            "{n:35:140}",
            Some("under 300 words or not updated in 18 months"),
        ),
        (
            "Average content score",
            "{n:58:77}/100",
            Some("readability, freshness, structure and CTA clarity"),
        ),
    ],
    confidence: (76, 91),
    confidence_note: "Scores combine a full crawl with {n:60:90} days of page analytics; engagement data is sampled for low-traffic pages.",
    summary: &[
        "The site of {c} has a strong core of product and category pages, but a long tail of thin, overlapping and outdated pages dilutes both search visibility and on-site engagement.",
        "The top {n:20:40} landing pages carry {p:55:72} of organic entrances; {n:6:12} of them have not been updated in over a year.",
        "Calls to action are inconsistent: {p:30:48} of pages have none above the fold, and {n:12:40} pages link to retired offers.",
        "Consolidating overlapping articles and refreshing the top landing pages is the fastest route to measurable gains.",
    ],
    key_points: &[
        "A small set of landing pages drives most entrances, and several of them are stale.",
        "{n:40:90} blog articles compete for the same {n:8:20} topics and cannibalise each other.",
        "Images lack alt text on {p:22:46} of pages, which hurts accessibility and image search.",
        "Product detail pages have good specifications but weak benefit-led copy.",
        "Internal linking from articles to product pages is sparse: {n:1:3} links per article on average.",
    ],
    insights: &[
        InsightTpl {
            title: "Top landing pages are out of date",
            description: "The pages that welcome most new visitors are also the ones that changed least. Their offers, imagery and proof points date from previous campaigns.",
            bullets: &[
                "{n:6:12} of the top {n:20:40} landing pages were last edited more than 12 months ago.",
                "Bounce rate on stale landing pages is {p:8:19} higher than on refreshed ones.",
                "Three pages still mention a seasonal promotion that has ended.",
                "Refreshing headlines, hero imagery and proof points is low effort and high impact.",
                "Each refreshed page should carry one primary call to action above the fold.",
            ],
        },
        InsightTpl {
            title: "Overlapping articles split authority",
            description: "Many blog posts target the same questions with slightly different angles. Search engines rank none of them well, and visitors bounce between near-duplicates.",
            bullets: &[
                "{n:8:20} topic clusters have three or more competing articles.",
                "Merging each cluster into one comprehensive guide with redirects typically lifts its traffic by {p:15:40}.",
                "{n:20:60} articles receive fewer than 10 visits a month and can be retired or merged.",
                "Author and review dates are missing on most articles, which weakens trust signals.",
            ],
        },
        InsightTpl {
            title: "Product pages describe features, not outcomes",
            description: "Product detail pages are accurate and complete, but they read like specification sheets. Visitors who compare options do not see why one product suits them better.",
            bullets: &[
                "Only {p:12:30} of product descriptions open with a customer benefit.",
                "Comparison tables exist for {n:2:6} categories and lift add-to-cart where present.",
                "Reviews are shown below the fold on mobile, far from the purchase button.",
                "Short use-case sections would help both visitors and AI answer engines.",
            ],
        },
        InsightTpl {
            title: "Calls to action are inconsistent",
            description: "Across templates, calls to action vary in wording, colour and placement, and some point to retired offers or generic contact pages.",
            bullets: &[
                "{p:30:48} of audited pages have no call to action above the fold.",
                "{n:12:40} pages link to offers that no longer exist.",
                "Button copy varies between {n:9:21} different phrasings for the same action.",
                "A shared CTA component with approved copy variants would remove most of the drift.",
            ],
        },
        InsightTpl {
            title: "Accessibility and structure basics need attention",
            description: "Heading structure, alt text and link text are uneven. These fixes help every visitor, search engines and generative answer engines alike.",
            bullets: &[
                "Alt text is missing on {p:22:46} of content images.",
                "{n:40:160} pages skip heading levels or use several top-level headings.",
                "Generic link text such as 'click here' appears on {n:30:120} pages.",
                "Readability averages grade {n:10:13}; grade 8 to 9 suits the audience better.",
            ],
        },
    ],
    item_title: "Page review: {e}",
    items: &[
        "Homepage",
        "Main product category page",
        "Best-sellers collection",
        "Pricing and plans page",
        "Top product detail page",
        "Buying guide hub",
        "Blog landing page",
        "Most-read how-to article",
        "About us page",
        "Support and FAQ centre",
        "Store locator",
        "Seasonal sale landing page",
        "Returns and shipping policy",
    ],
    item_descriptions: &[
        "The {e} was scored on freshness, readability, structure, calls to action and engagement over the last {n:60:90} days.",
        "{e}: a high-visibility page for {c}, reviewed against the content standards and its own traffic and conversion data.",
        "Findings for the {e}, ranked by the traffic it receives and how far it sits from the content benchmark.",
    ],
    item_bullets: &[
        "Content score {n:44:86}/100; the site median is {n:58:70}.",
        "Last meaningful update {n:2:26} months ago.",
        "{n:180:2400} words; readability grade {n:7:14}.",
        "Bounce rate {p:28:71} and average engagement time {n:18:140} seconds.",
        "{n:0:9} images without alt text and {n:0:5} broken internal links.",
        "Primary call to action is {x:clear and above the fold|present but below the fold|missing|split between several competing buttons}.",
        "Receives {p:0.8:18.5} of organic entrances to the site.",
        "Suggested change: {x:rewrite the opening to lead with the main benefit|merge with two overlapping pages|refresh imagery and proof points|add a comparison table|shorten and restructure with clear headings}.",
        "Search snippet {x:matches the page well|is truncated|is generated from boilerplate text}.",
    ],
    opportunities: &[
        (
            "Merge overlapping blog articles into topic guides",
            High,
            Medium,
        ),
        (
            "Rewrite product descriptions to lead with benefits",
            Medium,
            Medium,
        ),
        (
            "Standardise calls to action with a shared component",
            Medium,
            Low,
        ),
        (
            "Add alt text and fix heading structure site-wide",
            Medium,
            Low,
        ),
        ("Retire or redirect low-traffic thin pages", Low, Low),
        ("Link articles to relevant product pages", Medium, Low),
    ],
    shared: &[(7, 0), (2, 1), (3, 0), (0, 2)],
    next_steps: &[
        (
            "Refresh the ten highest-traffic landing pages",
            "Content team",
            "Within 30 days",
        ),
        (
            "Map overlapping articles into topic clusters and plan merges",
            "SEO lead",
            "Within 2 weeks",
        ),
        (
            "Agree CTA copy variants and ship a shared CTA component",
            "Design system team",
            "Within 45 days",
        ),
        (
            "Run an accessibility pass on content images and headings",
            "Content operations",
            "Within 60 days",
        ),
        (
            "Set a review cadence so top pages are checked every quarter",
            "Head of content",
            "Ongoing",
        ),
    ],
};

static GEO_AUDIT: Profile = Profile {
    tier: "insights",
    maturities: &["crawl", "walk"],
    title: "Generative engine visibility for {c}",
    promises: &[
        "Get {c} cited in AI-generated answers for the {n:10:25} questions your buyers ask most",
        "Make your content easy for AI answer engines to find, trust and quote, and win back visibility lost to zero-click answers",
    ],
    metrics: [
        (
            "Buyer questions tested",
            "{n:80:220}",
            Some("across {n:3:5} AI answer engines"),
        ),
        (
            "Answer presence",
            "{p:9:31}",
            Some("answers that mention or cite the brand"),
        ),
        (
            "Schema coverage",
            "{p:25:62}",
            Some("key templates with valid structured data"),
        ),
    ],
    confidence: (68, 86),
    confidence_note: "AI answers vary between runs; each question was asked {n:3:5} times per engine and results were averaged.",
    summary: &[
        "{c} appears in a minority of AI-generated answers for its core buyer questions, while competitors with clearer, well-structured content are cited far more often.",
        "The content usually exists, but it is buried in long pages, lacks structured data and rarely answers the question in the first paragraph.",
        "Product and category templates carry structured data on only {p:25:62} of pages, and FAQ content is not marked up at all.",
        "Restructuring answer-ready content and completing schema markup are the highest-leverage changes.",
    ],
    key_points: &[
        "The brand is cited in {p:9:31} of tested AI answers; the leading competitor reaches about {p:35:55}.",
        "Pages that answer the question in the first two sentences are cited three times as often.",
        "Product schema is incomplete: price and availability are missing on many pages.",
        "Third-party reviews and comparison sites shape AI answers more than owned content does.",
        "Crawlers used by answer engines are blocked from {n:2:8} useful sections by robots rules.",
    ],
    insights: &[
        InsightTpl {
            title: "Answer engines cite competitors for core questions",
            description: "For the questions that start most buying journeys, AI answers tend to cite two or three competitors and a review site. The brand appears mainly for navigational queries that already include its name.",
            bullets: &[
                "Brand mention rate for non-branded questions is {p:4:18}.",
                "Comparison questions ('which is better') almost never include the brand.",
                "Cited competitor pages are short, structured and answer first.",
                "Improving presence on two independent review sites would also raise AI citations.",
            ],
        },
        InsightTpl {
            title: "Content is not answer-ready",
            description: "Relevant information exists on the site, but the answer is usually several paragraphs down, mixed with promotional copy, which makes it hard for answer engines to extract and quote.",
            bullets: &[
                "Only {p:10:28} of relevant pages answer the question in the first paragraph.",
                "FAQ sections exist on {n:12:60} pages but are not marked up.",
                "Key facts such as dimensions, compatibility and warranty live in images or PDFs.",
                "Adding short summaries at the top of long guides is a quick win.",
            ],
        },
        InsightTpl {
            title: "Structured data is incomplete",
            description: "Product, organisation and FAQ markup are partly implemented. Missing properties stop answer engines and rich results from using the data.",
            bullets: &[
                "Product markup lacks price or availability on {p:30:65} of product pages.",
                "Organisation markup is present but has no logo or social profile links.",
                "No FAQ or HowTo markup anywhere on the site.",
                "Review markup is missing even though reviews are shown on the page.",
            ],
        },
        InsightTpl {
            title: "Third-party sources shape the answers",
            description: "Answer engines lean on review sites, forums and marketplaces when owned content is thin. What those sources say about the brand matters as much as the site itself.",
            bullets: &[
                "{n:3:7} independent sources are cited repeatedly across the tested questions.",
                "The brand has few recent reviews on two of them.",
                "Forum threads with outdated pricing are quoted in {p:5:20} of answers.",
                "Official answers on community forums and fresh review coverage correct the record over time.",
            ],
        },
        InsightTpl {
            title: "Crawl access blocks useful content",
            description: "Robots rules written years ago block several sections that contain exactly the explanatory content answer engines need, while allowing low-value faceted URLs.",
            bullets: &[
                "{n:2:8} content sections are disallowed for all crawlers.",
                "Faceted navigation creates about {n:20000:160000} crawlable URL variants.",
                "The sitemap omits the buying guides and includes {n:200:1400} redirected URLs.",
                "A content freshness signal (last modified) is missing from the sitemap.",
            ],
        },
    ],
    item_title: "Question cluster: {e}",
    items: &[
        "Best options for beginners",
        "Product comparisons",
        "Pricing and value",
        "Sizing and compatibility",
        "Care and maintenance",
        "Delivery and returns",
        "Sustainability and sourcing",
        "Warranty and repairs",
        "Gift ideas",
        "Alternatives to market leaders",
        "How-to and setup",
        "Local availability",
        "Financing and payment options",
        "Brand reputation and reviews",
    ],
    item_descriptions: &[
        "Questions in the '{e}' cluster were asked of each answer engine and the answers checked for brand mentions, citations and accuracy.",
        "'{e}' matters for {c} because these questions come early in the buying journey and shape the shortlist.",
        "How answer engines respond to '{e}' questions today, and what the site would need to be cited.",
    ],
    item_bullets: &[
        "{n:6:24} questions tested; the brand is mentioned in {p:0:40} of answers.",
        "Most-cited source: {x:a review site|a large marketplace|a competitor's buying guide|a community forum|a video platform}.",
        "Best matching page on the site is {x:a long buying guide|a product detail page|an FAQ entry|a blog article|not present}.",
        "The answer is found {x:in the first paragraph|halfway down the page|only in a PDF|only in an image}.",
        "Structured data on the best matching page: {x:complete|partial|missing}.",
        "Accuracy of AI statements about the brand: {x:accurate|partly outdated|inaccurate on pricing|inaccurate on availability}.",
        "Estimated monthly question volume: {n:2000:90000}.",
        "Suggested fix: {x:add a short answer summary at the top|create a dedicated comparison page|mark up the FAQ section|publish specifications as text|earn coverage on independent review sites}.",
        "Competitors cited instead: {n:1:4}, led by {x:a national retailer|a specialist brand|a marketplace seller|a direct-to-consumer start-up}.",
        "Classic search position for the same questions: {x:top three|positions four to ten|second page|not ranking}.",
    ],
    opportunities: &[
        ("Add answer-first summaries to buying guides", High, Low),
        ("Mark up FAQ content with structured data", Medium, Low),
        (
            "Publish comparison pages for top alternatives",
            High,
            Medium,
        ),
        ("Fix robots rules blocking guide content", Medium, Low),
        ("Move specifications out of images and PDFs", Medium, Medium),
        ("Earn coverage on independent review sites", Medium, High),
    ],
    shared: &[(2, 0), (7, 2), (8, 0)],
    next_steps: &[
        (
            "Complete product markup with price, availability and reviews",
            "Web platform team",
            "Within 30 days",
        ),
        (
            "Rewrite the openings of the top {n:10:20} guides to answer first",
            "Content team",
            "Within 45 days",
        ),
        (
            "Review robots rules and sitemap with the SEO lead",
            "SEO lead",
            "This sprint",
        ),
        (
            "Track answer presence monthly for the tested questions",
            "Digital marketing",
            "Ongoing",
        ),
    ],
};

static AUDIENCE_SUGGESTER: Profile = Profile {
    tier: "strategy",
    maturities: &["walk", "run"],
    title: "Audience opportunities for {c}",
    promises: &[
        "Focus on {n:5:7} high-value segments that together drive {p:58:74} of revenue and respond best to tailored experiences",
        "Replace one-size-fits-all journeys with segments you can reach today using data you already collect",
    ],
    metrics: [
        (
            "Segments proposed",
            "{n:7:11}",
            Some("built from ODP traits and behaviour"),
        ),
        (
            "Addressable visitors",
            "{n:120:980}k/month",
            Some("identifiable in real time"),
        ),
        (
            "Revenue concentration",
            "{p:58:74}",
            Some("share of revenue from the top five segments"),
        ),
    ],
    confidence: (74, 90),
    confidence_note: "Segment sizes come from {n:60:90} days of ODP profiles; conversion figures are modelled for segments under 5,000 visitors.",
    summary: &[
        "Visitors to {c} fall into a handful of clearly different groups with different intent, price sensitivity and content needs.",
        "Today every visitor sees the same experience, although returning customers convert {n:2:4} times better than first-time visitors and respond to different messages.",
        "The proposed segments can be built from data already collected in ODP and activated in experimentation and personalization without new tracking.",
        "Start with high-intent cart abandoners and loyal repeat buyers: they are large, distinct and easy to reach.",
    ],
    key_points: &[
        "High-intent cart abandoners are the largest untapped segment.",
        "Loyal repeat buyers respond to early access, not discounts.",
        "First-time mobile visitors need reassurance on delivery and returns.",
        "About {p:18:34} of returning visitors are anonymous on arrival, which limits real-time targeting.",
        "Segment overlap is low, so experiences will not conflict.",
    ],
    insights: &[
        InsightTpl {
            title: "Intent varies sharply between segments",
            description: "Behavioural signals separate browsers from buyers within the first two page views. Treating everyone the same wastes the strongest intent signals.",
            bullets: &[
                "Visitors who view a product twice in one week convert at {p:6:14}, against a site average of {p:1.5:3.5}.",
                "Search users convert {n:2:4} times better than navigation users.",
                "Deal-page visitors have the highest bounce rate and the lowest order value.",
                "Content readers buy later, but with {p:10:25} higher average order value.",
            ],
        },
        InsightTpl {
            title: "Returning customers are under-served",
            description: "Repeat buyers generate a large share of revenue but receive the same homepage, offers and recommendations as first-time visitors.",
            bullets: &[
                "Repeat buyers are {p:18:30} of visitors and {p:40:58} of revenue.",
                "They rarely use discount codes; early access and new arrivals matter more to them.",
                "Replenishment timing is predictable for consumable categories.",
                "Recognising them on arrival requires identity stitching across devices.",
            ],
        },
        InsightTpl {
            title: "First-time visitors need reassurance",
            description: "New visitors, especially on mobile, leave at the product page and at the start of checkout. Session recordings show them looking for delivery costs and return terms.",
            bullets: &[
                "Mobile first-time visitors make up {p:35:52} of traffic and convert at under 1.5%.",
                "Delivery and returns information is two clicks away from product pages.",
                "Trust signals such as reviews and guarantees are below the fold on mobile.",
                "A simple reassurance banner is a good first personalization for this group.",
            ],
        },
        InsightTpl {
            title: "Data readiness is good enough to start",
            description: "ODP already holds the traits needed for the proposed segments. Two gaps limit precision but do not block activation.",
            bullets: &[
                "Purchase history, category affinity and visit frequency are populated for most known profiles.",
                "Anonymous returning visitors are not stitched until login.",
                "Email engagement data arrives with a one-day delay.",
                "Segment refresh is real time for behavioural traits and daily for computed ones.",
                "Personalizing the homepage hero depends on activating the ODP segments in real time.",
            ],
        },
    ],
    item_title: "Segment profile: {e}",
    items: &[
        "High-intent cart abandoners",
        "Loyal repeat buyers",
        "First-time mobile visitors",
        "Content researchers",
        "Deal seekers",
        "Lapsed customers (over 120 days)",
        "Gift shoppers",
        "Business buyers",
        "Search-led visitors",
        "New subscribers",
        "High-value browsers",
        "Paid social arrivals",
        "Weekend browsers",
        "Premium range buyers",
    ],
    item_descriptions: &[
        "{e}: defined from ODP behaviour and purchase traits; size, value and recommended treatment below.",
        "The '{e}' segment is distinct enough from the others to justify its own experience on the sites of {c}.",
        "Why '{e}' matters, how to reach this group in real time, and what to show them first.",
    ],
    item_bullets: &[
        "Size: about {n:4:160}k visitors a month, {p:2:21} of traffic.",
        "Conversion rate {p:0.6:9.5}, average order value {n:38:210} in local currency.",
        "Defining traits: {x:two or more product views in 7 days|cart created but not purchased|three or more orders in 12 months|arrived from a social ad|reads guides before buying|used site search}.",
        "Best channel to reach them: {x:on-site personalization|email|paid retargeting|app notifications}.",
        "Recommended first treatment: {x:reassurance on delivery and returns|early access to new arrivals|a reminder of items left in the cart|a curated gift guide|volume pricing information|a comparison of popular products}.",
        "Overlap with other proposed segments is {p:2:15}.",
        "Data readiness: {x:ready today|ready once identity stitching ships|needs one new trait in ODP}.",
        "Expected revenue impact if treated: {x:high|medium|low to medium}.",
        "Refresh cadence: {x:real time|hourly|daily}.",
        "Typical journey: {x:arrives from search, compares two or three products, buys on the second visit|opens an email, browses new arrivals, buys within a day|reads a guide, leaves, returns through a retargeting ad|lands on a deal page and leaves within a minute}.",
        "Content that works for them: {x:comparison tables|reviews and ratings|new arrivals|bundles and thresholds|setup guides|early access}.",
    ],
    opportunities: &[
        ("Target loyal repeat buyers with early access", High, Low),
        (
            "Reassure first-time mobile visitors on delivery and returns",
            Medium,
            Low,
        ),
        (
            "Win back lapsed customers with replenishment reminders",
            Medium,
            Medium,
        ),
        (
            "Stitch anonymous returning visitors to known profiles",
            High,
            High,
        ),
        ("Create a gift shopper segment for seasonal peaks", Low, Low),
    ],
    shared: &[(0, 1), (5, 1), (4, 0)],
    next_steps: &[
        (
            "Build the five priority segments in ODP",
            "Marketing operations",
            "Within 2 weeks",
        ),
        (
            "Connect the segments to experimentation audiences",
            "Optimization team",
            "Within 30 days",
        ),
        (
            "Agree one first treatment per segment with content owners",
            "Digital marketing",
            "Within 30 days",
        ),
        (
            "Review segment performance monthly and retire weak segments",
            "Analytics lead",
            "Ongoing",
        ),
    ],
};

static EXPERIMENT_BLUEPRINTER: Profile = Profile {
    tier: "optimization",
    maturities: &["walk", "run"],
    title: "Experiment blueprint for {c}",
    promises: &[
        "Run {n:8:14} well-powered A/B tests in the next 90 days, ordered by expected impact and the traffic each needs",
        "Move from occasional tests to a steady programme with clear hypotheses, sample sizes and decision rules",
    ],
    metrics: [
        ("Tests blueprinted", "{n:8:14}", None),
        (
            "Median test duration",
            "{n:14:28} days",
            Some("at 80% power and 95% significance"),
        ),
        (
            "Expected programme lift",
            "{p:3:9}",
            Some("conversion, if half of the tests win"),
        ),
    ],
    confidence: (72, 88),
    confidence_note: "Sample sizes assume current traffic and baseline conversion; seasonal peaks may shorten or lengthen tests.",
    summary: &[
        "{c} has enough traffic to run {n:3:5} concurrent tests on separate pages, but has run only {n:2:6} tests in the last six months, most of them inconclusive.",
        "Inconclusive results came from small changes on low-traffic pages and from stopping tests early.",
        "The blueprint concentrates on high-traffic templates, states a hypothesis and a minimum detectable effect for each test, and fixes the run time before launch.",
        "Guardrail metrics protect revenue and page speed in every test.",
    ],
    key_points: &[
        "Homepage, product pages and checkout have the traffic for tests that finish in under four weeks.",
        "Past tests stopped early and were underpowered.",
        "Revenue per visitor should be the primary metric for commercial tests.",
        "A shared test calendar avoids overlapping tests on the same page.",
        "Sequential testing would allow safe early stopping.",
    ],
    insights: &[
        InsightTpl {
            title: "Past tests were underpowered",
            description: "Most of the recent tests were stopped after a few days or ran on pages without enough traffic to detect realistic effects.",
            bullets: &[
                "Average run time was {n:5:11} days against a required {n:14:28}.",
                "{n:2:5} of the last tests were called on a single day's spike.",
                "Minimum detectable effects above 10% are unrealistic for mature pages.",
                "Fixing the run time before launch prevents peeking bias.",
                "Publish a shared test calendar before raising the experimentation cadence.",
            ],
        },
        InsightTpl {
            title: "Traffic supports a steady programme",
            description: "With current traffic, the top templates can each host one test at a time with reasonable durations, allowing two to three conclusive results a month.",
            bullets: &[
                "Homepage: {n:60:400}k visitors a month, enough for a 3% effect in about two weeks.",
                "Product detail pages: combined traffic supports template-level tests.",
                "Checkout: fewer visitors but high intent; tests need about four weeks.",
                "Category pages are the best place for navigation and merchandising tests.",
            ],
        },
        InsightTpl {
            title: "Metrics need a clear hierarchy",
            description: "Tests have used click-through as the main metric, which often moves without changing revenue. A primary, secondary and guardrail structure avoids false wins.",
            bullets: &[
                "Primary: revenue per visitor or conversion rate, depending on the test.",
                "Secondary: add-to-cart rate and engagement with the changed element.",
                "Guardrails: page load time, refund rate and bounce rate.",
                "Metric definitions should match the analytics purchase event.",
            ],
        },
        InsightTpl {
            title: "Hypotheses should come from evidence",
            description: "Test ideas have mostly come from opinions. The content, audience and journey findings in this report provide evidence-based hypotheses instead.",
            bullets: &[
                "Each test in the blueprint cites the finding it comes from.",
                "Hypotheses follow one template: because, we believe, we will know when.",
                "Losing tests are documented as learnings, not discarded.",
                "A quarterly review feeds results back into the roadmap.",
            ],
        },
    ],
    item_title: "Test blueprint: {e}",
    items: &[
        "Homepage hero personalization A/B test",
        "Checkout trust badges",
        "Product page image gallery",
        "Free delivery threshold messaging",
        "Simplified main navigation",
        "Pricing page plan comparison",
        "Sticky add-to-cart on mobile",
        "Search results ranking",
        "Cart page cross-sell",
        "Category page filters",
        "Newsletter sign-up incentive",
        "Guest checkout default",
        "Review summary above the fold",
    ],
    item_descriptions: &[
        "{e}: hypothesis, metrics, sample size and decision rule, ready to build in Web Experimentation.",
        "A blueprint for '{e}', sized on the current traffic of {c} and ordered by expected impact.",
        "'{e}' tests a change suggested by the content, audience and journey findings; details below.",
    ],
    item_bullets: &[
        "Hypothesis: because {x:visitors miss key information|the page is cluttered|trust signals are hidden|the next step is unclear}, we believe the change will lift {x:conversion|revenue per visitor|add-to-cart rate}.",
        "Primary metric: {x:conversion rate|revenue per visitor|add-to-cart rate|checkout completion}; guardrail: {x:page load time|refund rate|bounce rate}.",
        "Baseline {p:1.2:12.5}; minimum detectable effect {p:2:8} relative.",
        "Sample size about {n:9000:160000} visitors per variation.",
        "Expected duration {n:12:35} days at current traffic.",
        "Variations: control plus {n:1:3} treatment(s).",
        "Audience: {x:all visitors|mobile visitors only|returning customers|first-time visitors|visitors from search}.",
        "Priority score {n:52:94}/100 (impact, confidence, ease).",
        "Decision rule: ship if the primary metric wins at 95% significance and no guardrail degrades.",
    ],
    opportunities: &[
        ("Test checkout trust badges", High, Low),
        ("Test free delivery threshold messaging", High, Low),
        ("Test a sticky add-to-cart button on mobile", Medium, Low),
        (
            "Adopt sequential testing for safe early stopping",
            Medium,
            Medium,
        ),
        ("Publish a shared test calendar", Low, Low),
    ],
    shared: &[(0, 0), (1, 0), (6, 0)],
    next_steps: &[
        (
            "Approve the first three tests and their metrics",
            "Optimization lead",
            "This week",
        ),
        (
            "Build the homepage hero test",
            "Front-end developers",
            "Within 2 weeks",
        ),
        (
            "Set fixed run times and a decision rule for every test",
            "Analytics lead",
            "Within 2 weeks",
        ),
        (
            "Start a monthly results review with stakeholders",
            "Head of digital",
            "Within 30 days",
        ),
        (
            "Document learnings from every test in a shared log",
            "Optimization team",
            "Ongoing",
        ),
    ],
};

static PERSONALIZATION: Profile = Profile {
    tier: "optimization",
    maturities: &["walk", "run", "fly"],
    title: "Personalization ideas for {c}",
    promises: &[
        "Launch {n:6:10} targeted experiences for your priority segments and lift revenue per visitor by an estimated {p:4:11}",
        "Show each priority segment the message it responds to, starting with placements you can change without new development",
    ],
    metrics: [
        (
            "Ideas generated",
            "{n:10:16}",
            Some("mapped to segments and placements"),
        ),
        (
            "Ready without development",
            "{n:5:9}",
            Some("buildable in the visual editor"),
        ),
        (
            "Estimated lift",
            "{p:4:11}",
            Some("revenue per visitor, priority ideas"),
        ),
    ],
    confidence: (70, 86),
    confidence_note: "Lift estimates come from comparable programmes and are validated by testing each idea against a holdout.",
    summary: &[
        "The segments identified for {c} can be reached on the homepage, product pages, cart and email without new tracking.",
        "The strongest ideas adapt the homepage hero, reassure first-time visitors and reward repeat buyers with early access rather than discounts.",
        "Most ideas can be built in the visual editor; {n:2:4} need recommendation feeds or CMS content variants.",
        "Every idea should launch with a holdout group so its real effect is measured.",
    ],
    key_points: &[
        "Homepage hero and product recommendations are the highest-impact placements.",
        "Reassurance messages for first-time mobile visitors are quick to build.",
        "Repeat buyers respond to early access and new arrivals.",
        "Holdout groups keep personalization honest.",
        "Content variants are needed for {n:3:6} ideas; the CMS supports them.",
    ],
    insights: &[
        InsightTpl {
            title: "The homepage is the biggest single lever",
            description: "The homepage receives the largest share of first page views and today shows one campaign to everyone. Segment-specific heroes are the most valuable first step.",
            bullets: &[
                "The homepage is the entry page for {p:22:38} of sessions.",
                "Returning customers click the current hero {p:40:70} less often than new visitors.",
                "Three hero variants cover the main segments.",
                "Variants can reuse existing campaign assets.",
            ],
        },
        InsightTpl {
            title: "Recommendations are generic",
            description: "Product recommendations use site-wide best-sellers. Using browsing and purchase history makes them relevant without new content.",
            bullets: &[
                "Recommendation click-through is {p:1.2:3.8} today.",
                "Category affinity from ODP can drive per-visitor recommendations.",
                "Recently viewed items are not shown anywhere.",
                "Cart cross-sells ignore what is already in the cart.",
            ],
        },
        InsightTpl {
            title: "Messaging should match intent",
            description: "Deal seekers, researchers and loyal buyers want different things. One promotional message for all of them lowers response across the board.",
            bullets: &[
                "Deal seekers respond to thresholds and bundles.",
                "Researchers respond to guides and comparisons.",
                "Loyal buyers respond to early access and exclusives.",
                "Business buyers respond to volume pricing and invoicing options.",
            ],
        },
        InsightTpl {
            title: "Start with placements that need no development",
            description: "Several high-traffic placements can be changed in the visual editor with existing assets. Starting there proves value before investing in new recommendation strategies or content variants.",
            bullets: &[
                "{n:5:9} of the ideas can be built in the visual editor today.",
                "Homepage hero, site-wide banner and cart messages reuse campaign assets.",
                "Recommendation-based ideas need the catalog feed to be healthy first.",
                "Email ideas depend on the segment export, which refreshes daily.",
                "A shared priority rule avoids two experiences competing for the same slot.",
            ],
        },
        InsightTpl {
            title: "Measure every experience against a holdout",
            description: "Personalization without measurement drifts. A small holdout per experience shows which ideas earn their maintenance cost.",
            bullets: &[
                "A 5 to 10% holdout is enough for high-traffic placements.",
                "Report revenue per visitor, not clicks.",
                "Retire experiences that do not beat the holdout after two cycles.",
                "Review overlapping experiences monthly.",
            ],
        },
    ],
    item_title: "Personalization idea: {e}",
    items: &[
        "Segment-specific homepage hero",
        "Reassurance banner for first-time mobile visitors",
        "Early access module for loyal buyers",
        "Recently viewed products strip",
        "Cart reminder on return visit",
        "Category affinity recommendations",
        "Gift finder for seasonal shoppers",
        "Volume pricing panel for business buyers",
        "Guide-led landing page for researchers",
        "Win-back offer for lapsed customers",
        "Threshold nudge for deal seekers",
        "Localised delivery promise",
        "New arrivals email for repeat buyers",
        "Size and fit guidance for returning shoppers",
        "Weather-aware category promotion",
        "Replenishment reminder for consumables",
    ],
    item_descriptions: &[
        "{e}: who sees it, where, what changes and how it will be measured.",
        "The '{e}' idea builds on the audience and content findings for {c}; build effort and expected impact below.",
        "'{e}' is ready for a holdout test; details of placement and content below.",
    ],
    item_bullets: &[
        "Audience: {x:loyal repeat buyers|first-time mobile visitors|high-intent cart abandoners|content researchers|deal seekers|lapsed customers|business buyers}.",
        "Placement: {x:homepage hero|product page sidebar|cart page|category page header|email|site-wide banner}.",
        "Content: {x:existing campaign assets|one new CMS variant|recommendation feed|short copy change only}.",
        "Build effort: {x:visual editor only|a small front-end change|a new recommendation strategy|a CMS content variant}.",
        "Expected lift: {p:1:9} on {x:conversion|revenue per visitor|click-through}.",
        "Holdout: {n:5:10}% of the audience.",
        "Dependency: {x:none|the segment must be built in ODP first|identity stitching|recommendation catalog feed}.",
        "Priority score {n:48:95}/100.",
        "Success metric: {x:revenue per visitor against the holdout|conversion rate of the targeted audience|click-through on the personalized placement|repeat purchase rate within 60 days}.",
        "Conflicts with other experiences: {x:none|shares the homepage hero slot, so it needs a priority rule|overlaps with the seasonal campaign banner}.",
        "Content owner: {x:creative team|e-commerce merchandising|CRM team|content team}; refresh every {x:two weeks|month|quarter}.",
    ],
    opportunities: &[
        (
            "Show recently viewed products on return visits",
            Medium,
            Low,
        ),
        (
            "Personalize product recommendations by category affinity",
            High,
            Medium,
        ),
        ("Offer early access to loyal buyers", Medium, Low),
        ("Localise the delivery promise by region", Low, Medium),
        (
            "Add a holdout to every personalized experience",
            Medium,
            Low,
        ),
    ],
    shared: &[(0, 0), (4, 2), (5, 2)],
    next_steps: &[
        (
            "Pick the first three ideas and their audiences",
            "Personalization lead",
            "This week",
        ),
        (
            "Create hero variants from existing campaign assets",
            "Creative team",
            "Within 2 weeks",
        ),
        (
            "Configure holdouts and revenue reporting",
            "Analytics lead",
            "Within 2 weeks",
        ),
        (
            "Launch the first experiences and review after one cycle",
            "Optimization team",
            "Within 45 days",
        ),
    ],
};

static CUSTOMER_JOURNEY: Profile = Profile {
    tier: "strategy",
    maturities: &["crawl", "walk", "run"],
    title: "Customer journey analysis for {c}",
    promises: &[
        "Remove the {n:3:5} biggest points of friction between first visit and repeat purchase",
        "See where customers stall on the way to buying again, and fix the steps that lose the most revenue",
    ],
    metrics: [
        ("Journey stages mapped", "{n:6:7}", None),
        (
            "Largest drop-off",
            "{p:38:64}",
            Some("product page to cart"),
        ),
        (
            "Repeat purchase rate",
            "{p:18:36}",
            Some("within 12 months"),
        ),
    ],
    confidence: (73, 89),
    confidence_note: "Journey paths come from {n:60:90} days of sessions; cross-device journeys are under-counted for anonymous visitors.",
    summary: &[
        "The journey of a typical customer of {c} spans {n:3:6} visits over {n:5:21} days before the first purchase.",
        "The largest losses happen between product page and cart, and at the first checkout step, where delivery costs appear for the first time.",
        "After the first purchase, communication stops except for promotional emails, and only {p:18:36} of customers buy again within a year.",
        "Fixing the product-to-cart step and adding a post-purchase onboarding sequence address the two largest gaps.",
    ],
    key_points: &[
        "Delivery costs appear late and cause checkout abandonment.",
        "Post-purchase communication is promotional, not helpful.",
        "Mobile visitors research on their phones and buy on desktop.",
        "Support contacts peak in the first week after delivery.",
        "Reviews are requested too early, before the product arrives.",
    ],
    insights: &[
        InsightTpl {
            title: "Delivery costs surprise shoppers at checkout",
            description: "Visitors learn the delivery cost only at the first checkout step. This is the most common exit reason in on-site surveys.",
            bullets: &[
                "{p:20:35} of checkout starts end at the delivery step.",
                "Product pages show delivery information below the fold on mobile.",
                "A delivery estimator on product pages reduces surprise.",
                "Free delivery thresholds are not mentioned before the cart.",
            ],
        },
        InsightTpl {
            title: "The journey crosses devices",
            description: "Many customers research on mobile and complete the purchase on desktop. Without identity stitching, these look like separate people.",
            bullets: &[
                "About {p:25:45} of purchases follow a mobile session in the previous week.",
                "Saved carts do not sync between devices for guests.",
                "Wishlists require an account, which few mobile visitors create.",
                "Email reminders can bridge devices for known visitors.",
            ],
        },
        InsightTpl {
            title: "Post-purchase experience is thin",
            description: "After the order confirmation, customers receive tracking updates and then promotions. There is no help with setup, care or complementary products.",
            bullets: &[
                "Support contacts about setup peak {n:2:6} days after delivery.",
                "An onboarding sequence could answer the most common questions in advance.",
                "Review requests go out before delivery for {p:10:30} of orders.",
                "Complementary product suggestions are not sent at all.",
            ],
        },
        InsightTpl {
            title: "Mobile journeys stall on forms and speed",
            description: "Mobile visitors reach product pages as often as desktop visitors, but progress less at every later step. Slow pages and long forms are the main reasons.",
            bullets: &[
                "Mobile product pages take {n:3:7} seconds to become interactive on a typical connection.",
                "The checkout form has {n:14:24} fields; {n:4:9} of them are optional but look mandatory.",
                "Express payment options are offered only at the last step.",
                "Address lookup would remove most typing on mobile.",
                "Mobile conversion is {p:35:60} of desktop conversion.",
            ],
        },
        InsightTpl {
            title: "Returns shape the next purchase",
            description: "Customers who return an item are less likely to buy again, but how the return is handled matters more than the return itself.",
            bullets: &[
                "About {p:8:22} of orders include at least one return.",
                "Customers with a fast refund buy again at nearly the normal rate.",
                "Exchanges are handled as return plus new order, which doubles the effort.",
                "Return reasons are collected but not fed back to product pages.",
            ],
        },
        InsightTpl {
            title: "Loyalty is earned but not recognised",
            description: "Customers who buy twice are likely to buy again, but nothing in the experience acknowledges them.",
            bullets: &[
                "Second-purchase customers have a {p:45:70} chance of a third purchase.",
                "The time between first and second purchase is the key window.",
                "No loyalty programme or member benefits exist today.",
                "Simple recognition (early access, member pricing) fits the brand.",
            ],
        },
    ],
    item_title: "Journey stage: {e}",
    items: &[
        "Awareness",
        "Consideration",
        "Evaluation",
        "Cart",
        "Checkout",
        "Delivery",
        "Onboarding",
        "Support",
        "Repeat purchase",
        "Advocacy",
        "Win-back",
        "Account creation",
        "Returns and exchanges",
        "Replenishment",
    ],
    item_descriptions: &[
        "{e}: the touchpoints customers of {c} use at this stage, where they stall and what would move them forward.",
        "How customers move through the '{e}' stage today, measured over the last {n:60:90} days.",
        "The '{e}' stage, with its main friction points and the fix with the best ratio of impact to effort.",
    ],
    item_bullets: &[
        "Main touchpoints: {x:search and social ads|homepage and category pages|product pages and reviews|cart and checkout|order emails|help centre|email and app}.",
        "Share of customers who move on to the next stage: {p:22:81}.",
        "Median time in stage: {n:1:14} days.",
        "Main friction: {x:unclear pricing|missing delivery information|too many form fields|slow pages on mobile|no reassurance on returns|lack of guidance after purchase}.",
        "Device mix: {p:45:78} mobile.",
        "Exit survey theme: {x:just browsing|price too high|delivery too slow|could not find the right size|wanted to compare options}.",
        "Suggested improvement: {x:show delivery costs earlier|shorten the form|add a comparison tool|send a setup guide|prompt reviews after delivery|recognise repeat buyers}.",
        "Revenue at stake: {x:high|medium|low}.",
        "Customer effort score {n:3:6} out of 7, measured in on-site surveys after the stage.",
        "Support contacts linked to this stage: {n:40:900} a month, mostly about {x:delivery dates|sizing|payment options|order changes|product setup}.",
        "Owner today: {x:e-commerce team|CRM team|customer service|marketing|nobody in particular}; the stage would benefit from {x:one named owner|a shared KPI|a monthly review}.",
        "Benchmark: peers in the same industry move about {p:30:85} of customers through this stage.",
    ],
    opportunities: &[
        ("Show delivery costs on product pages", High, Low),
        ("Send a post-purchase onboarding sequence", Medium, Low),
        ("Time review requests after delivery", Low, Low),
        ("Sync saved carts across devices", Medium, High),
        (
            "Recognise second-time buyers with member benefits",
            Medium,
            Medium,
        ),
    ],
    shared: &[(1, 1), (4, 1), (8, 1)],
    next_steps: &[
        (
            "Add a delivery estimator to product pages",
            "E-commerce team",
            "Within 30 days",
        ),
        (
            "Draft a three-message onboarding sequence",
            "CRM team",
            "Within 30 days",
        ),
        (
            "Move review requests to after confirmed delivery",
            "CRM team",
            "This sprint",
        ),
        (
            "Define the journey KPIs and review them monthly",
            "Customer experience lead",
            "Ongoing",
        ),
    ],
};

static ROADMAP_GENERATOR: Profile = Profile {
    tier: "strategy",
    maturities: &["walk", "run"],
    title: "90-day optimization roadmap for {c}",
    promises: &[
        "A sequenced 30/60/90-day plan that fixes data foundations first, then scales testing and personalization",
        "Turn the findings of eight agents into {n:12:18} initiatives with owners, dependencies and measurable outcomes",
    ],
    metrics: [
        ("Initiatives planned", "{n:12:18}", None),
        (
            "Quick wins in 30 days",
            "{n:4:7}",
            Some("low effort, high or medium impact"),
        ),
        (
            "Projected conversion lift",
            "{p:5:14}",
            Some("by day 90, if the plan holds"),
        ),
    ],
    confidence: (70, 87),
    confidence_note: "Sequencing assumes current team capacity; impact estimates combine the other agents' findings.",
    summary: &[
        "The plan for {c} starts with data and content foundations, because every later test and personalization depends on accurate measurement.",
        "The first 30 days fix tagging and event loss and refresh the highest-traffic pages; days 31 to 60 launch the first experiments and priority segments; days 61 to 90 scale personalization and establish a steady testing cadence.",
        "Each initiative has an owner, a measurable outcome and explicit dependencies, so progress can be reviewed every two weeks.",
        "Capacity is the main constraint: the plan needs about {n:2:4} front-end developer weeks per month.",
    ],
    key_points: &[
        "Fix measurement before scaling testing.",
        "Quick wins in the first month build momentum and fund later work.",
        "Experiments and personalization share one calendar.",
        "Every initiative has one owner and one success metric.",
        "A fortnightly review keeps the plan honest.",
    ],
    insights: &[
        InsightTpl {
            title: "Foundations come first",
            description: "Several findings depend on accurate data: untagged pages and lost purchase events would bias every experiment. These are sequenced into the first month.",
            bullets: &[
                "Fix tagging and event loss before launching the first experiments, so revenue-based tests can be trusted.",
                "Content refreshes can run in parallel with data work.",
                "Segment building needs identity stitching for its best results, but can start without it.",
                "Governance (calendar, metrics, review cadence) is set up in the first two weeks.",
            ],
        },
        InsightTpl {
            title: "Impact and effort are unevenly spread",
            description: "A few initiatives deliver most of the expected value. The plan front-loads those with low effort and defers the expensive ones until results justify them.",
            bullets: &[
                "{n:4:7} initiatives are quick wins with low effort.",
                "{n:2:4} initiatives need significant development and are scheduled after day 45.",
                "Checkout and homepage work together account for about half of the expected lift.",
                "Cross-device identity is valuable but expensive; it is scoped as a discovery first.",
            ],
        },
        InsightTpl {
            title: "Risks and dependencies",
            description: "The plan depends on a handful of shared resources and decisions. Naming them early avoids stalls.",
            bullets: &[
                "Front-end capacity is shared with the seasonal campaign calendar.",
                "Metric definitions must be agreed before the first test launches.",
                "Legal review is needed for new consent handling.",
                "Content owners need time to produce segment-specific variants.",
            ],
        },
        InsightTpl {
            title: "The first 30 days",
            description: "The first month fixes what would otherwise undermine everything else, and lands a few visible quick wins.",
            bullets: &[
                "Tag the untagged checkout and account templates and stop purchase event loss.",
                "Refresh the highest-traffic landing pages and fix the worst calls to action.",
                "Agree metric definitions, a test calendar and the review cadence.",
                "Build the first priority segments in ODP.",
                "Expected contribution: about {p:1:4} conversion lift from quick wins.",
            ],
        },
        InsightTpl {
            title: "Days 31 to 90",
            description: "With measurement trusted, the second and third months turn findings into experiments and personalized experiences, and set the cadence for the following quarter.",
            bullets: &[
                "Launch the first three experiments from the blueprint by day 45.",
                "Launch segment-specific homepage heroes with a holdout by day 60.",
                "Add delivery cost information to product pages and simplify checkout.",
                "Start the post-purchase onboarding sequence.",
                "Review results at day 90 and plan the next quarter from what won.",
            ],
        },
        InsightTpl {
            title: "How success will be measured",
            description: "The plan is judged on a small set of outcome metrics, reported every two weeks.",
            bullets: &[
                "Conversion rate and revenue per visitor, site-wide and per segment.",
                "Number of conclusive experiments per month.",
                "Event loss and tagging coverage.",
                "Share of revenue influenced by personalized experiences.",
            ],
        },
    ],
    item_title: "Workstream: {e}",
    items: &[
        "Measurement and tagging",
        "Data pipeline reliability",
        "Content refresh",
        "Search and answer engine visibility",
        "Audience building",
        "Experimentation programme",
        "Homepage personalization",
        "Checkout improvements",
        "Post-purchase journey",
        "Content operations",
        "Governance and reporting",
        "Team enablement",
        "Identity and consent",
        "Recommendations",
        "Mobile performance",
    ],
    item_descriptions: &[
        "{e}: what happens in each 30-day phase, who owns it and how progress is measured.",
        "The '{e}' workstream brings together related recommendations for {c} into one sequenced plan.",
        "'{e}' initiatives, their dependencies and the outcome expected by day 90.",
    ],
    item_bullets: &[
        "Phase: {x:first 30 days|days 31 to 60|days 61 to 90|starts in the first 30 days and continues to day 90}.",
        "Owner: {x:web platform team|data engineering|content team|optimization team|marketing operations|CRM team|analytics lead}.",
        "Effort: about {n:2:20} person-days.",
        "Depends on: {x:nothing, can start now|tagging fixes|segment definitions|agreed metric definitions|content variants|developer capacity}.",
        "Outcome by day 90: {x:tagging coverage above 99%|event loss under 0.5%|ten refreshed landing pages|three conclusive experiments|five live segments|two personalized experiences beating their holdout}.",
        "Expected contribution to overall lift: {p:0.5:4.5}.",
        "Risk: {x:low|medium|high}, mainly {x:capacity|content production|stakeholder alignment|technical complexity}.",
        "Review: every {x:two weeks|month}.",
        "Success metric: {x:conversion rate|revenue per visitor|number of conclusive experiments|event loss|tagging coverage|share of revenue from personalized experiences}.",
        "First milestone: {x:scope agreed and owner named|first change live on a single template|baseline measured and dashboard shared|first result reviewed with stakeholders}, by day {n:10:45}.",
        "Inputs from other agents: {x:integration health|content review|audience suggestions|experiment blueprint|personalization ideas|customer journey|content platform review}.",
        "Budget need: {x:none beyond existing licences|a small amount of agency time|additional developer capacity}.",
    ],
    opportunities: &[
        ("Fix tagging and event loss in the first 30 days", High, Low),
        ("Launch the first three experiments by day 45", High, Medium),
        (
            "Scope cross-device identity as a discovery project",
            Medium,
            Medium,
        ),
        ("Set up a fortnightly roadmap review", Low, Low),
    ],
    shared: &[(6, 1), (1, 2), (3, 2)],
    next_steps: &[
        (
            "Confirm owners for every workstream",
            "Head of digital",
            "This week",
        ),
        (
            "Book developer capacity for the first 60 days",
            "Engineering manager",
            "Within 2 weeks",
        ),
        (
            "Hold the first fortnightly roadmap review",
            "Programme manager",
            "Within 2 weeks",
        ),
        (
            "Report progress against the day-90 outcomes",
            "Programme manager",
            "Every two weeks",
        ),
        (
            "Revisit the plan after the first experiment results",
            "Optimization lead",
            "Around day 60",
        ),
    ],
};

static CMP_ORGANIZER: Profile = Profile {
    tier: "dxptools",
    maturities: &["crawl", "walk", "run"],
    title: "Content Marketing Platform organization for {c}",
    promises: &[
        "Cut campaign production time by about {p:15:30} with one taxonomy, reusable templates and fewer approval loops",
        "Make every asset findable and reusable, so campaigns and personalization variants ship faster",
    ],
    metrics: [
        ("Assets in the library", "{n:2400:18000}", None),
        (
            "Untagged or mis-tagged",
            "{p:24:52}",
            Some("assets without campaign, product or audience tags"),
        ),
        (
            "Average campaign cycle",
            "{n:18:41} days",
            Some("brief to launch"),
        ),
    ],
    confidence: (75, 90),
    confidence_note: "Based on CMP metadata for {n:12:24} months of campaigns; time spent outside the CMP is estimated.",
    summary: &[
        "The CMP of {c} holds a large asset library, but inconsistent tagging means teams often recreate assets that already exist.",
        "Campaigns move through {n:4:7} approval steps, two of which are sequential reviews by the same group.",
        "Three overlapping tag sets have grown over time, and {p:24:52} of assets carry no campaign or product tag.",
        "A single taxonomy, reusable brief and content templates, and a leaner workflow would shorten campaign cycles and feed personalization with variants faster.",
    ],
    key_points: &[
        "Three overlapping taxonomies make search unreliable.",
        "Approval workflows contain redundant sequential steps.",
        "Reuse is low: most assets are used in only one campaign.",
        "Briefs are free text, so requirements are often incomplete.",
        "Personalization variants are produced ad hoc, outside the campaign plan.",
    ],
    insights: &[
        InsightTpl {
            title: "Taxonomy drift makes assets hard to find",
            description: "Tags were created by different teams at different times. The same product or audience appears under several names, and search returns incomplete results.",
            bullets: &[
                "{n:3:5} tag groups overlap for products and audiences.",
                "{n:40:180} tags have been used fewer than five times.",
                "Search for a product name misses about a third of its assets.",
                "A governed taxonomy with required fields would stop further drift.",
            ],
        },
        InsightTpl {
            title: "Approvals slow campaigns down",
            description: "Campaign workflows include repeated reviews and unclear ownership. Most of the cycle time is waiting, not working.",
            bullets: &[
                "Average time waiting for approval is {n:6:15} days per campaign.",
                "Legal and brand review run one after the other, though they could run in parallel.",
                "{p:15:35} of tasks are reassigned at least once.",
                "Templates with pre-approved elements would skip a review for routine campaigns.",
            ],
        },
        InsightTpl {
            title: "Assets are rarely reused",
            description: "Most assets are used once. Teams cannot find suitable existing assets, and rights information is not recorded consistently.",
            bullets: &[
                "Reuse rate is {p:8:22} across the library.",
                "Rights and expiry data are missing on {p:30:60} of images.",
                "Near-duplicate images account for about {p:5:15} of storage.",
                "A curated collection of approved evergreen assets would raise reuse.",
            ],
        },
        InsightTpl {
            title: "Briefs are incomplete",
            description: "Campaign briefs are free text. Requirements such as audience, channels, variants and deadlines are often missing and are clarified later in comment threads.",
            bullets: &[
                "{p:30:60} of briefs lack a target audience.",
                "Channel and format lists are added after production starts in most campaigns.",
                "Clarification comments average {n:6:18} per campaign.",
                "A structured brief template with required fields would remove most of these loops.",
            ],
        },
        InsightTpl {
            title: "Workflow data shows where time goes",
            description: "Task timestamps in the CMP show that production itself is fast; the time is lost between steps.",
            bullets: &[
                "Median hand-off time between steps is {n:1:4} days.",
                "Tasks waiting for approval make up {p:45:70} of the cycle.",
                "Regional adaptations start only after the master asset is final.",
                "Parallel adaptation would shorten multi-market launches by about a week.",
            ],
        },
        InsightTpl {
            title: "Personalization needs a content supply chain",
            description: "The personalization ideas in this report need segment-specific variants. Today such variants are requested ad hoc and often arrive late.",
            bullets: &[
                "Variant requests are not part of the campaign brief.",
                "Segment names in the CMP do not match those in ODP.",
                "A variant field in the brief template would plan them from the start.",
                "Publishing variants to the CMS with tags keeps targeting consistent.",
                "Unify the content taxonomy before planning personalization variants in the campaign brief.",
            ],
        },
    ],
    item_title: "Content library: {e}",
    items: &[
        "Seasonal campaign assets",
        "Evergreen product imagery",
        "Email templates",
        "Social media assets",
        "Blog and guide articles",
        "Video library",
        "Brand guidelines and logos",
        "Paid media creatives",
        "Personalization variants",
        "Partner and co-marketing assets",
        "Event materials",
        "Product launch kits",
        "Regional campaign adaptations",
        "Sales enablement content",
        "Customer stories",
    ],
    item_descriptions: &[
        "{e}: how the library is organised in the CMP, how well it is tagged and how often its assets are reused.",
        "The '{e}' collection of {c}, reviewed for taxonomy, workflow and reuse.",
        "'{e}' assets and the campaign workflows that produce them; findings and suggested fixes below.",
    ],
    item_bullets: &[
        "{n:120:3800} assets, {p:10:60} of them untagged or mis-tagged.",
        "Reuse rate {p:3:35}.",
        "Average production cycle {n:5:35} days from brief to approval.",
        "Approval steps: {n:2:7}.",
        "Rights or expiry data missing on {p:5:65} of assets.",
        "Owner: {x:brand team|campaign team|content team|social team|regional marketing}.",
        "Suggested fix: {x:apply the unified taxonomy|archive expired assets|create a reusable template|merge duplicate folders|run legal and brand review in parallel}.",
        "Last clean-up: {n:3:30} months ago.",
        "Folder structure: {x:by year and campaign|by team|by channel|no consistent structure}; search finds about {p:40:85} of relevant assets.",
        "Templates in use: {n:0:12}; assets built from templates ship {p:20:45} faster.",
        "Localisation: {n:1:9} language versions, handled {x:inside the CMP|by email with an agency|in a separate tool}.",
        "Publishing target: {x:CMS|email platform|social scheduler|paid media platforms}, connected {x:directly|by manual export}.",
    ],
    opportunities: &[
        ("Streamline campaign approval workflows", High, Low),
        ("Create reusable brief and content templates", Medium, Low),
        ("Record rights and expiry on every asset", Medium, Medium),
        (
            "Plan personalization variants in the campaign brief",
            Medium,
            Low,
        ),
        ("Archive expired and duplicate assets", Low, Low),
    ],
    shared: &[(3, 1), (7, 1)],
    next_steps: &[
        (
            "Agree one taxonomy for products, audiences and campaigns",
            "Marketing operations",
            "Within 30 days",
        ),
        (
            "Run legal and brand reviews in parallel for routine campaigns",
            "Campaign managers",
            "Within 2 weeks",
        ),
        (
            "Bulk-retag the most-used assets with the new taxonomy",
            "Content operations",
            "Within 60 days",
        ),
        (
            "Add a personalization variant section to the brief template",
            "Marketing operations",
            "Within 30 days",
        ),
    ],
};
