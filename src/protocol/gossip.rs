//! Gossip membership (§4.8) and adding or removing nodes (§4.9). Views spread by push-pull
//! gossip with one random peer per interval, and now and then a seed. A joiner pulls the ranges
//! it will hold from their current replicas before it turns Normal; a leaver pushes its ranges
//! to their new replicas before it turns Left. Whenever the ring changes, a node holding keys
//! it no longer replicates hands them to the key's current replicas and drops them only after
//! every one of them confirmed.

use std::collections::{BTreeMap, BTreeSet};

use super::membership::{MemberRecord, MemberStatus};
use super::message::{KeyVersions, Message};
use super::node::{Node, Timer};
use super::observation::{Observation, RepairSource, UnreachableReason};
use super::ring::ring_position;
use super::types::{KeyRange, NodeId};

/// Every this many rounds a node gossips with a seed, so no logical partition lasts (§4.8.2).
pub const SEED_GOSSIP_EVERY_ROUNDS: u64 = 5;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Direction {
    /// A joiner asked for the range.
    Pull,
    /// A leaver sent the range unasked.
    Push,
    /// A displaced holder sent the range to its current replicas before dropping it.
    Handoff,
}

#[derive(Clone, Debug)]
struct PendingTransfer {
    range: KeyRange,
    peer: NodeId,
    /// Who to ask next if `peer` does not answer.
    candidates: Vec<NodeId>,
    direction: Direction,
}

/// Range transfers this node is part of.
#[derive(Clone, Debug, Default)]
pub struct Transfers {
    next_id: u64,
    pending: BTreeMap<u64, PendingTransfer>,
    /// Ranges being handed off before they are dropped, with the transfers still unconfirmed.
    handoffs: BTreeMap<KeyRange, BTreeSet<u64>>,
    /// A join waits for a seed's view before it picks tokens.
    awaiting_view: bool,
}

impl Node {
    pub(super) fn on_gossip_timer(&mut self) {
        self.set_timer(self.now_ms + self.config.gossip_interval_ms, Timer::Gossip);
        self.gossip_round += 1;
        let peers: Vec<NodeId> =
            self.durable.view.live_members().into_iter().filter(|node| *node != self.id).collect();
        let seeds: Vec<NodeId> = self.config.seeds.iter().copied().filter(|seed| *seed != self.id).collect();
        let seed_round = self.gossip_round.is_multiple_of(SEED_GOSSIP_EVERY_ROUNDS) && !seeds.is_empty();
        let candidates = if seed_round || peers.is_empty() { seeds } else { peers };
        if let Some(peer) = self.choose(&candidates) {
            self.send_gossip(peer);
        }
    }

    pub(super) fn send_gossip(&mut self, peer: NodeId) {
        let records: Vec<MemberRecord> = self.durable.view.records().cloned().collect();
        self.observe(Observation::GossipSent { to: peer });
        self.send(peer, Message::Gossip { records });
        self.pending_gossip.insert(peer, self.gossip_round);
        let round = self.gossip_round;
        self.set_timer(self.now_ms + self.config.replica_timeout_ms, Timer::GossipReply { peer, round });
    }

    pub(super) fn on_gossip_reply_timer(&mut self, peer: NodeId, round: u64) {
        if self.pending_gossip.get(&peer) == Some(&round) {
            self.pending_gossip.remove(&peer);
            self.mark_unreachable(peer, UnreachableReason::GossipTimeout);
        }
    }

    pub(super) fn on_gossip(&mut self, from: NodeId, records: Vec<MemberRecord>, wants_reply: bool) {
        self.merge_records(from, &records);
        if wants_reply {
            let records: Vec<MemberRecord> = self.durable.view.records().cloned().collect();
            self.send(from, Message::GossipReply { records });
        } else {
            self.pending_gossip.remove(&from);
            if std::mem::take(&mut self.transfers.awaiting_view) {
                self.plan_and_start_join();
            }
        }
    }

