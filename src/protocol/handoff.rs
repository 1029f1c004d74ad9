//! Hinted handoff (§4.6): a stand-in keeps a replica meant for an unreachable node apart from
//! its own data, and hands it back once the owner answers again.
//!
//! A hint's id names its content: a version appended to a hint gives it a new id, so the
//! confirmation of a handoff that was on the wire before the append deletes nothing, and the
//! next round delivers the appended version. A hint whose owner left the ring (§4.9) goes to the
//! key's current replicas instead, and is deleted once every one of them holds it.

use std::cell::Cell;
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::membership::MemberStatus;
use super::message::{HintId, Message};
use super::node::{Node, Timer};
use super::observation::{Observation, RepairSource};
use super::ring::ring_position;
use super::small_map::{SmallMap, SmallSet};
use super::store::{reconcile, Version};
use super::types::{Key, NodeId, RingPosition};

/// Hints a node keeps at most; past it the least recently written is dropped (and observed).
pub const HINTS_MAX: usize = 4096;
/// Hints handed off per recipient per round (this node counts as a recipient when it is one of
/// the current replicas of a departed owner's key).
pub const HANDOFFS_PER_ROUND_MAX: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hint {
    /// The top-N node this replica belongs to.
    pub owner: NodeId,
    pub key: Key,
    pub versions: Vec<Version>,
    pub stored_at_ms: u64,
}

/// What adding a version to the hint store did.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Added {
    /// The hint's id from now on.
    hint: HintId,
    /// The id the hint had before this version joined it; None for a new hint.
    replaces: Option<HintId>,
    /// The hint dropped to make room, if any.
    dropped: Option<(HintId, Hint)>,
}

/// The stand-in's separate store of hinted replicas (§4.6: "a separate local database").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "StoredHints")]
pub struct HintStore {
    hints: BTreeMap<HintId, Hint>,
    next_id: u64,
    /// How many hints (for any owner) hold each key, by (ring position, key): a read of a key
    /// with no hint, the common case, looks it up instead of scanning up to [`HINTS_MAX`] hints
    /// (issue 14). The versioned store's index type, so the page's wasm holds one copy of the
    /// map's code. Derived from `hints`, so never written: reading a store rebuilds it.
    #[serde(skip_serializing)]
    by_key: BTreeMap<(RingPosition, Key), Cell<u64>>,
    /// For hints whose owner left the ring: the key's current replicas that confirmed holding
    /// the versions so far. Volatile: after a restart the stand-in offers them to every replica
    /// again, which merges them idempotently.
    #[serde(skip)]
    confirmed: BTreeMap<HintId, SmallSet<NodeId>>,
}

/// What a hint store writes; the index is rebuilt on reading, the confirmations start empty.
#[derive(Deserialize)]
struct StoredHints {
    hints: BTreeMap<HintId, Hint>,
    next_id: u64,
}

impl From<StoredHints> for HintStore {
    fn from(stored: StoredHints) -> Self {
        let mut store = HintStore { next_id: stored.next_id, ..HintStore::default() };
        for (id, hint) in stored.hints {
            store.index(&hint.key, 1);
            store.hints.insert(id, hint);
        }
        store
    }
}

impl HintStore {
    pub fn len(&self) -> usize {
        self.hints.len()
    }

    /// The volatile confirmations, which a disk never holds but a node moved whole carries
    /// ([`super::node::Node::state_bytes`]).
    pub(super) fn confirmations(&self) -> &BTreeMap<HintId, SmallSet<NodeId>> {
        &self.confirmed
    }

    pub(super) fn set_confirmations(&mut self, confirmed: BTreeMap<HintId, SmallSet<NodeId>>) {
        self.confirmed = confirmed;
    }

    pub fn is_empty(&self) -> bool {
        self.hints.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&HintId, &Hint)> {
        self.hints.iter()
    }

