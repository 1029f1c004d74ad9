//! Eventually consistent membership (§4.8): every node keeps one record per node it has heard
//! of, gossip merges views record by record, and ring ownership is resolved from the records
//! alone, so nodes holding the same view route requests on the same ring. Joins and leaves
//! (§4.9) move tokens under either partitioning strategy of §6.2.
//!
//! A token listed by several records belongs to the highest claim `(claim_epoch, node)`. A
//! leaving node names a successor for each token; those names count as claims at the leaver's
//! `claim_epoch + 1`, so ownership passes without a hole until each successor lists the
//! tokens in its own record ([`MembershipView::claim_inherited`]). A claim routes only to a
//! known node serving that ring (current: Normal or Leaving; future: Normal or Joining), so no
//! ring routes to a departed node whatever races gossip delivers. A successor that is itself
//! leaving passes the claim on to its own successor for the token; where that chain ends
//! nowhere (two nodes that left at once naming each other), a deterministic fallback heir
//! inherits the token until the named leaver plans a successor for it
//! ([`MembershipView::plan_inherited_successors`]). So under strategy 3 every partition handed
//! over keeps exactly one serving owner ([`MembershipView::coverage_gaps`]).

use std::collections::{BTreeMap, BTreeSet};

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use super::ring::{self, PartitionStrategy, Ring, Token};
use super::small_map::{SmallMap, SmallSet};
use super::types::IntoOrdered;
use super::types::{fnv1a, NodeId, FNV_OFFSET_BASIS, FNV_PRIME};

/// Most tokens one record may list.
pub const TOKENS_PER_NODE_MAX: usize = 1024;

/// Most nodes a view holds; gossip about further nodes is rejected.
pub const MEMBERS_MAX: usize = 1024;

/// Most partitions strategy 3 may configure: no view could hold more tokens.
pub const PARTITIONS_MAX: u32 = (MEMBERS_MAX * TOKENS_PER_NODE_MAX) as u32;

/// Largest version a gossiped record may carry: no honest node counts that high, and the
/// headroom keeps every later increment from overflowing.
pub const VERSION_MAX: u64 = u64::MAX / 2;

/// Where a node stands in joining or leaving the ring (§4.9).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum MemberStatus {
    Joining,
    Normal,
    Leaving,
    Left,
}

/// What one node says about itself; only that node ever writes it (§4.8).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub node: NodeId,
    pub status: MemberStatus,
    /// Sorted, without duplicates, at most [`TOKENS_PER_NODE_MAX`].
    pub tokens: Vec<Token>,
    /// A token listed by several records belongs to the highest `(claim_epoch, node)`.
    pub claim_epoch: u64,
    pub version: u64,
    /// While Leaving or Left under strategy 3: who inherits each token it hands over (its own,
    /// and any it was due to inherit from an earlier leaver), sorted by token.
    pub successors: Vec<(Token, NodeId)>,
}

/// One record replaced or added by a merge.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberChange {
    pub node: NodeId,
    pub status: MemberStatus,
    pub version: u64,
    pub previous: Option<MemberStatus>,
}

/// What a merge did: the records it applied and how many it refused as invalid.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MergeOutcome {
    pub changes: Vec<MemberChange>,
    pub rejected: usize,
}

/// One way a view's current ring fails to give every key a serving coordinator (see
/// [`MembershipView::coverage_gaps`]).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum CoverageGap {
    /// The ring has no token: no key has a coordinator.
    EmptyRing,
    /// Strategy 3: no token ends this partition, so its keys fall to the next token's owner.
    UnownedPartition { partition: u32 },
    /// Strategy 3: a token that ends no partition, splitting one between two owners.
    MisalignedToken { token: Token, owner: NodeId },
    /// A token routed to a node this view does not list as Normal or Leaving.
    OwnerNotServing { token: Token, owner: NodeId },
}

/// One record per known node. Deserializing does not validate: feed untrusted records to
/// [`MembershipView::merge`] instead (every method tolerates invalid records without panicking).
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct MembershipView {
    records: SmallMap<NodeId, MemberRecord>,
}

/// A claim on a token: the highest wins.
type Claim = (u64, NodeId);

/// Which ring to resolve: the one requests use now, or the one pending changes lead to.
#[derive(Clone, Copy, PartialEq, Eq)]
enum RingKind {
    Current,
    Future,
}

impl MembershipView {
    /// The view every initial member starts with (the cluster is configured, not joined): all
    /// Normal, version 1, claim epoch 0. Strategy 1 draws each node's tokens from a generator
    /// seeded by `token_seed` and its id; strategy 3 assigns partitions by successive joins in
    /// ascending `NodeId` order. Panics if the configuration exceeds [`MEMBERS_MAX`] members or
    /// [`TOKENS_PER_NODE_MAX`] tokens on a node.
    pub fn bootstrap(strategy: PartitionStrategy, members: &[NodeId], token_seed: u64) -> MembershipView {
        let members: SmallSet<NodeId> = members.iter().copied().collect();
        check_configuration(strategy, members.len());
        let tokens_by_node = match strategy {
            PartitionStrategy::RandomTokens { tokens_per_node } => {
                bootstrap_random_tokens(&members, tokens_per_node, token_seed)
            }
            PartitionStrategy::EqualPartitions { partitions } => bootstrap_partitions(&members, partitions),
        };
        let records = tokens_by_node
            .into_iter()
            .map(|(node, tokens)| {
                let record = MemberRecord {
                    node,
                    status: MemberStatus::Normal,
                    tokens,
                    claim_epoch: 0,
                    version: 1,
                    successors: Vec::new(),
                };
                (node, record)
            })
            .collect();
        MembershipView { records }
    }

    /// The record of `node`, if it is known.
    pub fn record(&self, node: NodeId) -> Option<&MemberRecord> {
        self.records.get(&node)
    }

    /// Every record, in ascending `NodeId` order.
    pub fn records(&self) -> impl Iterator<Item = &MemberRecord> {
        self.records.values()
    }

    /// The owner changes its own record. Panics unless the version grows: this is the node's own
    /// doing, never network input.
    pub fn update_own(&mut self, record: MemberRecord) {
        if let Some(existing) = self.records.get(&record.node) {
            assert!(
                record.version > existing.version,
                "{} must bump its version past {}, not write {}",
                record.node,
                existing.version,
                record.version
            );
        }
        self.records.insert(record.node, record);
    }

    /// Gossip (§4.8): per node, keeps the record with the higher version (on a tie, the one
    /// already held). Invalid records (see [`MemberRecord::is_valid`]) and records of nodes
    /// beyond [`MEMBERS_MAX`] are skipped and counted.
    pub fn merge(&mut self, incoming: &[MemberRecord]) -> MergeOutcome {
        let mut outcome = MergeOutcome::default();
        for record in incoming {
            if !record.is_valid() {
                outcome.rejected += 1;
                continue;
            }
            let previous = self.records.get(&record.node).map(|existing| (existing.version, existing.status));
            match previous {
                Some((version, _)) if version >= record.version => continue,
                None if self.records.len() >= MEMBERS_MAX => {
                    outcome.rejected += 1;
                    continue;
                }
                _ => {}
            }
            outcome.changes.push(MemberChange {
                node: record.node,
                status: record.status,
                version: record.version,
                previous: previous.map(|(_, status)| status),
            });
            self.records.insert(record.node, record.clone());
        }
        outcome
    }

    /// The ring requests are routed on (§4.8): tokens of Normal and Leaving members, plus a Left
    /// member's tokens at its successors; only Normal and Leaving nodes appear.
    pub fn current_ring(&self) -> Ring {
        ring_of(&self.resolve(RingKind::Current))
    }

    /// The ring once pending changes complete (§4.9): tokens of Normal and Joining members; a
    /// Leaving or Left member's tokens go to its successors or, without successors (strategy 1),
    /// vanish; only Normal and Joining nodes appear.
    pub fn future_ring(&self) -> Ring {
        ring_of(&self.resolve(RingKind::Future))
    }

    /// Nodes whose status is not Left, ascending.
    pub fn live_members(&self) -> Vec<NodeId> {
        self.records
            .values()
            .filter(|record| record.status != MemberStatus::Left)
            .map(|record| record.node)
            .collect()
    }

    /// The joiner's own Joining record (§4.9), claiming at one epoch above every claim in the
    /// view so that it wins the tokens it takes. Strategy 1: `tokens_per_node` tokens from `rng`.
    /// Strategy 3: its share of the partitions of the current ring by
    /// [`ring::assign_partitions_on_join`], which tolerates the unbalanced or incomplete
    /// assignments racing joins leave. Either way at most [`TOKENS_PER_NODE_MAX`] tokens, the
    /// lowest kept. Panics if Q exceeds [`PARTITIONS_MAX`], a configuration no view can hold.
    pub fn plan_join(
        &self,
        strategy: PartitionStrategy,
        joiner: NodeId,
        rng: &mut impl RngCore,
    ) -> MemberRecord {
        let tokens = match strategy {
            PartitionStrategy::RandomTokens { tokens_per_node } => {
                let count = tokens_per_node.min(TOKENS_PER_NODE_MAX as u32);
                sorted_tokens(ring::random_tokens(rng, count))
            }
            PartitionStrategy::EqualPartitions { partitions } => {
                self.partitions_for_joiner(joiner, partitions)
            }
        };
        MemberRecord {
            node: joiner,
            status: MemberStatus::Joining,
            tokens,
            claim_epoch: self.highest_claim_epoch().saturating_add(1),
            version: self.next_version(joiner),
            successors: Vec::new(),
        }
    }

