//! The paper's promises, judged in one place: the checker (a finished run), the page's live
//! badges (node inspections as they stand) and the CLI summary all call these functions.
//!
//! Promises are judged on what clients were told, values first, never on clocks alone:
//!
//! - **Durability** (§4.5–§4.7): an acknowledged put's value stays in its key's sibling set on
//!   every live replica, unless a later put whose context covered it replaced it (its writer
//!   had seen it). A value that is gone for a reason a configuration names is a counted
//!   [`LossCause`], not a violation: equal clocks or a dominated blind write (the paper's
//!   clocks, §4.4), last write wins (§6), or every node holding it wiped. Any other loss is a bug.
//! - **Integrity** (§4.5): a get returns only values written to its own key, and a put is
//!   acknowledged only after W distinct nodes stored it, a get only after R answered, counting
//!   only answers to this very round (never one meant for an earlier incarnation of the
//!   coordinator): judged from the trace, apart from what the nodes claim.
//! - **Convergence** (§4.7): after heal and quiescence every replica of a key holds the same
//!   sibling set.
//! - **Siblings** (§4.4): a sibling set never holds a version another in the set descends from,
//!   nor the same version twice.
//! - **Membership** (§4.8): live nodes see one ring, and it covers every partition.
//! - **Read-your-writes** (§4.5): with R + W > N and no faults, a get never misses a put
//!   acknowledged before it was issued (see the checker, which knows the run's faults).

use std::collections::{BTreeMap, BTreeSet, VecDeque};

use serde::Serialize;

use crate::protocol::membership::{CoverageGap, MembershipView};
use crate::protocol::message::{
    ClientOperation, ClientResponse, ClientResult, Message, OperationId, OperationKind, RequestId,
};
use crate::protocol::node::{AdminCommand, Durable};
use crate::protocol::ring::{ring_position, PartitionStrategy, Ring};
use crate::protocol::small_map::{SmallMap, SmallSet};
use crate::protocol::store::{ConflictPolicy, Version};
use crate::protocol::types::IntoOrdered;
use crate::protocol::vclock::{ClockOrder, VectorClock};
use crate::protocol::{ClusterConfig, Key, NodeId, Observation};
use crate::sim::trace::{Fault, Trace, TraceEvent};

/// Violations one verdict describes at most; the count says how many more there were.
const EXAMPLES_MAX: usize = 1;
/// Characters of a value shown in a message.
const VALUE_CHARS_MAX: usize = 24;

/// What became of one promise.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub enum Verdict {
    Ok,
    Violated(String),
    /// The run does not meet the promise's conditions; says which.
    NotApplicable(String),
    /// Kept except for losses the configuration names and counts (see [`LossCause`]): says how
    /// many, to what, and why the configuration allows it.
    NamedLoss(String),
}

/// Collects violations: the first few described, the rest counted.
#[derive(Default)]
pub struct Findings {
    pub described: Vec<String>,
    pub count: usize,
}

impl Findings {
    /// Takes a closure so that only the described violations pay for their text.
    pub fn add(&mut self, describe: impl FnOnce() -> String) {
        if self.described.len() < EXAMPLES_MAX {
            self.described.push(describe());
        }
        self.count += 1;
    }

    pub fn verdict(self) -> Verdict {
        match self.count {
            0 => Verdict::Ok,
            count if count > self.described.len() => Verdict::Violated(format!(
                "{} (and {} more)",
                self.described.join("; "),
                count - self.described.len()
            )),
            _ => Verdict::Violated(self.described.join("; ")),
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What clients were told.

/// A put a client issued, with what it was told.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutRecord {
    pub key: Key,
    pub value: Vec<u8>,
    /// The context the put carried: what its writer had seen (None: a blind put).
    pub context: Option<VectorClock>,
    /// The clock it was acknowledged with; None if it was not (failed, or no reply yet).
    pub acknowledged: Option<VectorClock>,
    /// The node that coordinated it, as its acknowledgement says.
    pub coordinator: Option<NodeId>,
    pub request: RequestId,
    pub replied_at_ms: Option<u64>,
}

impl PutRecord {
    /// A put as it is issued: not yet answered.
    pub fn issued(request: RequestId, key: Key, value: Vec<u8>, context: Option<VectorClock>) -> PutRecord {
        PutRecord { key, value, context, acknowledged: None, coordinator: None, request, replied_at_ms: None }
    }

    /// What the client was told at `at_ms`.
    pub fn answered(&mut self, at_ms: u64, result: &ClientResult) {
        self.replied_at_ms = Some(at_ms);
        if let Ok(ClientResponse::Put { context, coordinator }) = result {
            self.acknowledged = Some(context.clone());
            self.coordinator = Some(*coordinator);
        }
    }
}

/// Every put issued in the trace's first `end` events (the client side of the run), in the
/// order they were issued. Empty for a trace that kept no events.
pub fn puts_in_trace(trace: &Trace, end: usize) -> Vec<PutRecord> {
    let mut log = PutLog::new(usize::MAX);
    for event in trace.events().take(end) {
        log.fold(&event);
    }
    log.puts.into()
}

/// The puts clients issued, folded from the trace event by event, keeping the latest
/// `puts_max`: the page folds it along with the timeline.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PutLog {
    puts: VecDeque<PutRecord>,
    /// How many puts were dropped from the front to keep `puts_max`.
    dropped: u64,
    /// A request still waiting for its reply → its position counted from the first put ever.
    waiting: SmallMap<RequestId, u64>,
    puts_max: usize,
}

impl Default for PutLog {
    fn default() -> PutLog {
        PutLog::new(PUTS_KEPT_MAX)
    }
}

/// Puts the page's log keeps: enough for every put of a class's runs, and a bound on a long one.
pub const PUTS_KEPT_MAX: usize = 20_000;

impl PutLog {
    pub fn new(puts_max: usize) -> PutLog {
        PutLog { puts: VecDeque::new(), dropped: 0, waiting: SmallMap::new(), puts_max }
    }

    /// The puts kept, oldest first.
    pub fn puts(&self) -> &VecDeque<PutRecord> {
        &self.puts
    }