    /// Versions of `key` held for any owner.
    pub fn versions_of<'a>(&'a self, key: &'a str) -> impl Iterator<Item = &'a Version> + 'a {
        let hinted = self.holds_key(key).then_some(&self.hints).into_iter().flatten();
        hinted.filter(move |(_, hint)| hint.key == key).flat_map(|(_, hint)| hint.versions.iter())
    }

    /// Whether any hint holds `key`: one lookup, no scan.
    fn holds_key(&self, key: &str) -> bool {
        !self.hints.is_empty() && self.by_key.contains_key(&(ring_position(key.as_bytes()), key.to_owned()))
    }

    /// Counts `change` (+1 or -1) hints holding `key`, forgetting a key no hint holds.
    fn index(&mut self, key: &str, change: i64) {
        let place = (ring_position(key.as_bytes()), key.to_owned());
        let count = self.by_key.get(&place).map_or(0, Cell::get).checked_add_signed(change);
        match count.expect("a key's hints are counted in and out once each") {
            0 => self.by_key.remove(&place),
            count => self.by_key.insert(place, Cell::new(count)),
        };
    }

    /// Adds a version to the hint for (owner, key), creating it if needed. A version that
    /// changes an existing hint gives it a new id: an id always names the versions a handoff
    /// carried, so a confirmation deletes only what was delivered.
    fn add(&mut self, owner: NodeId, key: Key, version: Version, now_ms: u64) -> Added {
        let existing = self.holds_key(&key).then(|| {
            self.hints.iter().find(|(_, hint)| hint.owner == owner && hint.key == key).map(|(id, _)| *id)
        });
        if let Some(old) = existing.flatten() {
            return self.append(old, version);
        }
        let dropped = if self.hints.len() >= HINTS_MAX { self.remove(self.first_id()) } else { None };
        let hint = self.insert(Hint { owner, key, versions: vec![version], stored_at_ms: now_ms });
        Added { hint, replaces: None, dropped }
    }

    /// Adds `version` to the hint `old`, which gets a new id if its versions change.
    fn append(&mut self, old: HintId, version: Version) -> Added {
        let hint = self.hints.get(&old).expect("found by the caller");
        let mut versions = hint.versions.clone();
        versions.push(version);
        let versions = reconcile(&versions);
        if versions == hint.versions {
            return Added { hint: old, replaces: Some(old), dropped: None };
        }
        let (_, mut hint) = self.remove(Some(old)).expect("held above");
        hint.versions = versions;
        let hint_id = self.insert(hint);
        Added { hint: hint_id, replaces: Some(old), dropped: None }
    }

    fn first_id(&self) -> Option<HintId> {
        self.hints.keys().next().copied()
    }

    fn insert(&mut self, hint: Hint) -> HintId {
        self.next_id += 1;
        let id = HintId(self.next_id);
        self.index(&hint.key, 1);
        self.hints.insert(id, hint);
        id
    }

    fn remove(&mut self, id: Option<HintId>) -> Option<(HintId, Hint)> {
        let id = id?;
        self.confirmed.remove(&id);
        let hint = self.hints.remove(&id)?;
        self.index(&hint.key, -1);
        Some((id, hint))
    }
}

impl Node {
    pub(super) fn store_hint(&mut self, owner: NodeId, coordinator: NodeId, key: Key, version: Version) {
        let Added { hint, replaces, dropped } =
            self.durable.hints.add(owner, key.clone(), version, self.now_ms);
        self.durable_changed = true;
        if let Some((dropped_id, dropped_hint)) = dropped {
            self.observe(Observation::HintDropped {
                hint: dropped_id,
                key: dropped_hint.key,
                owner: dropped_hint.owner,
                reason: format!("the hint store is full ({HINTS_MAX} hints)"),
            });
        }
        self.observe(Observation::HintStored { hint, key, intended_owner: owner, coordinator, replaces });
    }

    /// Offers hints to owners this node believes reachable. A hint whose owner left the ring
    /// goes to the key's current replicas instead (§4.9 reallocated the owner's ranges to them).
    pub(super) fn on_hint_handoff_timer(&mut self) {
        let mut offered: SmallMap<NodeId, usize> = SmallMap::new();
        let candidates: Vec<(HintId, NodeId, Key, Vec<Version>)> = self
            .durable
            .hints
            .iter()
            .map(|(id, hint)| (*id, hint.owner, hint.key.clone(), hint.versions.clone()))
            .collect();
        for (hint, owner, key, versions) in candidates {
            if self.has_departed(owner) {
                self.readdress_hint(hint, key, versions, &mut offered);
            } else if owner != self.id && self.is_reachable(owner) {
                let count = offered.entry(owner).or_default();
                if *count < HANDOFFS_PER_ROUND_MAX {
                    *count += 1;
                    self.send(owner, Message::HintHandoff { hint, key, versions });
                }
            }
        }
        self.set_timer(self.now_ms + self.config.hint_handoff_interval_ms, Timer::HintHandoff);
    }

    /// True if `owner` left the ring, or this node no longer knows it at all.
    fn has_departed(&self, owner: NodeId) -> bool {
        let status = self.durable.view.record(owner).map(|record| record.status);
        status.is_none_or(|status| status == MemberStatus::Left)
    }

