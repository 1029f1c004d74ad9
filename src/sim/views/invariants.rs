//! The checker's promises (see [`crate::sim::checker`]) judged on the live cluster, instant by
//! instant, from node inspections alone: the page shows each as a green or red badge.
//!
//! The checker judges a finished run, after heal and quiescence; here the cluster is judged as
//! it stands, so some promises are red for a while by design:
//!
//! - **durability** (§4.5): every acknowledged put's clock is equalled or descended by a version
//!   some live node holds, in its store or its hints. Red means no live node has it: lost, or
//!   only on the disk of a node that is down.
//! - **convergence** (§4.7): every key's live replicas (its top N on the ring, those inspected)
//!   hold the same sibling set, compared by clocks. Red while a partition or a crash keeps
//!   replicas apart, until hinted handoff or anti-entropy repairs them.
//! - **siblings** (§4.4): no replica's sibling set holds a version another in the set descends,
//!   nor two equal clocks. Must always hold.
//! - **membership** (§4.8): every live node sees the same ring (`ring_digest`). Red while gossip
//!   spreads a change.
//!
//! Read-your-writes needs a history of gets and a fault-free run, so it stays with the checker.

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use crate::protocol::message::{ClientResponse, OperationKind, RequestId};
use crate::protocol::node::NodeInspection;
use crate::protocol::ring::{ring_position, Ring};
use crate::protocol::store::Version;
use crate::protocol::vclock::{ClockOrder, VectorClock};
use crate::protocol::{Key, NodeId};
use crate::sim::checker::{clock_text, Findings};
use crate::sim::trace::{Trace, TraceEvent};

/// The running nodes' inspections, by node.
type Inspections<'a> = BTreeMap<NodeId, &'a NodeInspection>;

/// Violations a message describes; the rest are counted ("and 3 more") so a badge stays short.
/// Clocks a message lists for one sibling set or holding before cutting it short.
const CLOCKS_SHOWN_MAX: usize = 4;

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
}

/// Judges the cluster as it stands. `inspections` are the nodes that are up; `acknowledged_puts`
/// the (key, clock) of puts acknowledged to clients (see [`acknowledged_puts`]); `replicas_n` is
/// N. In the checker's order: durability, convergence, siblings, membership.
/// Takes the inspections by reference, so a caller that shares them need not copy any.
pub fn live_invariants<'a>(
    inspections: impl IntoIterator<Item = (&'a NodeId, &'a NodeInspection)>,
    acknowledged_puts: &[(Key, VectorClock)],
    replicas_n: usize,
) -> Vec<LiveVerdict> {
    let inspections: Inspections =
        inspections.into_iter().map(|(id, inspection)| (*id, inspection)).collect();
    vec![
        durability(&inspections, acknowledged_puts),
        convergence(&inspections, replicas_n),
        siblings(&inspections),
        membership(&inspections),
    ]
}

/// The (key, clock) of every put acknowledged in the trace's first `end` events, the latest
/// `puts_max` only: a successful `ClientReplied` tied to its key by the `ClientRequested` with
/// the same request id. Empty for a trace that kept no events.
pub fn acknowledged_puts(trace: &Trace, end: usize, puts_max: usize) -> Vec<(Key, VectorClock)> {
    let mut keys_by_request: BTreeMap<RequestId, Key> = BTreeMap::new();
    let mut latest: VecDeque<(Key, VectorClock)> = VecDeque::new();
    // Bounded by the trace's length: one pass over the recorded events.
    for event in trace.events().take(end) {
        match event {
            TraceEvent::ClientRequested { request, .. } if request.operation.kind() == OperationKind::Put => {
                keys_by_request.insert(request.id, request.operation.key().to_string());
            }
            TraceEvent::ClientReplied { request, result, .. } => {
                // Removed on any reply, so the map holds only puts still waiting for one.
                let Some(key) = keys_by_request.remove(&request) else { continue };
                let Ok(ClientResponse::Put { context, .. }) = result else { continue };
                if latest.len() == puts_max {
                    latest.pop_front();
                }
                if puts_max > 0 {
                    latest.push_back((key, context));
                }
            }
            _ => {}
        }
    }
    latest.into()
}

