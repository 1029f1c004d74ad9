//! What a lesson's claims and questions are about: values read off the cluster after a step
//! (what a get returned, a replica's clocks, hints held, a node's share of the ring, messages
//! sent, who suspects whom), and how a claim compares them.

use serde::{Deserialize, Serialize};

use std::collections::BTreeMap;

use crate::protocol::message::{ClientResponse, ClientResult, OperationKind, RequestId};
use crate::protocol::node::NodeInspection;
use crate::protocol::NodeId;
use crate::sim::metrics::Metrics;
use crate::sim::promises::{clock_text, value_text};
use crate::sim::trace::{Trace, TraceEvent};

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", deny_unknown_fields)]
pub enum Measure {
    /// The values the latest answered get of `key` returned: its siblings, sorted.
    GetValues { key: String },
    /// How many puts of `key` have been acknowledged so far.
    PutsAcknowledged { key: String },
    /// How many gets or puts of `key` have failed so far.
    RequestsFailed { key: String },
    /// The key's preference list in `node`'s view: its N distinct successors on the ring, in
    /// order (§4.3).
    PreferenceList { node: NodeId, key: String },
    /// The values `node` stores for `key`, sorted.
    StoredValues { node: NodeId, key: String },
    /// The vector clocks `node` stores for `key`, as `{n1:2, n2:1}`, sorted.
    StoredClocks { node: NodeId, key: String },
    /// Hints `node` holds for other nodes (§4.6).
    HintsPending { node: NodeId },
    /// The share of the ring `node` coordinates in its own view, in whole percent (§4.2).
    RingSharePercent { node: NodeId },
    /// Messages of a kind sent so far: `client_request`, `replica_write`, `replica_read`,
    /// `hint`, `handoff`, `read_repair`, `gossip`, `merkle` or `range_transfer`.
    MessagesSent { kind: String },
    /// Keys anti-entropy repaired so far (§4.7).
    KeysRepaired,
    /// Of the gets of `keys` (every key if empty) answered so far, the share in whole percent,
    /// rounded down, that returned two or more versions: §6.3 measured 0.06% on the cart.
    GetsWithSiblingsPercent {
        #[serde(default)]
        keys: Vec<String>,
    },
    /// Gets of `keys` (every key if empty) answered so far.
    GetsAnswered {
        #[serde(default)]
        keys: Vec<String>,
    },
    /// Whether `by`'s failure detector holds `node` unreachable (§4.8.3).
    Unreachable { by: NodeId, node: NodeId },
}

/// A measured value: JSON's number, list of strings, or true or false.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(untagged)]
pub enum MeasureValue {
    Flag(bool),
    Number(u64),
    Texts(Vec<String>),
}

impl MeasureValue {
    /// As a question's choice would spell it: `2`, `book, pen`, `yes`.
    pub fn text(&self) -> String {
        match self {
            MeasureValue::Flag(true) => "yes".into(),
            MeasureValue::Flag(false) => "no".into(),
            MeasureValue::Number(number) => number.to_string(),
            MeasureValue::Texts(texts) => texts.join(", "),
        }
    }

    /// A number, or a list's length, for `at_least` and `at_most`.
    fn size(&self) -> u64 {
        match self {
            MeasureValue::Flag(flag) => u64::from(*flag),
            MeasureValue::Number(number) => *number,
            MeasureValue::Texts(texts) => texts.len() as u64,
        }
    }
}

/// What a measure reads: the trace (requests and their replies), the fabric's metrics and each
/// running node's inspection. The native player builds it from its fabric, the page from its
/// workers' inspections, so both measure alike.
pub struct Sight<'a> {
    pub trace: &'a Trace,
    pub metrics: &'a Metrics,
    pub inspections: BTreeMap<NodeId, &'a NodeInspection>,
    pub replicas_n: usize,
}

/// Requests of one key and how each ended, in trace order.
fn outcomes<'a>(trace: &'a Trace, key: &'a str) -> impl Iterator<Item = (OperationKind, ClientResult)> + 'a {
    let mut asked: BTreeMap<RequestId, OperationKind> = BTreeMap::new();
    trace.events().filter_map(move |event| match event {
        TraceEvent::ClientRequested { request, .. } if request.operation.key() == key => {
            asked.insert(request.id, request.operation.kind());
            None
        }
        TraceEvent::ClientReplied { request, result, .. } => {
            asked.remove(&request).map(|kind| (kind, result))
        }
        _ => None,
    })
}

/// Gets of `keys` (all if empty) answered so far, and how many returned two or more versions.
fn gets_answered(trace: &Trace, keys: &[String]) -> (u64, u64) {
    let (mut answered, mut with_siblings) = (0, 0);
    let mut asked: BTreeMap<RequestId, bool> = BTreeMap::new();
    for event in trace.events() {
        match event {
            TraceEvent::ClientRequested { request, .. } => {
                let key = request.operation.key();
                asked.insert(request.id, keys.is_empty() || keys.iter().any(|wanted| wanted == key));
            }
            TraceEvent::ClientReplied { request, result, .. } => {
                let counted = asked.remove(&request) == Some(true);
                if let (true, Ok(ClientResponse::Got { versions, .. })) = (counted, result) {
                    answered += 1;
                    with_siblings += u64::from(versions.len() >= 2);
                }
            }
            _ => {}
        }
    }
    (answered, with_siblings)
}

fn of_keys(keys: &[String]) -> String {
    if keys.is_empty() {
        String::new()
    } else {
        format!(" of {}", keys.join(", "))
    }
}