    pub fn fold(&mut self, event: &TraceEvent) {
        match event {
            TraceEvent::ClientRequested { request, .. } => {
                let ClientOperation::Put { key, value, context } = &request.operation else { return };
                if self.puts.len() == self.puts_max {
                    self.puts.pop_front();
                    self.dropped += 1;
                }
                self.waiting.insert(request.id, self.dropped + self.puts.len() as u64);
                self.puts.push_back(PutRecord::issued(
                    request.id,
                    key.clone(),
                    value.clone(),
                    context.clone(),
                ));
            }
            TraceEvent::ClientReplied { at_ms, request, result, .. } => {
                let Some(position) = self.waiting.remove(request) else { return };
                let Some(put) =
                    position.checked_sub(self.dropped).and_then(|index| self.puts.get_mut(index as usize))
                else {
                    return;
                };
                put.answered(*at_ms, result);
            }
            _ => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// What the nodes hold.

/// The live nodes' durable state and the ring replicas are judged by: the lowest live node's
/// current ring (membership says whether every node agrees with it).
pub struct Holders<'a> {
    pub nodes: BTreeMap<NodeId, &'a Durable>,
    /// The first node's ring, built when first asked: judging mid-run needs none, and building
    /// it was 5 % of explore's time.
    ring: std::cell::OnceCell<Ring>,
    replicas_n: usize,
    strategy: PartitionStrategy,
}

impl<'a> Holders<'a> {
    /// `config` gives N and the partitioning strategy the ring must cover.
    pub fn new(nodes: BTreeMap<NodeId, &'a Durable>, config: &ClusterConfig) -> Holders<'a> {
        let ring = std::cell::OnceCell::new();
        Holders { nodes, ring, replicas_n: config.replicas_n, strategy: config.strategy }
    }

    fn ring(&self) -> &Ring {
        self.ring.get_or_init(|| {
            self.nodes.values().next().map(|durable| durable.view.current_ring()).unwrap_or_default()
        })
    }

    /// The key's top N that are live, with what each stores (hints apart, §4.6).
    pub fn replicas(&self, key: &str) -> Vec<(NodeId, &'a [Version])> {
        if self.ring().is_empty() {
            return Vec::new();
        }
        let preference = self.ring().preference_list(ring_position(key.as_bytes()), self.replicas_n);
        preference
            .into_iter()
            .filter_map(|id| self.nodes.get(&id).map(|durable| (id, durable.store.get(key))))
            .collect()
    }

    /// Every key any live node stores.
    pub fn keys(&self) -> BTreeSet<&'a str> {
        self.nodes
            .values()
            .flat_map(|durable| durable.store.keys().map(|(key, _)| key.as_str()))
            .into_btree_set()
    }

    /// Every version of `key` any live node holds, in its store or in its hints.
    pub fn held_anywhere(&self, key: &str) -> Vec<&'a Version> {
        let mut held = Vec::new();
        for durable in self.nodes.values() {
            held.extend(durable.store.get(key));
            for (_, hint) in durable.hints.iter() {
                if hint.key == key {
                    held.extend(hint.versions.iter());
                }
            }
        }
        held
    }
}

// ---------------------------------------------------------------------------------------------
// Durability.

/// Why an acknowledged value is gone, when a configuration or an operator's act explains it.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Serialize)]
pub enum LossCause {
    /// Two puts with one context through one coordinator got causally equal paper clocks; the
    /// store kept one value (§4.4: the paper's clocks name servers, not writes).
    EqualClocks,
    /// A coordinator gave two different writes the same counter of its own (its entry in the
    /// context was behind what it had already written), so a later version seems to descend a
    /// write its writer never saw (§4.4's clocks count per server, not per write).
    ReusedCounter,
    /// A put without context got a paper clock that a stored version already descends.
    DominatedBlindWrite,
    /// Last write wins kept another value (§6).
    LastWriteWins,
    /// Every node that held the value was wiped.
    EveryHolderWiped,
}

impl LossCause {
    pub const ALL: [LossCause; 5] = [
        LossCause::EqualClocks,
        LossCause::ReusedCounter,
        LossCause::DominatedBlindWrite,
        LossCause::LastWriteWins,
        LossCause::EveryHolderWiped,
    ];

    /// The name the summary, the page and the JSON use.
    pub fn name(self) -> &'static str {
        match self {
            LossCause::EqualClocks => "equal clocks",
            LossCause::ReusedCounter => "reused counter",
            LossCause::DominatedBlindWrite => "dominated blind write",
            LossCause::LastWriteWins => "last write wins",
            LossCause::EveryHolderWiped => "every holder wiped",
        }
    }

    /// Why a configuration allows it, in a sentence.
    pub fn explanation(self) -> &'static str {
        match self {
            LossCause::EqualClocks => {
                "two puts with the same context through the same coordinator get equal paper clocks \
                 and the store keeps one; dotted version vectors keep both"
            }
            LossCause::ReusedCounter => {
                "a coordinator whose entry in the context was behind gave two writes the same paper \
                 counter, so a later version seems to have seen a write it never saw; dotted version \
                 vectors count from what the coordinator holds"
            }
            LossCause::DominatedBlindWrite => {
                "a put without context gets the paper clock {coordinator:1}, which a stored version \
                 can already descend; dotted version vectors keep it as a sibling"
            }
            LossCause::LastWriteWins => "last write wins keeps one value of concurrent writes by design (§6)",
            LossCause::EveryHolderWiped => "every node that held the value lost its disk",
        }
    }
}

/// Losses a configuration names, by cause.
pub type Losses = SmallMap<LossCause, usize>;

/// A version a wipe destroyed that no other node held.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WipedVersion {
    pub at_ms: u64,
    pub node: NodeId,
    pub key: Key,
    pub value: Vec<u8>,
}

/// Where an acknowledged value must still be: on every live replica of its key after repair
/// (the checker), or on some live node, in its store or its hints (the page, mid-run).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Scope {
    EveryReplica,
    AnyLiveNode,
    /// On some node the caller handed over, running or crashed (its disk): the explorer, which
    /// judges every state of a run, crashes included, before any repair.
    AnyNode,
}