// ---------------------------------------------------------------------------------------------
// The invariants.

fn durability(inspections: &Inspections, acknowledged_puts: &[(Key, VectorClock)]) -> LiveVerdict {
    let held = held_clocks(inspections);
    let mut findings = Findings::default();
    for (key, clock) in acknowledged_puts {
        let clocks = held.get(key.as_str()).map_or(&[][..], Vec::as_slice);
        if clocks.iter().any(|held| held.descends(clock)) {
            continue;
        }
        findings.add(|| {
            format!(
                "{key}: the put acknowledged with {} is held by no live node, in store or hints \
                 (live nodes hold {})",
                clock_text(clock),
                clocks_text(&newest(clocks))
            )
        });
    }
    let checked = format!("{} acknowledged puts are each held by a live node", acknowledged_puts.len());
    findings.live_verdict("durability", "§4.5", checked)
}

/// Every clock any inspected node holds per key, its store's and its hints' alike: a stand-in's
/// hint keeps a put alive until it is handed back (§4.6).
fn held_clocks<'a>(inspections: &Inspections<'a>) -> BTreeMap<&'a str, Vec<&'a VectorClock>> {
    let mut held: BTreeMap<&str, Vec<&VectorClock>> = BTreeMap::new();
    for inspection in inspections.values() {
        let durable = &inspection.durable;
        for (key, versions) in durable.store.keys() {
            held.entry(key.as_str()).or_default().extend(versions.iter().map(|version| &version.clock));
        }
        for (_, hint) in durable.hints.iter() {
            held.entry(hint.key.as_str())
                .or_default()
                .extend(hint.versions.iter().map(|version| &version.clock));
        }
    }
    held
}

/// The clocks no other clock in `clocks` is after, one per causal identity: what a message
/// shows of a holding.
fn newest<'a>(clocks: &[&'a VectorClock]) -> Vec<&'a VectorClock> {
    let mut kept: Vec<&VectorClock> = Vec::new();
    for clock in clocks {
        let superseded = clocks.iter().any(|other| other.compare(clock) == ClockOrder::After);
        let repeated = kept.iter().any(|seen| seen.compare(clock) == ClockOrder::Equal);
        if !superseded && !repeated {
            kept.push(clock);
        }
    }
    kept
}

fn convergence(inspections: &Inspections, replicas_n: usize) -> LiveVerdict {
    let ring = reference_ring(inspections);
    let keys: BTreeSet<&str> = inspections
        .values()
        .flat_map(|inspection| inspection.durable.store.keys().map(|(key, _)| key.as_str()))
        .collect();
    let mut findings = Findings::default();
    for key in &keys {
        let replicas = live_replicas(&ring, inspections, key, replicas_n);
        let Some((first, first_versions)) = replicas.first() else { continue };
        let first_identities = causal_identities(first_versions);
        let differing = replicas.iter().find(|(_, versions)| causal_identities(versions) != first_identities);
        let Some((other, other_versions)) = differing else { continue };
        findings.add(|| {
            let (first_text, other_text) = (versions_text(first_versions), versions_text(other_versions));
            format!("{key}: {first} holds {first_text}, {other} holds {other_text}")
        });
    }
    let checked = format!("the replicas of each of {} keys hold the same siblings", keys.len());
    findings.live_verdict("convergence", "§4.7", checked)
}

/// The ring replicas are judged by: the lowest live node's current ring. Membership says
/// whether every node agrees with it.
fn reference_ring(inspections: &Inspections) -> Ring {
    inspections.values().next().map(|inspection| inspection.durable.view.current_ring()).unwrap_or_default()
}