    /// The key's top N on this node's current ring.
    fn current_replicas(&self, key: &str) -> Vec<NodeId> {
        if self.current_ring.is_empty() {
            return Vec::new();
        }
        self.current_ring.preference_list(ring_position(key.as_bytes()), self.config.replicas_n)
    }

    /// One round for a hint whose owner left: this node merges the versions if it is a current
    /// replica itself, offers them to the other replicas that have not confirmed yet, and
    /// deletes the hint once all of them hold the versions.
    fn readdress_hint(
        &mut self,
        hint: HintId,
        key: Key,
        versions: Vec<Version>,
        offered: &mut SmallMap<NodeId, usize>,
    ) {
        let replicas = self.current_replicas(&key);
        let confirmed = self.durable.hints.confirmed.get(&hint).cloned().unwrap_or_default();
        for replica in replicas.iter().copied().filter(|replica| !confirmed.contains(replica)) {
            let count = offered.entry(replica).or_default();
            if *count >= HANDOFFS_PER_ROUND_MAX {
                continue;
            }
            if replica == self.id {
                *count += 1;
                self.merge_versions(&key, &versions, self.id, RepairSource::HintedHandoff);
                self.confirm_readdressed_hint(hint, self.id);
            } else if self.is_reachable(replica) {
                *count += 1;
                self.send(
                    replica,
                    Message::HintHandoff { hint, key: key.clone(), versions: versions.clone() },
                );
            }
        }
    }

    /// Records that `replica`, a current replica of a departed owner's key, holds the hint's
    /// versions; deletes the hint once every current replica does.
    fn confirm_readdressed_hint(&mut self, hint: HintId, replica: NodeId) {
        let Some(stored) = self.durable.hints.hints.get(&hint) else { return };
        let key = stored.key.clone();
        let replicas = self.current_replicas(&key);
        let confirmed = self.durable.hints.confirmed.entry(hint).or_default();
        confirmed.insert(replica);
        if replicas.is_empty() || !replicas.iter().all(|replica| confirmed.contains(replica)) {
            return;
        }
        let (_, stored) = self.durable.hints.remove(Some(hint)).expect("checked above");
        self.durable_changed = true;
        self.observe(Observation::HintDelivered { hint, key, owner: stored.owner });
    }

    /// The owner (or, for a departed owner, a current replica of the key) takes the versions
    /// and confirms. A node that left the ring takes nothing: it no longer serves any range, so
    /// the stand-in must keep the hint until it learns where the key went.
    pub(super) fn on_hint_handoff(&mut self, from: NodeId, hint: HintId, key: Key, versions: Vec<Version>) {
        if self.status() == Some(MemberStatus::Left) {
            let reason = format!("hint {} handed to {}, which left the ring", hint.0, self.id);
            return self.observe(Observation::MessageRejected { from, reason });
        }
        let position = ring_position(key.as_bytes());
        if self.merge_versions(&key, &versions, from, RepairSource::HintedHandoff)
            && !self.current_ring.is_empty()
        {
            // The coordinator missed this replica; it may have missed others of the key too.
            let range = self.current_ring.range_of(position);
            self.queue_replicas_of(range, None);
        }
        self.send(from, Message::HintHandoffAck { hint });
    }

