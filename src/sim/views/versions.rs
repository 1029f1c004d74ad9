//! One key's versions as Figure 3 of the paper draws them (§4.4): each version the cluster
//! made, with its value and its clock, an edge from each version to the versions that
//! immediately descend from it, and the edges into a version with two or more parents marked
//! as the reconciliation of siblings.
//!
//! Derived from the trace alone: every version of the key that any message carried (replica
//! writes, read replies and repairs, hints, Merkle syncs, range transfers), so
//! it works at any past instant and needs nothing from the nodes.

use std::collections::VecDeque;

use crate::protocol::message::Message;
use crate::protocol::store::Version;
use crate::protocol::vclock::ClockOrder;
use crate::protocol::NodeId;
use crate::sim::promises::{clock_text, value_text};
use crate::sim::trace::{Trace, TraceEvent};

/// One version of the key: what the client put, and its causal history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GraphVersion {
    /// `{n1:2,n3:1}`, as everywhere on the page.
    pub clock: String,
    pub value: String,
    /// When and by whom the version was first seen leaving a node: its coordinator, for a put.
    pub first_at_ms: u64,
    pub first_from: NodeId,
    /// Longest chain of ancestors drawn: the generation the version stands in.
    pub depth: usize,
    /// Its place among the versions of its generation, in order of appearance.
    pub place: usize,
    /// No version drawn descends from it: the key's current versions (two or more are siblings).
    pub latest: bool,
    /// An earlier-drawn version with this very clock but another value, if any: paper clocks
    /// give two writes the same clock when one coordinator takes both with one context (§4.4),
    /// and then they are not siblings: a replica keeps only one of them.
    pub clock_of: Option<usize>,
}

/// `from`'s clock is an immediate ancestor of `to`'s. `reconciles`: `to` has two or more
/// immediate ancestors, so it merged siblings (Figure 3's D5).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct VersionEdge {
    pub from: usize,
    pub to: usize,
    pub reconciles: bool,
}

#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct VersionGraph {
    pub key: String,
    /// In order of first appearance; at most the `versions_max` latest.
    pub versions: Vec<GraphVersion>,
    pub edges: Vec<VersionEdge>,
    /// Earlier versions left out to keep the graph readable.
    pub versions_cut: usize,
}

impl VersionGraph {
    /// Whether the latest versions are siblings: two or more of them, with different clocks.
    pub fn siblings(&self) -> bool {
        let latest = self.versions.iter().filter(|version| version.latest);
        latest.filter(|version| version.clock_of.is_none()).count() > 1
    }

    /// Whether two of the latest versions share one clock, so that a replica keeps one value
    /// and loses the other (§4.4's equal clocks; never under dotted version vectors).
    pub fn clocks_shared(&self) -> bool {
        self.versions.iter().any(|version| version.latest && version.clock_of.is_some())
    }

    /// How many generations the graph has.
    pub fn depth(&self) -> usize {
        self.versions.iter().map(|version| version.depth + 1).max().unwrap_or(0)
    }

    /// The most versions in one generation.
    pub fn breadth(&self) -> usize {
        self.versions.iter().map(|version| version.place + 1).max().unwrap_or(0)
    }
}

/// The versions of `key` in the first `end` events of `trace`, the latest `versions_max` kept.
pub fn version_graph(trace: &Trace, key: &str, end: usize, versions_max: usize) -> VersionGraph {
    assert!(versions_max > 0, "a graph of no versions");
    let mut found: VecDeque<(Version, u64, NodeId)> = VecDeque::new();
    let mut versions_cut = 0;
    for event in trace.events().take(end) {
        let TraceEvent::Sent { at_ms, from, message, .. } = &event else { continue };
        let (at_ms, from, carried) = (*at_ms, *from, carried_versions(message, key));
        for version in carried {
            let seen = found
                .iter()
                .any(|(known, _, _)| known.clock == version.clock && known.value == version.value);
            if seen {
                continue;
            }
            if found.len() == versions_max {
                found.pop_front();
                versions_cut += 1;
            }
            found.push_back((version.clone(), at_ms, from));
        }
    }
    let found: Vec<(Version, u64, NodeId)> = found.into();
    let edges = immediate_edges(&found);
    let depths = depths(found.len(), &edges);
    let mut places_taken = vec![0; found.len() + 1];
    let versions = found
        .iter()
        .enumerate()
        .map(|(index, (version, first_at_ms, first_from))| {
            let depth = depths[index];
            let place = places_taken[depth];
            places_taken[depth] += 1;
            GraphVersion {
                clock: clock_text(&version.clock),
                value: value_text(&version.value),
                first_at_ms: *first_at_ms,
                first_from: *first_from,
                depth,
                place,
                latest: !edges.iter().any(|edge| edge.from == index),
                clock_of: found[..index].iter().position(|(earlier, _, _)| earlier.clock == version.clock),
            }
        })
        .collect();
    VersionGraph { key: key.to_string(), versions, edges, versions_cut }
}