impl Measure {
    /// Reads the measure off the cluster.
    pub fn evaluate(&self, sight: &Sight) -> Result<MeasureValue, String> {
        let node = |id: NodeId| {
            sight.inspections.get(&id).copied().ok_or_else(|| format!("node {id} is not running"))
        };
        Ok(match self {
            Measure::GetValues { key } => {
                let got = outcomes(sight.trace, key).filter_map(|(_, result)| match result {
                    Ok(ClientResponse::Got { versions, .. }) => Some(versions),
                    _ => None,
                });
                let versions = got.last().ok_or_else(|| format!("no get of {key} was answered"))?;
                sorted(versions.iter().map(|version| value_text(&version.value)))
            }
            Measure::PutsAcknowledged { key } => {
                let acknowledged = outcomes(sight.trace, key)
                    .filter(|(kind, result)| *kind == OperationKind::Put && result.is_ok());
                MeasureValue::Number(acknowledged.count() as u64)
            }
            Measure::RequestsFailed { key } => MeasureValue::Number(
                outcomes(sight.trace, key).filter(|(_, result)| result.is_err()).count() as u64,
            ),
            Measure::PreferenceList { node: id, key } => {
                let position = crate::protocol::ring::ring_position(key.as_bytes());
                let list = node(*id)?.durable.view.current_ring().preference_list(position, sight.replicas_n);
                MeasureValue::Texts(list.iter().map(ToString::to_string).collect())
            }
            Measure::StoredValues { node: id, key } => {
                sorted(node(*id)?.durable.store.get(key).iter().map(|version| value_text(&version.value)))
            }
            Measure::StoredClocks { node: id, key } => {
                sorted(node(*id)?.durable.store.get(key).iter().map(|version| clock_text(&version.clock)))
            }
            Measure::HintsPending { node: id } => MeasureValue::Number(node(*id)?.durable.hints.len() as u64),
            Measure::RingSharePercent { node: id } => {
                let shares = node(*id)?.durable.view.current_ring().ownership_shares();
                let share = shares.get(id).copied().unwrap_or(0.0);
                MeasureValue::Number(libm::round(share * 100.0) as u64)
            }
            Measure::MessagesSent { kind } => {
                let counts = sight.metrics.messages_by_kind_name();
                let count = counts.get(kind.as_str()).ok_or_else(|| {
                    let kinds: Vec<&str> = counts.keys().copied().collect();
                    format!("no message kind {kind:?}; the kinds are {}", kinds.join(", "))
                })?;
                MeasureValue::Number(*count)
            }
            Measure::KeysRepaired => MeasureValue::Number(sight.metrics.merkle_keys_repaired),
            Measure::GetsAnswered { keys } => MeasureValue::Number(gets_answered(sight.trace, keys).0),
            Measure::GetsWithSiblingsPercent { keys } => match gets_answered(sight.trace, keys) {
                (0, _) => return Err("no get was answered".into()),
                (answered, with_siblings) => MeasureValue::Number(with_siblings * 100 / answered),
            },
            Measure::Unreachable { by, node: peer } => {
                MeasureValue::Flag(node(*by)?.unreachable.contains(peer))
            }
        })
    }

    /// The measure in words, for reports: `stored_clocks n1 cart:alice`.
    pub fn describe(&self) -> String {
        match self {
            Measure::GetValues { key } => format!("the values the last get of {key} returned"),
            Measure::PutsAcknowledged { key } => format!("puts of {key} acknowledged"),
            Measure::RequestsFailed { key } => format!("requests for {key} that failed"),
            Measure::PreferenceList { node, key } => format!("{key}'s preference list as {node} sees it"),
            Measure::StoredValues { node, key } => format!("the values {node} stores for {key}"),
            Measure::StoredClocks { node, key } => format!("the clocks {node} stores for {key}"),
            Measure::HintsPending { node } => format!("hints {node} holds"),
            Measure::RingSharePercent { node } => format!("{node}'s share of the ring, in percent"),
            Measure::MessagesSent { kind } => format!("{kind} messages sent"),
            Measure::KeysRepaired => "keys anti-entropy repaired".into(),
            Measure::GetsWithSiblingsPercent { keys } => {
                format!("the share of answered gets{} that returned siblings, in percent", of_keys(keys))
            }
            Measure::GetsAnswered { keys } => format!("gets{} answered", of_keys(keys)),
            Measure::Unreachable { by, node } => format!("whether {by} holds {node} unreachable"),
        }
    }
}

fn sorted(texts: impl Iterator<Item = String>) -> MeasureValue {
    let mut texts: Vec<String> = texts.collect();
    texts.sort();
    MeasureValue::Texts(texts)
}

/// Whether `actual` meets the claim's `equals`, `at_least` and `at_most`.
pub fn meets(actual: &MeasureValue, claim: &super::Claim) -> bool {
    let ordered = matches!(claim.measure, Measure::PreferenceList { .. });
    let same = |expected: &MeasureValue| match ordered {
        true => expected == actual,
        false => normalized(expected) == normalized(actual),
    };
    let equal = claim.equals.as_ref().is_none_or(same);
    let low = claim.at_least.is_none_or(|least| actual.size() >= least);
    let high = claim.at_most.is_none_or(|most| actual.size() <= most);
    equal && low && high
}

/// Lists of values compare as sets: a claim may list them in any order (a preference list is
/// the one ordered list).
fn normalized(value: &MeasureValue) -> MeasureValue {
    match value {
        MeasureValue::Texts(texts) => sorted(texts.iter().cloned()),
        other => other.clone(),
    }
}