    /// The leaver's own Leaving record (§4.9), or None unless it is a Normal member. It lists the
    /// tokens it owns in the current ring. Under strategy 3 it names successors, by
    /// [`ring::assign_partitions_on_leave`] over the partitions of the current ring held by
    /// Normal members, for every token it owns or may come to own (in either ring, or named as
    /// another leaver's successor), and claims at least as high as every claim naming it, so
    /// that no ring ever routes to it once it has left.
    pub fn plan_leave(&self, strategy: PartitionStrategy, leaver: NodeId) -> Option<MemberRecord> {
        let record = self.record(leaver).filter(|record| record.status == MemberStatus::Normal)?;
        let current = self.resolve(RingKind::Current);
        let handed_over = self.handed_over_by(leaver, &current);
        let successors = match strategy {
            PartitionStrategy::RandomTokens { .. } => Vec::new(),
            PartitionStrategy::EqualPartitions { partitions } => {
                self.successors_of(leaver, &current, handed_over.keys(), partitions)
            }
        };
        Some(MemberRecord {
            node: leaver,
            status: MemberStatus::Leaving,
            tokens: owned_by(&current, leaver).into_keys().collect(),
            claim_epoch: handed_over.values().fold(record.claim_epoch, |highest, epoch| highest.max(*epoch)),
            version: record.version.saturating_add(1),
            successors: successors.into_iter().take(TOKENS_PER_NODE_MAX).collect(),
        })
    }

    /// Strategy 3: `me`'s Leaving or Left record naming successors for the tokens another
    /// leaver's record hands to `me` that `me`'s own list does not cover yet, or None if there
    /// are none (or no Normal member to inherit them). Two nodes that leave at once each plan
    /// without knowing of the other and may name each other (§4.8 races); once the named one
    /// learns of it, it passes those tokens on by the same rule as [`Self::plan_leave`], so
    /// they reach planned successors instead of a fallback heir. Its claim epoch is unchanged:
    /// the chain of successors keeps the naming leaver's epoch.
    pub fn plan_inherited_successors(&self, strategy: PartitionStrategy, me: NodeId) -> Option<MemberRecord> {
        let PartitionStrategy::EqualPartitions { partitions } = strategy else { return None };
        let leaving =
            |record: &&MemberRecord| matches!(record.status, MemberStatus::Leaving | MemberStatus::Left);
        let record = self.record(me).filter(leaving)?;
        let listed: BTreeSet<Token> = record.successors.iter().map(|(token, _)| *token).into_btree_set();
        let named: BTreeSet<Token> = self
            .records
            .values()
            .filter(|other| other.node != me)
            .filter(leaving)
            .flat_map(|other| other.successors.iter())
            .filter(|(token, successor)| *successor == me && !listed.contains(token))
            .map(|(token, _)| *token)
            .into_btree_set();
        if named.is_empty() {
            return None;
        }
        let current = self.resolve(RingKind::Current);
        let added = self.successors_of(me, &current, named.iter(), partitions);
        if added.is_empty() {
            return None;
        }
        let mut successors: BTreeMap<Token, NodeId> = added.into_iter().into_btree_map();
        successors.extend(record.successors.iter().copied());
        Some(MemberRecord {
            successors: successors.into_iter().take(TOKENS_PER_NODE_MAX).collect(),
            version: record.version.saturating_add(1),
            ..record.clone()
        })
    }

    /// Whether this view's current ring gives every key a serving coordinator, as a checker
    /// asks of a node's view (§4.8, §4.9): empty if it does, else every gap found, in the order
    /// of the variants of [`CoverageGap`]. Strategy 3: each of the Q partitions must end at a
    /// token (no other tokens) owned by a member this view lists as Normal or Leaving.
    /// Strategy 1: the ring must hold a token, and every token be owned by such a member.
    /// Whether those members are actually up is for the caller to judge; a view only knows
    /// what gossip told it. Pure, at most Q + one gap per token.
    pub fn coverage_gaps(&self, strategy: PartitionStrategy) -> Vec<CoverageGap> {
        let ring = self.current_ring();
        if ring.is_empty() {
            return vec![CoverageGap::EmptyRing];
        }
        let mut gaps = Vec::new();
        if let PartitionStrategy::EqualPartitions { partitions } = strategy {
            gaps.extend(
                ring.uncovered_partitions(partitions)
                    .into_iter()
                    .map(|partition| CoverageGap::UnownedPartition { partition }),
            );
            gaps.extend(
                ring.tokens()
                    .iter()
                    .filter(|(token, _)| partitions == 0 || partition_ending_at(*token, partitions).is_none())
                    .map(|(token, owner)| CoverageGap::MisalignedToken { token: *token, owner: *owner }),
            );
        }
        let serving = |owner: &NodeId| {
            self.record(*owner)
                .is_some_and(|record| matches!(record.status, MemberStatus::Normal | MemberStatus::Leaving))
        };
        gaps.extend(
            ring.tokens()
                .iter()
                .filter(|(_, owner)| !serving(owner))
                .map(|(token, owner)| CoverageGap::OwnerNotServing { token: *token, owner: *owner }),
        );
        gaps
    }

    /// The leaver's own Left record once it has handed off its data (§4.9), or None unless it is
    /// Leaving. It keeps its successors so that its tokens stay routed to them.
    pub fn plan_left(&self, leaver: NodeId) -> Option<MemberRecord> {
        let record = self.record(leaver).filter(|record| record.status == MemberStatus::Leaving)?;
        Some(MemberRecord {
            status: MemberStatus::Left,
            version: record.version.saturating_add(1),
            ..record.clone()
        })
    }

    /// The joiner's own Normal record once it has received its data (§4.9), or None unless it is
    /// Joining.
    pub fn plan_normal(&self, joiner: NodeId) -> Option<MemberRecord> {
        let record = self.record(joiner).filter(|record| record.status == MemberStatus::Joining)?;
        Some(MemberRecord {
            status: MemberStatus::Normal,
            version: record.version.saturating_add(1),
            ..record.clone()
        })
    }

    /// `me`'s own record listing exactly the tokens it owns in the current ring (§4.9): those
    /// inherited from Left members are added, those lost to a higher claim dropped, and the claim
    /// epoch raised to the inherited claims' (`leaver + 1`), so the ring does not change. None if
    /// `me` is neither Normal nor Leaving (a Leaving heir must claim too, so that the Left
    /// record stops mattering), or if nothing changes. At most [`TOKENS_PER_NODE_MAX`] tokens,
    /// the lowest kept; the Left records keep routing any others.
    pub fn claim_inherited(&self, me: NodeId) -> Option<MemberRecord> {
        let serving =
            |record: &&MemberRecord| matches!(record.status, MemberStatus::Normal | MemberStatus::Leaving);
        let record = self.record(me).filter(serving)?;
        let tokens: Vec<Token> = self
            .resolve(RingKind::Current)
            .into_iter()
            .filter(|(_, (_, owner))| *owner == me)
            .map(|(token, _)| token)
            .take(TOKENS_PER_NODE_MAX)
            .collect();
        let claim_epoch = record.claim_epoch.max(self.inherited_claim_epoch(me, &tokens));
        if tokens == record.tokens && claim_epoch == record.claim_epoch {
            return None;
        }
        Some(MemberRecord {
            tokens,
            claim_epoch,
            version: record.version.saturating_add(1),
            ..record.clone()
        })
    }

    /// Whether `leaver`'s successor list no longer matters: dropping it would change neither
    /// ring, because the heirs have claimed its tokens or higher claims took them. A Left node
    /// should rejoin only then, since its Joining record replaces the Left one (§4.9).
    pub fn handoff_settled(&self, leaver: NodeId) -> bool {
        [RingKind::Current, RingKind::Future].into_iter().all(|kind| {
            ring_of(&self.resolve_without_successors_of(kind, Some(leaver))) == ring_of(&self.resolve(kind))
        })
    }

    /// Each record's node and version, ascending by node: all that gossip needs to know of a
    /// view to tell which records differ, since a merge keeps the higher version.
    pub fn versions(&self) -> Vec<(NodeId, u64)> {
        self.records.values().map(|record| (record.node, record.version)).collect()
    }

    /// Against a peer's [`MembershipView::versions`] (ascending by node): the records this view
    /// holds newer or the peer lacks, and the nodes whose records the peer holds newer or this
    /// view lacks. One walk over both lists.
    pub fn differences(&self, theirs: &[(NodeId, u64)]) -> (Vec<MemberRecord>, Vec<NodeId>) {
        let mut newer = Vec::new();
        let mut wanted = Vec::new();
        let mut ours = self.records.values().peekable();
        let mut theirs = theirs.iter().peekable();
        loop {
            match (ours.peek(), theirs.peek()) {
                (None, None) => break,
                (Some(record), Some((node, _))) if record.node < *node => {
                    newer.push((*record).clone());
                    ours.next();
                }
                (Some(record), None) => {
                    newer.push((*record).clone());
                    ours.next();
                }
                (Some(record), Some((node, version))) if record.node == *node => {
                    if record.version > *version {
                        newer.push((*record).clone());
                    } else if record.version < *version {
                        wanted.push(*node);
                    }
                    ours.next();
                    theirs.next();
                }
                (_, Some((node, _))) => {
                    wanted.push(*node);
                    theirs.next();
                }
            }
        }
        (newer, wanted)
    }

