//! Runs as data: a scenario is (configuration, seed, timed actions), read from JSON. The
//! format is documented in README.md; examples live in `static/scenarios/`.

use serde::{Deserialize, Serialize};

use super::nemesis::NemesisConfig;
use super::network::NetworkConfig;
use super::workload::WorkloadConfig;
use crate::protocol::store::ConflictPolicy;
use crate::protocol::{ClusterConfig, NodeId};

/// Actions a scenario holds at most.
pub const ACTIONS_MAX: usize = 100_000;
/// Longest run a scenario may ask for: one virtual day.
pub const DURATION_MS_MAX: u64 = 86_400_000;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// Every random choice of the run (latency, loss, gossip peers, tokens) derives from it.
    pub seed: u64,
    #[serde(default)]
    pub config: ClusterConfig,
    #[serde(default)]
    pub network: NetworkConfig,
    /// The run ends at this virtual time.
    pub duration_ms: u64,
    #[serde(default)]
    pub actions: Vec<TimedAction>,
    /// Background clients, if any.
    #[serde(default)]
    pub workload: Option<WorkloadConfig>,
    /// Clients stop this long before the end, so the run can settle (default: 20% of it).
    #[serde(default)]
    pub quiet_ms: Option<u64>,
    /// Random faults drawn from the seed, merged into `actions` when the run starts.
    #[serde(default)]
    pub nemesis: Option<NemesisConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedAction {
    pub at_ms: u64,
    pub action: Action,
}

/// What a user (or the nemesis) does to the cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Action {
    /// A client put through `via` (default: node 1). Unless `blind`, it carries the context of
    /// the last get or put the scenario's client saw for the key, as a real client would.
    Put {
        key: String,
        value: String,
        #[serde(default)]
        via: Option<NodeId>,
        #[serde(default)]
        blind: bool,
    },
    Get {
        key: String,
        #[serde(default)]
        via: Option<NodeId>,
    },
    Crash(NodeId),
    Restart(NodeId),
    Wipe(NodeId),
    Pause(NodeId),
    Resume(NodeId),
    /// Groups that cannot reach each other; unlisted nodes form one more group.
    Partition(Vec<Vec<NodeId>>),
    /// One-way: messages from `from` to `to` are lost.
    Cut {
        from: NodeId,
        to: NodeId,
    },
    Heal,
    /// Start a new node and have it join through the seeds.
    Join(NodeId),
    Leave(NodeId),
    /// Change the quorum or conflict policy on every node.
    Configure(ConfigChange),
    Network(NetworkConfig),
}

#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigChange {
    pub replicas_n: Option<usize>,
    pub reads_r: Option<usize>,
    pub writes_w: Option<usize>,
    pub conflict_policy: Option<ConflictPolicy>,
}

impl ConfigChange {
    pub fn apply(&self, config: &ClusterConfig) -> ClusterConfig {
        ClusterConfig {
            replicas_n: self.replicas_n.unwrap_or(config.replicas_n),
            reads_r: self.reads_r.unwrap_or(config.reads_r),
            writes_w: self.writes_w.unwrap_or(config.writes_w),
            conflict_policy: self.conflict_policy.unwrap_or(config.conflict_policy),
            ..config.clone()
        }
    }
}

/// A scenario that could not be read, with where and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScenarioError {
    /// Where in the document, e.g. `actions[2].crash` or `config.reads_r`.
    pub path: String,
    pub reason: String,
}

impl std::fmt::Display for ScenarioError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.path.is_empty() || self.path == "." {
            write!(formatter, "scenario: {}", self.reason)
        } else {
            write!(formatter, "scenario field `{}`: {}", self.path, self.reason)
        }
    }
}

impl std::error::Error for ScenarioError {}

fn error(path: impl Into<String>, reason: impl Into<String>) -> ScenarioError {
    ScenarioError { path: path.into(), reason: reason.into() }
}

impl Scenario {
    /// Reads and checks a scenario; the error names the field and what was expected.
    pub fn from_json(text: &str) -> Result<Scenario, ScenarioError> {
        let deserializer = &mut serde_json::Deserializer::from_str(text);
        let scenario: Scenario = serde_path_to_error::deserialize(deserializer).map_err(|failure| {
            let path = failure.path().to_string();
            let inner = failure.into_inner();
            error(path, strip_position(&inner.to_string()))
        })?;
        scenario.validate()?;
        Ok(scenario)
    }

    /// When workload clients stop sending.
    pub fn workload_stop_ms(&self) -> u64 {
        self.duration_ms.saturating_sub(self.quiet_ms.unwrap_or(self.duration_ms / 5))
    }

    pub fn to_json(&self) -> String {
        serde_json::to_string_pretty(self).expect("scenarios serialize")
    }

    /// Checks what the types alone cannot: settings, node ids, times in order and in range.
    pub fn validate(&self) -> Result<(), ScenarioError> {
        self.config
            .validate()
            .map_err(|failure| error(format!("config.{}", failure.field), failure.reason))?;
        self.network.validate().map_err(|reason| error("network", reason))?;
        if self.duration_ms == 0 || self.duration_ms > DURATION_MS_MAX {
            return Err(error("duration_ms", format!("1 to {DURATION_MS_MAX} (one virtual day)")));
        }
        if let Some(workload) = &self.workload {
            workload.validate().map_err(|reason| error("workload", reason))?;
        }
        if let Some(nemesis) = &self.nemesis {
            nemesis
                .validate(self.duration_ms)
                .map_err(|(field, reason)| error(format!("nemesis.{field}"), reason))?;
        }
        if self.actions.len() > ACTIONS_MAX {
            return Err(error("actions", format!("at most {ACTIONS_MAX} actions")));
        }
        for (index, timed) in self.actions.iter().enumerate() {
            let path = format!("actions[{index}]");
            if timed.at_ms > self.duration_ms {
                return Err(error(
                    format!("{path}.at_ms"),
                    format!("after the run ends at {} ms", self.duration_ms),
                ));
            }
            if index > 0 && timed.at_ms < self.actions[index - 1].at_ms {
                return Err(error(format!("{path}.at_ms"), "actions must be in time order"));
            }
            self.validate_action(&format!("{path}.action"), &timed.action)?;
        }
        Ok(())
    }

