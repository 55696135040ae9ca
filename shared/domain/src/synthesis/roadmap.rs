//! The order of work: a ranking that keeps prerequisites first, and the phases
//! of the timeline that take the top of it.

use std::collections::BTreeMap;

use serde::Serialize;

use super::Recommendation;
use super::evidence::Kpi;
use crate::agent_output::Level;
use crate::agents::AgentId;
use crate::intake::Timeline;

/// The score order, except that a prerequisite moves up to just before the
/// first recommendation that needs it. `base` lists indices best first;
/// `prerequisites[i]` are the indices `i` needs (the graph has no cycle).
pub(super) fn rank_order(base: &[usize], prerequisites: &[Vec<usize>]) -> Vec<usize> {
    let n = prerequisites.len();
    let mut position = vec![usize::MAX; n];
    for (p, &i) in base.iter().enumerate() {
        position[i] = p;
    }
    let mut dependents: Vec<Vec<usize>> = vec![Vec::new(); n];
    for (i, pre) in prerequisites.iter().enumerate() {
        for &p in pre {
            dependents[p].push(i);
        }
    }
    // The best position among an item and everything that (transitively) needs it.
    let mut lifted: Vec<Option<usize>> = vec![None; n];
    fn lift(
        i: usize,
        position: &[usize],
        dependents: &[Vec<usize>],
        lifted: &mut [Option<usize>],
    ) -> usize {
        if let Some(v) = lifted[i] {
            return v;
        }
        let mut best = position[i];
        for &d in &dependents[i] {
            best = best.min(lift(d, position, dependents, lifted));
        }
        lifted[i] = Some(best);
        best
    }
    for i in 0..n {
        lift(i, &position, &dependents, &mut lifted);
    }
    let mut placed = vec![false; n];
    let mut order = Vec::with_capacity(n);
    while order.len() < base.len() {
        let next = base
            .iter()
            .copied()
            .filter(|&i| !placed[i] && prerequisites[i].iter().all(|&p| placed[p]))
            .min_by_key(|&i| (lifted[i], position[i]));
        let Some(next) = next else { break };
        placed[next] = true;
        order.push(next);
    }
    order
}

/// Adds the edge `first → then` unless it would close a cycle or repeats one.
pub(super) fn add_prerequisite(
    prerequisites: &mut [Vec<usize>],
    first: usize,
    then: usize,
) -> bool {
    if first == then || prerequisites[then].contains(&first) || reaches(prerequisites, first, then)
    {
        return false;
    }
    prerequisites[then].push(first);
    true
}

/// `from` (transitively) needs `to`.
fn reaches(prerequisites: &[Vec<usize>], from: usize, to: usize) -> bool {
    let mut stack = vec![from];
    let mut seen = vec![false; prerequisites.len()];
    while let Some(i) = stack.pop() {
        if i == to {
            return true;
        }
        if !std::mem::replace(&mut seen[i], true) {
            stack.extend(prerequisites[i].iter().copied());
        }
    }
    false
}

#[derive(Debug, Clone, PartialEq, Serialize, schemars::JsonSchema)]
pub struct Phase {
    pub phase: u8,
    pub name: &'static str,
    pub start_day: u32,
    pub end_day: u32,
    /// What the phase is for, in one sentence.
    pub goal: String,
    /// The agents' measured baselines this phase should move.
    pub kpis: Vec<Kpi>,
    /// Ranks of the recommendations in this phase, in the order to start them.
    pub recommendations: Vec<u32>,
}

const NAMES: [&str; 3] = ["Quick wins", "Build momentum", "Strategic bets"];
/// A phase takes at least this many recommendations before it overflows.
pub const PHASE_MIN_CAPACITY: usize = 5;
/// KPIs named per phase.
const KPIS_PER_PHASE: usize = 3;

const fn effort_order(effort: Level) -> u8 {
    match effort {
        Level::Low => 0,
        Level::Medium => 1,
        Level::High => 2,
    }
}

