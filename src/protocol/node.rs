//! The node state machine. Inputs are `handle_*(now_ms, ..)`; every effect is an [`Output`]
//! drained with [`Node::drain_outputs`]. Mechanisms live in sibling modules as `impl Node`
//! blocks: `coordinator` (§4.5, §5), `handoff` (§4.6), `anti_entropy` (§4.7), `gossip` (§4.8,
//! §4.9) and `failure` (§4.8.3).

use std::sync::Arc;

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use super::anti_entropy::{Exchange, RepairQueue};
use super::config::{ClusterConfig, ConfigError};
use super::coordinator::{Forwarding, Operation};
use super::failure::Detector;
use super::gossip::Transfers;
use super::handoff::HintStore;
use super::membership::{MemberStatus, MembershipView};
use super::message::{ClientRequest, ClientResult, Message, OperationId, RequestId};
use super::observation::Observation;
use super::ring::{PartitionStrategy, Ring};
use super::small_map::SmallMap;
use super::store::VersionedStore;
use super::types::{self, KeyRange, NodeId};

/// Timers the node asks its driver to fire. A timer whose work is already done is ignored.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize)]
pub enum Timer {
    Gossip,
    AntiEntropy,
    HintHandoff,
    /// Probe unreachable peers again and, with phi accrual, re-evaluate suspicion.
    FailureDetector,
    /// A coordinator's replica timeout: replicas that have not answered get a fallback.
    Operation(OperationId),
    /// The node a request was forwarded to has not answered.
    Forward(RequestId),
    GossipReply {
        peer: NodeId,
        round: u64,
    },
    Transfer(u64),
}

/// Operator commands (§4.8.1: membership changes are explicit).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum AdminCommand {
    /// Join the ring through the configured seeds.
    Join,
    /// Hand this node's ranges on, then leave the ring.
    Leave,
    /// Change a setting on this node; the driver sends it to every node.
    SetConfig(Box<ClusterConfig>),
    /// Debug builds only: the node panics, so tests can check that one node's failure never
    /// takes down its host's other nodes.
    #[cfg(debug_assertions)]
    DebugPanic,
}

/// Every effect of the node is one of these values.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Output {
    Send { to: NodeId, message: Message },
    SetTimer { at_ms: u64, timer: Timer },
    Reply { request: RequestId, result: ClientResult },
    Observe(Observation),
}

/// What survives a crash: written to disk before a step is acknowledged.
#[derive(Clone, Debug, Default, PartialEq, Serialize, Deserialize)]
pub struct Durable {
    pub store: VersionedStore,
    pub hints: HintStore,
    /// The membership view, this node's own record and tokens included.
    pub view: MembershipView,
    /// How many times this node has started; mixed into the random seed so a restart does
    /// not replay the same choices.
    pub incarnation: u64,
    /// The highest dot this node has given a write (dotted version vectors): every dot it
    /// issues is new, whatever the key and whatever the node still holds of it.
    pub dots_issued: u64,
}

/// A node's state as its inspector shows it: the store, the hints and the membership view (all
/// of [`Durable`]), and what its failure detector believes.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct NodeInspection {
    pub node: NodeId,
    /// The node's clock when inspected.
    pub now_ms: u64,
    pub durable: Durable,
    pub unreachable: Vec<NodeId>,
    /// Client operations it coordinates that have not finished.
    pub operations_in_flight: usize,
}

/// Outputs one input may produce before the driver must drain them.
pub const OUTPUTS_MAX: usize = 1 << 16;
/// Client operations a coordinator runs at once.
pub const OPERATIONS_MAX: usize = 4096;

/// The membership view every node of a cluster boots with: its initial members, placed by
/// its strategy (§6.2). Every node computes the same one from the configuration; a host starting
/// many nodes computes it once and hands each a copy (issue 14: at 1,024 nodes under strategy
/// 3, each node's own computation made boot 10 s of a run's wall time).
#[derive(Clone, Debug)]
pub struct BootView {
    made_for: (PartitionStrategy, Vec<NodeId>, u64),
    view: MembershipView,
    /// The view's current and future rings, built once too, and shared by the nodes booted
    /// from it.
    rings: (Arc<Ring>, Arc<Ring>),
}