/// The versions of `key` a message carries.
fn carried_versions<'a>(message: &'a Message, key: &str) -> Vec<&'a Version> {
    match message {
        Message::ReplicaWrite { key: written, version, companions, .. } if written == key => {
            std::iter::once(version).chain(companions).collect()
        }
        Message::ReplicaReadReply { key: read, versions, .. }
        | Message::ReadRepair { key: read, versions }
        | Message::HintHandoff { key: read, versions, .. }
            if read == key =>
        {
            versions.iter().collect()
        }
        Message::MerkleSync { entries, .. } | Message::RangeTransfer { entries, .. } => entries
            .iter()
            .filter(|(entry_key, _)| entry_key == key)
            .flat_map(|(_, versions)| versions.iter())
            .collect(),
        _ => Vec::new(),
    }
}

/// The edges of the descent order's transitive reduction (its Hasse diagram): `a → b` when
/// `b` descends `a` and no version drawn stands between them. Quadratic in the versions and
/// linear once more per pair: the caller bounds them.
fn immediate_edges(found: &[(Version, u64, NodeId)]) -> Vec<VersionEdge> {
    let before = |a: usize, b: usize| found[a].0.clock.compare(&found[b].0.clock) == ClockOrder::Before;
    let mut edges = Vec::new();
    for to in 0..found.len() {
        let parents: Vec<usize> = (0..found.len())
            .filter(|&from| before(from, to))
            .filter(|&from| !(0..found.len()).any(|between| before(from, between) && before(between, to)))
            .collect();
        let reconciles = parents.len() >= 2;
        edges.extend(parents.into_iter().map(|from| VersionEdge { from, to, reconciles }));
    }
    edges
}

