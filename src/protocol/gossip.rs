//! Gossip membership (§4.8) and adding or removing nodes (§4.9). Views spread by push-pull gossip
//! with one random peer per interval, and now and then a seed: a digest of the view, then (only if
//! the views differ) the records' versions, then only the records that differ. A joiner pulls the
//! ranges it will hold from their current replicas before it turns Normal. Every node hands the
//! keys it holds but does not replicate to the nodes that do, range by range, and drops a range
//! only once every one of them confirmed the very contents it holds ("upon confirmation", §4.9): a
//! Normal node whenever the current ring displaces it, a leaver for everything it holds, to the
//! replicas of the ring once it is gone. Unconfirmed transfers are retried with a doubling timeout,
//! to the receivers the ring names at the time, so a receiver that leaves in turn is replaced
//! rather than waited for. A leaver turns Left once every receiver confirmed each of its ranges;
//! anything written to it meanwhile it still holds, and hands on from Left.
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

use super::membership::{MemberRecord, MemberStatus};
use super::message::{KeyVersions, Message};
use super::node::{Node, Timer};
use super::observation::{Observation, RepairSource, UnreachableReason};
use super::ring::{ring_position, Ring};
use super::small_map::SmallMap;
use super::store::sibling_set_digest;
use super::types::{fnv1a, KeyRange, NodeId, FNV_OFFSET_BASIS};

/// Every this many rounds a node gossips with a seed, so no logical partition lasts (§4.8.2).
pub const SEED_GOSSIP_EVERY_ROUNDS: u64 = 5;

/// A handed-over range's retry timeout doubles up to this many times: with the default 1 s
/// request timeout, a receiver that stays silent gets the range again every 8 s.
pub const HANDOVER_BACKOFF_DOUBLINGS_MAX: u32 = 3;

#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
enum Direction {
    /// A joiner asked for the range.
    Pull,
    /// A holder sent a range it does not replicate to the nodes that do, to drop it once they
    /// all confirmed: a displaced holder, or a leaver.
    Handover,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
struct PendingTransfer {
    range: KeyRange,
    peer: NodeId,
    /// Who to ask next if `peer` does not answer.
    candidates: Vec<NodeId>,
    direction: Direction,
    /// A handover: the digest of the range's contents as sent ([`Node::range_digest`]).
    digest: u64,
    /// A handover: how many times this receiver was sent the range without confirming.
    attempt: u32,
}

/// One range this node holds but does not replicate, on its way to the nodes that do.
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Handover {
    /// The replicas of the range on the ring the keys go to, in preference-list order.
    receivers: Vec<NodeId>,
    /// Receivers that confirmed, with the digest of the contents they confirmed.
    confirmed: SmallMap<NodeId, u64>,
    /// The transfer in flight to each receiver.
    in_flight: SmallMap<NodeId, u64>,
}

impl Handover {
    /// Every receiver confirmed the range at least once (not necessarily its latest contents).
    fn confirmed_once(&self) -> bool {
        !self.receivers.is_empty() && self.receivers.iter().all(|node| self.confirmed.contains_key(node))
    }
}

/// Range transfers this node is part of. At most one transfer per (range, receiver) is in
/// flight, and ranges are those of the ring, so both maps are bounded by the ring's ranges
/// times N (plus a joiner's pulls).
#[derive(Clone, Debug, Default, Serialize, Deserialize)]
pub struct Transfers {
    next_id: u64,
    pending: SmallMap<u64, PendingTransfer>,
    /// Ranges being handed over before they are dropped.
    handovers: SmallMap<KeyRange, Handover>,
    /// A join waits for a seed's view before it picks tokens.
    awaiting_view: bool,
}

impl Node {
    pub(super) fn on_gossip_timer(&mut self) {
        self.set_timer(self.now_ms + self.config.gossip_interval_ms, Timer::Gossip);
        self.gossip_round += 1;
        let seeds: Vec<NodeId> = self.config.seeds.iter().copied().filter(|seed| *seed != self.id).collect();
        let seed_round = self.gossip_round.is_multiple_of(SEED_GOSSIP_EVERY_ROUNDS) && !seeds.is_empty();
        // A seed round, or no live peer to pick (which draws nothing), goes to a seed.
        let peer = if seed_round { None } else { self.choose_live_peer() };
        if let Some(peer) = peer.or_else(|| self.choose(&seeds)) {
            self.send_gossip(peer);
        }
    }