/// Three phases over the timeline for the short list (every recommendation in
/// it, in rank order). Low effort goes to the first phase, medium to the
/// second, high to the third; a phase holds at most a third of the list (at
/// least [`PHASE_MIN_CAPACITY`]), and what does not fit moves to the next one.
/// The work is taken in the order to start it: a prerequisite before what
/// needs it, then lower effort, then better rank, so the best-ranked quick wins
/// stay in the first phase. A recommendation whose wording names its time
/// ("in the first 30 days") goes to that phase, and nothing starts before its
/// prerequisites' phase. Sets each recommendation's phase.
pub(super) fn plan(
    short_list: &mut [Recommendation],
    prerequisites: &[Vec<usize>],
    timeline: Timeline,
    kpis: &BTreeMap<AgentId, Vec<Kpi>>,
) -> Vec<Phase> {
    let days = timeline.days();
    let third = days / 3;
    let bounds = [(1, third), (third + 1, 2 * third), (2 * third + 1, days)];

    let all: Vec<usize> = (0..short_list.len()).collect();
    let sequence = start_order(&all, short_list, prerequisites);
    let n = sequence.len();
    let capacity = n.div_ceil(3).max(PHASE_MIN_CAPACITY);
    let phase_of_day = |day: u32| -> u8 {
        let p = day.saturating_sub(1) / third.max(1) + 1;
        p.min(3) as u8
    };
    let mut phase_of = vec![3u8; n];
    let mut counts = [0usize; 3];
    for &i in &sequence {
        // Never before a prerequisite (they come earlier in the sequence).
        let earliest = prerequisites[i]
            .iter()
            .map(|&p| phase_of[p])
            .max()
            .unwrap_or(1);
        let phase = match stated_day(&short_list[i].label) {
            Some(day) => phase_of_day(day).max(earliest),
            None => {
                let mut p = (effort_order(short_list[i].effort) + 1).max(earliest);
                while p < 3 && counts[usize::from(p) - 1] >= capacity {
                    p += 1;
                }
                p
            }
        };
        counts[usize::from(phase) - 1] += 1;
        phase_of[i] = phase;
        short_list[i].phase = Some(phase);
    }

    let mut used_kpis: Vec<(AgentId, String)> = Vec::new();
    let mut phases = Vec::with_capacity(3);
    for (index, (start_day, end_day)) in bounds.into_iter().enumerate() {
        let phase = index as u8 + 1;
        let order: Vec<usize> = sequence
            .iter()
            .copied()
            .filter(|&i| phase_of[i] == phase)
            .collect();
        let later_need: Vec<usize> = order
            .iter()
            .copied()
            .filter(|&i| (0..n).any(|d| phase_of[d] > phase && prerequisites[d].contains(&i)))
            .collect();
        let goal = goal(phase, end_day, &order, &later_need, short_list);
        let kpis = phase_kpis(&order, short_list, kpis, &mut used_kpis);
        phases.push(Phase {
            phase,
            name: NAMES[index],
            start_day,
            end_day,
            goal,
            kpis,
            recommendations: order.iter().map(|&i| short_list[i].rank).collect(),
        });
    }
    phases
}

/// The day a label says the work is due by: "in the first 30 days", "within 60
/// days", "by day 45".
pub(super) fn stated_day(label: &str) -> Option<u32> {
    let lower = label.to_lowercase();
    let words: Vec<&str> = lower
        .split(|c: char| !c.is_alphanumeric())
        .filter(|w| !w.is_empty())
        .collect();
    words.windows(2).find_map(|w| match w {
        ["day", n] => n.parse().ok(),
        [n, "days"] => n.parse().ok(),
        _ => None,
    })
}

/// Prerequisites first, then lower effort, then better rank.
fn start_order(
    members: &[usize],
    short_list: &[Recommendation],
    prerequisites: &[Vec<usize>],
) -> Vec<usize> {
    let mut placed: Vec<usize> = Vec::with_capacity(members.len());
    while placed.len() < members.len() {
        let next = members
            .iter()
            .copied()
            .filter(|i| !placed.contains(i))
            .filter(|&i| {
                prerequisites[i]
                    .iter()
                    .all(|p| !members.contains(p) || placed.contains(p))
            })
            .min_by_key(|&i| (effort_order(short_list[i].effort), short_list[i].rank));
        let Some(next) = next else { break };
        placed.push(next);
    }
    placed
}

