//! The checker's promises ([`crate::sim::promises`], their one home) judged on the live
//! cluster from node inspections alone: the page shows each as a green or red badge.
//!
//! The checker judges a finished run, after heal and quiescence; here the cluster is judged as
//! it stands, so some promises are red for a while by design:
//!
//! - **durability** (§4.5): every acknowledged put's value is held by some live node, in its
//!   store or its hints, or a later put whose writer had seen it replaced it. A value lost to a
//!   cause the configuration names (the paper's equal clocks, a dominated blind write, last write
//!   wins, every holder wiped) is counted and named in the message, and the badge stays green
//!   only for what the configuration allows. Red means no live node has it for no named reason:
//!   lost, or only on the disk of a node that is down.
//! - **convergence** (§4.7): every key's live replicas (its top N on the ring, those inspected)
//!   hold the same sibling set. Red while a partition or a crash keeps replicas apart, until
//!   hinted handoff or anti-entropy repairs them.
//! - **siblings** (§4.4): no replica's sibling set holds a version another in the set descends,
//!   nor two equal clocks. Must always hold.
//! - **membership** (§4.8): every live node sees the same ring, and it covers every partition.
//!   Red while gossip spreads a change.
//!
//! Integrity and read-your-writes need the whole trace and the run's faults, so they stay with
//! the checker.

use std::collections::{BTreeMap, BTreeSet};

use crate::protocol::node::{Durable, NodeInspection};
use crate::protocol::{ClusterConfig, NodeId};
use crate::sim::promises::{self, Allowances, Findings, Holders, Losses, PutRecord, Scope};

/// One invariant as it stands now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LiveVerdict {
    /// As the checker names it: `durability`, `convergence`, `siblings`, `membership`.
    pub name: &'static str,
    /// The paper's section that makes the promise, e.g. `§4.4`.
    pub section: &'static str,
    pub holds: bool,
    /// What is wrong, concretely (keys, nodes, clocks); or, when it holds, what was checked.
    pub message: String,
    /// Acknowledged values lost to causes the configuration names: the promise holds as the
    /// configuration defines it, and the page shows it apart from a plain "holds".
    pub named_losses: usize,
}

/// The live promises and the losses a configuration names.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LivePromises {
    /// In the checker's order: durability, convergence, siblings, membership.
    pub verdicts: Vec<LiveVerdict>,
    pub losses: Losses,
}

/// Judges the cluster as it stands. `inspections` are the nodes that are up; `puts` the puts
/// clients issued (see [`promises::puts_in_trace`]), of which the acknowledged ones are judged;
/// `config` gives N and the partitioning the ring must cover. Takes the inspections by
/// reference, so a caller that shares them need not copy any.
pub fn live_invariants<'a, 'p>(
    inspections: impl IntoIterator<Item = (&'a NodeId, &'a NodeInspection)>,
    puts: impl IntoIterator<Item = &'p PutRecord>,
    config: &ClusterConfig,
    allowances: Allowances,
) -> LivePromises {
    // Inserted one by one: collecting would add a sort of its own to the page's wasm.
    let mut nodes: BTreeMap<NodeId, &Durable> = BTreeMap::new();
    for (id, inspection) in inspections {
        nodes.insert(*id, &inspection.durable);
    }
    let holders = Holders::new(nodes, config);
    let mut keys = BTreeSet::new();
    let durability = promises::durability(puts, &holders, Scope::AnyLiveNode, &[], allowances);
    let named_losses: usize = durability.losses.values().sum();
    let (holds, message) = match durability.verdict {
        promises::Verdict::Violated(message) => (false, message),
        promises::Verdict::NamedLoss(message) => (true, message),
        promises::Verdict::Ok | promises::Verdict::NotApplicable(_) => {
            (true, format!("{} acknowledged puts are each held by a live node", durability.checked))
        }
    };
    let durability_verdict =
        LiveVerdict { name: "durability", section: "§4.5", holds, message, named_losses };
    let key_count = holders.keys().len();
    let sets: usize = holders.nodes.values().map(|durable| durable.store.len()).sum();
    let verdicts = vec![
        durability_verdict,
        promises::convergence(&holders, &mut keys).live_verdict(
            "convergence",
            "§4.7",
            format!("the replicas of each of {key_count} keys hold the same siblings"),
        ),
        promises::siblings(&holders, &mut keys).live_verdict(
            "siblings",
            "§4.4",
            format!("{sets} sibling sets hold concurrent versions only"),
        ),
        promises::membership(&holders).live_verdict(
            "membership",
            "§4.8",
            format!("{} live nodes see one ring covering every partition", holders.nodes.len()),
        ),
    ];
    LivePromises { verdicts, losses: durability.losses }
}