    pub(super) fn send_gossip(&mut self, peer: NodeId) {
        self.assert_view_digest_current();
        self.observe(Observation::GossipSent { to: peer });
        self.send(peer, Message::Gossip { digest: self.view_digest });
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

    /// Step 1 reached the peer: views with the opener's digest agree already (§4.8).
    pub(super) fn on_gossip(&mut self, from: NodeId, digest: u64) {
        self.assert_view_digest_current();
        let versions = (digest != self.view_digest).then(|| self.durable.view.versions());
        self.send(from, Message::GossipReply { versions });
    }

    /// Step 2 reached the opener: it sends what the peer lacks and asks for what it lacks.
    pub(super) fn on_gossip_reply(&mut self, from: NodeId, versions: Option<Vec<(NodeId, u64)>>) {
        self.pending_gossip.remove(&from);
        let mut learned_everything = true;
        if let Some(versions) = versions {
            let (records, wanted) = self.durable.view.differences(&versions);
            learned_everything = wanted.is_empty();
            // Nothing differs when this view changed since step 1 to match the peer's.
            if !records.is_empty() || !wanted.is_empty() {
                self.send(from, Message::GossipRecords { records, wanted: Some(wanted) });
            }
        }
        if learned_everything {
            self.view_learned();
        }
    }

    /// Step 3 (`wanted` is `Some`) or 4 reached its end: merge, and answer step 3's wants.
    pub(super) fn on_gossip_records(
        &mut self,
        from: NodeId,
        records: Vec<MemberRecord>,
        wanted: Option<Vec<NodeId>>,
    ) {
        self.merge_records(from, &records);
        match wanted {
            Some(wanted) if !wanted.is_empty() => {
                let records = self.durable.view.records_of(&wanted);
                self.send(from, Message::GossipRecords { records, wanted: None });
            }
            Some(_) => {}
            None => self.view_learned(),
        }
    }

    /// The kept digest is the view's: every change of the view rebuilt it with the rings. A
    /// debug check only, since it reads every record (what keeping it saves).
    fn assert_view_digest_current(&self) {
        debug_assert_eq!(
            self.view_digest,
            self.durable.view.versions_digest(),
            "the view changed without its rings"
        );
    }

    /// A round this node opened gave it everything its peer knew: a join waiting for a seed's
    /// view can pick its tokens.
    fn view_learned(&mut self) {
        if std::mem::take(&mut self.transfers.awaiting_view) {
            self.plan_and_start_join();
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
        if let Some(record) = self.durable.view.plan_inherited_successors(self.config.strategy, self.id) {
            self.durable.view.update_own(record);
            self.refresh_rings();
        }
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
        let transfer = self.open_transfer(range, peer, candidates);
        self.send_range_request(peer, transfer, range);
    }

    fn open_transfer(&mut self, range: KeyRange, peer: NodeId, candidates: Vec<NodeId>) -> u64 {
        let pending =
            PendingTransfer { range, peer, candidates, direction: Direction::Pull, digest: 0, attempt: 0 };
        self.open_transfer_with(pending, self.config.request_timeout_ms)
    }

    /// Ids carry the node and its incarnation, so a confirmation from before a restart never
    /// matches a transfer opened after it.
    fn open_transfer_with(&mut self, pending: PendingTransfer, timeout_ms: u64) -> u64 {
        self.transfers.next_id += 1;
        let incarnation = self.durable.incarnation & 0xff;
        let transfer =
            (u64::from(self.id.0) << 40) | (incarnation << 32) | (self.transfers.next_id & 0xffff_ffff);
        self.transfers.pending.insert(transfer, pending);
        self.set_timer(self.now_ms + timeout_ms, Timer::Transfer(transfer));
        transfer
    }

    /// §4.9: the leaver hands what it holds to the nodes that replicate it once it is gone
    /// ([`Self::hand_off_displaced_keys`], run as its status changes), and turns Left once they
    /// all confirmed.
    pub(super) fn begin_leave(&mut self) {
        let Some(record) = self.durable.view.plan_leave(self.config.strategy, self.id) else {
            let reason = format!("{} cannot leave: it is not a normal member", self.id);
            return self.observe(Observation::MessageRejected { from: self.id, reason });
        };
        self.set_own_status(record);
        self.finish_membership_step_if_done();
    }

    fn send_range(&mut self, transfer: u64, range: KeyRange, to: NodeId) {
        let entries = self.entries_in_range(range);
        let keys = entries.len();
        self.observe(Observation::RangeTransferStarted { transfer, range, from: self.id, to, keys });
        self.send(to, Message::RangeTransfer { transfer, range, entries });
    }

    fn entries_in_range(&self, range: KeyRange) -> Vec<KeyVersions> {
        let store = &self.durable.store;
        store
            .in_range_by_key(range)
            .into_iter()
            .map(|key| (key.to_owned(), store.get(key).to_vec()))
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
        let pulled = self
            .transfers
            .pending
            .get(&transfer)
            .is_some_and(|pending| pending.peer == from && pending.direction == Direction::Pull);
        if pulled {
            self.transfers.pending.remove(&transfer);
        }
        self.observe(Observation::RangeTransferFinished { transfer, range, from, to: self.id, keys });
        self.finish_membership_step_if_done();
    }

    /// The receiver confirmed: a handover notes what it confirmed, and drops the range once
    /// every receiver confirmed its current contents.
    pub(super) fn on_range_transfer_ack(&mut self, from: NodeId, transfer: u64, range: KeyRange) {
        let ours = self.transfers.pending.get(&transfer).is_some_and(|p| p.peer == from && p.range == range);
        if !ours {
            return;
        }
        let pending = self.transfers.pending.remove(&transfer).expect("checked above");
        if pending.direction == Direction::Handover {
            if let Some(handover) = self.transfers.handovers.get_mut(&range) {
                if handover.in_flight.get(&from) == Some(&transfer) {
                    handover.in_flight.remove(&from);
                }
                if handover.receivers.contains(&from) {
                    handover.confirmed.insert(from, pending.digest);
                }
            }
            let digest = self.range_digest(range);
            self.settle_handover(range, digest);
        }
        self.finish_membership_step_if_done();
    }

    pub(super) fn on_transfer_timer(&mut self, transfer: u64) {
        let Some(mut pending) = self.transfers.pending.remove(&transfer) else { return };
        self.mark_unreachable(pending.peer, UnreachableReason::TransferTimeout);
        match pending.direction {
            Direction::Handover => {
                // Retry the same receiver, waiting longer each time, while the ring still names
                // it; a ring change re-planned the range already (§4.9: no drop unconfirmed).
                let range = pending.range;
                let Some(handover) = self.transfers.handovers.get_mut(&range) else { return };
                if handover.in_flight.get(&pending.peer) != Some(&transfer) {
                    return;
                }
                handover.in_flight.remove(&pending.peer);
                if handover.receivers.contains(&pending.peer) {
                    self.send_handover(range, pending.peer, pending.attempt.saturating_add(1));
                }
            }
            Direction::Pull if !pending.candidates.is_empty() => {
                let peer = pending.candidates.remove(0);
                let range = pending.range;
                let transfer = self.open_transfer(range, peer, pending.candidates);
                self.send_range_request(peer, transfer, range);
            }
            Direction::Pull => {
                // Nobody left to ask: anti-entropy repairs what was missed; the old holders
                // keep the range until the joiner confirms a handover of it.
                self.finish_membership_step_if_done();
            }
        }
    }

    /// A joiner becomes Normal once none of its pulls is pending; a leaver Left once every
    /// receiver confirmed each range it holds ([`Self::leave_handed_over`]).
    fn finish_membership_step_if_done(&mut self) {
        let Some(record) = self.durable.view.record(self.id).cloned() else { return };
        let next = match record.status {
            MemberStatus::Joining if !self.pulls_pending() => MemberStatus::Normal,
            MemberStatus::Leaving if self.leave_handed_over() => MemberStatus::Left,
            _ => return,
        };
        self.set_own_status(MemberRecord { status: next, version: record.version + 1, ..record });
        if let Some(peer) = self.choose_live_peer() {
            self.send_gossip(peer);
        }
    }

    fn pulls_pending(&self) -> bool {
        self.transfers.pending.values().any(|pending| pending.direction == Direction::Pull)
    }

    /// Whether a leaver has had the range of every key it holds confirmed by each of that
    /// range's receivers on the ring without it. A range written to since its confirmation
    /// stays held and is handed on from Left; a key no plan covers yet (it arrived since, or
    /// the node restarted) keeps it Leaving; so does an empty future ring, nobody to hand to.
    fn leave_handed_over(&self) -> bool {
        self.durable.store.in_ring_order().all(|(position, _)| {
            !self.future_ring.is_empty() && {
                let range = self.future_ring.range_of(position);
                self.transfers.handovers.get(&range).is_some_and(Handover::confirmed_once)
            }
        })
    }

    /// Plans the handover of every key this node holds but does not replicate (§4.9), as
    /// [`Self::placement`] says. Each such range goes to its N replicas there; plans of ranges
    /// that no longer need one are abandoned (their keys kept), transfers to receivers the ring
    /// no longer names are forgotten, and the rest are sent, or dropped if already confirmed.
    pub(super) fn hand_off_displaced_keys(&mut self) {
        let plan = displaced_ranges(&self.durable.store, &self.placement());
        let abandoned: Vec<KeyRange> =
            self.transfers.handovers.keys().filter(|range| !plan.contains_key(range)).copied().collect();
        for range in abandoned {
            self.abandon_handover(range);
        }
        for (range, (receivers, digest)) in plan {
            let handover = self.transfers.handovers.entry(range).or_default();
            if handover.receivers != receivers {
                handover.confirmed.retain(|node, _| receivers.contains(node));
                let replaced: Vec<u64> = handover
                    .in_flight
                    .iter()
                    .filter(|(node, _)| !receivers.contains(node))
                    .map(|(_, transfer)| *transfer)
                    .collect();
                handover.in_flight.retain(|node, _| receivers.contains(node));
                handover.receivers = receivers;
                for transfer in replaced {
                    self.transfers.pending.remove(&transfer);
                }
            }
            self.settle_handover(range, digest);
        }
        if self.status() == Some(MemberStatus::Leaving) {
            self.finish_membership_step_if_done();
        }
    }

    /// Where this node's keys belong. A leaver, or a node that has left, keeps nothing and
    /// hands each key to its replicas on the future ring, where it has no place. Any other node
    /// keeps what it replicates on the current ring or will on the future one (what a joiner
    /// pulled, or a leaver pushed to it), and hands the rest to the current replicas.
    fn placement(&self) -> Placement<'_> {
        let leaving = matches!(self.status(), Some(MemberStatus::Leaving | MemberStatus::Left));
        let (target, also_kept_on) = if leaving {
            (&*self.future_ring, None)
        } else {
            (&*self.current_ring, Some(&*self.future_ring))
        };
        Placement { target, also_kept_on, me: self.id, n: self.config.replicas_n }
    }

    /// Forgets the plan for `range` and its transfers in flight; the keys stay.
    fn abandon_handover(&mut self, range: KeyRange) {
        let Some(handover) = self.transfers.handovers.remove(&range) else { return };
        for transfer in handover.in_flight.values() {
            self.transfers.pending.remove(transfer);
        }
    }

    /// Drops `range` if every receiver confirmed the contents whose digest is `digest` (the
    /// range's now), else sends it to each receiver that has not and has nothing in flight.
    fn settle_handover(&mut self, range: KeyRange, digest: u64) {
        let Some(handover) = self.transfers.handovers.get(&range) else { return };
        if handover.receivers.is_empty() {
            return;
        }
        if handover.receivers.iter().all(|node| handover.confirmed.get(node) == Some(&digest)) {
            self.abandon_handover(range);
            return self.drop_range(range);
        }
        let unsent: Vec<NodeId> = handover
            .receivers
            .iter()
            .filter(|node| handover.confirmed.get(node) != Some(&digest))
            .filter(|node| !handover.in_flight.contains_key(node))
            .copied()
            .collect();
        for receiver in unsent {
            self.send_handover(range, receiver, 0);
        }
    }

    /// Sends `range`'s contents to `receiver`, waiting for its confirmation twice as long as
    /// last time, up to [`HANDOVER_BACKOFF_DOUBLINGS_MAX`] doublings.
    fn send_handover(&mut self, range: KeyRange, receiver: NodeId, attempt: u32) {
        let digest = self.range_digest(range);
        let pending = PendingTransfer {
            range,
            peer: receiver,
            candidates: Vec::new(),
            direction: Direction::Handover,
            digest,
            attempt,
        };
        let timeout_ms = self.config.request_timeout_ms << attempt.min(HANDOVER_BACKOFF_DOUBLINGS_MAX);
        let transfer = self.open_transfer_with(pending, timeout_ms);
        if let Some(handover) = self.transfers.handovers.get_mut(&range) {
            handover.in_flight.insert(receiver, transfer);
        }
        self.send_range(transfer, range, receiver);
    }

    /// A digest of this node's keys in `range` and their sibling sets: a receiver that
    /// confirmed contents of the same digest holds every version this node holds there.
    fn range_digest(&self, range: KeyRange) -> u64 {
        range_digest(&self.durable.store, range)
    }

    /// Every receiver confirmed what this node holds of `range`: drop the keys of it this node
    /// does not replicate.
    fn drop_range(&mut self, range: KeyRange) {
        let placement = self.placement();
        let held = self.durable.store.keys_in_range(range);
        let stale: Vec<String> =
            held.filter(|(position, _)| !placement.keeps(*position)).map(|(_, key)| key.clone()).collect();
        for key in &stale {
            self.durable.store.remove(key);
        }
        self.durable_changed = true;
        self.observe(Observation::RangeDropped { range, keys: stale.len() });
    }
}

/// Which keys a node keeps, and where the others go ([`Node::placement`]).
struct Placement<'a> {
    /// The ring whose replicas receive the keys this node does not keep.
    target: &'a Ring,
    /// Another ring on which being a replica also keeps a key.
    also_kept_on: Option<&'a Ring>,
    me: NodeId,
    n: usize,
}

impl Placement<'_> {
    fn keeps(&self, position: super::types::RingPosition) -> bool {
        let replicates =
            |ring: &Ring| !ring.is_empty() && ring.preference_list(position, self.n).contains(&self.me);
        replicates(self.target) || self.also_kept_on.is_some_and(replicates)
    }
}