impl BootView {
    /// The view `config`'s initial members boot with, once `config` is valid.
    pub fn of(config: &ClusterConfig) -> Result<BootView, ConfigError> {
        config.validate()?;
        let view = MembershipView::bootstrap(config.strategy, &config.initial_members, config.token_seed);
        let rings = (Arc::new(view.current_ring()), Arc::new(view.future_ring()));
        Ok(BootView { made_for: BootView::key(config), view, rings })
    }

    fn key(config: &ClusterConfig) -> (PartitionStrategy, Vec<NodeId>, u64) {
        (config.strategy, config.initial_members.clone(), config.token_seed)
    }

    /// Whether `config` names the cluster this view was made for (and so is valid).
    fn fits(&self, config: &ClusterConfig) -> bool {
        self.made_for == BootView::key(config)
    }
}

/// Everything a running process holds, durable and volatile: it serializes whole
/// ([`Node::state_bytes`], with the hint store's volatile confirmations beside it) so a host can
/// move a node between threads mid-run. The rings are rebuilt from the view on arrival and
/// outputs are drained before a move, so neither travels.
#[derive(Clone, Serialize, Deserialize)]
pub struct Node {
    pub(super) config: ClusterConfig,
    pub(super) id: NodeId,
    #[serde(with = "rng_state")]
    pub(super) rng: ChaCha8Rng,
    pub(super) durable: Durable,
    pub(super) durable_changed: bool,
    pub(super) now_ms: u64,
    /// Shared: a ring changes only with the view, so the nodes booted from one view, and the
    /// copies of a node `dynamoscope explore` keeps, share it rather than copy its tokens.
    #[serde(skip)]
    pub(super) current_ring: Arc<Ring>,
    #[serde(skip)]
    pub(super) future_ring: Arc<Ring>,
    /// The view's members that have not left, ascending, kept with the rings: gossip picks a
    /// peer from them every interval, and scanning every record for it was 9 % of a 1,024-node
    /// run (issue 14).
    #[serde(skip)]
    live_members: Vec<NodeId>,
    /// [`Ring::ranges_replicated_by`] this node on the current ring, and for which N, filled
    /// when first asked after the rings change: every anti-entropy round reads it, and working
    /// it out walks every token, 7 % of a 1,024-node run (issue 14).
    #[serde(skip)]
    replicated_ranges: Option<(usize, Vec<KeyRange>)>,
    /// The view's [`MembershipView::versions_digest`], kept with the rings: both ends of every
    /// gossip round need it, and it reads every record.
    #[serde(skip)]
    pub(super) view_digest: u64,
    /// The view's whole encoding hashed, filled when `dynamoscope explore` first fingerprints
    /// this node after its rings change ([`Node::fingerprint_state`]): a view changes far more
    /// rarely than the rest of a node, and its tokens were most of a node's hashing.
    #[serde(skip)]
    view_hash: std::cell::Cell<Option<u64>>,
    /// How many times the rings were rebuilt from the view: once at boot, then only when the
    /// membership view changes (issue 14's test holds it; a rebuild walks every token).
    ring_builds: u64,
    pub(super) operations: SmallMap<OperationId, Operation>,
    pub(super) forwards: SmallMap<RequestId, Forwarding>,
    /// Rounds this boot has coordinated; with `boot_ms` and the incarnation it names each one.
    pub(super) next_operation: u64,
    /// The instant of this boot's first input: part of every operation id it mints, so answers
    /// meant for an earlier boot never count toward a quorum of this one.
    pub(super) boot_ms: Option<u64>,
    /// Started from nothing after its disk was lost (see [`Node::without_disk`]).
    lost_disk: bool,
    pub(super) detector: Detector,
    pub(super) exchanges: SmallMap<(NodeId, u64), Exchange>,
    pub(super) next_exchange: u64,
    pub(super) anti_entropy_cursor: usize,
    pub(super) repairs: RepairQueue,
    pub(super) transfers: Transfers,
    pub(super) gossip_round: u64,
    pub(super) pending_gossip: SmallMap<NodeId, u64>,
    #[serde(skip)]
    pub(super) outputs: Vec<Output>,
}

/// A generator travels as its seed, stream and position, so the moved node draws exactly the
/// numbers it would have drawn where it was.
mod rng_state {
    use rand_chacha::ChaCha8Rng;
    use rand_core::SeedableRng;
    use serde::{Deserialize, Deserializer, Serialize, Serializer};