/// The key's top N on `ring` that are inspected, with what each stores for it.
fn live_replicas<'a>(
    ring: &Ring,
    inspections: &Inspections<'a>,
    key: &str,
    replicas_n: usize,
) -> Vec<(NodeId, &'a [Version])> {
    if ring.is_empty() {
        return Vec::new();
    }
    let preference = ring.preference_list(ring_position(key.as_bytes()), replicas_n);
    let inspected =
        preference.into_iter().filter_map(|id| inspections.get(&id).map(|inspection| (id, *inspection)));
    inspected.map(|(id, inspection)| (id, inspection.durable.store.get(key))).collect()
}

/// A sibling set as causality sees it: each clock's counters, sorted. Timestamps and values are
/// left out, so two replicas agree when their clocks do.
fn causal_identities(versions: &[Version]) -> Vec<Vec<(NodeId, u64)>> {
    let mut identities: Vec<Vec<(NodeId, u64)>> = versions
        .iter()
        .map(|version| version.clock.entries().iter().map(|entry| (entry.node, entry.counter)).collect())
        .collect();
    identities.sort();
    identities
}

fn siblings(inspections: &Inspections) -> LiveVerdict {
    let mut findings = Findings::default();
    let mut sets = 0usize;
    for (id, inspection) in inspections {
        for (key, versions) in inspection.durable.store.keys() {
            sets += 1;
            let Some((left, right)) = related_pair(versions) else { continue };
            findings.add(|| {
                let relation = match left.clock.compare(&right.clock) {
                    ClockOrder::Equal => "two equal clocks",
                    _ => "a version its sibling descends",
                };
                format!("{key}: {id} holds {relation}: {}", versions_text(versions))
            });
        }
    }
    let checked = format!("{sets} sibling sets hold concurrent versions only");
    findings.live_verdict("siblings", "§4.4", checked)
}

/// Two versions of one sibling set that are not concurrent, if any.
fn related_pair(versions: &[Version]) -> Option<(&Version, &Version)> {
    versions.iter().enumerate().find_map(|(index, left)| {
        let related = versions[index + 1..].iter().find(|right| !left.clock.is_concurrent_with(&right.clock));
        related.map(|right| (left, right))
    })
}

fn membership(inspections: &Inspections) -> LiveVerdict {
    let mut digests = inspections.iter().map(|(id, inspection)| (*id, inspection.durable.view.ring_digest()));
    let Some((first, expected)) = digests.next() else {
        return Findings::default().live_verdict("membership", "§4.8", "no live node to compare".into());
    };
    let mut findings = Findings::default();
    for (id, digest) in digests.filter(|(_, digest)| *digest != expected) {
        findings.add(|| format!("{id} sees ring {digest:016x}, {first} sees {expected:016x}"));
    }
    let checked = format!("{} live nodes see ring {expected:016x}", inspections.len());
    findings.live_verdict("membership", "§4.8", checked)
}

// ---------------------------------------------------------------------------------------------
// Messages.

impl Findings {
    fn live_verdict(self, name: &'static str, section: &'static str, checked: String) -> LiveVerdict {
        let more = self.count - self.described.len();
        let message = match (self.count, more) {
            (0, _) => checked,
            (_, 0) => self.described.join("; "),
            _ => format!("{} and {more} more", self.described.join("; ")),
        };
        LiveVerdict { name, section, holds: self.count == 0, message }
    }
}

/// A sibling set by its clocks, as `[{n1:2}, {n1:1,n2:1}]`; `nothing` when empty.
fn versions_text(versions: &[Version]) -> String {
    let clocks: Vec<&VectorClock> = versions.iter().map(|version| &version.clock).collect();
    clocks_text(&clocks)
}

