//! The catalogue of the nine OPAL agents and their deadlines.

use std::{fmt, time::Duration};

use serde::{Deserialize, Serialize};

/// One of the nine OPAL agents. Serialised as its canonical snake_case id;
/// the spec's timing table name `personalization_generator` is accepted as an alias.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AgentId {
    IntegrationHealth,
    ContentReview,
    GeoAudit,
    AudienceSuggester,
    ExperimentBlueprinter,
    #[serde(alias = "personalization_generator")]
    PersonalizationIdeaGenerator,
    CustomerJourney,
    RoadmapGenerator,
    CmpOrganizer,
}

impl AgentId {
    /// Every agent, in the order the real OPAL workflow chains them.
    pub const ALL: [AgentId; 9] = [
        AgentId::IntegrationHealth,
        AgentId::ContentReview,
        AgentId::GeoAudit,
        AgentId::AudienceSuggester,
        AgentId::ExperimentBlueprinter,
        AgentId::PersonalizationIdeaGenerator,
        AgentId::CustomerJourney,
        AgentId::RoadmapGenerator,
        AgentId::CmpOrganizer,
    ];

    pub const fn as_str(self) -> &'static str {
        match self {
            AgentId::IntegrationHealth => "integration_health",
            AgentId::ContentReview => "content_review",
            AgentId::GeoAudit => "geo_audit",
            AgentId::AudienceSuggester => "audience_suggester",
            AgentId::ExperimentBlueprinter => "experiment_blueprinter",
            AgentId::PersonalizationIdeaGenerator => "personalization_idea_generator",
            AgentId::CustomerJourney => "customer_journey",
            AgentId::RoadmapGenerator => "roadmap_generator",
            AgentId::CmpOrganizer => "cmp_organizer",
        }
    }

    /// Parses a canonical id or the accepted alias.
    pub fn parse(s: &str) -> Option<AgentId> {
        if s == "personalization_generator" {
            return Some(AgentId::PersonalizationIdeaGenerator);
        }
        AgentId::ALL.into_iter().find(|a| a.as_str() == s)
    }

    /// The spec's maximum execution time for this agent.
    pub const fn max_duration(self) -> Duration {
        Duration::from_secs(match self {
            AgentId::IntegrationHealth => 60,
            AgentId::ContentReview => 120,
            AgentId::GeoAudit => 150,
            AgentId::AudienceSuggester => 180,
            AgentId::CmpOrganizer => 180,
            AgentId::PersonalizationIdeaGenerator => 240,
            AgentId::ExperimentBlueprinter => 300,
            AgentId::CustomerJourney => 200,
            AgentId::RoadmapGenerator => 360,
        })
    }
}

crate::schema_from_list!(AgentId, "AgentId");

impl fmt::Display for AgentId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_canonical_id_round_trips() {
        for agent in AgentId::ALL {
            assert_eq!(AgentId::parse(agent.as_str()), Some(agent));
            let json = serde_json::to_string(&agent).unwrap();
            assert_eq!(json, format!("\"{}\"", agent.as_str()));
            assert_eq!(serde_json::from_str::<AgentId>(&json).unwrap(), agent);
        }
    }

    #[test]
    fn alias_maps_to_personalization_idea_generator() {
        assert_eq!(
            AgentId::parse("personalization_generator"),
            Some(AgentId::PersonalizationIdeaGenerator)
        );
        let parsed: AgentId = serde_json::from_str("\"personalization_generator\"").unwrap();
        assert_eq!(parsed, AgentId::PersonalizationIdeaGenerator);
    }

    #[test]
    fn unknown_ids_are_rejected() {
        assert_eq!(AgentId::parse("Content_Review"), None);
        assert_eq!(AgentId::parse(""), None);
    }

    #[test]
    fn deadlines_follow_the_spec_table() {
        let secs: Vec<u64> = AgentId::ALL
            .iter()
            .map(|a| a.max_duration().as_secs())
            .collect();
        assert_eq!(secs, vec![60, 120, 150, 180, 300, 240, 200, 360, 180]);
    }
}
