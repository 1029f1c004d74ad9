//! Runs as data: a scenario is (configuration, seed, timed actions), read from JSON. The
//! format is documented in README.md; examples live in `static/scenarios/`.

use serde::{Deserialize, Serialize};

use super::nemesis::NemesisConfig;
use super::network::NetworkConfig;
use super::workload::WorkloadConfig;
use crate::protocol::config::FailureDetector;
use crate::protocol::membership::MEMBERS_MAX;
use crate::protocol::ring::PartitionStrategy;
use crate::protocol::store::ConflictPolicy;
use crate::protocol::vclock::{ClockKind, VectorClock};
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
    /// With `duration_ms`, where the run ends: once the trace holds this many events (a run
    /// the page exported between two instants of one time). Absent, after every event due by
    /// `duration_ms`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub until_event: Option<u64>,
    /// How the run's end is judged: after heal and repair (the default, the checker's), or as
    /// it stands (`mid_run`): a counterexample `dynamoscope explore` wrote ends where a promise
    /// broke, before any repair could run.
    #[serde(default, skip_serializing_if = "Judge::is_after_repair")]
    pub judge: Judge,
    /// The trace hash the run gave where it was recorded (16 hex digits): the page writes it
    /// into an export, golden runs keep it, and `dynamoscope run` checks it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trace_hash: Option<String>,
}

/// When a run's promises are judged (see [`crate::sim::checker::check_mid_run`]).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Judge {
    /// After heal, repair and quiescence: every replica must hold what was acknowledged.
    #[default]
    AfterRepair,
    /// As the run stands at its end: an acknowledged value must be on some node, running or
    /// crashed; integrity and siblings hold at every instant.
    MidRun,
}

impl Judge {
    fn is_after_repair(&self) -> bool {
        *self == Judge::AfterRepair
    }
}

/// An action and the point of the run it applies at: at virtual time `at_ms`, before that
/// instant's events, or, with `at_event`, once the trace holds that many events (never past an
/// event due after `at_ms`). The page logs every action it applies with both, so its export
/// replays exactly; a hand-written file needs only `at_ms`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TimedAction {
    pub at_ms: u64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub at_event: Option<u64>,
    pub action: Action,
}

impl TimedAction {
    /// An action before the instant at `at_ms`, as a hand-written scenario says it.
    pub fn at(at_ms: u64, action: Action) -> TimedAction {
        TimedAction { at_ms, at_event: None, action }
    }

    /// Whether a host between instants, whose trace holds `trace_events` events and whose
    /// next event is due at `next_event_ms`, is at this action's point of the run.
    pub fn is_reached(&self, trace_events: u64, next_event_ms: Option<u64>) -> bool {
        is_point_reached(self.at_ms, self.at_event, trace_events, next_event_ms)
    }
}

/// The one rule for "this point of the run is now" (actions, and a run's end): nothing is due
/// before `at_ms`, and either nothing is due at `at_ms` itself or the trace is already as long
/// as `at_event` says (the page applied it between two instants of one time).
pub fn is_point_reached(
    at_ms: u64,
    at_event: Option<u64>,
    trace_events: u64,
    next_event_ms: Option<u64>,
) -> bool {
    let Some(next_ms) = next_event_ms else { return true };
    match at_event {
        None => next_ms >= at_ms,
        Some(at_event) => next_ms > at_ms || (next_ms == at_ms && trace_events >= at_event),
    }
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
        #[serde(default, skip_serializing_if = "std::ops::Not::not")]
        blind: bool,
        /// The context to send, as a client that kept it would (the page's client panel and
        /// clients); absent, the scenario's client sends the last one it saw for the key.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        context: Option<VectorClock>,
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
    /// A hand on the wire, as the DSLabs debugger lets students do: the message with this id
    /// (the fabric numbers messages as they are sent) is dropped wherever it is in flight.
    DropMessage(u64),
    /// The message with this id is delivered next, at this instant, ahead of every other event.
    DeliverNext(u64),
    /// The network delivers the message with this id twice: a second copy goes in flight, due
    /// when the first is (`dynamoscope explore` branches on it).
    DuplicateMessage(u64),
}

/// Declares [`ConfigChange`]: every [`ClusterConfig`] setting, each optional, so a change names
/// only what it changes, and the page logs a settings change as the fields that differ.
macro_rules! config_change {
    ($($field:ident: $kind:ty $(, alias $alias:literal)?;)*) => {
        /// New values for some cluster settings; absent ones keep their value. N, R and W may
        /// also be named `n`, `r` and `w`.
        #[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
        #[serde(deny_unknown_fields)]
        pub struct ConfigChange {
            $(
                #[serde(default, skip_serializing_if = "Option::is_none" $(, alias = $alias)?)]
                pub $field: Option<$kind>,
            )*
        }

        impl ConfigChange {
            /// The other names some settings may be given by.
            pub const ALIASES: &[&str] = &[$($($alias,)?)*];

            pub fn apply(&self, config: &ClusterConfig) -> ClusterConfig {
                ClusterConfig { $($field: self.$field.clone().unwrap_or_else(|| config.$field.clone()),)* }
            }

            /// The change that turns `old` into `new`: the fields that differ.
            pub fn between(old: &ClusterConfig, new: &ClusterConfig) -> ConfigChange {
                ConfigChange { $($field: (old.$field != new.$field).then(|| new.$field.clone()),)* }
            }
        }
    };
}

