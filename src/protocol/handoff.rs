//! Hinted handoff (§4.6): a stand-in keeps a replica meant for an unreachable node apart from
//! its own data, and hands it back once the owner answers again.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::membership::MemberStatus;
use super::message::{HintId, Message};
use super::node::{Node, Timer};
use super::observation::{Observation, RepairSource};
use super::store::{reconcile, Version};
use super::types::{Key, NodeId};

/// Hints a node keeps at most; past it the oldest is dropped (and observed).
pub const HINTS_MAX: usize = 4096;
/// Hints handed off per owner per round.
pub const HANDOFFS_PER_ROUND_MAX: usize = 64;

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Hint {
    /// The top-N node this replica belongs to.
    pub owner: NodeId,
    pub key: Key,
    pub versions: Vec<Version>,
    pub stored_at_ms: u64,
}

/// The stand-in's separate store of hinted replicas (§4.6: "a separate local database").
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct HintStore {
    hints: BTreeMap<HintId, Hint>,
    next_id: u64,
}

impl HintStore {
    pub fn len(&self) -> usize {
        self.hints.len()
    }

    pub fn is_empty(&self) -> bool {
        self.hints.is_empty()
    }

    pub fn iter(&self) -> impl Iterator<Item = (&HintId, &Hint)> {
        self.hints.iter()
    }

    /// Versions of `key` held for any owner.
    pub fn versions_of<'a>(&'a self, key: &'a str) -> impl Iterator<Item = Version> + 'a {
        self.hints.values().filter(move |hint| hint.key == key).flat_map(|hint| hint.versions.iter().cloned())
    }

    /// Adds a version to the hint for (owner, key), creating it if needed. Returns the hint's
    /// id and the hint dropped to make room, if any.
    fn add(
        &mut self,
        owner: NodeId,
        key: Key,
        version: Version,
        now_ms: u64,
    ) -> (HintId, Option<(HintId, Hint)>) {
        if let Some((id, hint)) =
            self.hints.iter_mut().find(|(_, hint)| hint.owner == owner && hint.key == key)
        {
            hint.versions.push(version);
            hint.versions = reconcile(&hint.versions);
            return (*id, None);
        }
        let dropped = if self.hints.len() >= HINTS_MAX { self.hints.pop_first() } else { None };
        self.next_id += 1;
        let id = HintId(self.next_id);
        self.hints.insert(id, Hint { owner, key, versions: vec![version], stored_at_ms: now_ms });
        (id, dropped)
    }
}

impl Node {
    pub(super) fn store_hint(&mut self, owner: NodeId, coordinator: NodeId, key: Key, version: Version) {
        let (hint, dropped) = self.durable.hints.add(owner, key.clone(), version, self.now_ms);
        self.durable_changed = true;
        if let Some((dropped_id, dropped_hint)) = dropped {
            self.observe(Observation::HintDropped {
                hint: dropped_id,
                key: dropped_hint.key,
                owner: dropped_hint.owner,
                reason: format!("the hint store is full ({HINTS_MAX} hints)"),
            });
        }
        self.observe(Observation::HintStored { hint, key, intended_owner: owner, coordinator });
    }

    /// Offers hints to owners this node believes reachable. Hints for owners that left the
    /// ring have nobody to go to and are dropped.
    pub(super) fn on_hint_handoff_timer(&mut self) {
        self.drop_hints_of_departed_owners();
        let mut offered: BTreeMap<NodeId, usize> = BTreeMap::new();
        let candidates: Vec<(HintId, NodeId, Key, Vec<Version>)> = self
            .durable
            .hints
            .iter()
            .filter(|(_, hint)| hint.owner != self.id && self.is_reachable(hint.owner))
            .map(|(id, hint)| (*id, hint.owner, hint.key.clone(), hint.versions.clone()))
            .collect();
        for (hint, owner, key, versions) in candidates {
            let count = offered.entry(owner).or_default();
            if *count < HANDOFFS_PER_ROUND_MAX {
                *count += 1;
                self.send(owner, Message::HintHandoff { hint, key, versions });
            }
        }
        self.set_timer(self.now_ms + self.config.hint_handoff_interval_ms, Timer::HintHandoff);
    }

    fn drop_hints_of_departed_owners(&mut self) {
        let departed: Vec<HintId> = self
            .durable
            .hints
            .iter()
            .filter(|(_, hint)| {
                let status = self.durable.view.record(hint.owner).map(|record| record.status);
                status.is_none_or(|status| status == MemberStatus::Left)
            })
            .map(|(id, _)| *id)
            .collect();
        for id in departed {
            let hint = self.durable.hints.hints.remove(&id).expect("listed above");
            self.durable_changed = true;
            let reason = format!("{} left the ring", hint.owner);
            self.observe(Observation::HintDropped { hint: id, key: hint.key, owner: hint.owner, reason });
        }
    }

    /// The owner takes its replica back and confirms.
    pub(super) fn on_hint_handoff(&mut self, from: NodeId, hint: HintId, key: Key, versions: Vec<Version>) {
        self.merge_versions(&key, &versions, from, RepairSource::HintedHandoff);
        self.send(from, Message::HintHandoffAck { hint });
    }

    /// Deletes a hint once its owner confirmed it; a confirmation from anyone else is forged.
    pub(super) fn on_hint_handoff_ack(&mut self, from: NodeId, hint: HintId) {
        let Some(stored) = self.durable.hints.hints.get(&hint) else { return };
        if stored.owner != from {
            let reason = format!("{from} confirmed hint {} meant for {}", hint.0, stored.owner);
            return self.observe(Observation::MessageRejected { from, reason });
        }
        let stored = self.durable.hints.hints.remove(&hint).expect("checked above");
        self.durable_changed = true;
        self.observe(Observation::HintDelivered { hint, key: stored.key, owner: from });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::vclock::VectorClock;

    fn version(node: u32, now_ms: u64) -> Version {
        let mut clock = VectorClock::new();
        clock.increment(NodeId(node), now_ms);
        Version { clock, value: vec![node as u8], written_at_ms: now_ms }
    }

    #[test]
    fn hints_for_the_same_owner_and_key_share_one_entry_section_4_6() {
        let mut store = HintStore::default();
        let (first, _) = store.add(NodeId(2), "k".into(), version(1, 10), 10);
        let (second, _) = store.add(NodeId(2), "k".into(), version(3, 20), 20);
        assert_eq!(first, second);
        assert_eq!(store.len(), 1);
        assert_eq!(store.versions_of("k").count(), 2, "concurrent versions are both kept");
        let (other, _) = store.add(NodeId(4), "k".into(), version(1, 30), 30);
        assert_ne!(other, first, "another owner gets its own hint");
    }

    #[test]
    fn a_full_hint_store_drops_its_oldest_hint_section_4_6() {
        let mut store = HintStore::default();
        for index in 0..HINTS_MAX {
            let (_, dropped) = store.add(NodeId(2), format!("k{index}"), version(1, 1), 1);
            assert!(dropped.is_none());
        }
        let (_, dropped) = store.add(NodeId(2), "one more".into(), version(1, 1), 1);
        assert_eq!(dropped.map(|(id, hint)| (id, hint.key)), Some((HintId(1), "k0".to_string())));
        assert_eq!(store.len(), HINTS_MAX);
    }
}