/// FNV-1a over the key's bytes and its sibling set's digest, folded into `digest`.
fn digest_key(digest: u64, key: &str, sibling_set_digest: u64) -> u64 {
    fnv1a(digest, key.as_bytes().iter().copied().chain(sibling_set_digest.to_be_bytes()))
}

/// The ranges of the target ring holding keys of `store` that `placement` does not keep, each
/// with its N replicas there and the digest of all of the store's keys in it ([`range_digest`]:
/// what a transfer sends). None on an empty target ring, which has nobody to hand to.
///
/// It walks the store in ring order a range at a time: one preference list per range that holds
/// keys, and the keys of ranges this node replicates are skipped, not read.
fn displaced_ranges(
    store: &super::store::VersionedStore,
    placement: &Placement<'_>,
) -> BTreeMap<KeyRange, (Vec<NodeId>, u64)> {
    let ring = placement.target;
    let mut displaced: BTreeMap<KeyRange, (Vec<NodeId>, u64)> = BTreeMap::new();
    if ring.is_empty() {
        return displaced;
    }
    let mut positions = store.in_ring_order().map(|(position, _)| position).peekable();
    // The range that wraps past zero is met twice (its head and its tail), so is judged once.
    let mut judged_wrapping = false;
    // Each pass moves past one range that holds keys: bounded by the ring's ranges, plus one.
    while let Some(position) = positions.next() {
        let range = ring.range_of(position);
        let wraps = range.start_exclusive >= range.end_inclusive;
        if !(wraps && std::mem::replace(&mut judged_wrapping, true)) {
            let receivers = ring.preference_list(range.end_inclusive, placement.n);
            let keeps_all = receivers.contains(&placement.me)
                || store.keys_in_range(range).all(|(position, _)| placement.keeps(position));
            if !keeps_all {
                let digest = range_digest(store, range);
                displaced.insert(range, (receivers, digest));
            }
        }
        if range.is_whole_ring() || (wraps && position > range.end_inclusive) {
            break;
        }
        // Skip the rest of this range: every later key is past its end (or, for the wrapping
        // range's head, in its tail at the ring's end).
        while positions.next_if(|next| range.contains(*next) && *next <= range.end_inclusive).is_some() {}
    }
    displaced
}