/// What the run's configuration allows to be lost.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Allowances {
    /// Last write wins was in force at some point.
    pub last_write_wins: bool,
}

impl Allowances {
    pub fn of_configs<'a>(configs: impl IntoIterator<Item = &'a ClusterConfig>) -> Allowances {
        let last_write_wins =
            configs.into_iter().any(|config| config.conflict_policy == ConflictPolicy::LastWriteWins);
        Allowances { last_write_wins }
    }
}

/// The durability verdict and the losses a configuration names.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct DurabilityJudgement {
    pub verdict: Verdict,
    pub losses: Losses,
    /// Keys of violations, for trace excerpts.
    pub keys: BTreeSet<Key>,
    /// Acknowledged puts judged.
    pub checked: usize,
}

/// Judges every acknowledged put of `puts` (all puts issued, acknowledged or not: any of them
/// may have replaced a value legitimately) against what `holders` hold.
pub fn durability<'p>(
    puts: impl IntoIterator<Item = &'p PutRecord>,
    holders: &Holders,
    scope: Scope,
    wiped: &[WipedVersion],
    allowances: Allowances,
) -> DurabilityJudgement {
    // Grouped by key by a sort of positions, in issue order within a key: a map of groups would
    // add its own copy of the map's code to the page's wasm.
    let mut order: Vec<&PutRecord> = puts.into_iter().collect();
    order.sort_unstable_by(|left, right| left.key.cmp(&right.key).then(left.request.cmp(&right.request)));
    let mut findings = Findings::default();
    let mut losses = Losses::new();
    let mut keys = BTreeSet::new();
    let mut checked = 0;
    for puts in order.chunk_by(|left, right| left.key == right.key) {
        let key = puts[0].key.as_str();
        // Only every replica's judgement reads the top N (and its text names them).
        let replicas = if scope == Scope::EveryReplica { holders.replicas(key) } else { Vec::new() };
        let anywhere = holders.held_anywhere(key);
        let kept_of_equals = equal_clock_survivors(puts);
        let by_event = puts_by_event(puts);
        for (index, put) in puts.iter().enumerate() {
            let Some(clock) = &put.acknowledged else { continue };
            checked += 1;
            let missing: Vec<NodeId> = match scope {
                Scope::EveryReplica => replicas
                    .iter()
                    .filter(|(_, versions)| !versions.iter().any(|version| version.value == put.value))
                    .map(|(id, _)| *id)
                    .collect(),
                Scope::AnyLiveNode | Scope::AnyNode
                    if anywhere.iter().any(|version| version.value == put.value) =>
                {
                    Vec::new()
                }
                Scope::AnyLiveNode | Scope::AnyNode => holders.nodes.keys().copied().collect(),
            };
            if missing.is_empty() {
                continue;
            }
            let everywhere = match scope {
                Scope::EveryReplica => missing.len() == replicas.len(),
                Scope::AnyLiveNode | Scope::AnyNode => true,
            };
            let survivor = kept_of_equals[index];
            let named =
                everywhere.then(|| named_loss(put, clock, survivor, puts, index, &by_event, wiped)).flatten();
            // A loss the configuration names counts unless a writer who had seen the value
            // replaced it before the put that took it was issued.
            let superseder = first_superseder(clock, puts, index);
            let cause = match named {
                Some((_, partner)) if superseder.is_some_and(|superseder| superseder < partner) => continue,
                Some((cause, _)) => Some(cause),
                None if superseder.is_some() => continue,
                None if everywhere && allowances.last_write_wins => Some(LossCause::LastWriteWins),
                None if everywhere => taken_by_held_version(put, clock, &anywhere),
                None => None,
            };
            if let Some(cause) = cause {
                *losses.entry(cause).or_default() += 1;
                continue;
            }
            keys.insert(key.to_string());
            findings.add(|| {
                let all: Vec<NodeId> = replicas.iter().map(|(id, _)| *id).collect();
                let place = match scope {
                    Scope::EveryReplica => {
                        format!("is missing at {} of replicas {}", nodes_text(&missing), nodes_text(&all))
                    }
                    Scope::AnyLiveNode => "is held by no live node, in store or hints".to_string(),
                    Scope::AnyNode => "is held by no node, running or crashed, in store or hints".to_string(),
                };
                format!(
                    "put of {key} = \"{}\" acknowledged at {} ms with clock {} (request {}) {place}, and no \
                     configured loss explains it",
                    value_text(&put.value),
                    put.replied_at_ms.unwrap_or(0),
                    clock_text(clock),
                    put.request.0,
                )
            });
        }
    }
    let verdict = match findings.verdict() {
        Verdict::Ok if !losses.is_empty() => Verdict::NamedLoss(losses_text(&losses, checked)),
        verdict => verdict,
    };
    DurabilityJudgement { verdict, losses, keys, checked }
}

/// "3 of 120 acknowledged puts lost: 3 to equal clocks (two puts with …)".
pub fn losses_text(losses: &Losses, checked: usize) -> String {
    let lost: usize = losses.values().sum();
    let causes: Vec<String> = losses
        .iter()
        .map(|(cause, count)| format!("{count} to {} ({})", cause.name(), cause.explanation()))
        .collect();
    format!("{lost} of {checked} acknowledged puts lost: {}", causes.join("; "))
}

/// The position of the first put other than `puts[index]` whose context had seen `clock`: its
/// writer read the version and chose what replaced it. Later puts are looked at first, since
/// they usually do (an earlier one can only with a clock that is not this put's alone).
fn first_superseder(clock: &VectorClock, puts: &[&PutRecord], index: usize) -> Option<usize> {
    let saw = |other: &&PutRecord| other.context.as_ref().is_some_and(|context| context.descends(clock));
    let later = puts[index + 1..].iter().position(saw).map(|offset| index + 1 + offset);
    later.or_else(|| puts[..index].iter().position(saw))
}