    /// Reconciles this node's view with `from`'s records (§4.8).
    fn merge_records(&mut self, from: NodeId, records: &[MemberRecord]) {
        let outcome = self.durable.view.merge(records);
        if outcome.rejected > 0 {
            let reason = format!("{} invalid membership records", outcome.rejected);
            self.observe(Observation::MessageRejected { from, reason });
        }
        if !outcome.changes.is_empty() {
            self.durable_changed = true;
            self.observe(Observation::GossipMerged { from, changes: outcome.changes });
            self.after_membership_change();
        }
    }

    fn after_membership_change(&mut self) {
        self.refresh_rings();
        if let Some(record) = self.durable.view.claim_inherited(self.id) {
            self.durable.view.update_own(record);
            self.refresh_rings();
        }
        self.hand_off_displaced_keys();
    }

    /// Changes this node's own record and tells the page.
    fn set_own_status(&mut self, record: MemberRecord) {
        let status = record.status;
        self.durable.view.update_own(record);
        self.durable_changed = true;
        self.observe(Observation::MembershipChanged { status });
        self.after_membership_change();
    }

    /// §4.8.1: an operator adds the node. It first learns the current view from a seed.
    pub(super) fn begin_join(&mut self) {
        if let Some(status) = self.status().filter(|status| *status != MemberStatus::Left) {
            let reason = format!("{} cannot join: it is already {status:?}", self.id);
            return self.observe(Observation::MessageRejected { from: self.id, reason });
        }
        if self.status() == Some(MemberStatus::Left) && !self.durable.view.handoff_settled(self.id) {
            // Rejoining now would replace the Left record before its successors claimed its
            // tokens, leaving a hole in the ring.
            let reason = format!("{} cannot rejoin until its successors took over its tokens", self.id);
            return self.observe(Observation::MessageRejected { from: self.id, reason });
        }
        let mut contacts: Vec<NodeId> =
            self.config.seeds.iter().copied().filter(|seed| *seed != self.id).collect();
        if contacts.is_empty() {
            contacts = self.durable.view.live_members().into_iter().filter(|node| *node != self.id).collect();
        }
        if contacts.is_empty() {
            let reason = format!("{} cannot join: it knows no seed or member", self.id);
            return self.observe(Observation::MessageRejected { from: self.id, reason });
        }
        self.transfers.awaiting_view = true;
        for contact in contacts.into_iter().take(4) {
            self.send_gossip(contact);
        }
    }

    fn plan_and_start_join(&mut self) {
        let record = self.durable.view.plan_join(self.config.strategy, self.id, &mut self.rng);
        self.set_own_status(record);
        let ranges = self.future_ring.ranges_replicated_by(self.id, self.config.replicas_n);
        for range in ranges {
            self.request_range(range);
        }
        if let Some(peer) = self.choose(&self.config.seeds.clone()).filter(|seed| *seed != self.id) {
            self.send_gossip(peer);
        }
        self.finish_membership_step_if_done();
    }

    /// Asks a current replica for `range`, the one the join displaces first: it is the one
    /// that will drop the range once this node confirms.
    fn request_range(&mut self, range: KeyRange) {
        let n = self.config.replicas_n;
        let current = self.current_ring.preference_list(range.end_inclusive, n);
        let future = self.future_ring.preference_list(range.end_inclusive, n);
        let (displaced, staying): (Vec<NodeId>, Vec<NodeId>) =
            current.into_iter().filter(|node| *node != self.id).partition(|node| !future.contains(node));
        let mut candidates: Vec<NodeId> = displaced.into_iter().chain(staying).collect();
        if candidates.is_empty() {
            return;
        }
        let peer = candidates.remove(0);
        let transfer = self.open_transfer(range, peer, candidates, Direction::Pull);
        self.send_range_request(peer, transfer, range);
    }

    fn open_transfer(
        &mut self,
        range: KeyRange,
        peer: NodeId,
        candidates: Vec<NodeId>,
        direction: Direction,
    ) -> u64 {
        self.transfers.next_id += 1;
        let transfer = (u64::from(self.id.0) << 40) | self.transfers.next_id;
        self.transfers.pending.insert(transfer, PendingTransfer { range, peer, candidates, direction });
        self.set_timer(self.now_ms + self.config.request_timeout_ms, Timer::Transfer(transfer));
        transfer
    }