    pub fn serialize<S: Serializer>(rng: &ChaCha8Rng, serializer: S) -> Result<S::Ok, S::Error> {
        (rng.get_seed(), rng.get_stream(), rng.get_word_pos()).serialize(serializer)
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(deserializer: D) -> Result<ChaCha8Rng, D::Error> {
        let (seed, stream, word_pos): ([u8; 32], u64, u128) = Deserialize::deserialize(deserializer)?;
        let mut rng = ChaCha8Rng::from_seed(seed);
        rng.set_stream(stream);
        rng.set_word_pos(word_pos);
        Ok(rng)
    }
}

impl Node {
    /// A node of the configured initial cluster, or (if it is not an initial member) a node
    /// that knows the initial cluster and waits for an operator's `Join`.
    pub fn new(config: ClusterConfig, id: NodeId, seed: u64) -> Result<Node, ConfigError> {
        let boot = BootView::of(&config)?;
        Node::booting(config, id, seed, &boot)
    }

    /// [`Node::new`] with the boot view already computed from this same configuration, so a
    /// host starting many nodes of one cluster computes it once. Panics if `boot` was made from
    /// another cluster's members, strategy or token seed.
    pub fn booting(
        config: ClusterConfig,
        id: NodeId,
        seed: u64,
        boot: &BootView,
    ) -> Result<Node, ConfigError> {
        config.validate()?;
        assert!(boot.fits(&config), "a boot view made for another cluster: {:?}", boot.made_for);
        let durable = Durable {
            store: VersionedStore::new(config.conflict_policy),
            hints: HintStore::default(),
            view: boot.view.clone(),
            incarnation: 0,
            dots_issued: 0,
        };
        Ok(Node::start(config, id, seed, durable, boot.rings.clone()))
    }

    /// Restarts a node whose disk was lost (a wipe): it starts from nothing, as a new one does,
    /// except that it cannot know the dots it gave writes before, so at its first input it moves
    /// its dot counter past any it could have given by then ([`OPERATIONS_MAX`] a millisecond):
    /// a new write never reuses a dot that replicas still hold.
    pub fn without_disk(
        config: ClusterConfig,
        id: NodeId,
        seed: u64,
        boot: &BootView,
    ) -> Result<Node, ConfigError> {
        let mut node = Node::booting(config, id, seed, boot)?;
        node.lost_disk = true;
        Ok(node)
    }

    /// Restarts a node from its disk (the bytes of [`Node::durable_bytes`]). Volatile state —
    /// requests in flight, failure-detector suspicions, Merkle exchanges — starts empty.
    pub fn restore(config: ClusterConfig, id: NodeId, seed: u64, bytes: &[u8]) -> Result<Node, String> {
        Node::restore_with(config, id, seed, bytes, None)
    }

    /// [`Node::restore`], sharing `boot`'s rings if the disk's view is still the one the cluster
    /// booted with (membership never changed): building rings hashes every token, and it was a
    /// twentieth of `dynamoscope explore`'s work, which restarts nodes at every depth.
    pub fn restore_sharing(
        config: ClusterConfig,
        id: NodeId,
        seed: u64,
        bytes: &[u8],
        boot: &BootView,
    ) -> Result<Node, String> {
        Node::restore_with(config, id, seed, bytes, Some(boot))
    }

    fn restore_with(
        config: ClusterConfig,
        id: NodeId,
        seed: u64,
        bytes: &[u8],
        boot: Option<&BootView>,
    ) -> Result<Node, String> {
        config.validate().map_err(|error| error.to_string())?;
        let mut durable = Node::read_disk(bytes)?;
        durable.incarnation += 1;
        let rings = match boot {
            Some(boot) if boot.view == durable.view => boot.rings.clone(),
            _ => (Arc::new(durable.view.current_ring()), Arc::new(durable.view.future_ring())),
        };
        let mut node = Node::start(config, id, seed, durable, rings);
        node.durable_changed = true;
        Ok(node)
    }

    /// What a disk ([`Node::durable_bytes`]) holds, read as a restart reads it.
    pub fn read_disk(bytes: &[u8]) -> Result<Durable, String> {
        postcard::from_bytes(bytes).map_err(|error| format!("unreadable durable state: {error}"))
    }