    /// The records of `nodes` this view holds.
    pub fn records_of(&self, nodes: &[NodeId]) -> Vec<MemberRecord> {
        nodes.iter().filter_map(|node| self.records.get(node)).cloned().collect()
    }

    /// A digest of which records the view holds and at what version: equal views have equal
    /// digests. Each step (xor a word, multiply by an odd prime) is a bijection of the digest so
    /// far, so two views that differ in one record's version never share a digest; views that
    /// differ more share one only by a 2^-64 coincidence.
    pub fn versions_digest(&self) -> u64 {
        self.records.values().fold(FNV_OFFSET_BASIS, |digest, record| {
            let digest = (digest ^ u64::from(record.node.0)).wrapping_mul(FNV_PRIME);
            (digest ^ record.version).wrapping_mul(FNV_PRIME)
        })
    }

    /// A digest of the current ring (token → owner), FNV-1a over big-endian bytes so that it is
    /// the same on every architecture: nodes that agree on the ring agree on it.
    pub fn ring_digest(&self) -> u64 {
        self.current_ring().tokens().iter().fold(FNV_OFFSET_BASIS, |digest, (token, owner)| {
            fnv1a(digest, token.to_be_bytes().into_iter().chain(owner.0.to_be_bytes()))
        })
    }

    /// The winning claim on every token of the requested ring.
    fn resolve(&self, kind: RingKind) -> BTreeMap<Token, Claim> {
        self.resolve_without_successors_of(kind, None)
    }

    /// As [`Self::resolve`], ignoring the successor list of `ignored`, if any.
    ///
    /// A successor claim naming a node that does not serve this ring follows that node's own
    /// successor for the token, and so on (a chain of leavers, §4.9). A chain that ends nowhere
    /// (concurrent leavers naming each other before either knew of the other, §4.8 races) is a
    /// dead end: if no other claim on the token counts, the token goes to a fallback heir
    /// ([`fallback_heir`]) rather than vanish, so that a partition handed over is never a
    /// hole the next token's owner covers.
    fn resolve_without_successors_of(
        &self,
        kind: RingKind,
        ignored: Option<NodeId>,
    ) -> BTreeMap<Token, Claim> {
        let mut winners: BTreeMap<Token, Claim> = BTreeMap::new();
        let mut dead_ends: BTreeMap<Token, u64> = BTreeMap::new();
        for record in self.records.values() {
            let successors_considered = Some(record.node) != ignored;
            for (token, (epoch, named)) in claims_of(record, kind, successors_considered) {
                match self.redirect(token, named, kind, ignored) {
                    Some(owner) => {
                        let winner = winners.entry(token).or_insert((epoch, owner));
                        *winner = (*winner).max((epoch, owner));
                    }
                    None => {
                        let highest = dead_ends.entry(token).or_insert(epoch);
                        *highest = (*highest).max(epoch);
                    }
                }
            }
        }
        let heirs = self.fallback_heirs(kind);
        for (token, epoch) in dead_ends {
            if let (None, Some(heir)) = (winners.get(&token), fallback_heir(token, &heirs)) {
                winners.insert(token, (epoch, heir));
            }
        }
        winners
    }

    /// Where a claim naming `named` on `token` routes on that ring: `named` itself if it serves
    /// it, else the successor a leaving `named` lists for the token, followed as far as the
    /// records go (a cycle or a missing successor is a dead end, None). `ignored`'s successor
    /// list is not followed.
    fn redirect(
        &self,
        token: Token,
        named: NodeId,
        kind: RingKind,
        ignored: Option<NodeId>,
    ) -> Option<NodeId> {
        let mut node = named;
        // Each hop visits another record; more hops than records means a cycle.
        for _ in 0..=self.records.len() {
            if self.serves(node, kind) {
                return Some(node);
            }
            let record = self.record(node).filter(|_| Some(node) != ignored)?;
            if !matches!(record.status, MemberStatus::Leaving | MemberStatus::Left) {
                return None;
            }
            let index = record.successors.binary_search_by_key(&token, |(listed, _)| *listed).ok()?;
            node = record.successors[index].1;
        }
        None
    }

    /// The members that may inherit a dead-end token on that ring, ascending: the Normal ones,
    /// or (none being Normal) any serving it.
    fn fallback_heirs(&self, kind: RingKind) -> Vec<NodeId> {
        let normal: Vec<NodeId> = self
            .records
            .values()
            .filter(|record| record.status == MemberStatus::Normal)
            .map(|record| record.node)
            .collect();
        if !normal.is_empty() {
            return normal;
        }
        self.records.values().map(|record| record.node).filter(|node| self.serves(*node, kind)).collect()
    }

    /// Whether `node` is known and may be routed to on that ring. A claim naming anyone else
    /// is redirected ([`Self::redirect`]), so no ring routes to a departed node.
    fn serves(&self, node: NodeId, kind: RingKind) -> bool {
        self.record(node).is_some_and(|record| match record.status {
            MemberStatus::Normal => true,
            MemberStatus::Leaving => kind == RingKind::Current,
            MemberStatus::Joining => kind == RingKind::Future,
            MemberStatus::Left => false,
        })
    }

    /// Every token that routes, or may come to route, to `leaver`, with the epoch of the highest
    /// claim naming it there.
    fn handed_over_by(&self, leaver: NodeId, current: &BTreeMap<Token, Claim>) -> BTreeMap<Token, u64> {
        let owned_now = owned_by(current, leaver);
        let owned_later = owned_by(&self.resolve(RingKind::Future), leaver);
        let mut handed_over: BTreeMap<Token, u64> = BTreeMap::new();
        let mut note = |token: Token, epoch: u64| {
            let highest = handed_over.entry(token).or_insert(epoch);
            *highest = (*highest).max(epoch);
        };
        for (token, (epoch, _)) in owned_now.into_iter().chain(owned_later) {
            note(token, epoch);
        }
        let leavers = self.records.values().filter(|record| record.node != leaver);
        for record in
            leavers.filter(|record| matches!(record.status, MemberStatus::Leaving | MemberStatus::Left))
        {
            for (token, _) in record.successors.iter().filter(|(_, successor)| *successor == leaver) {
                note(*token, record.claim_epoch.saturating_add(1));
            }
        }
        handed_over
    }

    /// The highest claim epoch in the view, successors' claims included.
    fn highest_claim_epoch(&self) -> u64 {
        self.records
            .values()
            .map(|record| {
                let successor_epoch =
                    if record.successors.is_empty() { 0 } else { record.claim_epoch.saturating_add(1) };
                record.claim_epoch.max(successor_epoch)
            })
            .max()
            .unwrap_or(0)
    }

    /// The epoch `me` must claim at so that, listing `tokens`, no successor claim on them can
    /// ever take them back: that of each claim naming `me`, and one above each claim naming
    /// another node (a dead end `me` inherited as fallback heir, which would otherwise win again
    /// if the node it names rejoined). 0 if there is none.
    fn inherited_claim_epoch(&self, me: NodeId, tokens: &[Token]) -> u64 {
        let mut highest = 0;
        for record in self.records.values().filter(|record| record.node != me) {
            if !matches!(record.status, MemberStatus::Leaving | MemberStatus::Left) {
                continue;
            }
            let epoch = record.claim_epoch.saturating_add(1);
            for (token, successor) in &record.successors {
                if tokens.binary_search(token).is_ok() {
                    let needed = if *successor == me { epoch } else { epoch.saturating_add(1) };
                    highest = highest.max(needed);
                }
            }
        }
        highest
    }

    fn next_version(&self, node: NodeId) -> u64 {
        self.record(node).map_or(1, |record| record.version.saturating_add(1))
    }

    /// Strategy 3: the partition tokens the joiner takes from the current ring. The joiner's own
    /// partitions, if the view still credits it any, count as unowned so it takes them back.
    fn partitions_for_joiner(&self, joiner: NodeId, partitions: u32) -> Vec<Token> {
        assert!(partitions <= PARTITIONS_MAX, "at most {PARTITIONS_MAX} partitions, not {partitions}");
        if partitions == 0 {
            return Vec::new();
        }
        let mut assignment = partition_assignment(&self.resolve(RingKind::Current), partitions);
        assignment.remove(&joiner);
        let next = ring::assign_partitions_on_join(&assignment, joiner, partitions);
        let taken = next.get(&joiner).into_iter().flatten().take(TOKENS_PER_NODE_MAX);
        taken.map(|partition| ring::partition_token(*partition, partitions)).collect()
    }