    /// §4.9: the leaver hands each range it holds to the nodes that replicate it once it is gone.
    pub(super) fn begin_leave(&mut self) {
        let Some(record) = self.durable.view.plan_leave(self.config.strategy, self.id) else {
            let reason = format!("{} cannot leave: it is not a normal member", self.id);
            return self.observe(Observation::MessageRejected { from: self.id, reason });
        };
        let ranges = self.current_ring.ranges_replicated_by(self.id, self.config.replicas_n);
        self.set_own_status(record);
        for range in ranges {
            self.push_range(range);
        }
        self.finish_membership_step_if_done();
    }

    fn push_range(&mut self, range: KeyRange) {
        let n = self.config.replicas_n;
        let current = self.current_ring.preference_list(range.end_inclusive, n);
        let receivers: Vec<NodeId> = self
            .future_ring
            .preference_list(range.end_inclusive, n)
            .into_iter()
            .filter(|node| *node != self.id && !current.contains(node))
            .collect();
        for receiver in receivers {
            let transfer = self.open_transfer(range, receiver, Vec::new(), Direction::Push);
            self.send_range(transfer, range, receiver);
        }
    }

    fn send_range(&mut self, transfer: u64, range: KeyRange, to: NodeId) {
        let entries = self.entries_in_range(range);
        let keys = entries.len();
        self.observe(Observation::RangeTransferStarted { transfer, range, from: self.id, to, keys });
        self.send(to, Message::RangeTransfer { transfer, range, entries });
    }

    fn entries_in_range(&self, range: KeyRange) -> Vec<KeyVersions> {
        self.durable
            .store
            .keys()
            .filter(|(key, _)| range.contains(ring_position(key.as_bytes())))
            .map(|(key, versions)| (key.clone(), versions.to_vec()))
            .collect()
    }

    fn send_range_request(&mut self, peer: NodeId, transfer: u64, range: KeyRange) {
        let requester = self.durable.view.record(self.id).cloned().expect("a joiner has its own record");
        self.send(peer, Message::RangeRequest { transfer, range, requester });
    }

    pub(super) fn on_range_request(
        &mut self,
        from: NodeId,
        transfer: u64,
        range: KeyRange,
        requester: MemberRecord,
    ) {
        if requester.node != from {
            let reason = format!("{from} sent a range request carrying {}'s record", requester.node);
            return self.observe(Observation::MessageRejected { from, reason });
        }
        self.merge_records(from, std::slice::from_ref(&requester));
        self.send_range(transfer, range, from);
    }

    pub(super) fn on_range_transfer(
        &mut self,
        from: NodeId,
        transfer: u64,
        range: KeyRange,
        entries: Vec<KeyVersions>,
    ) {
        let keys = entries.len();
        for (key, versions) in entries {
            if range.contains(ring_position(key.as_bytes())) {
                self.merge_versions(&key, &versions, from, RepairSource::RangeTransfer);
            }
        }
        self.send(from, Message::RangeTransferAck { transfer, range });
        let pulled = self.transfers.pending.get(&transfer).is_some_and(|pending| pending.peer == from);
        if pulled {
            self.transfers.pending.remove(&transfer);
        }
        self.observe(Observation::RangeTransferFinished { transfer, range, from, to: self.id, keys });
        self.finish_membership_step_if_done();
    }

    /// The receiver confirmed: a leaver counts it towards leaving; a displaced holder drops
    /// the range once every current replica confirmed.
    pub(super) fn on_range_transfer_ack(&mut self, from: NodeId, transfer: u64, range: KeyRange) {
        let ours = self.transfers.pending.get(&transfer).is_some_and(|p| p.peer == from && p.range == range);
        if !ours {
            return;
        }
        let pending = self.transfers.pending.remove(&transfer).expect("checked above");
        match pending.direction {
            Direction::Handoff => self.confirm_handoff(range, transfer),
            Direction::Push | Direction::Pull => self.finish_membership_step_if_done(),
        }
    }