    fn validate_action(&self, path: &str, action: &Action) -> Result<(), ScenarioError> {
        let node_ok = |node: &NodeId| node.0 >= 1 && node.0 <= 1024;
        let bad_node = |node: &NodeId| error(path, format!("node ids run from 1 to 1024, not {}", node.0));
        match action {
            Action::Put { key, value, via, .. } => {
                let operation = crate::protocol::ClientOperation::Put {
                    key: key.clone(),
                    value: value.as_bytes().to_vec(),
                    context: None,
                };
                operation.validate().map_err(|failure| error(format!("{path}.put"), failure.to_string()))?;
                via.iter().find(|node| !node_ok(node)).map_or(Ok(()), |node| Err(bad_node(node)))
            }
            Action::Get { key, via } => {
                let operation = crate::protocol::ClientOperation::Get { key: key.clone() };
                operation.validate().map_err(|failure| error(format!("{path}.get"), failure.to_string()))?;
                via.iter().find(|node| !node_ok(node)).map_or(Ok(()), |node| Err(bad_node(node)))
            }
            Action::Crash(node)
            | Action::Restart(node)
            | Action::Wipe(node)
            | Action::Pause(node)
            | Action::Resume(node)
            | Action::Join(node)
            | Action::Leave(node) => {
                if node_ok(node) {
                    Ok(())
                } else {
                    Err(bad_node(node))
                }
            }
            Action::Cut { from, to } => {
                if from == to {
                    return Err(error(format!("{path}.cut"), "a cut needs two different nodes"));
                }
                [from, to].into_iter().find(|node| !node_ok(node)).map_or(Ok(()), |node| Err(bad_node(node)))
            }
            Action::Partition(groups) => validate_groups(path, groups),
            Action::Heal => Ok(()),
            Action::Configure(change) => change
                .apply(&self.config)
                .validate()
                .map_err(|failure| error(format!("{path}.configure.{}", failure.field), failure.reason)),
            Action::Network(network) => {
                network.validate().map_err(|reason| error(format!("{path}.network"), reason))
            }
        }
    }
}

fn validate_groups(path: &str, groups: &[Vec<NodeId>]) -> Result<(), ScenarioError> {
    let mut seen = std::collections::BTreeSet::new();
    if groups.is_empty() {
        return Err(error(format!("{path}.partition"), "at least one group of nodes"));
    }
    for node in groups.iter().flatten() {
        if !seen.insert(*node) {
            return Err(error(format!("{path}.partition"), format!("node {} is in two groups", node.0)));
        }
    }
    Ok(())
}

/// serde_json appends " at line L column C", which the path already says better.
fn strip_position(message: &str) -> String {
    match message.rfind(" at line ") {
        Some(index) => message[..index].to_string(),
        None => message.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MINIMAL: &str = r#"{
        "seed": 7,
        "duration_ms": 5000,
        "actions": [
            { "at_ms": 100, "action": { "put": { "key": "cart:alice", "value": "book" } } },
            { "at_ms": 200, "action": { "crash": 3 } },
            { "at_ms": 300, "action": { "partition": [[1, 2], [3, 4, 5]] } },
            { "at_ms": 400, "action": { "cut": { "from": 1, "to": 2 } } },
            { "at_ms": 500, "action": { "heal": null } },
            { "at_ms": 600, "action": { "configure": { "reads_r": 1 } } }
        ]
    }"#;

    #[test]
    fn a_scenario_reads_from_json_and_round_trips() {
        let scenario = Scenario::from_json(MINIMAL).unwrap();
        assert_eq!(scenario.actions.len(), 6);
        assert_eq!(scenario.actions[1].action, Action::Crash(NodeId(3)));
        assert_eq!(scenario.config, ClusterConfig::default());
        assert_eq!(Scenario::from_json(&scenario.to_json()).unwrap(), scenario);
    }

    #[test]
    fn a_bad_field_is_named_with_what_was_expected() {
        let bad = MINIMAL.replace(r#""crash": 3"#, r#""crash": "three""#);
        let failure = Scenario::from_json(&bad).unwrap_err();
        assert_eq!(failure.path, "actions[1].action.crash");
        assert!(failure.reason.contains("expected u32"), "{failure}");

        let unknown = MINIMAL.replace(r#""seed": 7"#, r#""seed": 7, "sede": 8"#);
        let failure = Scenario::from_json(&unknown).unwrap_err();
        assert!(failure.reason.contains("unknown field `sede`"), "{failure}");

        let quorum = MINIMAL.replace(r#""reads_r": 1"#, r#""reads_r": 4"#);
        let failure = Scenario::from_json(&quorum).unwrap_err();
        assert_eq!(failure.path, "actions[5].action.configure.reads_r");
        assert!(failure.to_string().contains("R must be 1 to N=3"), "{failure}");

        let late = MINIMAL.replace(r#""at_ms": 600"#, r#""at_ms": 6000"#);
        assert_eq!(Scenario::from_json(&late).unwrap_err().path, "actions[5].at_ms");

        let empty_key = MINIMAL.replace(r#""key": "cart:alice""#, r#""key": """#);
        let failure = Scenario::from_json(&empty_key).unwrap_err();
        assert!(failure.to_string().contains("the key is empty"), "{failure}");
    }
}