/// Each version's longest chain of drawn ancestors. Descent is a partial order, so the
/// relaxation settles within as many passes as there are versions.
fn depths(count: usize, edges: &[VersionEdge]) -> Vec<usize> {
    let mut depths = vec![0; count];
    for _pass in 0..count {
        let mut changed = false;
        for edge in edges {
            if depths[edge.to] < depths[edge.from] + 1 {
                depths[edge.to] = depths[edge.from] + 1;
                changed = true;
            }
        }
        if !changed {
            return depths;
        }
    }
    depths
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sim::run::Simulation;
    use crate::sim::scenario::Scenario;
    use crate::sim::trace::TraceMode;

    /// Figure 3 of the paper, played: D1 and D2 written in turn; a partition; D3 written on one
    /// side with D2's context, and D4 on the other, where a get returned D2; the heal; a get
    /// that returns both; and D5, the put carrying that get's context.
    const FIGURE_3: &str = r#"{
      "seed": 2007,
      "duration_ms": 20000,
      "actions": [
        { "at_ms": 1000, "action": { "put": { "key": "cart:alice", "value": "D1", "via": 1 } } },
        { "at_ms": 2000, "action": { "put": { "key": "cart:alice", "value": "D2", "via": 1 } } },
        { "at_ms": 3000, "action": { "partition": [[1, 2], [3, 4, 5]] } },
        { "at_ms": 4000, "action": { "put": { "key": "cart:alice", "value": "D3", "via": 1 } } },
        { "at_ms": 5000, "action": { "get": { "key": "cart:alice", "via": 3 } } },
        { "at_ms": 6000, "action": { "put": { "key": "cart:alice", "value": "D4", "via": 3 } } },
        { "at_ms": 7000, "action": { "heal": null } },
        { "at_ms": 12000, "action": { "get": { "key": "cart:alice", "via": 1 } } },
        { "at_ms": 13000, "action": { "put": { "key": "cart:alice", "value": "D5", "via": 1 } } }
      ]
    }"#;

    /// Figure 3 played, its graph up to the last instant before `before_ms`.
    fn graph(before_ms: u64, versions_max: usize) -> VersionGraph {
        let mut simulation =
            Simulation::new(Scenario::from_json(FIGURE_3).unwrap(), TraceMode::Full).unwrap();
        simulation.run();
        let trace = simulation.fabric().trace();
        let end = trace.events().take_while(|event| event.at_ms() < before_ms).count();
        version_graph(trace, "cart:alice", end, versions_max)
    }

    fn values(graph: &VersionGraph, latest_only: bool) -> Vec<&str> {
        let versions = graph.versions.iter().filter(|version| version.latest || !latest_only);
        versions.map(|version| version.value.as_str()).collect()
    }

    fn edges_by_value(graph: &VersionGraph) -> Vec<(String, String, bool)> {
        let mut edges: Vec<_> = graph
            .edges
            .iter()
            .map(|edge| {
                (
                    graph.versions[edge.from].value.clone(),
                    graph.versions[edge.to].value.clone(),
                    edge.reconciles,
                )
            })
            .collect();
        edges.sort();
        edges
    }

    /// §4.4, Figure 3: "D3 and D4 … are not aware of each other's changes … both versions of
    /// the data must be kept"; "D5 … reconciles" them: its clock descends both, and nothing
    /// else is drawn between the versions than the paper draws.
    #[test]
    fn figure_3_played_draws_the_papers_graph() {
        let graph = graph(u64::MAX, 64);
        assert_eq!(values(&graph, false), ["D1", "D2", "D3", "D4", "D5"], "{graph:#?}");
        let edge = |from: &str, to: &str, reconciles| (from.to_string(), to.to_string(), reconciles);
        assert_eq!(
            edges_by_value(&graph),
            [
                edge("D1", "D2", false),
                edge("D2", "D3", false),
                edge("D2", "D4", false),
                edge("D3", "D5", true),
                edge("D4", "D5", true)
            ]
        );
        let depth = |value: &str| graph.versions.iter().find(|version| version.value == value).unwrap().depth;
        assert_eq!([depth("D1"), depth("D2"), depth("D3"), depth("D4"), depth("D5")], [0, 1, 2, 2, 3]);
        assert_eq!((graph.depth(), graph.breadth()), (4, 2));
        assert_eq!(values(&graph, true), ["D5"]);
    }

    /// Before the heal's reconciliation the two sides' versions are both latest: siblings.
    #[test]
    fn at_an_earlier_instant_the_graph_ends_in_two_siblings() {
        let graph = graph(12_500, 64);
        assert_eq!(values(&graph, true), ["D3", "D4"]);
        assert!(graph.edges.iter().all(|edge| !edge.reconciles));
    }

    /// §4.4 with the paper's clocks: two puts that one coordinator takes with one (empty)
    /// context get the same clock, `{n1:1}`. Neither descends the other, yet they are not
    /// siblings: a replica holding one takes the other for the same version and keeps only one
    /// value. The graph draws both values and says their clock is shared; with dotted version
    /// vectors the same two puts are siblings.
    #[test]
    fn two_values_with_one_clock_are_not_called_siblings_section_4_4() {
        let (simulation, graph) = played(include_str!("../../../static/scenarios/explore/equal-clocks.json"));
        assert_eq!(values(&graph, true), ["book", "lamp"], "{graph:#?}");
        assert_eq!(graph.versions[0].clock, graph.versions[1].clock);
        assert_eq!(
            graph.versions.iter().map(|version| version.clock_of).collect::<Vec<_>>(),
            [None, Some(0)]
        );
        assert!(graph.clocks_shared() && !graph.siblings(), "{graph:#?}");
        for node in simulation.fabric().node_ids() {
            let stored = simulation.fabric().node(*node).unwrap().durable().store.get("cart:alice").len();
            assert!(stored <= 1, "a replica keeps one of the two values, not both: {node} holds {stored}");
        }

        let (_, graph) = played(include_str!("../../../static/scenarios/explore/equal-clocks-dotted.json"));
        assert_eq!(values(&graph, true), ["book", "lamp"], "{graph:#?}");
        assert!(graph.siblings() && !graph.clocks_shared(), "{graph:#?}");
    }

    /// A scenario played to its end, and its graph of cart:alice.
    fn played(text: &str) -> (Simulation, VersionGraph) {
        let mut simulation = Simulation::new(Scenario::from_json(text).unwrap(), TraceMode::Full).unwrap();
        simulation.run();
        let trace = simulation.fabric().trace();
        let graph = version_graph(trace, "cart:alice", trace.len() as usize, 64);
        (simulation, graph)
    }

    /// The graph keeps the latest versions and counts the rest, so a long run stays drawable.
    #[test]
    fn only_the_latest_versions_are_kept_and_the_rest_counted() {
        let graph = graph(u64::MAX, 3);
        assert_eq!(values(&graph, false), ["D3", "D4", "D5"]);
        assert_eq!(graph.versions_cut, 2);
        assert_eq!(edges_by_value(&graph).len(), 2);
    }
}