    /// The whole process as bytes, volatile state included (operations in flight, suspicions,
    /// exchanges, transfers, the generator's position): [`Node::from_state_bytes`] continues it
    /// exactly where it stopped. Taken between inputs, with its outputs drained.
    pub fn state_bytes(&self) -> Vec<u8> {
        postcard::to_allocvec(&self.state()).expect("a node always serializes")
    }

    /// What [`Node::state_bytes`] encodes: the node and, because the durable state leaves them
    /// out, the hint store's volatile confirmations.
    fn state(&self) -> impl Serialize + '_ {
        assert!(self.outputs.is_empty(), "a node moves between inputs, with its outputs drained");
        (self, self.durable.hints.confirmations())
    }

    /// What `dynamoscope explore` fingerprints of a node: everything [`Node::state_bytes`]
    /// encodes but its configuration (which the caller hashes once for all nodes that share it) and
    /// its membership view, which comes as a hash kept with the rings. Every field is named,
    /// so a field added to [`Node`] or [`Durable`] does not compile until it is placed here.
    pub fn fingerprint_state(&self) -> (&ClusterConfig, impl Serialize + '_) {
        let Node {
            config,
            id,
            rng,
            durable,
            durable_changed,
            now_ms,
            current_ring: _,
            future_ring: _,
            live_members: _,
            replicated_ranges: _,
            view_digest: _,
            view_hash: _,
            ring_builds,
            operations,
            forwards,
            next_operation,
            boot_ms,
            lost_disk,
            detector,
            exchanges,
            next_exchange,
            anti_entropy_cursor,
            repairs,
            transfers,
            gossip_round,
            pending_gossip,
            outputs,
        } = self;
        let Durable { store, hints, view: _, incarnation, dots_issued } = durable;
        assert!(outputs.is_empty(), "a node moves between inputs, with its outputs drained");
        let rng = (rng.get_seed(), rng.get_stream(), rng.get_word_pos());
        let volatile = (id, rng, durable_changed, now_ms, ring_builds, operations, forwards);
        let more = (next_operation, boot_ms, lost_disk, detector, exchanges, next_exchange);
        let rest = (anti_entropy_cursor, repairs, transfers, gossip_round, pending_gossip);
        let durable = (store, hints, hints.confirmations(), incarnation, dots_issued, self.view_hash());
        (config, (volatile, more, rest, durable))
    }

    /// The hash of the membership view's encoding, worked out once per change of the rings.
    fn view_hash(&self) -> u64 {
        let fresh =
            || types::hash_bytes(&postcard::to_allocvec(&self.durable.view).expect("a view serializes"));
        let hash = self.view_hash.get().unwrap_or_else(|| {
            let hash = fresh();
            self.view_hash.set(Some(hash));
            hash
        });
        debug_assert_eq!(hash, fresh(), "the view changed without its rings");
        hash
    }

    /// The node [`Node::state_bytes`] wrote, its rings rebuilt from its view (which is not a
    /// membership change: [`Node::ring_builds`] does not count it).
    pub fn from_state_bytes(bytes: &[u8]) -> Result<Node, String> {
        let (mut node, confirmations): (Node, _) =
            postcard::from_bytes(bytes).map_err(|error| format!("unreadable node state: {error}"))?;
        node.durable.hints.set_confirmations(confirmations);
        node.config.validate().map_err(|error| error.to_string())?;
        node.build_rings();
        Ok(node)
    }

    /// A process on `durable`, with the rings its view resolves to.
    fn start(
        config: ClusterConfig,
        id: NodeId,
        seed: u64,
        durable: Durable,
        rings: (Arc<Ring>, Arc<Ring>),
    ) -> Node {
        let rng_seed = seed ^ u64::from(id.0).rotate_left(32) ^ durable.incarnation.rotate_left(48);
        let mut node = Node {
            detector: Detector::new(config.failure_detector),
            config,
            id,
            rng: ChaCha8Rng::seed_from_u64(rng_seed),
            durable,
            durable_changed: false,
            now_ms: 0,
            live_members: Vec::new(),
            replicated_ranges: None,
            view_digest: 0,
            view_hash: std::cell::Cell::new(None),
            current_ring: rings.0,
            future_ring: rings.1,
            // The rings it starts with are its one build at boot.
            ring_builds: 1,
            operations: SmallMap::new(),
            forwards: SmallMap::new(),
            next_operation: 0,
            boot_ms: None,
            lost_disk: false,
            exchanges: SmallMap::new(),
            next_exchange: 0,
            anti_entropy_cursor: 0,
            repairs: RepairQueue::default(),
            transfers: Transfers::default(),
            gossip_round: 0,
            pending_gossip: SmallMap::new(),
            outputs: Vec::new(),
        };
        node.derive_from_view();
        node.schedule_periodic_timers();
        node
    }