impl Findings {
    fn live_verdict(self, name: &'static str, section: &'static str, checked: String) -> LiveVerdict {
        let more = self.count - self.described.len();
        let message = match (self.count, more) {
            (0, _) => checked,
            (_, 0) => self.described.join("; "),
            _ => format!("{} and {more} more", self.described.join("; ")),
        };
        LiveVerdict { name, section, holds: self.count == 0, message, named_losses: 0 }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::membership::MembershipView;
    use crate::protocol::node::Durable;
    use crate::protocol::ring::PartitionStrategy;
    use crate::protocol::store::Version;
    use crate::protocol::store::VersionedStore;
    use crate::protocol::vclock::{ClockEntry, VectorClock};
    use crate::sim::promises::puts_in_trace;
    use crate::sim::run::Simulation;
    use crate::sim::scenario::Scenario;
    use crate::sim::trace::TraceMode;

    /// The cluster the tests' inspections come from: N = 3 over strategy 3's partitions.
    fn config() -> ClusterConfig {
        ClusterConfig::default()
    }

    /// Both sides of a partition take a put of `cart:alice` (blind, so the two are concurrent)
    /// and of `cart:bob`; the partition heals at 10 s and anti-entropy runs every second.
    const PARTITIONED_WRITES: &str = r#"{
      "seed": 7,
      "duration_ms": 30000,
      "config": { "anti_entropy_interval_ms": 1000 },
      "actions": [
        { "at_ms": 1000, "action": { "partition": [[1, 2], [3, 4, 5]] } },
        { "at_ms": 4000, "action": { "put": { "key": "cart:alice", "value": "book", "via": 1, "blind": true } } },
        { "at_ms": 4000, "action": { "put": { "key": "cart:alice", "value": "pen", "via": 3, "blind": true } } },
        { "at_ms": 4000, "action": { "put": { "key": "cart:bob", "value": "lamp", "via": 1, "blind": true } } },
        { "at_ms": 4000, "action": { "put": { "key": "cart:bob", "value": "mug", "via": 4, "blind": true } } },
        { "at_ms": 10000, "action": "heal" }
      ]
    }"#;

    fn simulation(text: &str) -> Simulation {
        Simulation::new(Scenario::from_json(text).unwrap(), TraceMode::Full).unwrap()
    }

    /// What the page has of a running cluster: an inspection of every node that is up.
    fn inspections(simulation: &Simulation) -> BTreeMap<NodeId, NodeInspection> {
        let fabric = simulation.fabric();
        let live = fabric.node_ids().iter().copied().filter(|id| fabric.is_up(*id));
        live.filter_map(|id| fabric.node(id).map(|node| (id, node.inspect()))).collect()
    }

    fn judge(simulation: &Simulation) -> Vec<LiveVerdict> {
        let trace = simulation.fabric().trace();
        let puts = puts_in_trace(trace, trace.len() as usize);
        live_invariants(&inspections(simulation), &puts, &config(), Allowances::default()).verdicts
    }