fn plural(n: usize, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

fn quoted(r: &Recommendation) -> String {
    format!("\u{201c}{}\u{201d}", r.label)
}

/// What the phase's recommendations are, by their effort.
fn kind(order: &[usize], short_list: &[Recommendation]) -> String {
    let efforts: Vec<Level> = order.iter().map(|&i| short_list[i].effort).collect();
    let n = order.len();
    if efforts.iter().all(|e| *e == Level::Low) {
        plural(n, "quick win", "quick wins")
    } else if efforts.iter().all(|e| *e == Level::High) {
        plural(n, "larger initiative", "larger initiatives")
    } else {
        plural(n, "change", "changes")
    }
}

/// One sentence on what the phase is for.
fn goal(
    phase: u8,
    end_day: u32,
    order: &[usize],
    later_need: &[usize],
    short_list: &[Recommendation],
) -> String {
    let Some(&lead) = order.iter().min_by_key(|&&i| short_list[i].rank) else {
        return "Nothing scheduled: measure what the earlier phases shipped and pick the next items from the backlog.".into();
    };
    let foundations = match later_need {
        [] => String::new(),
        [one] if *one == lead => ", which later work depends on".to_owned(),
        [one] => format!(
            ", and put {} in place because later work depends on it",
            quoted(&short_list[*one])
        ),
        many => format!(
            ", and put in place the {} later work depends on",
            plural(many.len(), "prerequisite", "prerequisites")
        ),
    };
    let kind = kind(order, short_list);
    let lead = quoted(&short_list[lead]);
    match phase {
        1 => format!("Land {kind} in the first {end_day} days, led by {lead}{foundations}."),
        2 => format!("Build on them with {kind} by day {end_day}, led by {lead}{foundations}."),
        _ => format!("Finish with {kind} by day {end_day}, led by {lead}{foundations}."),
    }
}

/// The KPIs of the agents behind the phase's recommendations, the agent behind
/// most of them first; a KPI named in an earlier phase is not repeated.
fn phase_kpis(
    order: &[usize],
    short_list: &[Recommendation],
    kpis: &BTreeMap<AgentId, Vec<Kpi>>,
    used: &mut Vec<(AgentId, String)>,
) -> Vec<Kpi> {
    let mut agents: BTreeMap<AgentId, usize> = BTreeMap::new();
    for &i in order {
        for a in &short_list[i].supporting_agents {
            *agents.entry(*a).or_default() += 1;
        }
    }
    let mut agents: Vec<(AgentId, usize)> = agents.into_iter().collect();
    agents.sort_by_key(|(a, n)| (std::cmp::Reverse(*n), *a));
    let mut out = Vec::new();
    for (agent, _) in agents {
        if out.len() == KPIS_PER_PHASE {
            break;
        }
        let fresh = kpis
            .get(&agent)
            .into_iter()
            .flatten()
            .find(|k| !used.contains(&(agent, k.name.clone())));
        if let Some(k) = fresh {
            used.push((agent, k.name.clone()));
            out.push(k.clone());
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prerequisites_move_up_to_just_before_what_needs_them() {
        // Score order 0..5; 3 needs 4, so 4 moves up to just before 3.
        let mut pre = vec![Vec::new(); 6];
        assert!(add_prerequisite(&mut pre, 4, 3));
        assert_eq!(
            rank_order(&[0, 1, 2, 3, 4, 5], &pre),
            vec![0, 1, 2, 4, 3, 5]
        );
        // A chain: 1 needs 5, 5 needs 4.
        assert!(add_prerequisite(&mut pre, 5, 1));
        assert!(add_prerequisite(&mut pre, 4, 5));
        assert_eq!(
            rank_order(&[0, 1, 2, 3, 4, 5], &pre),
            vec![0, 4, 5, 1, 2, 3]
        );
    }

    #[test]
    fn labels_can_say_when() {
        assert_eq!(
            stated_day("Fix tagging and event loss in the first 30 days"),
            Some(30)
        );
        assert_eq!(
            stated_day("Launch the first three experiments by day 45"),
            Some(45)
        );
        assert_eq!(stated_day("Refresh product pages within 60 days"), Some(60));
        assert_eq!(stated_day("Run 3 tests per month"), None);
    }

    #[test]
    fn cycles_and_self_edges_are_refused() {
        let mut pre = vec![Vec::new(); 3];
        assert!(add_prerequisite(&mut pre, 0, 1));
        assert!(add_prerequisite(&mut pre, 1, 2));
        assert!(!add_prerequisite(&mut pre, 2, 0), "would close a cycle");
        assert!(!add_prerequisite(&mut pre, 1, 1));
        assert!(!add_prerequisite(&mut pre, 0, 1), "already there");
        assert_eq!(rank_order(&[2, 1, 0], &pre), vec![0, 1, 2]);
    }
}