/// For each group of acknowledged puts of one key whose clocks are causally equal (the same
/// events) with different values, the one a store keeps: the largest `(clock, value)`, as
/// [`crate::protocol::store`] breaks the tie. Keyed by the position of each put in `puts`.
/// Grouped by each clock's events (its counters and dot, not its timestamps) with a sort, so a
/// key with thousands of puts costs n log n, not n².
fn equal_clock_survivors(puts: &[&PutRecord]) -> Vec<Option<usize>> {
    let mut acknowledged: Vec<(Vec<(NodeId, u64)>, usize)> = puts
        .iter()
        .enumerate()
        .filter_map(|(index, put)| put.acknowledged.as_ref().map(|clock| (events_of(clock), index)))
        .collect();
    acknowledged.sort_unstable();
    let mut survivor = vec![None; puts.len()];
    for group in acknowledged.chunk_by(|left, right| left.0 == right.0) {
        let kept = group.iter().map(|(_, index)| *index).max_by(|left, right| {
            (&puts[*left].acknowledged, &puts[*left].value)
                .cmp(&(&puts[*right].acknowledged, &puts[*right].value))
        });
        for (_, member) in group {
            survivor[*member] = kept;
        }
    }
    survivor
}

/// A clock's events as causality sees them: each entry's counter, then the dot (as a counter
/// of node `u32::MAX - node`, apart from the entries).
fn events_of(clock: &VectorClock) -> Vec<(NodeId, u64)> {
    let mut events: Vec<(NodeId, u64)> =
        clock.entries().iter().map(|entry| (entry.node, entry.counter)).collect();
    events.extend(clock.dot().map(|dot| (NodeId(u32::MAX - dot.node.0), dot.counter)));
    events
}

/// The acknowledged puts of one key as ([(coordinator, the coordinator's own counter)],
/// position), sorted: who shares an event a paper clock cannot tell apart, found by binary
/// search. (The event is a one-entry list so this sorts the same type as the equal-clock groups,
/// one copy of the sort in the page's wasm.)
fn puts_by_event(puts: &[&PutRecord]) -> Vec<(Vec<(NodeId, u64)>, usize)> {
    let mut by_event: Vec<(Vec<(NodeId, u64)>, usize)> = puts
        .iter()
        .enumerate()
        .filter_map(|(index, put)| match (&put.acknowledged, put.coordinator) {
            (Some(clock), Some(coordinator)) => {
                Some((vec![(coordinator, clock.counter(coordinator))], index))
            }
            _ => None,
        })
        .collect();
    by_event.sort_unstable();
    by_event
}

/// The cause of a value lost at birth, before any reader could have seen it, when the
/// configuration names it: every holder wiped; with the paper's clocks, a survivor of equal clock
/// (`survivor`, the put a store keeps of `put`'s equal-clock group), or for a blind put an
/// earlier acknowledged version whose clock already descends it.
/// With the position of the put that took the value (the wipe: none, so any superseding put
/// comes first).
fn named_loss(
    put: &PutRecord,
    clock: &VectorClock,
    survivor: Option<usize>,
    puts: &[&PutRecord],
    index: usize,
    by_event: &[(Vec<(NodeId, u64)>, usize)],
    wiped: &[WipedVersion],
) -> Option<(LossCause, usize)> {
    if wiped.iter().any(|lost| lost.key == put.key && lost.value == put.value) {
        return Some((LossCause::EveryHolderWiped, usize::MAX));
    }
    if clock.dot().is_some() {
        return None;
    }
    if let Some(kept) = survivor.filter(|kept| puts[*kept].value != put.value) {
        return Some((LossCause::EqualClocks, kept));
    }
    if put.context.is_none() {
        let dominating = puts[..index].iter().position(|earlier| {
            earlier.value != put.value
                && earlier.acknowledged.as_ref().is_some_and(|earlier| earlier.descends(clock))
        });
        if let Some(earlier) = dominating {
            return Some((LossCause::DominatedBlindWrite, earlier));
        }
    }
    let coordinator = put.coordinator?;
    let event = [(coordinator, clock.counter(coordinator))];
    let first = by_event.partition_point(|(shared, _)| shared.as_slice() < event.as_slice());
    let sharing = by_event[first..].iter().take_while(|(shared, _)| shared.as_slice() == event.as_slice());
    let reuser = sharing.map(|(_, index)| *index).find(|other| puts[*other].value != put.value);
    reuser.map(|reuser| (LossCause::ReusedCounter, reuser))
}

/// With the paper's clocks, a value no writer who had seen it replaced, while a version with
/// another value is held whose clock equals or descends it: the clock claims a write its writer
/// never saw. That is §4.4's clocks at work (a retried or unacknowledged put, whose clock no
/// acknowledgement shows, can take a value so too), named by how the lost put was made.
fn taken_by_held_version(put: &PutRecord, clock: &VectorClock, held: &[&Version]) -> Option<LossCause> {
    if clock.dot().is_some() {
        return None;
    }
    let mut others = held.iter().filter(|version| version.value != put.value);
    let taker = others.find(|version| version.clock.dot().is_none() && version.clock.descends(clock))?;
    Some(match taker.clock.compare(clock) {
        ClockOrder::Equal => LossCause::EqualClocks,
        _ if put.context.is_none() => LossCause::DominatedBlindWrite,
        _ => LossCause::ReusedCounter,
    })
}

// ---------------------------------------------------------------------------------------------
// Convergence, siblings, membership.

/// One replica's sibling set for a key.
pub type Held<'a> = (NodeId, &'a [Version]);

