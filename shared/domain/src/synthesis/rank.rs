//! Ranking: the merged recommendations by score, then a prerequisite an agent
//! named moves up to just before the first recommendation that needs it.

use std::collections::BTreeMap;

use super::merge::Draft;
use super::similarity::Terms;
use super::{Dependency, Recommendation, evidence, roadmap};
use crate::agents::AgentId;

/// For each draft, the drafts that come first; by index into the drafts.
type Prerequisites = Vec<Vec<usize>>;
/// Who stated that `(first, then)` come in that order, and their sentence.
type Stated = BTreeMap<(usize, usize), (AgentId, String)>;

/// The drafts as ranked recommendations, best first: ranks, dependencies and
/// what each is a prerequisite for filled in.
pub(super) fn rank(
    mut drafts: Vec<Draft>,
    sentences: &BTreeMap<AgentId, Vec<evidence::Sentence>>,
) -> Vec<Recommendation> {
    let base = score_order(&drafts);
    let (prerequisites, stated) = stated_prerequisites(&drafts, &base, sentences);
    let order = roadmap::rank_order(&base, &prerequisites);
    let rank_of = assign_ranks(&mut drafts, &order);
    attach_dependencies(&mut drafts, &prerequisites, &stated, &rank_of);
    let mut ranked = in_rank_order(&drafts, &order);
    link_prerequisites(&mut ranked);
    ranked
}

/// Draft indexes by score, best first.
fn score_order(drafts: &[Draft]) -> Vec<usize> {
    let mut base: Vec<usize> = (0..drafts.len()).collect();
    base.sort_by(|&a, &b| {
        let (ra, rb) = (&drafts[a].rec, &drafts[b].rec);
        // The score is rounded to tenths: the surer of two tied ranks first.
        rb.score
            .total_cmp(&ra.score)
            .then_with(|| rb.confidence.total_cmp(&ra.confidence))
            .then_with(|| ra.key.cmp(&rb.key))
            .then_with(|| ra.label.cmp(&rb.label))
    });
    base
}

/// The orders of work the agents stated ("A before B") between drafts, with
/// who stated each; an order that would close a cycle is left out.
fn stated_prerequisites(
    drafts: &[Draft],
    base: &[usize],
    sentences: &BTreeMap<AgentId, Vec<evidence::Sentence>>,
) -> (Prerequisites, Stated) {
    let statements: Vec<(AgentId, evidence::Statement)> = sentences
        .iter()
        .flat_map(|(agent, s)| evidence::statements(s).into_iter().map(|st| (*agent, st)))
        .collect();
    let mut prerequisites: Prerequisites = vec![Vec::new(); drafts.len()];
    let mut stated = Stated::new();
    for (agent, st) in &statements {
        let named = |phrase: &Terms| -> Vec<usize> {
            base.iter()
                .copied()
                .filter(|&i| {
                    drafts[i]
                        .wordings
                        .iter()
                        .any(|w| evidence::names(phrase, w))
                })
                .collect()
        };
        for first in named(&st.first) {
            for then in named(&st.then) {
                if roadmap::add_prerequisite(&mut prerequisites, first, then) {
                    stated.insert((first, then), (*agent, st.text.clone()));
                }
            }
        }
    }
    (prerequisites, stated)
}

/// Sets each draft's rank (1-based) from `order`; answers the rank by draft index.
fn assign_ranks(drafts: &mut [Draft], order: &[usize]) -> Vec<u32> {
    let mut rank_of = vec![0u32; drafts.len()];
    for (r, &i) in order.iter().enumerate() {
        rank_of[i] = r as u32 + 1;
        drafts[i].rec.rank = r as u32 + 1;
    }
    rank_of
}

/// Each draft's stated prerequisites, by rank (their labels come later).
fn attach_dependencies(
    drafts: &mut [Draft],
    prerequisites: &Prerequisites,
    stated: &Stated,
    rank_of: &[u32],
) {
    for (i, draft) in drafts.iter_mut().enumerate() {
        let mut deps: Vec<Dependency> = prerequisites[i]
            .iter()
            .filter_map(|&p| {
                let (agent, statement) = stated.get(&(p, i))?;
                Some(Dependency {
                    rank: rank_of[p],
                    label: String::new(),
                    agent: *agent,
                    statement: statement.clone(),
                })
            })
            .collect();
        deps.sort_by_key(|d| d.rank);
        draft.rec.depends_on = deps;
    }
}

/// The recommendations in rank order, each dependency labelled.
fn in_rank_order(drafts: &[Draft], order: &[usize]) -> Vec<Recommendation> {
    let labels: BTreeMap<u32, String> = drafts
        .iter()
        .map(|d| (d.rec.rank, d.rec.label.clone()))
        .collect();
    order
        .iter()
        .map(|&i| {
            let mut rec = drafts[i].rec.clone();
            for d in &mut rec.depends_on {
                d.label = labels.get(&d.rank).cloned().unwrap_or_default();
            }
            rec
        })
        .collect()
}

/// The other side of each dependency: the ranks that need a recommendation first.
fn link_prerequisites(ranked: &mut [Recommendation]) {
    let needs: Vec<(u32, u32)> = ranked
        .iter()
        .flat_map(|r| r.depends_on.iter().map(|d| (d.rank, r.rank)))
        .collect();
    for (first, then) in needs {
        if let Some(r) = ranked.get_mut(first as usize - 1) {
            r.prerequisite_for.push(then);
        }
    }
}