config_change! {
    replicas_n: usize, alias "n";
    reads_r: usize, alias "r";
    writes_w: usize, alias "w";
    strategy: PartitionStrategy;
    conflict_policy: ConflictPolicy;
    initial_members: Vec<NodeId>;
    seeds: Vec<NodeId>;
    token_seed: u64;
    replica_timeout_ms: u64;
    request_timeout_ms: u64;
    gossip_interval_ms: u64;
    anti_entropy_interval_ms: u64;
    hint_handoff_interval_ms: u64;
    unreachable_retry_ms: u64;
    clock_truncation_threshold: usize;
    merkle_depth: u32;
    failure_detector: FailureDetector;
    clocks: ClockKind;
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

    /// The same run with its nemesis drawn from the seed and merged into the actions (same
    /// times keep their order, the scenario's first), so it replays without one.
    pub fn with_nemesis_merged(mut self) -> Scenario {
        if let Some(nemesis) = self.nemesis.take() {
            let members = &self.config.initial_members;
            let faults =
                super::nemesis::schedule(&nemesis, members, &self.network, self.duration_ms, self.seed);
            // Both are in time order: a merge, not a sort (whose code the page would ship).
            let mut merged = Vec::with_capacity(self.actions.len() + faults.len());
            let mut faults = faults.into_iter().peekable();
            for timed in std::mem::take(&mut self.actions) {
                while let Some(fault) = faults.next_if(|fault| fault.at_ms < timed.at_ms) {
                    merged.push(fault);
                }
                merged.push(timed);
            }
            merged.extend(faults);
            self.actions = merged;
        }
        self
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
            let previous_event = index.checked_sub(1).and_then(|previous| {
                let previous = &self.actions[previous];
                (previous.at_ms == timed.at_ms).then_some(previous.at_event).flatten()
            });
            if timed.at_event.zip(previous_event).is_some_and(|(at_event, previous)| at_event < previous) {
                return Err(error(format!("{path}.at_event"), "actions of one time must be in trace order"));
            }
            timed.action.validate(&format!("{path}.action"), &self.config)?;
        }
        Ok(())
    }
}

impl Action {
    /// Checks what the types alone cannot (keys, values, node ids, settings) against the
    /// settings in force; the error names the field under `path`.
    pub fn validate(&self, path: &str, config: &ClusterConfig) -> Result<(), ScenarioError> {
        let action = self;
        let node_ok = |node: &NodeId| node.0 >= 1 && node.0 as usize <= MEMBERS_MAX;
        let bad_node =
            |node: &NodeId| error(path, format!("node ids run from 1 to {MEMBERS_MAX}, not {}", node.0));
        match action {
            Action::Put { blind: true, context: Some(_), .. } => {
                Err(error(format!("{path}.put.context"), "a blind put carries no context"))
            }
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
            // The fabric numbers messages from 1.
            Action::DropMessage(0) => Err(error(format!("{path}.drop_message"), "message ids start at 1")),
            Action::DeliverNext(0) => Err(error(format!("{path}.deliver_next"), "message ids start at 1")),
            Action::DuplicateMessage(0) => {
                Err(error(format!("{path}.duplicate_message"), "message ids start at 1"))
            }
            Action::DropMessage(_) | Action::DeliverNext(_) | Action::DuplicateMessage(_) => Ok(()),
            Action::Configure(change) => change
                .apply(config)
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

    #[test]
    fn an_action_applies_before_its_instant_or_at_its_trace_position() {
        // A hand-written action: before the events of its instant, never after one due before.
        assert!(is_point_reached(100, None, 7, Some(100)));
        assert!(!is_point_reached(100, None, 7, Some(99)));
        assert!(is_point_reached(100, None, 7, None));
        // A logged one: at its time once the trace is as long as it was then.
        assert!(!is_point_reached(100, Some(9), 7, Some(100)));
        assert!(is_point_reached(100, Some(9), 9, Some(100)));
        assert!(is_point_reached(100, Some(9), 7, Some(101)), "nothing more is due at its time");
        assert!(!is_point_reached(100, Some(9), 9, Some(99)), "never past an earlier event");
    }

    #[test]
    fn a_settings_change_names_only_what_differs_and_applies_back() {
        let old = ClusterConfig::default();
        let new = ClusterConfig { reads_r: 1, clocks: ClockKind::DottedVersionVectors, ..old.clone() };
        let change = ConfigChange::between(&old, &new);
        assert_eq!(
            change,
            ConfigChange {
                reads_r: Some(1),
                clocks: Some(ClockKind::DottedVersionVectors),
                ..ConfigChange::default()
            }
        );
        assert_eq!(change.apply(&old), new);
        let json = serde_json::to_string(&Action::Configure(change.clone())).unwrap();
        assert_eq!(json, r#"{"configure":{"reads_r":1,"clocks":"DottedVersionVectors"}}"#);
    }

    #[test]
    fn a_logged_scenario_keeps_positions_contexts_and_its_end_through_json() {
        let mut scenario = Scenario::from_json(MINIMAL).unwrap();
        let context = VectorClock::default();
        scenario.actions[0] = TimedAction {
            at_ms: 100,
            at_event: Some(12),
            action: Action::Put {
                key: "cart:alice".into(),
                value: "book".into(),
                via: Some(NodeId(2)),
                blind: false,
                context: Some(context),
            },
        };
        scenario.until_event = Some(99);
        scenario.trace_hash = Some("00000000000000ff".into());
        assert_eq!(Scenario::from_json(&scenario.to_json()).unwrap(), scenario);
        let mut shuffled = scenario.clone();
        shuffled.actions.insert(1, TimedAction { at_ms: 100, at_event: Some(3), action: Action::Heal });
        let failure = Scenario::from_json(&shuffled.to_json()).unwrap_err();
        assert_eq!(failure.path, "actions[1].at_event");
        let blind_with_context = scenario.to_json().replace(r#""via": 2,"#, r#""via": 2, "blind": true,"#);
        let failure = Scenario::from_json(&blind_with_context).unwrap_err();
        assert_eq!(failure.path, "actions[0].action.put.context", "{failure}");
    }
}