/// Keys whose live replicas hold different sibling sets, each with two replicas that differ, in
/// key order.
///
/// Range by range, as anti-entropy compares (§4.7): the live replicas of a range agree when
/// they list the same keys with the same sibling set digests, read in ring order from the
/// stores' index, with no lookup per key. Only a range where they differ is compared key by key,
/// on the sets themselves. A key no live replica holds cannot differ between them. (The digests
/// cannot go stale: the store's sets change only through the calls that mark them unread.)
pub fn disagreements<'a, 'b>(
    holders: &'b Holders<'a>,
) -> impl Iterator<Item = (&'a str, Held<'a>, Held<'a>)> + 'b {
    let mut found: BTreeMap<&'a str, (Held<'a>, Held<'a>)> = BTreeMap::new();
    for (range, _) in holders.ring().ranges() {
        let preference = holders.ring().preference_list(range.end_inclusive, holders.replicas_n);
        let live: Vec<(NodeId, &'a Durable)> = preference
            .into_iter()
            .filter_map(|node| holders.nodes.get(&node).map(|held| (node, *held)))
            .collect();
        let Some(&(first, first_durable)) = live.first() else { continue };
        let listed = |durable: &'a Durable| durable.store.in_range(range);
        if live[1..].iter().all(|(_, replica)| listed(replica).eq(listed(first_durable))) {
            continue;
        }
        // The first live replica compares every key it holds; another reports those it lacks.
        for (id, durable) in &live {
            for (_, key, _) in listed(durable) {
                let first_versions = first_durable.store.get(key);
                if *id != first && !first_versions.is_empty() {
                    continue;
                }
                let differs = live.iter().find(|(_, replica)| replica.store.get(key) != first_versions);
                if let Some((other, other_durable)) = differs {
                    found.insert(
                        key.as_str(),
                        ((first, first_versions), (*other, other_durable.store.get(key))),
                    );
                }
            }
        }
    }
    found.into_iter().map(|(key, (first, other))| (key, first, other))
}

pub fn convergence(holders: &Holders, keys: &mut BTreeSet<Key>) -> Findings {
    let mut findings = Findings::default();
    for (key, (first, first_versions), (other, other_versions)) in disagreements(holders) {
        keys.insert(key.to_string());
        findings.add(|| {
            let (first_text, other_text) = (versions_text(first_versions), versions_text(other_versions));
            format!("{key}: {first} holds {first_text} but {other} holds {other_text}")
        });
    }
    findings
}

pub fn siblings(holders: &Holders, keys: &mut BTreeSet<Key>) -> Findings {
    let mut findings = Findings::default();
    for (id, durable) in &holders.nodes {
        for (key, versions) in durable.store.keys() {
            let Some((left, right)) = related_pair(versions) else { continue };
            keys.insert(key.clone());
            findings.add(|| {
                let relation = match left.clock.compare(&right.clock) {
                    ClockOrder::Equal if left == right => "the same version twice",
                    ClockOrder::Equal => "two versions with equal clocks",
                    _ => "a version its sibling descends from",
                };
                format!("{id} holds {relation} for {key}: {}", versions_text(versions))
            });
        }
    }
    findings
}

/// Two versions of one sibling set that are not concurrent, if any. Equal dotted clocks with
/// different values are two writes that reused a dot: the store keeps both, as concurrent.
fn related_pair(versions: &[Version]) -> Option<(&Version, &Version)> {
    versions.iter().enumerate().find_map(|(index, left)| {
        let related = versions[index + 1..].iter().find(|right| match left.clock.compare(&right.clock) {
            ClockOrder::Concurrent => false,
            ClockOrder::Equal => left.clock.dot().is_none() || left.value == right.value,
            ClockOrder::Before | ClockOrder::After => true,
        });
        related.map(|right| (left, right))
    })
}

/// Every live node sees the same ring, and that ring covers every partition with a serving
/// member.
pub fn membership(holders: &Holders) -> Findings {
    let mut findings = Findings::default();
    // Nodes holding equal views see the same ring, so each distinct view is judged once: a
    // converged cluster has one (issue 14: a ring per node was half of a short 1,024-node run).
    // Views are matched by their records' versions first, then compared whole.
    let mut judged: Vec<(u64, &MembershipView, u64, Vec<CoverageGap>)> = Vec::new();
    let mut judgements = Vec::with_capacity(holders.nodes.len());
    for (id, durable) in &holders.nodes {
        let view = &durable.view;
        let versions = view.versions_digest();
        let index = match judged.iter().position(|(seen, other, ..)| *seen == versions && *other == view) {
            Some(index) => index,
            None => {
                judged.push((versions, view, view.ring_digest(), view.coverage_gaps(holders.strategy)));
                judged.len() - 1
            }
        };
        judgements.push((*id, index));
    }
    let mut digests = judgements.iter().map(|(id, index)| (*id, judged[*index].2));
    let Some((first, expected)) = digests.next() else { return findings };
    for (id, digest) in digests.filter(|(_, digest)| *digest != expected) {
        findings.add(|| format!("{id} sees ring {digest:016x}, {first} sees {expected:016x}"));
    }
    for (id, index) in &judgements {
        let gaps = &judged[*index].3;
        if let Some(gap) = gaps.first() {
            let count = gaps.len();
            findings
                .add(|| format!("{id}'s ring does not cover every partition ({count} gaps, first {gap:?})"));
        }
    }
    findings
}

// ---------------------------------------------------------------------------------------------
// Integrity, from the trace.

/// One get or put round as the trace shows it.
#[derive(Clone)]
struct Round {
    kind: OperationKind,
    key: Key,
    required: usize,
    /// Nodes that stored this round's version (or answered its read), the coordinator included
    /// when it is one of the key's top N.
    answered: SmallSet<NodeId>,
}

/// What the integrity audit knows of one replica message.
#[derive(Clone, Copy)]
enum Traced {
    /// A replica write or read a round sent: (coordinator, request, which of the request's
    /// rounds).
    Request(NodeId, RequestId, usize),
    /// A replica's answer to the replica message with this id.
    Answer(u64),
}

/// Judges integrity from a full trace: every get's values were written to its own key, and every
/// acknowledged put and successful get had W (or R) distinct answers to this very round before
/// the reply. The trace ties an answer to the message it answers by position (a node's outputs
/// follow the input they answer), never by the operation ids the nodes chose, so an answer meant
/// for an earlier incarnation of the coordinator never counts for a later round.
pub fn integrity(trace: &Trace, config: &ClusterConfig, keys: &mut BTreeSet<Key>) -> Verdict {
    IntegrityAudit::new(config).fold(trace.events(), keys)
}

/// [`integrity`]'s audit, fed event by event: the explorer keeps one per state and folds in
/// only the events of each transition, so no state keeps its whole trace.
#[derive(Clone)]
pub struct IntegrityAudit(Audit);

impl IntegrityAudit {
    pub fn new(config: &ClusterConfig) -> IntegrityAudit {
        IntegrityAudit(Audit::new(config))
    }

    /// Folds in `events`, the ones after those folded before; the verdict on them alone (what
    /// was broken before was reported then).
    pub fn fold(
        &mut self,
        events: impl IntoIterator<Item = TraceEvent>,
        keys: &mut BTreeSet<Key>,
    ) -> Verdict {
        let mut findings = Findings::default();
        for event in events {
            self.0.step(&event, &mut findings, keys);
        }
        findings.verdict()
    }
}

#[derive(Clone)]
struct Audit {
    /// Each node's quorum sizes, as its last SetConfig left them.
    quorums: BTreeMap<NodeId, (usize, usize)>,
    default_quorums: (usize, usize),
    /// Each node's incarnation: a crash ends every round it was coordinating.
    incarnation: BTreeMap<NodeId, u64>,
    /// The message being handled now, if the input is a message.
    handling: Option<u64>,
    /// (coordinator, request) → its rounds, each in the coordinator's incarnation then: a
    /// duplicated forward can make a coordinator run two rounds for one request.
    rounds: BTreeMap<(NodeId, RequestId), Vec<(u64, Round)>>,
    /// (coordinator, incarnation, operation id) → the request it coordinates, and which of the
    /// request's rounds.
    operations: BTreeMap<(NodeId, u64, OperationId), (RequestId, usize)>,
    /// The request the node handling the input began to coordinate (`RequestCoordinated`).
    coordinating: Option<(NodeId, RequestId)>,
    messages: BTreeMap<u64, (NodeId, Traced)>,
    /// Values put to each key: by anyone, acknowledged or not.
    written: BTreeMap<Key, BTreeSet<Vec<u8>>>,
}

impl Audit {
    fn new(config: &ClusterConfig) -> Audit {
        Audit {
            quorums: BTreeMap::new(),
            default_quorums: (config.reads_r, config.writes_w),
            incarnation: BTreeMap::new(),
            handling: None,
            rounds: BTreeMap::new(),
            operations: BTreeMap::new(),
            coordinating: None,
            messages: BTreeMap::new(),
            written: BTreeMap::new(),
        }
    }

    fn incarnation(&self, node: NodeId) -> u64 {
        self.incarnation.get(&node).copied().unwrap_or(0)
    }

    fn step(&mut self, event: &TraceEvent, findings: &mut Findings, keys: &mut BTreeSet<Key>) {
        match event {
            TraceEvent::Delivered { message_id, .. } => {
                self.handling = Some(*message_id);
                self.coordinating = None;
                self.on_delivered(*message_id);
            }
            TraceEvent::TimerFired { node, .. } | TraceEvent::Admin { node, .. } => {
                self.handling = None;
                self.coordinating = None;
                if let TraceEvent::Admin { command: AdminCommand::SetConfig(config), .. } = event {
                    self.quorums.insert(*node, (config.reads_r, config.writes_w));
                }
            }
            TraceEvent::ClientRequested { request, .. } => {
                self.handling = None;
                self.coordinating = None;
                if let ClientOperation::Put { key, value, .. } = &request.operation {
                    self.written.entry(key.clone()).or_default().insert(value.clone());
                }
            }
            TraceEvent::Observed {
                node,
                observation: Observation::RequestCoordinated { request, operation, key, preference_list, .. },
                ..
            } => {
                let (reads_r, writes_w) = self.quorums.get(node).copied().unwrap_or(self.default_quorums);
                let required = if *operation == OperationKind::Get { reads_r } else { writes_w };
                let mut answered = SmallSet::new();
                if preference_list.contains(node) {
                    answered.insert(*node);
                }
                let round = Round { kind: *operation, key: key.clone(), required, answered };
                let incarnation = self.incarnation(*node);
                self.rounds.entry((*node, *request)).or_default().push((incarnation, round));
                self.coordinating = Some((*node, *request));
            }
            TraceEvent::Sent { message_id, from, to, message, .. } => {
                self.on_sent(*message_id, *from, *to, message)
            }
            TraceEvent::ClientReplied { request, result, .. } => {
                self.on_replied(*request, result, findings, keys)
            }
            TraceEvent::Fault {
                fault: Fault::Crash(node) | Fault::Wipe(node) | Fault::Restart(node),
                ..
            } => {
                *self.incarnation.entry(*node).or_default() += 1;
            }
            _ => {}
        }
    }

    fn on_sent(&mut self, message_id: u64, from: NodeId, to: NodeId, message: &Message) {
        let traced = match message {
            Message::ReplicaWrite { operation, .. } | Message::ReplicaRead { operation, .. } => {
                let incarnation = self.incarnation(from);
                let key = (from, incarnation, *operation);
                // The round's first messages follow its `RequestCoordinated`; later ones (a
                // fallback's) reuse its operation id within the incarnation.
                let coordinating = self.coordinating.filter(|(node, _)| *node == from);
                if let Some((_, request)) = coordinating {
                    let index =
                        self.rounds.get(&(from, request)).map_or(0, |rounds| rounds.len().saturating_sub(1));
                    self.operations.insert(key, (request, index));
                }
                self.operations.get(&key).map(|(request, index)| Traced::Request(from, *request, *index))
            }
            Message::ReplicaWriteAck { .. } | Message::ReplicaReadReply { .. } => {
                // The answer to the replica message this node is handling, if it is one.
                let handled = self.handling.filter(|handled| {
                    matches!(self.messages.get(handled), Some((to, Traced::Request(..))) if *to == from)
                });
                handled.map(Traced::Answer)
            }
            _ => None,
        };
        if let Some(traced) = traced {
            self.messages.insert(message_id, (to, traced));
        }
    }

    /// An answer delivered to its coordinator counts for the round that sent the request it
    /// answers, if that round is still of the coordinator's current incarnation.
    fn on_delivered(&mut self, message_id: u64) {
        let Some((coordinator, Traced::Answer(request_message))) = self.messages.get(&message_id).copied()
        else {
            return;
        };
        let Some((replica, Traced::Request(sender, request, index))) =
            self.messages.get(&request_message).copied()
        else {
            return;
        };
        if sender != coordinator {
            return;
        }
        let incarnation = self.incarnation(coordinator);
        let round = self.rounds.get_mut(&(coordinator, request)).and_then(|rounds| rounds.get_mut(index));
        if let Some((round_incarnation, round)) = round {
            if *round_incarnation == incarnation {
                round.answered.insert(replica);
            }
        }
    }

    fn on_replied(
        &mut self,
        request: RequestId,
        result: &ClientResult,
        findings: &mut Findings,
        keys: &mut BTreeSet<Key>,
    ) {
        let (coordinator, versions) = match result {
            Ok(ClientResponse::Put { coordinator, .. }) => (*coordinator, None),
            Ok(ClientResponse::Got { coordinator, versions, .. }) => (*coordinator, Some(versions)),
            Err(_) => return,
        };
        let Some(rounds) = self.rounds.get(&(coordinator, request)) else {
            findings.add(|| {
                format!("request {} was answered for {coordinator}, which never coordinated it", request.0)
            });
            return;
        };
        let round = rounds.iter().map(|(_, round)| round).max_by_key(|round| round.answered.len());
        let round = round.expect("a round is recorded with its request");
        if round.answered.len() < round.required {
            keys.insert(round.key.clone());
            let kind = if round.kind == OperationKind::Get { "get" } else { "put" };
            let (quorum, answered) = (round.required, round.answered.len());
            let nodes: Vec<NodeId> = round.answered.iter().copied().collect();
            findings.add(|| {
                format!(
                    "{kind} of {} (request {}) was acknowledged by {coordinator} after {answered} of the {quorum} \
                     answers its quorum needs, from {}: it counted answers to another round",
                    round.key,
                    request.0,
                    nodes_text(&nodes)
                )
            });
        }
        let Some(versions) = versions else { return };
        let written = self.written.get(&round.key);
        for version in versions {
            if written.is_some_and(|values| values.contains(&version.value)) {
                continue;
            }
            keys.insert(round.key.clone());
            let key = round.key.clone();
            let elsewhere: Vec<&str> = self
                .written
                .iter()
                .filter(|(_, values)| values.contains(&version.value))
                .map(|(other, _)| other.as_str())
                .collect();
            findings.add(|| {
                format!(
                    "get of {key} (request {}) returned \"{}\", which no put wrote to {key} (it was written to {:?})",
                    request.0,
                    value_text(&version.value),
                    elsewhere
                )
            });
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Text for people.

pub fn nodes_text(nodes: &[NodeId]) -> String {
    let names: Vec<String> = nodes.iter().map(NodeId::to_string).collect();
    format!("[{}]", names.join(", "))
}

/// A clock as `{n1:3,n2:1}`; a dotted one as its past, then `•` and its dot: `{n1:2}•n3:5`
/// (the Versions view and every message show dots so).
pub fn clock_text(clock: &VectorClock) -> String {
    let entries: Vec<String> =
        clock.entries().iter().map(|entry| format!("{}:{}", entry.node, entry.counter)).collect();
    let dot = clock.dot().map_or(String::new(), |dot| format!("•{}:{}", dot.node, dot.counter));
    format!("{{{}}}{dot}", entries.join(","))
}

pub fn value_text(value: &[u8]) -> String {
    let value = String::from_utf8_lossy(value);
    let shown: String = value.chars().take(VALUE_CHARS_MAX).collect();
    let ellipsis = if value.chars().count() > VALUE_CHARS_MAX { "…" } else { "" };
    format!("{shown}{ellipsis}")
}

/// Versions as `[{n1:3}="book,lamp", ..]`, long values cut short.
pub fn versions_text(versions: &[Version]) -> String {
    let texts: Vec<String> = versions
        .iter()
        .map(|version| format!("{}=\"{}\"", clock_text(&version.clock), value_text(&version.value)))
        .collect();
    format!("[{}]", texts.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::message::ClientRequest;
    use crate::sim::trace::TraceMode;

    const COORDINATOR: NodeId = NodeId(1);
    const REPLICA: NodeId = NodeId(2);

    fn version(value: &str) -> Version {
        let mut clock = VectorClock::new();
        clock.increment(COORDINATOR, 0);
        Version { clock, value: value.as_bytes().to_vec(), written_at_ms: 0 }
    }

    /// A trace being written: each event pushed in order, at one instant.
    struct Script {
        trace: Trace,
    }

    impl Script {
        fn new() -> Script {
            Script { trace: Trace::new(TraceMode::Full) }
        }

        fn push(&mut self, event: TraceEvent) -> &mut Script {
            self.trace.push(&event);
            self
        }

        fn put(&mut self, request: u64, key: &str, value: &str) -> &mut Script {
            let operation =
                ClientOperation::Put { key: key.into(), value: value.as_bytes().to_vec(), context: None };
            let request = ClientRequest { id: RequestId(request), operation };
            self.push(TraceEvent::ClientRequested { at_ms: 0, node: COORDINATOR, request })
        }

        fn get(&mut self, request: u64, key: &str) -> &mut Script {
            let request =
                ClientRequest { id: RequestId(request), operation: ClientOperation::Get { key: key.into() } };
            self.push(TraceEvent::ClientRequested { at_ms: 0, node: COORDINATOR, request })
        }

        fn coordinated(&mut self, request: u64, operation: OperationKind, key: &str) -> &mut Script {
            let observation = Observation::RequestCoordinated {
                request: RequestId(request),
                operation,
                key: key.into(),
                preference_list: vec![COORDINATOR, REPLICA, NodeId(3)],
                targets: vec![(REPLICA, None), (NodeId(3), None)],
            };
            self.push(TraceEvent::Observed { at_ms: 0, node: COORDINATOR, observation })
        }

        fn sent(&mut self, message_id: u64, from: NodeId, to: NodeId, message: Message) -> &mut Script {
            self.push(TraceEvent::Sent { at_ms: 0, message_id, from, to, deliver_at_ms: 1, message })
        }

        fn delivered(&mut self, message_id: u64) -> &mut Script {
            self.push(TraceEvent::Delivered { at_ms: 1, message_id })
        }

        fn replied(&mut self, request: u64, result: ClientResult) -> &mut Script {
            self.push(TraceEvent::ClientReplied {
                at_ms: 2,
                node: COORDINATOR,
                request: RequestId(request),
                result,
            })
        }

        fn integrity(&self) -> Verdict {
            integrity(&self.trace, &ClusterConfig::default(), &mut BTreeSet::new())
        }
    }

    fn write(key: &str, value: &str) -> Message {
        Message::ReplicaWrite {
            operation: OperationId(7),
            key: key.into(),
            version: version(value),
            companions: Vec::new(),
            hint: None,
        }
    }

    fn acknowledged(value: &str) -> ClientResult {
        Ok(ClientResponse::Put { context: version(value).clock, coordinator: COORDINATOR })
    }

    /// §4.5: "if at least W-1 nodes respond then the write is considered successful". An
    /// acknowledgement the replica sent for the coordinator's earlier incarnation (the same
    /// operation id, reused after a restart) stored another key's version: it must not count.
    #[test]
    fn an_answer_meant_for_an_earlier_incarnation_does_not_count_section_4_5() {
        let mut script = Script::new();
        script.put(1, "a", "x").coordinated(1, OperationKind::Put, "a").sent(
            1,
            COORDINATOR,
            REPLICA,
            write("a", "x"),
        );
        script.push(TraceEvent::Fault { at_ms: 0, fault: Fault::Crash(COORDINATOR) });
        script.push(TraceEvent::Fault { at_ms: 0, fault: Fault::Restart(COORDINATOR) });
        script.put(2, "b", "y").coordinated(2, OperationKind::Put, "b").sent(
            2,
            COORDINATOR,
            REPLICA,
            write("b", "y"),
        );
        let stale_ack = Message::ReplicaWriteAck { operation: OperationId(7), key: "a".into() };
        script.delivered(1).sent(3, REPLICA, COORDINATOR, stale_ack).delivered(3);
        script.replied(2, acknowledged("y"));
        let Verdict::Violated(message) = script.integrity() else { panic!("the stale answer was counted") };
        assert!(
            message.starts_with("put of b (request 2) was acknowledged by n1 after 1 of the 2 answers"),
            "{message}"
        );
        // The same answer to this round's own write counts.
        let mut honest = Script::new();
        honest.put(2, "b", "y").coordinated(2, OperationKind::Put, "b").sent(
            2,
            COORDINATOR,
            REPLICA,
            write("b", "y"),
        );
        let ack = Message::ReplicaWriteAck { operation: OperationId(7), key: "b".into() };
        honest.delivered(2).sent(3, REPLICA, COORDINATOR, ack).delivered(3).replied(2, acknowledged("y"));
        assert_eq!(honest.integrity(), Verdict::Ok);
    }

    /// §4.1, §4.5: a get returns versions of its own key only.
    #[test]
    fn a_get_returning_another_keys_value_is_caught_section_4_5() {
        let mut script = Script::new();
        script.put(1, "a", "apple").get(2, "c").coordinated(2, OperationKind::Get, "c");
        let read = Message::ReplicaRead { operation: OperationId(8), key: "c".into() };
        script.sent(1, COORDINATOR, REPLICA, read).delivered(1);
        let reply = Message::ReplicaReadReply {
            operation: OperationId(8),
            key: "c".into(),
            versions: vec![version("apple")],
        };
        script.sent(2, REPLICA, COORDINATOR, reply).delivered(2);
        let versions = vec![version("apple")];
        let context = version("apple").clock;
        script.replied(2, Ok(ClientResponse::Got { versions, context, coordinator: COORDINATOR }));
        let Verdict::Violated(message) = script.integrity() else { panic!("the foreign value passed") };
        assert!(message.contains("returned \"apple\", which no put wrote to c"), "{message}");
    }

    proptest::proptest! {
        /// §4.7: the convergence rule, walking each node's keys in ring order with one
        /// preference list per range, finds exactly the keys (and the replicas named) that
        /// comparing every key's live replicas one key at a time finds, whichever nodes are down.
        #[test]
        fn disagreements_match_a_key_by_key_comparison_section_4_7(
            // Node 0 stands for every node: a put every replica took, so ranges agree too.
            holdings in proptest::collection::vec((0u32..=5, 0usize..40, 0u8..3), 0..150),
            down in proptest::collection::vec(1u32..=5, 0..3),
        ) {
            let config = ClusterConfig::default();
            let base = crate::protocol::Node::new(config.clone(), NodeId(1), 7).unwrap().durable().clone();
            let mut durables: BTreeMap<NodeId, Durable> =
                config.initial_members.iter().map(|id| (*id, base.clone())).collect();
            for (node, key, value) in holdings {
                for (_, durable) in durables.iter_mut().filter(|(id, _)| node == 0 || id.0 == node) {
                    durable.store.put(&format!("k{key}"), version(&value.to_string()));
                }
            }
            let live = durables.iter().filter(|(id, _)| !down.contains(&id.0)).map(|(id, durable)| (*id, durable));
            let holders = Holders::new(live.collect(), &config);
            let key_by_key: Vec<(&str, NodeId, NodeId)> = holders
                .keys()
                .into_iter()
                .filter_map(|key| {
                    let replicas = holders.replicas(key);
                    let first = *replicas.first()?;
                    let other = replicas.iter().find(|(_, versions)| *versions != first.1)?;
                    Some((key, first.0, other.0))
                })
                .collect();
            let found: Vec<(&str, NodeId, NodeId)> =
                disagreements(&holders).map(|(key, first, other)| (key, first.0, other.0)).collect();
            proptest::prop_assert_eq!(found, key_by_key);
        }
    }
}