fn clocks_text(clocks: &[&VectorClock]) -> String {
    if clocks.is_empty() {
        return "nothing".into();
    }
    let mut texts: Vec<String> =
        clocks.iter().take(CLOCKS_SHOWN_MAX).map(|clock| clock_text(clock)).collect();
    if clocks.len() > CLOCKS_SHOWN_MAX {
        texts.push(format!("… {} more", clocks.len() - CLOCKS_SHOWN_MAX));
    }
    format!("[{}]", texts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::membership::MembershipView;
    use crate::protocol::node::Durable;
    use crate::protocol::ring::PartitionStrategy;
    use crate::protocol::store::VersionedStore;
    use crate::protocol::vclock::ClockEntry;
    use crate::sim::run::Simulation;
    use crate::sim::scenario::Scenario;
    use crate::sim::trace::TraceMode;

    const PUTS_MAX: usize = 1_000;
    const REPLICAS_N: usize = 3;

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
        let live = fabric.node_ids().into_iter().filter(|id| fabric.is_up(*id));
        live.filter_map(|id| fabric.node(id).map(|node| (id, node.inspect()))).collect()
    }

    fn judge(simulation: &Simulation) -> Vec<LiveVerdict> {
        let trace = simulation.fabric().trace();
        let puts = acknowledged_puts(trace, trace.len() as usize, PUTS_MAX);
        live_invariants(&inspections(simulation), &puts, REPLICAS_N)
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
        let puts = acknowledged_puts(trace, trace.len() as usize, PUTS_MAX);
        let keys: Vec<&str> = puts.iter().map(|(key, _)| key.as_str()).collect();
        assert_eq!(keys, ["cart:alice", "cart:alice", "cart:bob"], "in reply order");
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

    /// §4.5: a clock no node holds (a descendant of an acknowledged one, never written) reads as
    /// lost, named by key and clock.
    #[test]
    fn durability_is_red_for_an_acknowledged_clock_no_node_holds_section_4_5() {
        let mut simulation = simulation(include_str!("../../../static/scenarios/hinted-handoff.json"));
        simulation.run();
        let trace = simulation.fabric().trace();
        let (key, acknowledged) = acknowledged_puts(trace, trace.len() as usize, PUTS_MAX).remove(0);
        let mut fabricated = acknowledged.clone();
        fabricated.increment(NodeId(99), 0);
        let puts = [(key.clone(), acknowledged), (key.clone(), fabricated.clone())];
        let verdicts = live_invariants(&inspections(&simulation), &puts, REPLICAS_N);
        let durability = verdict(&verdicts, "durability");
        assert!(!durability.holds);
        assert!(durability.message.starts_with(&format!("{key}: ")), "{}", durability.message);
        assert!(durability.message.contains(&clock_text(&fabricated)), "{}", durability.message);
        assert!(!durability.message.contains("more"), "one violation only: {}", durability.message);
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
        let verdicts = live_invariants(&inspections, &[], REPLICAS_N);
        let siblings = verdict(&verdicts, "siblings");
        assert!(!siblings.holds);
        assert_eq!(siblings.message, "cart:alice: n2 holds a version its sibling descends: [{n1:1}, {n1:2}]");
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
        let verdicts = live_invariants(&inspections, &[], REPLICAS_N);
        let membership = verdict(&verdicts, "membership");
        assert!(!membership.holds);
        assert!(membership.message.starts_with("n2 sees ring "), "{}", membership.message);
        assert!(membership.message.ends_with(" and 1 more"), "{}", membership.message);
    }

    /// The cap keeps the latest puts; a trace cut short sees only what it holds.
    #[test]
    fn acknowledged_puts_keeps_the_latest_within_the_cap_and_the_end() {
        let mut simulation = simulation(include_str!("../../../static/scenarios/hinted-handoff.json"));
        simulation.run();
        let trace = simulation.fabric().trace();
        let all = acknowledged_puts(trace, trace.len() as usize, PUTS_MAX);
        assert_eq!(acknowledged_puts(trace, trace.len() as usize, 1), all[2..]);
        assert!(acknowledged_puts(trace, trace.len() as usize, 0).is_empty());
        let before_second_put = trace.first_index_at(3_000);
        assert_eq!(acknowledged_puts(trace, before_second_put, PUTS_MAX), all[..1]);
    }
}