    /// Spreads each node's periodic work over its first interval, so nodes do not act in
    /// lockstep.
    fn schedule_periodic_timers(&mut self) {
        let periodic = [
            (Timer::Gossip, self.config.gossip_interval_ms),
            (Timer::AntiEntropy, self.config.anti_entropy_interval_ms),
            (Timer::HintHandoff, self.config.hint_handoff_interval_ms),
            (Timer::FailureDetector, self.config.unreachable_retry_ms),
        ];
        for (timer, interval_ms) in periodic {
            let at_ms = self.now_ms + 1 + self.rng.next_u64() % interval_ms;
            self.set_timer(at_ms, timer);
        }
    }

    pub fn id(&self) -> NodeId {
        self.id
    }

    pub fn config(&self) -> &ClusterConfig {
        &self.config
    }

    pub fn durable(&self) -> &Durable {
        &self.durable
    }

    /// The ring requests are routed on, as this node sees it.
    pub fn ring(&self) -> &Ring {
        &self.current_ring
    }

    pub fn status(&self) -> Option<MemberStatus> {
        self.durable.view.record(self.id).map(|record| record.status)
    }

    pub fn is_reachable(&self, peer: NodeId) -> bool {
        self.detector.is_reachable(peer)
    }

    /// Peers this node currently believes unreachable, ascending.
    pub fn unreachable_peers(&self) -> Vec<NodeId> {
        self.detector.unreachable_peers()
    }

    /// A copy of what the node holds, for the page's inspector: reading it changes nothing.
    pub fn inspect(&self) -> NodeInspection {
        NodeInspection {
            node: self.id,
            now_ms: self.now_ms,
            durable: self.durable.clone(),
            unreachable: self.unreachable_peers(),
            operations_in_flight: self.operations.len(),
        }
    }

    /// The durable state as bytes, for the driver's disk.
    pub fn durable_bytes(&self) -> Vec<u8> {
        postcard::to_allocvec(&self.durable).expect("durable state always serializes")
    }

    /// True once after any step that changed durable state: the driver must persist
    /// [`Node::durable_bytes`] before it acknowledges the step.
    pub fn take_durable_changed(&mut self) -> bool {
        std::mem::take(&mut self.durable_changed)
    }

    pub fn handle_message(&mut self, now_ms: u64, from: NodeId, message: Message) {
        self.advance(now_ms);
        if let Err(reason) = self.admit(from, &message) {
            self.observe(Observation::MessageRejected { from, reason });
            return;
        }
        self.note_alive(from, &message);
        self.dispatch(from, message);
    }

    /// Decodes bytes from the network and handles them; undecodable bytes are observed as a
    /// rejection, never a panic.
    pub fn handle_message_bytes(&mut self, now_ms: u64, from: NodeId, bytes: &[u8]) {
        match Message::decode(bytes) {
            Ok(message) => self.handle_message(now_ms, from, message),
            Err(reason) => {
                self.advance(now_ms);
                self.observe(Observation::MessageRejected { from, reason });
            }
        }
    }

    pub fn handle_timer(&mut self, now_ms: u64, timer: Timer) {
        self.advance(now_ms);
        match timer {
            Timer::Gossip => self.on_gossip_timer(),
            Timer::AntiEntropy => self.on_anti_entropy_timer(),
            Timer::HintHandoff => self.on_hint_handoff_timer(),
            Timer::FailureDetector => self.on_failure_detector_timer(),
            Timer::Operation(operation) => self.on_operation_timer(operation),
            Timer::Forward(request) => self.on_forward_timer(request),
            Timer::GossipReply { peer, round } => self.on_gossip_reply_timer(peer, round),
            Timer::Transfer(transfer) => self.on_transfer_timer(transfer),
        }
    }