    /// Strategy 3: who inherits each of the `handed_over` partition tokens, sorted by token.
    /// Only Normal members inherit, each counted with the partitions it owns in the current ring.
    fn successors_of<'a>(
        &self,
        leaver: NodeId,
        current: &BTreeMap<Token, Claim>,
        handed_over: impl Iterator<Item = &'a Token>,
        partitions: u32,
    ) -> Vec<(Token, NodeId)> {
        if partitions == 0 {
            return Vec::new();
        }
        let owned = partition_assignment(current, partitions);
        let mut assignment: ring::Assignment = self
            .records
            .values()
            .filter(|record| record.status == MemberStatus::Normal)
            .map(|record| (record.node, owned.get(&record.node).cloned().unwrap_or_default()))
            .collect();
        let leaver_partitions: BTreeSet<u32> =
            handed_over.filter_map(|token| partition_ending_at(*token, partitions)).into_btree_set();
        assignment.insert(leaver, leaver_partitions.clone());
        let next = ring::assign_partitions_on_leave(&assignment, leaver);
        let inherited = next.iter().flat_map(|(node, partitions_held)| {
            partitions_held.intersection(&leaver_partitions).map(move |partition| (*partition, *node))
        });
        let by_token: BTreeMap<Token, NodeId> = inherited
            .map(|(partition, node)| (ring::partition_token(partition, partitions), node))
            .into_btree_map();
        by_token.into_iter().collect()
    }
}

impl MemberRecord {
    /// Whether a gossiped record is well formed: tokens sorted without duplicates and at most
    /// [`TOKENS_PER_NODE_MAX`]; a version at most [`VERSION_MAX`]; successors only on Leaving or
    /// Left records, at most [`TOKENS_PER_NODE_MAX`], sorted by token without duplicates, naming
    /// other nodes.
    pub fn is_valid(&self) -> bool {
        let tokens_valid = self.tokens.len() <= TOKENS_PER_NODE_MAX && strictly_ascending(&self.tokens);
        tokens_valid && self.successors_valid() && self.version <= VERSION_MAX
    }

    /// Successors may name tokens the record does not list: a leaver also hands over the tokens
    /// it was due to inherit from an earlier leaver.
    fn successors_valid(&self) -> bool {
        let may_have_successors = matches!(self.status, MemberStatus::Leaving | MemberStatus::Left);
        let successor_tokens: Vec<Token> = self.successors.iter().map(|(token, _)| *token).collect();
        (may_have_successors || self.successors.is_empty())
            && self.successors.len() <= TOKENS_PER_NODE_MAX
            && strictly_ascending(&successor_tokens)
            && self.successors.iter().all(|(_, successor)| *successor != self.node)
    }
}

/// Panics on a configuration no view can hold: bootstrap is configuration, not network input.
fn check_configuration(strategy: PartitionStrategy, member_count: usize) {
    assert!(member_count <= MEMBERS_MAX, "at most {MEMBERS_MAX} members, not {member_count}");
    let tokens_per_node = match strategy {
        PartitionStrategy::RandomTokens { tokens_per_node } => tokens_per_node as usize,
        PartitionStrategy::EqualPartitions { partitions } => {
            (partitions as usize).div_ceil(member_count.max(1))
        }
    };
    assert!(
        tokens_per_node <= TOKENS_PER_NODE_MAX,
        "{tokens_per_node} tokens per node exceed {TOKENS_PER_NODE_MAX}"
    );
}

fn strictly_ascending(tokens: &[Token]) -> bool {
    tokens.windows(2).all(|pair| pair[0] < pair[1])
}

/// The claims a record makes on one ring: its own tokens while it serves (current) or will
/// serve (future) them, its successors' once it leaves them.
fn claims_of(record: &MemberRecord, kind: RingKind, successors_considered: bool) -> Vec<(Token, Claim)> {
    let own_tokens_count = matches!(
        (record.status, kind),
        (MemberStatus::Normal, _)
            | (MemberStatus::Leaving, RingKind::Current)
            | (MemberStatus::Joining, RingKind::Future)
    );
    let successors_count = successors_considered
        && matches!(
            (record.status, kind),
            (MemberStatus::Left, _) | (MemberStatus::Leaving, RingKind::Future)
        );
    let own = record
        .tokens
        .iter()
        .filter(|_| own_tokens_count)
        .map(|token| (*token, (record.claim_epoch, record.node)));
    let successor_epoch = record.claim_epoch.saturating_add(1);
    let inherited = record
        .successors
        .iter()
        .filter(|_| successors_count)
        .map(|(token, node)| (*token, (successor_epoch, *node)));
    own.chain(inherited).collect()
}

/// The heir of a dead-end token among `heirs`: one picked by the token's MD5 position, so that
/// every node with the same view picks the same one, and a claim on another token (or the order
/// claims arrive in) never changes the pick. None without heirs.
fn fallback_heir(token: Token, heirs: &[NodeId]) -> Option<NodeId> {
    if heirs.is_empty() {
        return None;
    }
    let index = ring::ring_position(&token.to_be_bytes()) % heirs.len() as u128;
    Some(heirs[index as usize])
}

fn ring_of(claims: &BTreeMap<Token, Claim>) -> Ring {
    Ring::new(claims.iter().map(|(token, (_, owner))| (*token, *owner)))
}

/// Strategy 3: which partitions each owner holds, from tokens that end a partition; any other
/// token (a view built under another strategy) is ignored.
fn partition_assignment(claims: &BTreeMap<Token, Claim>, partitions: u32) -> ring::Assignment {
    let mut assignment: ring::Assignment = ring::Assignment::new();
    for (token, (_, owner)) in claims {
        if let Some(partition) = partition_ending_at(*token, partitions) {
            assignment.entry(*owner).or_default().insert(partition);
        }
    }
    assignment
}

/// Strategy 3: the partition `token` ends, if it ends one.
fn partition_ending_at(token: Token, partitions: u32) -> Option<u32> {
    let partition = ring::partition_of(token, partitions);
    (ring::partition_token(partition, partitions) == token).then_some(partition)
}

/// The winning claims of `node`, lowest tokens first, at most [`TOKENS_PER_NODE_MAX`].
fn owned_by(claims: &BTreeMap<Token, Claim>, node: NodeId) -> BTreeMap<Token, Claim> {
    claims
        .iter()
        .filter(|(_, (_, owner))| *owner == node)
        .map(|(token, claim)| (*token, *claim))
        .take(TOKENS_PER_NODE_MAX)
        .into_btree_map()
}

fn sorted_tokens(mut tokens: Vec<Token>) -> Vec<Token> {
    tokens.sort_unstable();
    tokens.dedup();
    tokens
}

fn bootstrap_random_tokens(
    members: &SmallSet<NodeId>,
    tokens_per_node: u32,
    token_seed: u64,
) -> SmallMap<NodeId, Vec<Token>> {
    members
        .iter()
        .map(|node| {
            let mut rng = ChaCha8Rng::seed_from_u64(token_seed ^ u64::from(node.0).rotate_left(32));
            (*node, sorted_tokens(ring::random_tokens(&mut rng, tokens_per_node)))
        })
        .collect()
}