    /// Deletes a hint once its owner confirmed it; for a departed owner, once every current
    /// replica of the key confirmed. A confirmation from anyone else is forged.
    pub(super) fn on_hint_handoff_ack(&mut self, from: NodeId, hint: HintId) {
        let Some(stored) = self.durable.hints.hints.get(&hint) else { return };
        let owner = stored.owner;
        if owner == from {
            let (_, stored) = self.durable.hints.remove(Some(hint)).expect("checked above");
            self.durable_changed = true;
            return self.observe(Observation::HintDelivered { hint, key: stored.key, owner: from });
        }
        if self.has_departed(owner) && self.current_replicas(&stored.key).contains(&from) {
            return self.confirm_readdressed_hint(hint, from);
        }
        let reason = format!("{from} confirmed hint {} meant for {owner}", hint.0);
        self.observe(Observation::MessageRejected { from, reason });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::config::ClusterConfig;
    use crate::protocol::node::Output;
    use crate::protocol::vclock::VectorClock;

    fn version(node: u32, now_ms: u64) -> Version {
        let mut clock = VectorClock::new();
        clock.increment(NodeId(node), now_ms);
        Version { clock, value: vec![node as u8], written_at_ms: now_ms }
    }

    /// Node 1 of the default five-node cluster, its start-up outputs drained.
    fn node() -> Node {
        let mut node = Node::new(ClusterConfig::default(), NodeId(1), 7).unwrap();
        node.drain_outputs().for_each(drop);
        node
    }

    fn outputs(node: &mut Node) -> Vec<Output> {
        node.drain_outputs().collect()
    }

    /// The hint handoffs among `outputs`, as (to, hint, versions).
    fn handoffs(outputs: &[Output]) -> Vec<(NodeId, HintId, Vec<Version>)> {
        outputs
            .iter()
            .filter_map(|output| match output {
                Output::Send { to, message: Message::HintHandoff { hint, versions, .. } } => {
                    Some((*to, *hint, versions.clone()))
                }
                _ => None,
            })
            .collect()
    }

    fn observed(outputs: &[Output], wanted: impl Fn(&Observation) -> bool) -> bool {
        outputs.iter().any(|output| matches!(output, Output::Observe(observation) if wanted(observation)))
    }

    /// §4.6: hinted replicas for one owner and key are kept as one hint, whose versions are
    /// reconciled; a version that changes the hint gives it a new id, and it is counted once.
    #[test]
    fn hints_for_the_same_owner_and_key_share_one_entry_section_4_6() {
        let mut store = HintStore::default();
        let first = store.add(NodeId(2), "k".into(), version(1, 10), 10);
        assert_eq!(first.replaces, None);
        let second = store.add(NodeId(2), "k".into(), version(3, 20), 20);
        assert_eq!(second.replaces, Some(first.hint), "the same hint under a new id");
        assert_ne!(second.hint, first.hint);
        assert_eq!(store.len(), 1);
        assert_eq!(store.versions_of("k").count(), 2, "concurrent versions are both kept");
        let again = store.add(NodeId(2), "k".into(), version(3, 20), 20);
        assert_eq!((again.hint, again.replaces), (second.hint, Some(second.hint)), "nothing new, same id");
        let other = store.add(NodeId(4), "k".into(), version(1, 30), 30);
        assert_eq!(other.replaces, None, "another owner gets its own hint");
    }

    #[test]
    fn a_full_hint_store_drops_its_oldest_hint_section_4_6() {
        let mut store = HintStore::default();
        for index in 0..HINTS_MAX {
            let added = store.add(NodeId(2), format!("k{index}"), version(1, 1), 1);
            assert!(added.dropped.is_none());
        }
        let added = store.add(NodeId(2), "one more".into(), version(1, 1), 1);
        assert_eq!(added.dropped.map(|(id, hint)| (id, hint.key)), Some((HintId(1), "k0".to_string())));
        assert_eq!(store.len(), HINTS_MAX);
    }

    /// §4.6: a read finds its key's hints for every owner through the index of hinted keys, after
    /// appends, new ids, drops past the bound and removals, and after the store is written and
    /// read back (the index is rebuilt on reading).
    #[test]
    fn a_read_finds_its_keys_hints_for_every_owner_section_4_6() {
        let mut store = HintStore::default();
        for index in 0..HINTS_MAX as u64 + 40 {
            let (owner, key) = (NodeId(2 + (index % 3) as u32), format!("k{}", index % 1500));
            store.add(owner, key, version(1 + (index % 2) as u32, index), index);
        }
        let removed: Vec<HintId> = store.hints.keys().step_by(7).copied().collect();
        for id in removed {
            store.remove(Some(id));
        }
        let read_back: HintStore = postcard::from_bytes(&postcard::to_allocvec(&store).unwrap()).unwrap();
        for held in [&store, &read_back] {
            let counted: u64 = held.by_key.values().map(Cell::get).sum();
            assert_eq!(counted, held.hints.len() as u64, "every hint is counted under its key");
            let mut found = 0;
            for index in [0, 1, 2, 7, 499, 1000, 1499, 1500] {
                let key = format!("k{index}");
                let hinted = held.hints.values().filter(|hint| hint.key == key);
                let scanned = reconcile(&hinted.flat_map(|hint| hint.versions.clone()).collect::<Vec<_>>());
                assert_eq!(reconcile(&held.versions_of(&key).cloned().collect::<Vec<_>>()), scanned, "{key}");
                found += scanned.len();
            }
            assert!(found > 0, "some of the keys read have hints");
        }
    }

    /// §4.6: the stand-in may delete the hint "once the transfer succeeds". A version appended
    /// while an earlier handoff was on the wire was not transferred by it: that handoff's
    /// confirmation must leave it, and the next round delivers it.
    #[test]
    fn a_confirmation_of_an_earlier_handoff_keeps_a_version_appended_since_section_4_6() {
        let mut node = node();
        let owner = NodeId(2);
        node.store_hint(owner, NodeId(3), "k".into(), version(3, 10));
        node.handle_timer(1_000, Timer::HintHandoff);
        let first = handoffs(&outputs(&mut node));
        assert_eq!(first.len(), 1);
        let (_, in_flight, delivered) = first[0].clone();
        assert_eq!(delivered, vec![version(3, 10)]);
        node.store_hint(owner, NodeId(3), "k".into(), version(4, 1_005));
        node.handle_message(1_010, owner, Message::HintHandoffAck { hint: in_flight });
        drop(outputs(&mut node));
        assert!(
            node.durable().hints.versions_of("k").any(|kept| *kept == version(4, 1_005)),
            "the appended version is still hinted"
        );
        node.handle_timer(2_000, Timer::HintHandoff);
        let second = handoffs(&outputs(&mut node));
        assert_eq!(second.len(), 1);
        assert_eq!(second[0].2.len(), 2, "both concurrent versions go in the next handoff");
        node.handle_message(2_010, owner, Message::HintHandoffAck { hint: second[0].1 });
        let confirmed = outputs(&mut node);
        assert!(observed(&confirmed, |o| matches!(o, Observation::HintDelivered { .. })));
        assert!(node.durable().hints.is_empty());
    }

    /// §4.9: when a node leaves, its key ranges are reallocated; §4.6: a hint is kept until the
    /// replica is safe. A hint whose owner is gone goes to the key's current top N (this node
    /// merges it if it is one of them) and is deleted once all of them confirmed; a
    /// confirmation from a node outside the top N is refused.
    #[test]
    fn a_hint_whose_owner_left_goes_to_the_keys_current_replicas_section_4_6_and_4_9() {
        for key in ["k0", "k1", "k2", "k3", "k4", "k5"] {
            let mut node = node();
            let departed = NodeId(9);
            node.store_hint(departed, NodeId(3), key.into(), version(3, 10));
            let hint = *node.durable().hints.iter().next().unwrap().0;
            let replicas = node.ring().preference_list(ring_position(key.as_bytes()), 3);
            let outsider = (2..=5).map(NodeId).find(|peer| !replicas.contains(peer)).unwrap();
            node.handle_timer(1_000, Timer::HintHandoff);
            let round = outputs(&mut node);
            assert!(!observed(&round, |o| matches!(o, Observation::HintDropped { .. })), "{key}: {round:?}");
            let mut offered: Vec<NodeId> = handoffs(&round).into_iter().map(|(to, _, _)| to).collect();
            offered.sort();
            let others: Vec<NodeId> =
                replicas.iter().copied().filter(|replica| *replica != node.id()).collect();
            assert_eq!(
                offered,
                {
                    let mut others = others.clone();
                    others.sort();
                    others
                },
                "{key}"
            );
            let merged_here = node.durable().store.get(key) == [version(3, 10)];
            assert_eq!(merged_here, replicas.contains(&node.id()), "{key}: merged here iff a replica");
            node.handle_message(1_005, outsider, Message::HintHandoffAck { hint });
            let refused = outputs(&mut node);
            assert!(observed(&refused, |o| matches!(o, Observation::MessageRejected { .. })), "{key}");
            for (index, replica) in others.iter().enumerate() {
                assert_eq!(node.durable().hints.len(), 1, "{key}: kept until every replica confirmed");
                node.handle_message(1_010, *replica, Message::HintHandoffAck { hint });
                let confirmed = outputs(&mut node);
                let delivered = observed(&confirmed, |o| matches!(o, Observation::HintDelivered { .. }));
                assert_eq!(delivered, index + 1 == others.len(), "{key}");
            }
            assert!(node.durable().hints.is_empty(), "{key}");
        }
    }

    /// §4.9: a node that left serves no range any more; a hint handed to it would be lost with
    /// it, so it refuses the hint and the stand-in keeps it.
    #[test]
    fn a_node_that_left_the_ring_takes_no_hint_section_4_9() {
        let mut node = node();
        let mut record = node.durable.view.record(node.id()).cloned().unwrap();
        record.status = MemberStatus::Left;
        record.version += 1;
        node.durable.view.update_own(record);
        let handoff =
            Message::HintHandoff { hint: HintId(1), key: "k".into(), versions: vec![version(3, 10)] };
        node.handle_message(1_000, NodeId(2), handoff);
        let answered = outputs(&mut node);
        assert!(answered.iter().all(|output| !matches!(output, Output::Send { .. })), "{answered:?}");
        assert!(observed(&answered, |o| matches!(o, Observation::MessageRejected { .. })));
        assert!(node.durable().store.get("k").is_empty());
    }
}