    pub fn handle_client(&mut self, now_ms: u64, request: ClientRequest) {
        self.advance(now_ms);
        self.accept_client_request(request);
    }

    pub fn handle_admin(&mut self, now_ms: u64, command: AdminCommand) {
        self.advance(now_ms);
        match command {
            AdminCommand::Join => self.begin_join(),
            AdminCommand::Leave => self.begin_leave(),
            AdminCommand::SetConfig(config) => self.set_config(*config),
            #[cfg(debug_assertions)]
            AdminCommand::DebugPanic => panic!("{} panicked on purpose (debug-only admin command)", self.id),
        }
    }

    /// Takes every output produced since the last call, oldest first.
    pub fn drain_outputs(&mut self) -> std::vec::Drain<'_, Output> {
        self.outputs.drain(..)
    }

    fn set_config(&mut self, config: ClusterConfig) {
        if let Err(error) = config.validate() {
            self.observe(Observation::MessageRejected { from: self.id, reason: error.to_string() });
            return;
        }
        self.durable.store.set_policy(config.conflict_policy);
        self.detector.set_kind(config.failure_detector);
        self.config = config;
        self.durable_changed = true;
    }

    /// Refuses messages no correct peer sends: unknown senders, self-addressed ones, and
    /// out-of-bounds fields.
    fn admit(&self, from: NodeId, message: &Message) -> Result<(), String> {
        if from == self.id {
            return Err("a message from this node itself".into());
        }
        let known = self.durable.view.record(from).is_some();
        let introduces_itself = matches!(
            message,
            Message::Gossip { .. }
                | Message::GossipReply { .. }
                | Message::GossipRecords { .. }
                | Message::RangeRequest { .. }
        );
        if !known && !introduces_itself {
            return Err(format!("{from} is not a member this node knows"));
        }
        message.validate()
    }

    fn dispatch(&mut self, from: NodeId, message: Message) {
        match message {
            Message::Forward { request } => self.coordinate(request, Some(from)),
            Message::ForwardReply { request_id, result } => self.on_forward_reply(from, request_id, result),
            Message::ReplicaWrite { operation, key, version, companions, hint } => {
                self.on_replica_write(from, operation, key, version, companions, hint)
            }
            Message::ReplicaWriteAck { operation, key } => self.on_replica_write_ack(from, operation, key),
            Message::ReplicaRead { operation, key } => self.on_replica_read(from, operation, key),
            Message::ReplicaReadReply { operation, key, versions } => {
                self.on_replica_read_reply(from, operation, key, versions)
            }
            Message::ReadRepair { key, versions } => self.on_read_repair(from, key, versions),
            Message::HintHandoff { hint, key, versions } => self.on_hint_handoff(from, hint, key, versions),
            Message::HintHandoffAck { hint } => self.on_hint_handoff_ack(from, hint),
            Message::Gossip { digest } => self.on_gossip(from, digest),
            Message::GossipReply { versions } => self.on_gossip_reply(from, versions),
            Message::GossipRecords { records, wanted } => self.on_gossip_records(from, records, wanted),
            Message::MerkleCompare { exchange, range, depth, level, hashes } => {
                self.on_merkle_compare(from, exchange, range, depth, level, hashes)
            }
            Message::MerkleInSync { exchange, range } => self.on_merkle_in_sync(from, exchange, range),
            Message::MerkleSync { exchange, range, leaves, entries, reply_wanted } => {
                self.on_merkle_sync(from, exchange, range, leaves, entries, reply_wanted)
            }
            Message::RangeRequest { transfer, range, requester } => {
                self.on_range_request(from, transfer, range, requester)
            }
            Message::RangeTransfer { transfer, range, entries } => {
                self.on_range_transfer(from, transfer, range, entries)
            }
            Message::RangeTransferAck { transfer, range } => {
                self.on_range_transfer_ack(from, transfer, range)
            }
        }
    }

    /// Time only moves forward: drivers hand inputs in time order (the fabric pops its queue in
    /// order and schedules nothing before its clock). `now_ms` comes from the driver, never from
    /// the network, so a driver that hands an earlier time is a bug in the driver.
    fn advance(&mut self, now_ms: u64) {
        assert!(
            now_ms >= self.now_ms,
            "time only moves forward: {} is at {} ms and was handed an input at {now_ms} ms",
            self.id,
            self.now_ms
        );
        self.now_ms = now_ms;
        if self.boot_ms.is_none() {
            self.boot_ms = Some(self.now_ms);
            if self.lost_disk {
                let floor = self.now_ms.saturating_mul(OPERATIONS_MAX as u64);
                self.durable.dots_issued = self.durable.dots_issued.max(floor);
                self.durable_changed = true;
            }
        }
    }

    /// Recomputes both rings after the membership view changed.
    pub(super) fn refresh_rings(&mut self) {
        self.complete_every_extended();
        self.build_rings();
        self.ring_builds += 1;
    }

    /// Both rings from the view, and what the node keeps beside them.
    fn build_rings(&mut self) {
        self.current_ring = Arc::new(self.durable.view.current_ring());
        self.future_ring = Arc::new(self.durable.view.future_ring());
        self.derive_from_view();
    }

    /// What the node keeps derived from its view beside the rings, rebuilt wherever they are.
    fn derive_from_view(&mut self) {
        self.live_members = self.durable.view.live_members();
        self.replicated_ranges = None;
        self.view_digest = self.durable.view.versions_digest();
        self.view_hash.set(None);
    }

    /// The ranges this node replicates on the current ring (§4.7 compares them), worked out
    /// once per ring and N.
    pub(super) fn replicated_ranges(&mut self) -> &[KeyRange] {
        let n = self.config.replicas_n;
        if self.replicated_ranges.as_ref().is_none_or(|(cached_n, _)| *cached_n != n) {
            self.replicated_ranges = Some((n, self.current_ring.ranges_replicated_by(self.id, n)));
        }
        let (_, ranges) = self.replicated_ranges.as_ref().expect("filled above");
        debug_assert_eq!(
            *ranges,
            self.current_ring.ranges_replicated_by(self.id, n),
            "cached ranges are current"
        );
        ranges
    }

    /// How many times this process rebuilt its rings from its membership view.
    pub fn ring_builds(&self) -> u64 {
        self.ring_builds
    }

    pub(super) fn next_operation_id(&mut self) -> OperationId {
        self.next_operation += 1;
        if super::regressions::is_on(super::regressions::Regression::RepliesOfEarlierBootsCount) {
            return OperationId(self.next_operation);
        }
        let boot_ms = self.boot_ms.expect("operations start only while handling an input");
        OperationId::minted(boot_ms, self.durable.incarnation, self.next_operation)
    }

    pub(super) fn send(&mut self, to: NodeId, message: Message) {
        debug_assert_ne!(to, self.id, "a node never messages itself");
        self.push(Output::Send { to, message });
    }

    pub(super) fn set_timer(&mut self, at_ms: u64, timer: Timer) {
        debug_assert!(at_ms >= self.now_ms, "timers are never set in the past");
        self.push(Output::SetTimer { at_ms, timer });
    }

    pub(super) fn reply(&mut self, request: RequestId, result: ClientResult) {
        self.push(Output::Reply { request, result });
    }

    pub(super) fn observe(&mut self, observation: Observation) {
        self.push(Output::Observe(observation));
    }

    fn push(&mut self, output: Output) {
        assert!(self.outputs.len() < OUTPUTS_MAX, "the driver did not drain the node's outputs");
        self.outputs.push(output);
    }

    /// A member other than this node that has not left, as [`Node::choose`] would pick it from
    /// that list, without building the list.
    pub(super) fn choose_live_peer(&mut self) -> Option<NodeId> {
        let own = self.live_members.binary_search(&self.id).ok();
        let count = self.live_members.len() - usize::from(own.is_some());
        if count == 0 {
            return None;
        }
        let index = (self.rng.next_u64() % count as u64) as usize;
        let skips_own = own.is_some_and(|own| index >= own);
        Some(self.live_members[index + usize::from(skips_own)])
    }

    /// A uniformly chosen element, or None for an empty slice.
    pub(super) fn choose<T: Copy>(&mut self, items: &[T]) -> Option<T> {
        if items.is_empty() {
            return None;
        }
        let index = (self.rng.next_u64() % items.len() as u64) as usize;
        Some(items[index])
    }
}