fn bootstrap_partitions(members: &SmallSet<NodeId>, partitions: u32) -> SmallMap<NodeId, Vec<Token>> {
    if partitions == 0 {
        return members.iter().map(|node| (*node, Vec::new())).collect();
    }
    ring::bootstrap_assignment(members.iter().copied(), partitions)
        .into_iter()
        .map(|(node, owned)| {
            (node, owned.into_iter().map(|partition| ring::partition_token(partition, partitions)).collect())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const RANDOM: PartitionStrategy = PartitionStrategy::RandomTokens { tokens_per_node: 8 };
    const EQUAL: PartitionStrategy = PartitionStrategy::EqualPartitions { partitions: 12 };

    fn node_ids(ids: impl IntoIterator<Item = u32>) -> Vec<NodeId> {
        ids.into_iter().map(NodeId).collect()
    }

    fn five_members(strategy: PartitionStrategy) -> MembershipView {
        MembershipView::bootstrap(strategy, &node_ids(1..=5), 7)
    }

    fn partition_tokens(partitions: u32) -> Vec<Token> {
        (0..partitions).map(|partition| ring::partition_token(partition, partitions)).collect()
    }

    fn ring_tokens(ring: &Ring) -> Vec<Token> {
        ring.tokens().iter().map(|(token, _)| *token).collect()
    }

    fn record(node: u32, status: MemberStatus, tokens: &[Token], version: u64) -> MemberRecord {
        MemberRecord {
            node: NodeId(node),
            status,
            tokens: tokens.to_vec(),
            claim_epoch: 0,
            version,
            successors: Vec::new(),
        }
    }

    /// §4.8: the initial members are configured, so every node bootstraps the same view and
    /// routes every key to the same N = 3 distinct nodes (§4.3).
    #[test]
    fn bootstrap_gives_every_node_the_same_view_section_4_8() {
        for strategy in [RANDOM, EQUAL] {
            let views: Vec<MembershipView> = (1..=5).map(|_| five_members(strategy)).collect();
            assert!(views.windows(2).all(|pair| pair[0] == pair[1]));
            let view = &views[0];
            assert_eq!(view.live_members(), node_ids(1..=5));
            assert!(view
                .records()
                .all(|record| record.status == MemberStatus::Normal && record.version == 1));
            assert_eq!(view.current_ring(), view.future_ring());
            for key in [b"cart:alice".as_slice(), b"cart:bob", b"session:7"] {
                let preferred = view.current_ring().preference_list(ring::ring_position(key), 3);
                assert_eq!(preferred.iter().collect::<BTreeSet<_>>().len(), 3);
            }
        }
    }

    /// §6.2 strategy 1: T random tokens per node, reproducible from the seed.
    #[test]
    fn bootstrap_strategy_1_draws_t_tokens_per_node_section_6_2() {
        let view = five_members(RANDOM);
        assert!(view.records().all(|record| record.tokens.len() == 8 && record.is_valid()));
        assert_eq!(view.current_ring().tokens().len(), 40);
        assert_ne!(view, MembershipView::bootstrap(RANDOM, &node_ids(1..=5), 8));
    }

    /// §6.2 strategy 3: Q = 12 partitions over S = 5 nodes, each holding 2 or 3, each owned once.
    #[test]
    fn bootstrap_strategy_3_balances_partitions_section_6_2() {
        let view = five_members(EQUAL);
        let counts: Vec<usize> = view.records().map(|record| record.tokens.len()).collect();
        assert!(counts.iter().all(|count| *count == 2 || *count == 3), "{counts:?}");
        assert_eq!(ring_tokens(&view.current_ring()), partition_tokens(12));
    }

    /// §4.8: gossip keeps the record with the higher version and reports what it changed.
    #[test]
    fn merge_keeps_the_higher_version_section_4_8() {
        let mut view = MembershipView::default();
        let first = view.merge(&[record(1, MemberStatus::Joining, &[10], 2)]);
        let added =
            MemberChange { node: NodeId(1), status: MemberStatus::Joining, version: 2, previous: None };
        assert_eq!(first, MergeOutcome { changes: vec![added], rejected: 0 });
        let stale = view.merge(&[record(1, MemberStatus::Left, &[10], 1)]);
        assert_eq!(stale, MergeOutcome::default());
        let tie = view.merge(&[record(1, MemberStatus::Normal, &[20], 2)]);
        assert_eq!(tie, MergeOutcome::default(), "an equal version keeps the record held");
        assert_eq!(view.record(NodeId(1)).unwrap().tokens, vec![10]);
        let newer = view.merge(&[record(1, MemberStatus::Normal, &[10], 3)]);
        let promoted = MemberChange {
            node: NodeId(1),
            status: MemberStatus::Normal,
            version: 3,
            previous: Some(MemberStatus::Joining),
        };
        assert_eq!(newer.changes, vec![promoted]);
        assert_eq!(view.record(NodeId(1)).unwrap().status, MemberStatus::Normal);
    }

    /// §4.8: gossip is untrusted input; malformed records are skipped and counted.
    #[test]
    fn merge_rejects_and_counts_invalid_records_section_4_8() {
        let with_successors = |status, successor: u32| MemberRecord {
            successors: vec![(10, NodeId(successor))],
            ..record(1, status, &[10, 20], 1)
        };
        let invalid = vec![
            record(1, MemberStatus::Normal, &[20, 10], 1),
            record(1, MemberStatus::Normal, &[10, 10], 1),
            record(1, MemberStatus::Normal, &(0..=TOKENS_PER_NODE_MAX as u128).collect::<Vec<_>>(), 1),
            record(1, MemberStatus::Normal, &[10], VERSION_MAX + 1),
            with_successors(MemberStatus::Joining, 2),
            with_successors(MemberStatus::Normal, 2),
            with_successors(MemberStatus::Leaving, 1),
            MemberRecord {
                successors: (0..=TOKENS_PER_NODE_MAX as u128).map(|token| (token, NodeId(2))).collect(),
                ..record(1, MemberStatus::Left, &[10, 20], 1)
            },
            MemberRecord {
                successors: vec![(20, NodeId(2)), (10, NodeId(3))],
                ..record(1, MemberStatus::Left, &[10, 20], 1)
            },
        ];
        let mut view = MembershipView::default();
        let outcome = view.merge(&invalid);
        assert_eq!(outcome, MergeOutcome { changes: Vec::new(), rejected: invalid.len() });
        let valid = [with_successors(MemberStatus::Leaving, 2), with_successors(MemberStatus::Left, 2)];
        assert_eq!(view.merge(&valid[..1]).rejected, 0);
        assert_eq!(view.merge(&valid[1..]).changes.len(), 0, "same version: the held record stays");
    }

    /// §4.8: a view holds at most MEMBERS_MAX nodes; known nodes still update.
    #[test]
    fn merge_rejects_members_beyond_the_limit_section_4_8() {
        let mut view = MembershipView::default();
        let crowd: Vec<MemberRecord> =
            (0..MEMBERS_MAX as u32 + 3).map(|node| record(node, MemberStatus::Normal, &[], 1)).collect();
        assert_eq!(view.merge(&crowd).rejected, 3);
        assert_eq!(view.live_members().len(), MEMBERS_MAX);
        assert_eq!(view.merge(&[record(0, MemberStatus::Left, &[], 2)]).changes.len(), 1);
        assert_eq!(view.live_members().len(), MEMBERS_MAX - 1);
    }

    /// Local writes must grow the version, or gossip would discard them (§4.8).
    #[test]
    #[should_panic(expected = "must bump its version")]
    fn update_own_refuses_a_stale_version_section_4_8() {
        let mut view = five_members(EQUAL);
        view.update_own(record(1, MemberStatus::Normal, &[], 1));
    }

    /// §4.9: the joiner's record reaches another node; that node's future ring includes the
    /// joiner while its current ring does not; once the joiner is Normal, the current ring is
    /// what the future ring was.
    fn assert_full_join(strategy: PartitionStrategy) -> (MembershipView, Ring) {
        let mut existing = five_members(strategy);
        let mut joiner_view = existing.clone();
        let joiner = NodeId(9);
        let joining = joiner_view.plan_join(strategy, joiner, &mut ChaCha8Rng::seed_from_u64(3));
        assert_eq!((joining.status, joining.version, joining.claim_epoch), (MemberStatus::Joining, 1, 1));
        joiner_view.update_own(joining.clone());
        let outcome = existing.merge(&[joining]);
        assert_eq!(outcome.changes[0].previous, None);
        let future = existing.future_ring();
        assert!(future.nodes().contains(&joiner));
        assert!(!existing.current_ring().nodes().contains(&joiner));
        let normal = joiner_view.plan_normal(joiner).expect("the joiner is Joining");
        joiner_view.update_own(normal.clone());
        let outcome = existing.merge(&[normal]);
        assert_eq!(outcome.changes[0].previous, Some(MemberStatus::Joining));
        assert_eq!(existing.current_ring(), future);
        assert_eq!(existing.ring_digest(), joiner_view.ring_digest());
        (existing, future)
    }

    /// §4.9 with §6.2 strategy 1: the joiner brings T fresh tokens.
    #[test]
    fn a_full_join_under_strategy_1_section_4_9() {
        let (view, future) = assert_full_join(RANDOM);
        assert_eq!(view.record(NodeId(9)).unwrap().tokens.len(), 8);
        assert_eq!(future.tokens().len(), 48);
    }

    /// §4.9 with §6.2 strategy 3: the joiner takes floor(Q/S) = 2 partitions from the most loaded;
    /// the donors then drop them from their records without changing the ring.
    #[test]
    fn a_full_join_under_strategy_3_section_4_9() {
        let (mut view, future) = assert_full_join(EQUAL);
        assert_eq!(view.record(NodeId(9)).unwrap().tokens.len(), 2);
        assert_eq!(ring_tokens(&future), partition_tokens(12));
        let cleanups: Vec<MemberRecord> =
            view.live_members().into_iter().filter_map(|node| view.claim_inherited(node)).collect();
        assert_eq!(cleanups.len(), 2, "two donors each gave one partition");
        assert_eq!(view.merge(&cleanups).changes.len(), 2);
        assert_eq!(view.current_ring(), future);
        let listed: usize = view.records().map(|record| record.tokens.len()).sum();
        assert_eq!(listed, 12, "every partition is listed once");
    }

    /// §4.9 with §6.2 strategy 3: successors cover exactly the leaver's tokens; once Left its
    /// tokens route to them in both rings; their claims then leave the ring unchanged.
    #[test]
    fn a_full_leave_under_strategy_3_section_4_9() {
        let mut view = five_members(EQUAL);
        let leaver = NodeId(3);
        let held = view.record(leaver).unwrap().tokens.clone();
        let leaving = view.plan_leave(EQUAL, leaver).expect("the leaver is Normal");
        let inherited: Vec<Token> = leaving.successors.iter().map(|(token, _)| *token).collect();
        assert_eq!((leaving.tokens.clone(), inherited), (held.clone(), held.clone()));
        assert!(leaving.successors.iter().all(|(_, successor)| *successor != leaver));
        view.update_own(leaving);
        assert!(view.current_ring().nodes().contains(&leaver));
        let future = view.future_ring();
        assert!(!future.nodes().contains(&leaver));
        assert_eq!(ring_tokens(&future), partition_tokens(12));
        let left = view.plan_left(leaver).expect("the leaver is Leaving");
        view.update_own(left);
        assert_eq!(view.current_ring(), future);
        assert_eq!(view.future_ring(), future);
        assert_eq!(view.live_members(), node_ids([1, 2, 4, 5]));
        let claims: Vec<MemberRecord> =
            view.live_members().into_iter().filter_map(|node| view.claim_inherited(node)).collect();
        view.merge(&claims);
        assert_eq!(view.current_ring(), future);
        for token in held {
            let owner = future.preference_list(token, 1)[0];
            assert!(view.record(owner).unwrap().tokens.contains(&token), "{owner} lists {token:#x}");
        }
        assert!(view.live_members().into_iter().all(|node| view.claim_inherited(node).is_none()));
    }

    /// §4.9 with §6.2 strategy 1: a leaver names no successors; its tokens vanish and its
    /// neighbours' arcs widen over them.
    #[test]
    fn a_leave_under_strategy_1_drops_the_tokens_section_4_9() {
        let mut view = five_members(RANDOM);
        let leaving = view.plan_leave(RANDOM, NodeId(2)).unwrap();
        assert!(leaving.successors.is_empty());
        view.update_own(leaving);
        assert_eq!(view.future_ring().tokens().len(), 32);
        assert_eq!(view.current_ring().tokens().len(), 40);
        assert!(view.plan_leave(RANDOM, NodeId(2)).is_none(), "only a Normal member may leave");
        assert!(view.plan_leave(RANDOM, NodeId(42)).is_none());
    }

    /// §4.8: joins planned concurrently from the same view both take partitions; the higher
    /// claim wins each one they both took, so no partition is lost or shared. A leave racing
    /// them is resolved the same way.
    #[test]
    fn racing_joins_and_a_leave_keep_one_owner_per_partition_section_4_8() {
        let base = MembershipView::bootstrap(EQUAL, &node_ids(1..=3), 7);
        let mut rng = ChaCha8Rng::seed_from_u64(1);
        let first = base.plan_join(EQUAL, NodeId(8), &mut rng);
        let second = base.plan_join(EQUAL, NodeId(9), &mut rng);
        assert_eq!(first.tokens, second.tokens, "both take the same partitions");
        let leaving = base.plan_leave(EQUAL, NodeId(2)).unwrap();
        let mut view = base.clone();
        view.merge(&[first, second, leaving]);
        assert_eq!(ring_tokens(&view.future_ring()), partition_tokens(12));
        assert!(!view.future_ring().nodes().contains(&NodeId(2)));
        let finished: Vec<MemberRecord> =
            [view.plan_normal(NodeId(8)), view.plan_normal(NodeId(9)), view.plan_left(NodeId(2))]
                .into_iter()
                .flatten()
                .collect();
        view.merge(&finished);
        let ring = view.current_ring();
        assert_eq!(ring_tokens(&ring), partition_tokens(12));
        let claims: Vec<MemberRecord> =
            view.live_members().into_iter().filter_map(|node| view.claim_inherited(node)).collect();
        view.merge(&claims);
        assert_eq!(view.current_ring(), ring);
    }

    /// §4.9 with §6.2 strategy 3, under §4.8 races: two nodes plan their leaves from the same
    /// view, so the first names the second as a successor. Merged, no partition is a hole: the
    /// tokens the second was named for go to a fallback heir, then, once the second plans
    /// successors for them, to those; both rings keep every partition on a serving member
    /// through both leaves, and the heirs' claims settle it.
    #[test]
    fn two_leaves_planned_at_once_leave_no_hole_section_4_9() {
        let base = five_members(EQUAL);
        let (first, second) = (1..=5)
            .flat_map(|first| (1..=5).map(move |second| (NodeId(first), NodeId(second))))
            .find(|(first, second)| {
                let plan = base.plan_leave(EQUAL, *first).unwrap();
                first != second && plan.successors.iter().any(|(_, successor)| successor == second)
            })
            .expect("some leaver names another");
        let first_plan = base.plan_leave(EQUAL, first).unwrap();
        let second_plan = base.plan_leave(EQUAL, second).unwrap();
        let handed: Vec<Token> = first_plan
            .successors
            .iter()
            .filter(|(_, node)| *node == second)
            .map(|(token, _)| *token)
            .collect();
        assert!(second_plan.successors.iter().all(|(token, _)| !handed.contains(token)), "unknown to it");
        let mut view = base.clone();
        view.merge(&[first_plan, second_plan]);
        assert_covered(&view, EQUAL, 12);
        let heirs: Vec<NodeId> =
            handed.iter().map(|token| view.future_ring().preference_list(*token, 1)[0]).collect();
        assert!(heirs.iter().all(|heir| ![first, second].contains(heir)), "{heirs:?}");
        let replanned = view.plan_inherited_successors(EQUAL, second).expect("it was named");
        let planned: BTreeMap<Token, NodeId> = replanned.successors.iter().copied().collect();
        view.update_own(replanned);
        assert_covered(&view, EQUAL, 12);
        for token in &handed {
            assert_eq!(view.future_ring().preference_list(*token, 1)[0], planned[token], "as planned");
        }
        assert!(view.plan_inherited_successors(EQUAL, second).is_none(), "planned once");
        for leaver in [first, second] {
            view.update_own(view.plan_left(leaver).unwrap());
            assert_covered(&view, EQUAL, 12);
        }
        let ring = view.current_ring();
        let claims: Vec<MemberRecord> =
            view.live_members().into_iter().filter_map(|node| view.claim_inherited(node)).collect();
        view.merge(&claims);
        assert_eq!(view.current_ring(), ring);
        for leaver in [first, second] {
            assert!(view.handoff_settled(leaver), "the heirs' claims make {leaver}'s list moot");
        }
    }

    /// §4.8: a checker asks a view whether its ring gives every key a serving coordinator;
    /// each kind of gap is named.
    #[test]
    fn coverage_gaps_name_what_is_missing_section_4_8() {
        for strategy in [RANDOM, EQUAL] {
            assert_eq!(five_members(strategy).coverage_gaps(strategy), Vec::new());
            assert_eq!(MembershipView::default().coverage_gaps(strategy), vec![CoverageGap::EmptyRing]);
        }
        let mut view = MembershipView::default();
        let tokens = partition_tokens(4);
        view.merge(&[record(1, MemberStatus::Normal, &[5, tokens[0], tokens[2], tokens[3]], 1)]);
        let strategy = PartitionStrategy::EqualPartitions { partitions: 4 };
        assert_eq!(
            view.coverage_gaps(strategy),
            vec![
                CoverageGap::UnownedPartition { partition: 1 },
                CoverageGap::MisalignedToken { token: 5, owner: NodeId(1) },
            ]
        );
        assert_eq!(view.coverage_gaps(RANDOM), Vec::new(), "any token will do under strategy 1");
    }

    /// §4.8: a node joining a view whose members all left takes every partition, which nobody
    /// owns, rather than panicking.
    #[test]
    fn a_join_into_an_emptied_view_takes_every_partition_section_4_8() {
        let mut view = MembershipView::bootstrap(EQUAL, &node_ids([1]), 7);
        let leaving = view.plan_leave(EQUAL, NodeId(1)).unwrap();
        assert!(leaving.successors.is_empty(), "nobody is left to inherit");
        view.update_own(leaving);
        view.update_own(view.plan_left(NodeId(1)).unwrap());
        assert!(view.current_ring().is_empty());
        let joining = view.plan_join(EQUAL, NodeId(2), &mut ChaCha8Rng::seed_from_u64(0));
        assert_eq!(joining.tokens, partition_tokens(12));
    }

    /// The checker compares digests across nodes and builds, so the value is pinned: FNV-1a over
    /// big-endian token and owner bytes.
    #[test]
    fn ring_digest_is_pinned_and_tracks_owners_section_4_8() {
        let mut view = MembershipView::default();
        assert_eq!(
            view.ring_digest(),
            0xcbf2_9ce4_8422_2325,
            "an empty ring digests to the FNV offset basis"
        );
        view.merge(&[record(1, MemberStatus::Normal, &[5], 1)]);
        let one_owner = view.ring_digest();
        assert_eq!(one_owner, fnv_of(&[(5, 1)]));
        view.merge(&[MemberRecord { claim_epoch: 1, ..record(2, MemberStatus::Normal, &[5], 1) }]);
        assert_eq!(view.ring_digest(), fnv_of(&[(5, 2)]));
        assert_ne!(view.ring_digest(), one_owner);
    }

    fn fnv_of(tokens: &[(Token, u32)]) -> u64 {
        let mut bytes = Vec::new();
        for (token, owner) in tokens {
            bytes.extend_from_slice(&token.to_be_bytes());
            bytes.extend_from_slice(&owner.to_be_bytes());
        }
        bytes.iter().fold(0xcbf2_9ce4_8422_2325, |digest, byte| {
            (digest ^ u64::from(*byte)).wrapping_mul(0x100_0000_01b3)
        })
    }

    /// Record contents depend only on (node, version), as when only the owner writes (§4.8).
    fn owner_written(node: u32, version: u64) -> MemberRecord {
        let statuses =
            [MemberStatus::Joining, MemberStatus::Normal, MemberStatus::Leaving, MemberStatus::Left];
        let status = statuses[(version % 4) as usize];
        let tokens: Vec<Token> =
            (0..3).map(|index| u128::from(node) * 1000 + u128::from(version) * 10 + index).collect();
        let successors = match status {
            MemberStatus::Leaving | MemberStatus::Left => vec![(tokens[0], NodeId((node + 1) % 6))],
            _ => Vec::new(),
        };
        MemberRecord { node: NodeId(node), status, tokens, claim_epoch: version % 3, version, successors }
    }

    fn view_of(entries: &[(u32, u64)]) -> MembershipView {
        let mut view = MembershipView::default();
        let records: Vec<MemberRecord> =
            entries.iter().map(|(node, version)| owner_written(*node, *version)).collect();
        view.merge(&records);
        view
    }

    fn records_of(view: &MembershipView) -> Vec<MemberRecord> {
        view.records().cloned().collect()
    }

    /// Views as lists of (node, version) entries.
    type Views = Vec<Vec<(u32, u64)>>;

    fn views_in_two_orders() -> impl Strategy<Value = (Views, Views)> {
        let view = prop::collection::vec((0u32..6, 0u64..8), 0..8);
        prop::collection::vec(view, 1..5)
            .prop_flat_map(|views| (Just(views.clone()), Just(views).prop_shuffle()))
    }

    fn arbitrary_status() -> impl Strategy<Value = MemberStatus> {
        prop_oneof![
            Just(MemberStatus::Joining),
            Just(MemberStatus::Normal),
            Just(MemberStatus::Leaving),
            Just(MemberStatus::Left),
        ]
    }

    /// Tokens both arbitrary and on partition ends, so that strategy 3 sees them.
    fn arbitrary_token() -> impl Strategy<Value = Token> {
        prop_oneof![
            any::<u128>(),
            (0u32..12).prop_map(|partition| ring::partition_token(partition, 12)),
            0u128..4
        ]
    }

    fn arbitrary_record() -> impl Strategy<Value = MemberRecord> {
        (
            0u32..8,
            arbitrary_status(),
            prop::collection::vec(arbitrary_token(), 0..6),
            prop_oneof![0u64..4, any::<u64>()],
            prop_oneof![0u64..4, any::<u64>()],
            prop::collection::vec((arbitrary_token(), (0u32..8).prop_map(NodeId)), 0..4),
        )
            .prop_map(|(node, status, tokens, claim_epoch, version, successors)| MemberRecord {
                node: NodeId(node),
                status,
                tokens,
                claim_epoch,
                version,
                successors,
            })
    }

    /// Everything a node may ask of a view; none of it may panic, whatever gossip brought.
    fn exercise(view: &MembershipView) {
        let listed =
            view.records().map(|record| record.tokens.len() + record.successors.len()).sum::<usize>();
        assert!(view.current_ring().tokens().len() <= listed);
        assert!(view.future_ring().tokens().len() <= listed);
        view.ring_digest();
        view.live_members();
        let mut rng = ChaCha8Rng::seed_from_u64(5);
        for node in (0..9).map(NodeId) {
            for strategy in [RANDOM, EQUAL] {
                let joining = view.plan_join(strategy, node, &mut rng);
                let leaving = view.plan_leave(strategy, node);
                // A version pushed to the limit by a peer is the one thing a plan cannot undo.
                assert!([Some(joining), leaving]
                    .iter()
                    .flatten()
                    .all(|plan| plan.is_valid() || plan.version > VERSION_MAX));
            }
            let planned = [view.claim_inherited(node), view.plan_left(node), view.plan_normal(node)];
            assert!(planned
                .iter()
                .flatten()
                .all(|record| record.version > view.record(node).unwrap().version));
        }
    }

    proptest! {
        /// §4.8: gossip converges: merging the same views in any order yields the same view, and
        /// merging what is already known changes nothing.
        #[test]
        fn merge_converges_in_any_order_section_4_8((views, shuffled) in views_in_two_orders()) {
            let mut forward = MembershipView::default();
            for entries in &views {
                forward.merge(&records_of(&view_of(entries)));
            }
            let mut backward = MembershipView::default();
            for entries in &shuffled {
                backward.merge(&records_of(&view_of(entries)));
            }
            prop_assert_eq!(&forward, &backward);
            prop_assert_eq!(forward.ring_digest(), backward.ring_digest());
            let again = forward.merge(&records_of(&backward));
            prop_assert_eq!(again, MergeOutcome::default());
            prop_assert_eq!(&forward, &backward);
        }

        /// §4.8: two nodes exchanging views in either direction end with the same view.
        #[test]
        fn merge_is_commutative_section_4_8((views, _) in views_in_two_orders()) {
            let first = view_of(views.first().map(Vec::as_slice).unwrap_or_default());
            let second = view_of(views.last().map(Vec::as_slice).unwrap_or_default());
            let mut one_way = first.clone();
            one_way.merge(&records_of(&second));
            let mut other_way = second.clone();
            other_way.merge(&records_of(&first));
            prop_assert_eq!(one_way, other_way);
        }

        /// §4.8: arbitrary gossip never panics merge or ring resolution, and only valid records
        /// get in; even a view that skipped validation (deserialized) must not panic.
        #[test]
        fn arbitrary_records_never_panic_section_4_8(
            records in prop::collection::vec(arbitrary_record(), 0..12),
            strategy in prop_oneof![Just(RANDOM), Just(EQUAL)],
        ) {
            let mut view = MembershipView::bootstrap(strategy, &node_ids(0..4), 11);
            let outcome = view.merge(&records);
            prop_assert!(outcome.changes.len() + outcome.rejected <= records.len());
            prop_assert!(view.records().all(MemberRecord::is_valid));
            exercise(&view);
            let unchecked = MembershipView {
                records: records.into_iter().enumerate().map(|(index, record)| (NodeId(index as u32 % 9), record)).collect(),
            };
            exercise(&unchecked);
        }

        /// §4.9 with §6.2 strategy 3: "when a node is removed from the system, the reallocation
        /// of keys happens in a reverse process". Through any sequence of joins, leaves (two at
        /// once, each planned without knowing of the other, included), successors planned late
        /// and inherited claims on one view, made by whichever nodes happen to be up, both rings
        /// hold every partition exactly once, owned by a node serving that ring; claims never
        /// move a token.
        #[test]
        fn joins_and_leaves_never_leave_a_hole_section_4_9(
            partitions in 1u32..24,
            steps in prop::collection::vec((0u32..8, prop::option::of(0u32..8), any::<u8>()), 0..40),
        ) {
            let strategy = PartitionStrategy::EqualPartitions { partitions };
            let mut view = MembershipView::bootstrap(strategy, &node_ids(0..3), 3);
            let mut rng = ChaCha8Rng::seed_from_u64(2);
            for (node, concurrent, up) in steps {
                match concurrent {
                    Some(other) => leave_concurrently(&mut view, strategy, NodeId(node), NodeId(other)),
                    None => advance(&mut view, strategy, NodeId(node), &mut rng),
                }
                let is_up = |node: NodeId| up & (1 << node.0) != 0;
                let acting: Vec<NodeId> = view.records().map(|record| record.node).filter(|node| is_up(*node)).collect();
                for node in &acting {
                    if let Some(record) = view.plan_inherited_successors(strategy, *node) {
                        view.update_own(record);
                    }
                }
                assert_covered(&view, strategy, partitions);
                let ring = view.current_ring();
                for node in &acting {
                    if let Some(claim) = view.claim_inherited(*node) {
                        view.update_own(claim);
                    }
                }
                prop_assert_eq!(&view.current_ring(), &ring);
                assert_covered(&view, strategy, partitions);
            }
        }
    }

    /// Both rings of `view` hold each of the `partitions` tokens once, owned by nodes serving
    /// that ring, and [`MembershipView::coverage_gaps`] agrees.
    fn assert_covered(view: &MembershipView, strategy: PartitionStrategy, partitions: u32) {
        let current = view.current_ring();
        let future = view.future_ring();
        assert_eq!(ring_tokens(&current), partition_tokens(partitions), "current ring of {view:?}");
        assert_eq!(ring_tokens(&future), partition_tokens(partitions), "future ring of {view:?}");
        for node in current.nodes() {
            let status = view.record(node).unwrap().status;
            assert!(matches!(status, MemberStatus::Normal | MemberStatus::Leaving), "current {status:?}");
        }
        for node in future.nodes() {
            let status = view.record(node).unwrap().status;
            assert!(matches!(status, MemberStatus::Normal | MemberStatus::Joining), "future {status:?}");
        }
        assert_eq!(view.coverage_gaps(strategy), Vec::new());
    }

    /// `first` and `second` both plan to leave from the same view, neither knowing of the
    /// other's plan (§4.8 races), if both are Normal and a third Normal member remains.
    fn leave_concurrently(
        view: &mut MembershipView,
        strategy: PartitionStrategy,
        first: NodeId,
        second: NodeId,
    ) {
        let normal =
            |node: NodeId| view.record(node).is_some_and(|record| record.status == MemberStatus::Normal);
        let normal_count = view.records().filter(|record| record.status == MemberStatus::Normal).count();
        if first == second || !normal(first) || !normal(second) || normal_count < 3 {
            return;
        }
        let plans = [view.plan_leave(strategy, first), view.plan_leave(strategy, second)];
        for plan in plans.into_iter().flatten() {
            view.update_own(plan);
        }
    }

    /// One node per entry, each with its own view; absent nodes have not heard of the cluster.
    struct Cluster {
        views: BTreeMap<NodeId, MembershipView>,
        strategy: PartitionStrategy,
        rng: ChaCha8Rng,
    }

    impl Cluster {
        fn act(&mut self, actor: NodeId, peer: NodeId, gossip: bool) {
            if !self.views.contains_key(&actor) {
                // A newcomer first fetches a view from a seed node, as an operator would point it at one.
                let seed = self.views[&NodeId(0)].clone();
                self.views.insert(actor, seed);
            }
            if gossip {
                self.exchange(actor, peer);
                return;
            }
            let view = self.views.get_mut(&actor).expect("inserted above");
            advance(view, self.strategy, actor, &mut self.rng);
            if let Some(claim) = view.claim_inherited(actor) {
                view.update_own(claim);
            }
        }

        /// Push-pull gossip between two nodes that have views (§4.8).
        fn exchange(&mut self, one: NodeId, other: NodeId) {
            let Some(theirs) = self.views.get(&other).map(records_of) else { return };
            let view = self.views.get_mut(&one).expect("only nodes with views gossip");
            view.merge(&theirs);
            let mine = records_of(view);
            self.views.get_mut(&other).expect("checked above").merge(&mine);
        }

        fn gossip_until_quiet(&mut self) {
            let nodes: Vec<NodeId> = self.views.keys().copied().collect();
            for _ in 0..2 {
                for pair in nodes.windows(2) {
                    self.exchange(pair[0], pair[1]);
                }
                for pair in nodes.windows(2).rev() {
                    self.exchange(pair[0], pair[1]);
                }
            }
        }
    }

    proptest! {
        /// §4.8: "the two nodes efficiently reconcile their persisted membership change
        /// histories". Trading versions and then only the records that differ leaves both views
        /// exactly as swapping every record would: each node's record at its higher version.
        /// Equal views have equal digests; views differing in one record's version never do.
        #[test]
        fn trading_versions_reconciles_views_as_whole_records_would_section_4_8(
            ours in prop::collection::btree_map(0u32..12, 1u64..5, 0..8),
            theirs in prop::collection::btree_map(0u32..12, 1u64..5, 0..8),
        ) {
            let view_of = |versions: &BTreeMap<u32, u64>| {
                let mut view = MembershipView::default();
                for (node, version) in versions {
                    // The content follows the version, as only the node itself writes its record.
                    let token = u128::from(*node) * 100 + u128::from(*version);
                    view.update_own(record(*node, MemberStatus::Normal, &[token], *version));
                }
                view
            };
            let (mut a, mut b) = (view_of(&ours), view_of(&theirs));
            let mut whole = a.clone();
            whole.merge(&b.records().cloned().collect::<Vec<_>>());
            prop_assert_eq!(a.versions_digest() == b.versions_digest(), a == b);
            // Steps 2 to 4: b answers with its versions, a sends what b lacks and names what it
            // lacks, b sends those.
            let (newer, wanted) = a.differences(&b.versions());
            prop_assert!(wanted.windows(2).all(|pair| pair[0] < pair[1]));
            b.merge(&newer);
            a.merge(&b.records_of(&wanted));
            prop_assert_eq!(&a, &whole);
            prop_assert_eq!(&b, &whole);
            let first = whole.records().next().cloned();
            if let Some(mut next) = first {
                let mut bumped = whole.clone();
                next.version += 1;
                bumped.update_own(next);
                prop_assert_ne!(bumped.versions_digest(), whole.versions_digest());
            }
        }
    }

    proptest! {
        /// §4.8: nodes acting on their own, possibly stale, views and gossiping at random never
        /// panic, and once gossip has spread everything they agree on the view and the ring.
        #[test]
        fn gossiping_nodes_converge_on_one_ring_section_4_8(
            strategy in prop_oneof![Just(RANDOM), Just(PartitionStrategy::EqualPartitions { partitions: 10 })],
            actions in prop::collection::vec((0u32..6, 0u32..6, any::<bool>()), 0..40),
        ) {
            let initial = MembershipView::bootstrap(strategy, &node_ids(0..3), 5);
            let views = (0..3).map(|node| (NodeId(node), initial.clone())).collect();
            let mut cluster = Cluster { views, strategy, rng: ChaCha8Rng::seed_from_u64(4) };
            for (actor, peer, gossip) in actions {
                cluster.act(NodeId(actor), NodeId(peer), gossip);
            }
            cluster.gossip_until_quiet();
            let first = cluster.views.values().next().expect("the initial members have views").clone();
            prop_assert!(cluster.views.values().all(|view| *view == first));
            prop_assert!(cluster.views.values().all(|view| view.ring_digest() == first.ring_digest()));
            {
                for node in first.current_ring().nodes() {
                    let status = first.record(node).unwrap().status;
                    prop_assert!(matches!(status, MemberStatus::Normal | MemberStatus::Leaving), "current {:?}", status);
                }
                for node in first.future_ring().nodes() {
                    let status = first.record(node).unwrap().status;
                    prop_assert!(matches!(status, MemberStatus::Normal | MemberStatus::Joining), "future {:?}", status);
                }
            }
        }
    }

    proptest! {
        /// §4.9 under §4.8's eventual consistency: "when a node is removed from the system, the
        /// reallocation of keys happens in a reverse process". Nodes acting on their own views
        /// (leaving two at once, each unaware of the other, included), gossiping, crashing and
        /// restarting; an up node plans successors for what it was handed and claims what it
        /// inherited after every step, as a node does on every merge. Every view that still
        /// has a Normal member covers every partition in both rings with a serving owner.
        #[test]
        fn concurrent_leaves_crashes_and_gossip_never_leave_a_hole_section_4_9(
            partitions in 1u32..24,
            steps in prop::collection::vec((0u32..5, 0u32..6, 0u32..6), 0..60),
        ) {
            let strategy = PartitionStrategy::EqualPartitions { partitions };
            let initial = MembershipView::bootstrap(strategy, &node_ids(0..4), 5);
            let views = (0..4).map(|node| (NodeId(node), initial.clone())).collect();
            let mut cluster = Cluster { views, strategy, rng: ChaCha8Rng::seed_from_u64(4) };
            let mut down: BTreeSet<NodeId> = BTreeSet::new();
            for (kind, first, second) in steps {
                let (first, second) = (NodeId(first), NodeId(second));
                match kind {
                    0 if !down.contains(&first) => cluster.act(first, second, false),
                    1 if !down.contains(&first) && !down.contains(&second) => {
                        cluster.act(first, second, true)
                    }
                    2 if first != second && cluster.views.contains_key(&first) && cluster.views.contains_key(&second) && !down.contains(&first) && !down.contains(&second) => {
                        // Each plans from its own view; neither knows of the other's plan.
                        for node in [first, second] {
                            let view = cluster.views.get_mut(&node).expect("checked above");
                            let normal_count = view.records().filter(|record| record.status == MemberStatus::Normal).count();
                            let is_normal = view.record(node).is_some_and(|record| record.status == MemberStatus::Normal);
                            if is_normal && normal_count > 1 {
                                let plan = view.plan_leave(strategy, node).expect("a Normal member may leave");
                                view.update_own(plan);
                            }
                        }
                    }
                    3 => {
                        down.insert(first);
                    }
                    4 => {
                        down.remove(&first);
                    }
                    _ => {}
                }
                for (node, view) in cluster.views.iter_mut().filter(|(node, _)| !down.contains(node)) {
                    if let Some(record) = view.plan_inherited_successors(strategy, *node) {
                        view.update_own(record);
                    }
                    if let Some(claim) = view.claim_inherited(*node) {
                        view.update_own(claim);
                    }
                }
                for view in cluster.views.values() {
                    if view.records().any(|record| record.status == MemberStatus::Normal) {
                        assert_covered(view, strategy, partitions);
                    }
                }
            }
        }
    }

    /// Moves `node` one step along Joining → Normal → Leaving → Left → Joining, keeping at least
    /// one Normal member so that a leaver always has successors, and rejoining only once the
    /// handoff settled.
    fn advance(view: &mut MembershipView, strategy: PartitionStrategy, node: NodeId, rng: &mut ChaCha8Rng) {
        let status = view.record(node).map(|record| record.status);
        let normal_count = view.records().filter(|record| record.status == MemberStatus::Normal).count();
        let next = match status {
            None => Some(view.plan_join(strategy, node, rng)),
            Some(MemberStatus::Left) if view.handoff_settled(node) => {
                Some(view.plan_join(strategy, node, rng))
            }
            Some(MemberStatus::Left) => None,
            Some(MemberStatus::Joining) => view.plan_normal(node),
            Some(MemberStatus::Normal) if normal_count > 1 => view.plan_leave(strategy, node),
            Some(MemberStatus::Normal) => None,
            Some(MemberStatus::Leaving) => view.plan_left(node),
        };
        if let Some(record) = next {
            view.update_own(record);
        }
    }
}