    pub(super) fn on_transfer_timer(&mut self, transfer: u64) {
        let Some(mut pending) = self.transfers.pending.remove(&transfer) else { return };
        self.mark_unreachable(pending.peer, UnreachableReason::TransferTimeout);
        if pending.direction == Direction::Handoff {
            // Keep the keys; the next ring check or anti-entropy round starts a new handoff.
            self.transfers.handoffs.remove(&pending.range);
            return;
        }
        if pending.direction == Direction::Pull && !pending.candidates.is_empty() {
            let peer = pending.candidates.remove(0);
            let range = pending.range;
            let transfer = self.open_transfer(range, peer, pending.candidates, Direction::Pull);
            self.send_range_request(peer, transfer, range);
            return;
        }
        // Nobody left to ask (or the receiver is gone): anti-entropy repairs what was missed.
        self.finish_membership_step_if_done();
    }

    /// A joiner becomes Normal, and a leaver Left, once no transfer is pending.
    fn finish_membership_step_if_done(&mut self) {
        if !self.transfers.pending.is_empty() {
            return;
        }
        let Some(record) = self.durable.view.record(self.id).cloned() else { return };
        let next = match record.status {
            MemberStatus::Joining => MemberStatus::Normal,
            MemberStatus::Leaving => MemberStatus::Left,
            MemberStatus::Normal | MemberStatus::Left => return,
        };
        self.set_own_status(MemberRecord { status: next, version: record.version + 1, ..record });
        let peers: Vec<NodeId> =
            self.durable.view.live_members().into_iter().filter(|node| *node != self.id).collect();
        if let Some(peer) = self.choose(&peers) {
            self.send_gossip(peer);
        }
        if next == MemberStatus::Left {
            self.drop_everything();
        }
    }

    /// Hands keys this node no longer replicates to their current replicas (§4.9), grouped by
    /// the ring's ranges; one handoff per range at a time.
    pub(super) fn hand_off_displaced_keys(&mut self) {
        if self.current_ring.is_empty() || self.status() == Some(MemberStatus::Left) {
            return;
        }
        let n = self.config.replicas_n;
        let mut displaced: BTreeSet<KeyRange> = BTreeSet::new();
        for (key, _) in self.durable.store.keys() {
            let position = ring_position(key.as_bytes());
            if !self.current_ring.preference_list(position, n).contains(&self.id) {
                displaced.insert(self.current_ring.range_of(position));
            }
        }
        for range in displaced {
            if self.transfers.handoffs.contains_key(&range) {
                continue;
            }
            let me = self.id;
            let receivers: Vec<NodeId> = self.current_ring.preference_list(range.end_inclusive, n);
            let mut transfers = BTreeSet::new();
            for receiver in receivers.into_iter().filter(|node| *node != me) {
                let transfer = self.open_transfer(range, receiver, Vec::new(), Direction::Handoff);
                self.send_range(transfer, range, receiver);
                transfers.insert(transfer);
            }
            self.transfers.handoffs.insert(range, transfers);
        }
    }

    /// Every current replica confirmed: drop the keys of `range` this node still does not
    /// replicate.
    fn confirm_handoff(&mut self, range: KeyRange, transfer: u64) {
        let Some(unconfirmed) = self.transfers.handoffs.get_mut(&range) else { return };
        unconfirmed.remove(&transfer);
        if !unconfirmed.is_empty() {
            return;
        }
        self.transfers.handoffs.remove(&range);
        let n = self.config.replicas_n;
        let stale: Vec<String> = self
            .durable
            .store
            .keys()
            .map(|(key, _)| key)
            .filter(|key| {
                let position = ring_position(key.as_bytes());
                range.contains(position) && !self.current_ring.preference_list(position, n).contains(&self.id)
            })
            .cloned()
            .collect();
        for key in &stale {
            self.durable.store.remove(key);
        }
        self.durable_changed = true;
        self.observe(Observation::RangeDropped { range, keys: stale.len() });
    }

    fn drop_everything(&mut self) {
        let keys: Vec<String> = self.durable.store.keys().map(|(key, _)| key.clone()).collect();
        for key in &keys {
            self.durable.store.remove(key);
        }
        self.durable_changed = true;
        let whole_ring = KeyRange { start_exclusive: 0, end_inclusive: 0 };
        self.observe(Observation::RangeDropped { range: whole_ring, keys: keys.len() });
    }
}