    fn verdict<'a>(verdicts: &'a [LiveVerdict], name: &str) -> &'a LiveVerdict {
        verdicts.iter().find(|verdict| verdict.name == name).expect("every invariant is judged")
    }

    fn clock(counters: &[(u32, u64)]) -> VectorClock {
        let entries = counters.iter().map(|&(node, counter)| ClockEntry {
            node: NodeId(node),
            counter,
            timestamp_ms: 0,
        });
        VectorClock::from_entries(entries.collect()).unwrap()
    }

    fn version(counters: &[(u32, u64)], value: &str) -> Version {
        Version { clock: clock(counters), value: value.as_bytes().to_vec(), written_at_ms: 0 }
    }

    fn inspection(node: u32, durable: Durable) -> NodeInspection {
        NodeInspection {
            node: NodeId(node),
            now_ms: 0,
            durable,
            unreachable: Vec::new(),
            operations_in_flight: 0,
        }
    }

    /// §4.6, §4.7: after the hinted-handoff scenario (n4 crashed, restarted, handed its hints
    /// back) every promise holds, and the puts it acknowledged are the ones checked.
    #[test]
    fn a_quiet_healed_run_keeps_every_promise_sections_4_4_to_4_8() {
        let mut simulation = simulation(include_str!("../../../static/scenarios/hinted-handoff.json"));
        simulation.run();
        let trace = simulation.fabric().trace();
        let puts = puts_in_trace(trace, trace.len() as usize);
        let keys: Vec<&str> = puts.iter().map(|put| put.key.as_str()).collect();
        assert_eq!(keys, ["cart:alice", "cart:alice", "cart:bob"], "in the order they were issued");
        assert!(puts.iter().all(|put| put.acknowledged.is_some()));
        let verdicts = judge(&simulation);
        let names: Vec<&str> = verdicts.iter().map(|verdict| verdict.name).collect();
        assert_eq!(names, ["durability", "convergence", "siblings", "membership"]);
        assert!(verdicts.iter().all(|verdict| verdict.holds), "{verdicts:#?}");
        assert_eq!(verdict(&verdicts, "siblings").section, "§4.4");
    }

    /// §4.7: while a partition with writes on both sides lasts, the replicas of the written keys
    /// disagree and the message names one; after heal and anti-entropy they agree again.
    #[test]
    fn convergence_is_red_during_a_partition_with_writes_on_both_sides_section_4_7() {
        let mut simulation = simulation(PARTITIONED_WRITES);
        simulation.run_until(8_000);
        let during = judge(&simulation);
        let convergence = verdict(&during, "convergence");
        assert!(!convergence.holds, "{during:#?}");
        let message = &convergence.message;
        assert!(message.starts_with("cart:alice: ") && message.contains(" holds "), "{message}");
        assert!(message.ends_with(" and 1 more"), "cart:bob counted, not described: {message}");
        assert!(verdict(&during, "siblings").holds && verdict(&during, "durability").holds, "{during:#?}");
        simulation.run();
        let after = judge(&simulation);
        assert!(after.iter().all(|verdict| verdict.holds), "{after:#?}");
    }

    /// §4.5: an acknowledged value no node holds (a put the trace never saw, made up) reads as
    /// lost, named by key and value, since no configured loss explains it.
    #[test]
    fn durability_is_red_for_an_acknowledged_value_no_node_holds_section_4_5() {
        let mut simulation = simulation(include_str!("../../../static/scenarios/hinted-handoff.json"));
        simulation.run();
        let trace = simulation.fabric().trace();
        let mut puts = puts_in_trace(trace, trace.len() as usize);
        let mut made_up = puts[0].clone();
        made_up.value = b"never written".to_vec();
        made_up.request = crate::protocol::message::RequestId(u64::MAX);
        // A clock no later put's context covers, so nothing excuses it as superseded.
        made_up.acknowledged.as_mut().unwrap().increment(NodeId(99), 0);
        made_up.coordinator = Some(NodeId(99));
        puts.push(made_up.clone());
        let judged = live_invariants(&inspections(&simulation), &puts, &config(), Allowances::default());
        let durability = verdict(&judged.verdicts, "durability");
        assert!(!durability.holds);
        assert!(
            durability.message.starts_with(&format!("put of {} = \"never written\"", made_up.key)),
            "{}",
            durability.message
        );
        assert!(!durability.message.contains("more"), "one violation only: {}", durability.message);
        assert!(judged.losses.is_empty());
    }

    /// §4.4: a store decoded with a dominated version beside its descendant (the store's own API
    /// never keeps one) is caught and named.
    #[test]
    fn siblings_is_red_for_a_dominated_version_section_4_4() {
        let (older, newer) = (version(&[(1, 1)], "book"), version(&[(1, 2)], "book,lamp"));
        let store = serde_json::json!({ "keys": { "cart:alice": [older, newer] }, "policy": "Siblings" });
        let store: VersionedStore = serde_json::from_value(store).unwrap();
        let inspections =
            BTreeMap::from([(NodeId(2), inspection(2, Durable { store, ..Durable::default() }))]);
        let verdicts = live_invariants(&inspections, [], &config(), Allowances::default()).verdicts;
        let siblings = verdict(&verdicts, "siblings");
        assert!(!siblings.holds);
        assert_eq!(
            siblings.message,
            "n2 holds a version its sibling descends from for cart:alice: [{n1:1}=\"book\", {n1:2}=\"book,lamp\"]"
        );
    }

    /// §4.8: two nodes with different rings turn membership red, naming both digests' holders;
    /// each extra disagreeing node is counted, not described.
    #[test]
    fn membership_is_red_while_rings_differ_section_4_8() {
        let strategy = PartitionStrategy::EqualPartitions { partitions: 8 };
        let view = |members: &[u32]| {
            let members: Vec<NodeId> = members.iter().copied().map(NodeId).collect();
            MembershipView::bootstrap(strategy, &members, 2007)
        };
        let inspections = BTreeMap::from([
            (NodeId(1), inspection(1, Durable { view: view(&[1, 2, 3]), ..Durable::default() })),
            (NodeId(2), inspection(2, Durable { view: view(&[1, 2, 3, 4]), ..Durable::default() })),
            (NodeId(3), inspection(3, Durable { view: view(&[1, 2, 3, 4]), ..Durable::default() })),
        ]);
        let config = ClusterConfig { strategy, ..config() };
        let verdicts = live_invariants(&inspections, [], &config, Allowances::default()).verdicts;
        let membership = verdict(&verdicts, "membership");
        assert!(!membership.holds);
        assert!(membership.message.starts_with("n2 sees ring "), "{}", membership.message);
        assert!(membership.message.ends_with(" and 1 more"), "{}", membership.message);
    }

    /// §4.8, §4.9: a ring that leaves a partition without a serving owner breaks membership even
    /// when every node agrees on it.
    #[test]
    fn membership_is_red_for_a_ring_that_misses_a_partition_section_4_9() {
        let members: Vec<NodeId> = [1, 2, 3].map(NodeId).to_vec();
        let view =
            MembershipView::bootstrap(PartitionStrategy::EqualPartitions { partitions: 8 }, &members, 2007);
        let inspections =
            BTreeMap::from([(NodeId(1), inspection(1, Durable { view, ..Durable::default() }))]);
        // The cluster is configured for 16 partitions; this view's ring ends only 8 of them.
        let config =
            ClusterConfig { strategy: PartitionStrategy::EqualPartitions { partitions: 16 }, ..config() };
        let verdicts = live_invariants(&inspections, [], &config, Allowances::default()).verdicts;
        let membership = verdict(&verdicts, "membership");
        assert!(!membership.holds);
        assert!(
            membership.message.starts_with("n1's ring does not cover every partition (8 gaps"),
            "{}",
            membership.message
        );
    }

    /// A trace cut short sees only the puts it holds, and a put not yet answered is not
    /// acknowledged.
    #[test]
    fn puts_in_trace_sees_only_what_the_trace_holds() {
        let mut simulation = simulation(include_str!("../../../static/scenarios/hinted-handoff.json"));
        simulation.run();
        let trace = simulation.fabric().trace();
        let all = puts_in_trace(trace, trace.len() as usize);
        let before_second_put = trace.first_index_at(3_000);
        assert_eq!(puts_in_trace(trace, before_second_put), all[..1]);
        let just_issued = trace.first_index_at(1_001);
        assert!(puts_in_trace(trace, just_issued)[0].acknowledged.is_none());
    }
}