/// A digest of `store`'s keys in `range` and their sibling sets: a receiver that confirmed
/// contents of the same digest holds every version the sender held there.
fn range_digest(store: &super::store::VersionedStore, range: KeyRange) -> u64 {
    let held = store.in_range_by_key(range).into_iter();
    held.fold(FNV_OFFSET_BASIS, |digest, key| digest_key(digest, key, sibling_set_digest(store.get(key))))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::config::ClusterConfig;
    use crate::protocol::message::{ClientOperation, ClientRequest, RequestId};
    use crate::protocol::node::{AdminCommand, BootView, Output};
    use std::collections::BTreeSet;
    use std::sync::Arc;

    /// A RangeTransfer the node sent.
    #[derive(Clone, Debug, PartialEq)]
    struct Sent {
        to: NodeId,
        transfer: u64,
        range: KeyRange,
        keys: usize,
    }

    /// The range transfers among `outputs`, and when each one's timer fires.
    fn transfers(outputs: &[Output]) -> (Vec<Sent>, BTreeMap<u64, u64>) {
        let mut sent = Vec::new();
        let mut timers = BTreeMap::new();
        for output in outputs {
            match output {
                Output::Send { to, message: Message::RangeTransfer { transfer, range, entries } } => {
                    sent.push(Sent { to: *to, transfer: *transfer, range: *range, keys: entries.len() });
                }
                Output::SetTimer { at_ms, timer: Timer::Transfer(transfer) } => {
                    timers.insert(*transfer, *at_ms);
                }
                _ => {}
            }
        }
        (sent, timers)
    }

    fn drained(node: &mut Node) -> Vec<Output> {
        node.drain_outputs().collect()
    }

    /// n1 of the default five, W = 1, holding one key it replicates that nobody else received
    /// (its writes to the other replicas are simply never delivered).
    fn n1_holding_a_key_alone() -> (Node, String) {
        let config = ClusterConfig { writes_w: 1, ..ClusterConfig::default() };
        let mut node = Node::new(config, NodeId(1), 11).unwrap();
        let key = (0..1000)
            .map(|index| format!("key{index}"))
            .find(|key| node.ring().preference_list(ring_position(key.as_bytes()), 3)[0] == NodeId(1))
            .unwrap();
        let operation = ClientOperation::Put { key: key.clone(), value: b"alone".to_vec(), context: None };
        node.handle_client(10, ClientRequest { id: RequestId(1), operation });
        drained(&mut node);
        assert_eq!(node.durable().store.get(&key).len(), 1);
        (node, key)
    }

    fn ack(node: &mut Node, now_ms: u64, sent: &Sent) {
        let message = Message::RangeTransferAck { transfer: sent.transfer, range: sent.range };
        node.handle_message(now_ms, sent.to, message);
    }

    /// Delivers every message `from` sent to `to` and back, until neither sends to the other;
    /// returns the messages in order.
    fn exchange(nodes: &mut [Node; 2], now_ms: u64) -> Vec<Message> {
        let mut log = Vec::new();
        let mut sender = 0;
        loop {
            let to = nodes[1 - sender].id;
            let sent: Vec<Message> = drained(&mut nodes[sender])
                .into_iter()
                .filter_map(|output| match output {
                    Output::Send { to: target, message } if target == to => Some(message),
                    _ => None,
                })
                .collect();
            if sent.is_empty() {
                return log;
            }
            let from = nodes[sender].id;
            for message in sent {
                log.push(message.clone());
                nodes[1 - sender].handle_message(now_ms, from, message);
            }
            sender = 1 - sender;
        }
    }

    fn bumped(node: &Node) -> MemberRecord {
        let mut record = node.durable.view.record(node.id).unwrap().clone();
        record.version += 1;
        record
    }

    /// §4.8: "each node contacts a peer chosen at random every second and the two nodes
    /// efficiently reconcile their persisted membership change histories". Views that agree
    /// cost a digest and a short answer; views that differ trade versions, then only the
    /// records each side lacks, and end equal.
    #[test]
    fn gossip_sends_only_the_records_that_differ_section_4_8() {
        let config = ClusterConfig::default();
        let mut nodes =
            [Node::new(config.clone(), NodeId(1), 3).unwrap(), Node::new(config, NodeId(2), 3).unwrap()];
        drained(&mut nodes[0]);
        drained(&mut nodes[1]);
        nodes[0].send_gossip(NodeId(2));
        let agreeing = exchange(&mut nodes, 10);
        assert!(
            matches!(agreeing[..], [Message::Gossip { .. }, Message::GossipReply { versions: None }]),
            "{agreeing:?}"
        );
        assert!(nodes[0].pending_gossip.is_empty(), "the answer ends the round's wait");

        for node in &mut nodes {
            let record = bumped(node);
            node.durable.view.update_own(record);
            node.refresh_rings();
        }
        nodes[0].send_gossip(NodeId(2));
        let differing = exchange(&mut nodes, 20);
        let records = |message: &Message| match message {
            Message::GossipRecords { records, .. } => records.iter().map(|record| record.node).collect(),
            _ => Vec::new(),
        };
        assert_eq!(differing.len(), 4, "{differing:?}");
        assert!(matches!(differing[1], Message::GossipReply { versions: Some(_) }));
        assert!(
            matches!(&differing[2], Message::GossipRecords { wanted: Some(wanted), .. } if *wanted == [NodeId(2)])
        );
        assert_eq!(records(&differing[2]), [NodeId(1)]);
        assert!(matches!(differing[3], Message::GossipRecords { wanted: None, .. }));
        assert_eq!(records(&differing[3]), [NodeId(2)]);
        assert_eq!(nodes[0].durable.view, nodes[1].durable.view);
        assert_eq!(nodes[0].durable.view.record(NodeId(2)).unwrap().version, 2);
    }

    /// §4.9: the old holder removes keys only "upon confirmation". A leaver whose receivers do
    /// not answer keeps the range and stays Leaving, sending it again to the same receivers
    /// with a timeout that doubles up to a bound; their confirmations then let it drop the
    /// range and turn Left.
    #[test]
    fn an_unconfirmed_leave_is_retried_with_backoff_and_nothing_dropped_section_4_9() {
        let (mut node, key) = n1_holding_a_key_alone();
        node.handle_admin(100, AdminCommand::Leave);
        let (mut sent, mut timers) = transfers(&drained(&mut node));
        let receivers: BTreeSet<NodeId> = sent.iter().map(|sent| sent.to).collect();
        assert_eq!(receivers.len(), 3, "every replica of the ring without n1 gets the range: {sent:?}");
        assert!(sent.iter().all(|sent| sent.keys == 1));
        let mut timeouts = Vec::new();
        let mut now_ms = 100;
        for _ in 0..6 {
            let (transfer, at_ms) =
                timers.iter().map(|(transfer, at_ms)| (*transfer, *at_ms)).next().unwrap();
            timeouts.push(at_ms - now_ms);
            now_ms = at_ms;
            for transfer in timers.keys().copied().collect::<Vec<_>>() {
                node.handle_timer(now_ms, Timer::Transfer(transfer));
            }
            assert!(timers.contains_key(&transfer));
            (sent, timers) = transfers(&drained(&mut node));
            assert_eq!(
                sent.iter().map(|sent| sent.to).collect::<BTreeSet<_>>(),
                receivers,
                "the same receivers"
            );
            assert_eq!(node.status(), Some(MemberStatus::Leaving));
            assert_eq!(node.durable().store.get(&key).len(), 1, "kept while unconfirmed");
        }
        assert_eq!(timeouts, [1_000, 2_000, 4_000, 8_000, 8_000, 8_000]);
        let (last, others) = sent.split_last().unwrap();
        for sent in others {
            ack(&mut node, now_ms + 1, sent);
        }
        assert_eq!(node.status(), Some(MemberStatus::Leaving), "one receiver has not confirmed");
        assert_eq!(node.durable().store.get(&key).len(), 1);
        ack(&mut node, now_ms + 2, last);
        assert_eq!(node.status(), Some(MemberStatus::Left));
        assert!(node.durable().store.is_empty(), "dropped once every receiver confirmed");
    }

    /// §4.9: the range goes to the replicas of the ring without the leaver. A receiver that
    /// starts leaving in turn is no longer one: the leaver re-plans from its future ring and
    /// waits for the replacement, not for the departing node.
    #[test]
    fn a_receiver_that_leaves_is_replaced_by_the_next_planned_one_section_4_9() {
        let (mut node, key) = n1_holding_a_key_alone();
        let their_view = node.durable().view.clone();
        node.handle_admin(100, AdminCommand::Leave);
        let (sent, _) = transfers(&drained(&mut node));
        let departing = sent[0].to;
        let leaving = their_view.plan_leave(node.config().strategy, departing).unwrap();
        let records = vec![leaving];
        node.handle_message(150, departing, Message::GossipRecords { records, wanted: Some(Vec::new()) });
        let (replanned, _) = transfers(&drained(&mut node));
        let position = ring_position(key.as_bytes());
        let planned = node.future_ring.preference_list(position, 3);
        assert!(!planned.contains(&departing));
        let replacement: Vec<NodeId> = replanned.iter().map(|sent| sent.to).collect();
        assert_eq!(replacement.len(), 1, "only the new receiver is sent the range: {replanned:?}");
        assert!(planned.contains(&replacement[0]) && !sent.iter().any(|sent| sent.to == replacement[0]));
        ack(&mut node, 160, &sent[0]);
        for sent in sent[1..].iter().chain(&replanned) {
            assert_eq!(node.status(), Some(MemberStatus::Leaving), "{sent:?} not yet confirmed");
            ack(&mut node, 170, sent);
        }
        assert_eq!(node.status(), Some(MemberStatus::Left));
        assert!(node.durable().store.is_empty());
    }

    /// §4.9: confirmation covers what was sent. A write that reaches the leaver after it sent
    /// the range is not dropped with it: the leaver turns Left once every receiver confirmed
    /// the range, but keeps the newer version and sends it again until that is confirmed too.
    #[test]
    fn a_write_after_the_transfer_is_handed_on_before_it_is_dropped_section_4_9() {
        let (mut node, key) = n1_holding_a_key_alone();
        node.handle_admin(100, AdminCommand::Leave);
        let (sent, _) = transfers(&drained(&mut node));
        let operation = ClientOperation::Put { key: key.clone(), value: b"later".to_vec(), context: None };
        node.handle_client(120, ClientRequest { id: RequestId(2), operation });
        drained(&mut node);
        for sent in &sent {
            ack(&mut node, 130, sent);
        }
        assert_eq!(node.status(), Some(MemberStatus::Left), "every receiver confirmed the range once");
        let held: Vec<&[u8]> =
            node.durable().store.get(&key).iter().map(|version| &version.value[..]).collect();
        assert_eq!(held, [b"later"], "the write after the transfer is kept");
        let (resent, _) = transfers(&drained(&mut node));
        assert_eq!(resent.len(), 3, "and sent again: {resent:?}");
        for sent in &resent {
            ack(&mut node, 140, sent);
        }
        assert!(node.durable().store.is_empty());
    }

    /// §4.9 across a crash: transfers are volatile, the leave is not. A leaver restarted from
    /// its disk plans its handover again at its next periodic check and still finishes.
    #[test]
    fn a_restarted_leaver_resumes_its_handover_section_4_9() {
        let (mut node, key) = n1_holding_a_key_alone();
        node.handle_admin(100, AdminCommand::Leave);
        drained(&mut node);
        let config = node.config().clone();
        let mut restarted = Node::restore(config, NodeId(1), 11, &node.durable_bytes()).unwrap();
        drained(&mut restarted);
        assert_eq!(restarted.status(), Some(MemberStatus::Leaving));
        restarted.handle_timer(5_000, Timer::AntiEntropy);
        let (sent, _) = transfers(&drained(&mut restarted));
        assert_eq!(sent.len(), 3, "{sent:?}");
        for sent in &sent {
            ack(&mut restarted, 5_010, sent);
        }
        assert_eq!(restarted.status(), Some(MemberStatus::Left));
        assert!(restarted.durable().store.get(&key).is_empty());
    }

    /// §4.8: a node's rings follow from its membership view alone. A node restarted from a disk
    /// whose view is still the one the cluster booted with may share the rings every node
    /// booted with; once its view has changed (here it is leaving), it must build its own.
    #[test]
    fn a_restart_shares_the_boot_rings_only_while_its_view_is_the_boot_view_section_4_8() {
        let (mut node, _) = n1_holding_a_key_alone();
        let config = node.config().clone();
        let boot = BootView::of(&config).unwrap();
        let booted = Node::booting(config.clone(), NodeId(1), 11, &boot).unwrap();
        let disk = node.durable_bytes();
        let mut shared = Node::restore_sharing(config.clone(), NodeId(1), 11, &disk, &boot).unwrap();
        let mut own = Node::restore(config.clone(), NodeId(1), 11, &disk).unwrap();
        assert!(Arc::ptr_eq(&shared.current_ring, &booted.current_ring), "the boot rings, shared");
        assert!(Arc::ptr_eq(&shared.future_ring, &booted.future_ring));
        assert!(!Arc::ptr_eq(&own.current_ring, &booted.current_ring));
        drained(&mut shared);
        drained(&mut own);
        assert_eq!(shared.state_bytes(), own.state_bytes(), "the same node either way");

        node.handle_admin(100, AdminCommand::Leave);
        drained(&mut node);
        let disk = node.durable_bytes();
        let mut leaver = Node::restore_sharing(config.clone(), NodeId(1), 11, &disk, &boot).unwrap();
        let mut own = Node::restore(config, NodeId(1), 11, &disk).unwrap();
        assert!(!Arc::ptr_eq(&leaver.future_ring, &booted.future_ring), "its own rings");
        assert_ne!(*leaver.future_ring, *booted.future_ring, "its view plans its leave");
        assert_eq!(*leaver.future_ring, *own.future_ring);
        assert_eq!(*leaver.current_ring, *own.current_ring);
        drained(&mut leaver);
        drained(&mut own);
        assert_eq!(leaver.state_bytes(), own.state_bytes());
    }
}
