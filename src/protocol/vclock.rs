//! Vector clocks: the causal history of one object's versions (§4.4), as the paper keeps them
//! or as dotted version vectors.
//!
//! A paper clock is a list of `(node, counter)` pairs. Version A descends from version B when
//! every counter of A is at least the matching counter of B; when neither descends from the
//! other the two are concurrent and the application must reconcile them.
//!
//! A dotted clock (Preguiça et al. 2010, "Dotted Version Vectors"; what Riak 2.0 adopted) adds
//! one `dot`: the write's own event `(node, counter)`, apart from the causal past it saw (the
//! entries). Its history is the past's events (for each node, counters 1 to its entry) plus the
//! dot. Two writes with the same context through the same coordinator get different dots, so
//! neither history holds the other's event and both survive as siblings: the paper's clocks,
//! which only count per server, give them equal clocks and keep one.

use std::cmp::Ordering;

use serde::{Deserialize, Serialize, Serializer};

use super::types::NodeId;

/// Clock length above which the oldest entries are dropped (§4.4 suggests ten).
pub const CLOCK_TRUNCATION_THRESHOLD: usize = 10;

/// One coordinator's counter, with the time it last coordinated a write (kept for truncation).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub struct ClockEntry {
    /// The coordinator this counter belongs to.
    pub node: NodeId,
    /// How many writes in this history the node coordinated; at least 1.
    pub counter: u64,
    /// When the node last bumped the counter; only truncation reads it.
    pub timestamp_ms: u64,
}

/// Which clocks a cluster's coordinators give new versions: a per-cluster setting.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ClockKind {
    /// The paper's per-server vector clocks (§4.4): two puts with the same context through the
    /// same coordinator get equal clocks and one value is kept, and a put without a context can
    /// be dominated by what is stored. Both losses are counted and named, never hidden.
    #[default]
    Paper,
    /// Dotted version vectors: every write gets its own dot, so concurrent writes are siblings
    /// whatever their context and coordinator.
    DottedVersionVectors,
}

/// A vector clock. The derived `Ord` is only a canonical total order for sorting; causality is
/// [`VectorClock::compare`].
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, PartialOrd, Ord, Deserialize)]
#[serde(try_from = "ClockWire")]
pub struct VectorClock {
    /// Sorted by node, one entry per node, every counter at least 1: an absent node means 0.
    entries: Vec<ClockEntry>,
    /// A dotted clock's own event, beyond its past: its counter exceeds the entry of its node.
    dot: Option<ClockEntry>,
}

/// A clock as it crosses the wire, validated into a [`VectorClock`] by `try_from`.
#[derive(Deserialize)]
struct ClockWire {
    entries: Vec<ClockEntry>,
    #[serde(default)]
    dot: Option<ClockEntry>,
}

/// How two clocks relate causally.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockOrder {
    /// The same counter for every node.
    Equal,
    /// The other clock has seen everything this one has, and more.
    Before,
    /// This clock has seen everything the other has, and more.
    After,
    /// Each has seen a write the other has not: a conflict (§4.4).
    Concurrent,
}

/// Why entries taken from untrusted bytes do not form a clock.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ClockError {
    /// Counters start at 1; a zero entry would make equal clocks compare unequal structurally.
    ZeroCounter { node: NodeId },
    /// A node may appear once.
    DuplicateNode { node: NodeId },
    /// A dot must be a new event: beyond its node's counter in the past it comes with.
    DotInPast { node: NodeId, counter: u64 },
}

impl std::fmt::Display for ClockError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            ClockError::ZeroCounter { node } => write!(formatter, "clock entry for {node} has counter 0"),
            ClockError::DuplicateNode { node } => write!(formatter, "clock has two entries for {node}"),
            ClockError::DotInPast { node, counter } => {
                write!(formatter, "clock's dot ({node},{counter}) is already in its past")
            }
        }
    }
}

impl std::error::Error for ClockError {}

impl VectorClock {
    /// The empty clock, which every clock descends from.
    pub fn new() -> Self {
        VectorClock { entries: Vec::new(), dot: None }
    }

    /// A dotted clock: the write `(node, counter)` made at `now_ms` with `past` as its causal
    /// context. `past` is closed (its own dot, if any, folded into its entries), and `counter`
    /// must exceed every event of `node` that `past` holds.
    pub fn dotted(past: &VectorClock, node: NodeId, counter: u64, now_ms: u64) -> VectorClock {
        let entries = past.closed().entries;
        let clock = VectorClock { entries, dot: Some(ClockEntry { node, counter, timestamp_ms: now_ms }) };
        assert!(counter > clock.counter(node), "a dot is a new event of its node");
        clock
    }

    /// The dot of a dotted clock.
    pub fn dot(&self) -> Option<&ClockEntry> {
        self.dot.as_ref()
    }

    /// The highest event of `node` the history holds: its entry, or its dot if later.
    pub fn latest_event(&self, node: NodeId) -> u64 {
        let dot = self.dot.as_ref().filter(|dot| dot.node == node).map_or(0, |dot| dot.counter);
        self.counter(node).max(dot)
    }

    /// The plain vector clock covering this history: the dot folded into the entries. It may
    /// claim events the history skipped (a dot beyond a gap); contexts handed to clients are
    /// closed this way, which is sound because a coordinator replicates every version it holds
    /// of the key together with a new dotted one (see `coordinator.rs`).
    pub fn closed(&self) -> VectorClock {
        let Some(dot) = &self.dot else { return self.clone() };
        let mut entries = self.entries.clone();
        match entries.binary_search_by_key(&dot.node, |entry| entry.node) {
            Ok(index) => entries[index] = dot.clone(),
            Err(index) => entries.insert(index, dot.clone()),
        }
        VectorClock { entries, dot: None }
    }

    /// Whether the history holds the event `(node, counter)`.
    pub fn has_event(&self, node: NodeId, counter: u64) -> bool {
        counter <= self.counter(node)
            || self.dot.as_ref().is_some_and(|dot| dot.node == node && dot.counter == counter)
    }

    /// Whether every event of this history is in `other`'s.
    fn within(&self, other: &VectorClock) -> bool {
        for pair in Aligned::new(&self.entries, &other.entries) {
            let (mine, theirs) = pair.counters();
            // Events theirs+1..=mine must all be other's dot: at most one, and exactly it.
            if mine > theirs && !(mine == theirs + 1 && other.has_event(pair.node(), mine)) {
                return false;
            }
        }
        self.dot.as_ref().is_none_or(|dot| other.has_event(dot.node, dot.counter))
    }

    /// The entries, sorted by node.
    pub fn entries(&self) -> &[ClockEntry] {
        &self.entries
    }

    /// The counter of `node`, 0 if the clock has no entry for it.
    pub fn counter(&self, node: NodeId) -> u64 {
        self.position(node).map_or(0, |index| self.entries[index].counter)
    }

    /// Records a write coordinated by `node` at `now_ms` (§4.4).
    pub fn increment(&mut self, node: NodeId, now_ms: u64) {
        if self.dot.is_some() {
            *self = self.closed();
        }
        match self.position(node) {
            Ok(index) => {
                let entry = &mut self.entries[index];
                // Saturating, not panicking: a peer can send a counter of u64::MAX and must not be
                // able to crash the coordinator that increments it.
                entry.counter = entry.counter.saturating_add(1);
                entry.timestamp_ms = now_ms;
            }
            Err(index) => self.entries.insert(index, ClockEntry { node, counter: 1, timestamp_ms: now_ms }),
        }
    }

    /// The causal order of `self` relative to `other`.
    pub fn compare(&self, other: &VectorClock) -> ClockOrder {
        if self.dot.is_some() || other.dot.is_some() {
            return match (self.within(other), other.within(self)) {
                (true, true) => ClockOrder::Equal,
                (true, false) => ClockOrder::Before,
                (false, true) => ClockOrder::After,
                (false, false) => ClockOrder::Concurrent,
            };
        }
        let mut self_ahead = false;
        let mut other_ahead = false;
        for pair in Aligned::new(&self.entries, &other.entries) {
            let (mine, theirs) = pair.counters();
            self_ahead |= mine > theirs;
            other_ahead |= theirs > mine;
            if self_ahead && other_ahead {
                return ClockOrder::Concurrent;
            }
        }
        match (self_ahead, other_ahead) {
            (false, false) => ClockOrder::Equal,
            (true, false) => ClockOrder::After,
            (false, true) => ClockOrder::Before,
            (true, true) => ClockOrder::Concurrent,
        }
    }

    /// Whether `self` has seen everything `other` has (equal or after).
    pub fn descends(&self, other: &VectorClock) -> bool {
        matches!(self.compare(other), ClockOrder::Equal | ClockOrder::After)
    }

    /// Whether neither clock descends from the other.
    pub fn is_concurrent_with(&self, other: &VectorClock) -> bool {
        self.compare(other) == ClockOrder::Concurrent
    }

    /// The least upper bound: per node the larger counter, with that entry's timestamp. Dots are
    /// folded in first ([`VectorClock::closed`]): the result is a plain vector clock.
    pub fn merge(&self, other: &VectorClock) -> VectorClock {
        if self.dot.is_some() || other.dot.is_some() {
            return self.closed().merge(&other.closed());
        }
        let entries = Aligned::new(&self.entries, &other.entries).map(Pair::later).cloned().collect();
        VectorClock { entries, dot: None }
    }

    /// Drops the entries with the oldest timestamps (ties: smallest node) until at most
    /// `threshold` remain (§4.4); returns the dropped entries, oldest first. A dot is never
    /// dropped: it is the write itself.
    pub fn truncate(&mut self, threshold: usize) -> Vec<ClockEntry> {
        let excess = self.entries.len().saturating_sub(threshold);
        if excess == 0 {
            return Vec::new();
        }
        let mut oldest_first = std::mem::take(&mut self.entries);
        // Nodes are unique, so the keys are too: an unstable sort gives the stable order.
        sort_entries(&mut oldest_first, by_age);
        let mut kept = oldest_first.split_off(excess);
        sort_entries(&mut kept, by_node);
        self.entries = kept;
        oldest_first
    }

    /// Builds a clock from entries in any order, rejecting zero counters and repeated nodes;
    /// meant for clocks decoded from peers' messages.
    pub fn from_entries(mut entries: Vec<ClockEntry>) -> Result<VectorClock, ClockError> {
        // A repeated node is refused below, so the order of equal keys never matters.
        sort_entries(&mut entries, by_node);
        if let Some(entry) = entries.iter().find(|entry| entry.counter == 0) {
            return Err(ClockError::ZeroCounter { node: entry.node });
        }
        if let Some(pair) = entries.windows(2).find(|pair| pair[0].node == pair[1].node) {
            return Err(ClockError::DuplicateNode { node: pair[0].node });
        }
        Ok(VectorClock { entries, dot: None })
    }

    /// As [`VectorClock::from_entries`], with a dot that must lie beyond its node's entry.
    pub fn from_parts(entries: Vec<ClockEntry>, dot: Option<ClockEntry>) -> Result<VectorClock, ClockError> {
        let mut clock = VectorClock::from_entries(entries)?;
        if let Some(dot) = dot {
            if dot.counter == 0 {
                return Err(ClockError::ZeroCounter { node: dot.node });
            }
            if dot.counter <= clock.counter(dot.node) {
                return Err(ClockError::DotInPast { node: dot.node, counter: dot.counter });
            }
            clock.dot = Some(dot);
        }
        Ok(clock)
    }

    fn position(&self, node: NodeId) -> Result<usize, usize> {
        self.entries.binary_search_by_key(&node, |entry| entry.node)
    }
}

/// Entries in node order: one function, so both sorts by node share one copy of the sort.
fn by_node(left: &ClockEntry, right: &ClockEntry) -> Ordering {
    left.node.cmp(&right.node)
}

fn by_age(left: &ClockEntry, right: &ClockEntry) -> Ordering {
    (left.timestamp_ms, left.node).cmp(&(right.timestamp_ms, right.node))
}

/// Every order of clock entries goes through this one sort: through a function pointer, not
/// a closure or function of its own type, so the page's wasm holds one copy of the sort.
fn sort_entries(entries: &mut [ClockEntry], order: fn(&ClockEntry, &ClockEntry) -> Ordering) {
    entries.sort_unstable_by(order);
}

impl TryFrom<ClockWire> for VectorClock {
    type Error = ClockError;

    fn try_from(wire: ClockWire) -> Result<Self, Self::Error> {
        VectorClock::from_parts(wire.entries, wire.dot)
    }
}

// Written by hand so the encoding is exactly the `ClockWire` that `try_from` validates.
impl Serialize for VectorClock {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        #[derive(Serialize)]
        struct ClockWireRef<'a> {
            entries: &'a [ClockEntry],
            dot: &'a Option<ClockEntry>,
        }
        ClockWireRef { entries: &self.entries, dot: &self.dot }.serialize(serializer)
    }
}

impl std::fmt::Display for VectorClock {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "[")?;
        for (index, entry) in self.entries.iter().enumerate() {
            let separator = if index == 0 { "" } else { ", " };
            write!(formatter, "{separator}({},{})", entry.node, entry.counter)?;
        }
        write!(formatter, "]")?;
        match &self.dot {
            Some(dot) => write!(formatter, " dot ({},{})", dot.node, dot.counter),
            None => Ok(()),
        }
    }
}

/// The entries of one node in two clocks, as met when walking both in node order.
enum Pair<'a> {
    OnlyLeft(&'a ClockEntry),
    OnlyRight(&'a ClockEntry),
    Both(&'a ClockEntry, &'a ClockEntry),
}

impl<'a> Pair<'a> {
    /// The node both entries belong to.
    fn node(&self) -> NodeId {
        match self {
            Pair::OnlyLeft(entry) | Pair::OnlyRight(entry) | Pair::Both(entry, _) => entry.node,
        }
    }

    /// (left counter, right counter), an absent entry counting as 0.
    fn counters(&self) -> (u64, u64) {
        match self {
            Pair::OnlyLeft(left) => (left.counter, 0),
            Pair::OnlyRight(right) => (0, right.counter),
            Pair::Both(left, right) => (left.counter, right.counter),
        }
    }

    /// The entry with the larger counter; on equal counters the later timestamp, so that merge
    /// gives the same result whichever clock is on the left.
    fn later(self) -> &'a ClockEntry {
        match self {
            Pair::OnlyLeft(entry) | Pair::OnlyRight(entry) => entry,
            Pair::Both(left, right) => {
                match (left.counter, left.timestamp_ms).cmp(&(right.counter, right.timestamp_ms)) {
                    Ordering::Less => right,
                    Ordering::Equal | Ordering::Greater => left,
                }
            }
        }
    }
}

/// Walks two node-sorted entry lists together without allocating; every step consumes at least
/// one entry, so it ends after at most `left.len() + right.len()` steps.
struct Aligned<'a> {
    left: &'a [ClockEntry],
    right: &'a [ClockEntry],
}

impl<'a> Aligned<'a> {
    fn new(left: &'a [ClockEntry], right: &'a [ClockEntry]) -> Self {
        Aligned { left, right }
    }
}

impl<'a> Iterator for Aligned<'a> {
    type Item = Pair<'a>;

    fn next(&mut self) -> Option<Pair<'a>> {
        let (left_rest, right_rest) = (self.left, self.right);
        let pair = match (left_rest.split_first(), right_rest.split_first()) {
            (None, None) => return None,
            (Some((left, rest)), None) => {
                self.left = rest;
                Pair::OnlyLeft(left)
            }
            (None, Some((right, rest))) => {
                self.right = rest;
                Pair::OnlyRight(right)
            }
            (Some((left, left_tail)), Some((right, right_tail))) => match left.node.cmp(&right.node) {
                Ordering::Less => {
                    self.left = left_tail;
                    Pair::OnlyLeft(left)
                }
                Ordering::Greater => {
                    self.right = right_tail;
                    Pair::OnlyRight(right)
                }
                Ordering::Equal => {
                    self.left = left_tail;
                    self.right = right_tail;
                    Pair::Both(left, right)
                }
            },
        };
        Some(pair)
    }

    // Lets `merge` allocate its result once instead of growing it.
    fn size_hint(&self) -> (usize, Option<usize>) {
        let (left, right) = (self.left.len(), self.right.len());
        (left.max(right), Some(left + right))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    const NODE_X: NodeId = NodeId(1);
    const NODE_Y: NodeId = NodeId(2);
    const NODE_Z: NodeId = NodeId(3);

    fn entry(node: NodeId, counter: u64, timestamp_ms: u64) -> ClockEntry {
        ClockEntry { node, counter, timestamp_ms }
    }

    fn clock(counters: &[(NodeId, u64)]) -> VectorClock {
        let entries = counters.iter().map(|&(node, counter)| entry(node, counter, 0)).collect();
        VectorClock::from_entries(entries).expect("test clocks are valid")
    }

    /// The history of Figure 3 (§4.4): D1, D2 by Sx; D3 by Sy and D4 by Sz, both from D2.
    fn figure_3_history() -> [VectorClock; 4] {
        let mut d1 = VectorClock::new();
        d1.increment(NODE_X, 10);
        let mut d2 = d1.clone();
        d2.increment(NODE_X, 20);
        let mut d3 = d2.clone();
        d3.increment(NODE_Y, 30);
        let mut d4 = d2.clone();
        d4.increment(NODE_Z, 40);
        [d1, d2, d3, d4]
    }

    /// §4.4, Figure 3: D2 overwrites D1, while D3 and D4 are concurrent branches of D2.
    #[test]
    fn figure_3_orders_the_versions_section_4_4() {
        let [d1, d2, d3, d4] = figure_3_history();
        assert_eq!(d1.entries(), &[entry(NODE_X, 1, 10)]);
        assert_eq!(d2.compare(&d1), ClockOrder::After);
        assert_eq!(d1.compare(&d2), ClockOrder::Before);
        assert_eq!(d3.compare(&d2), ClockOrder::After);
        assert_eq!(d3.compare(&d4), ClockOrder::Concurrent);
        assert!(d3.is_concurrent_with(&d4));
        assert!(d4.descends(&d1) && !d2.descends(&d3));
        assert_eq!(d3.to_string(), "[(n1,2), (n2,1)]");
    }

    /// §4.4, Figure 3: Sx reconciles D3 and D4 into D5([Sx,3],[Sy,1],[Sz,1]).
    #[test]
    fn figure_3_reconciliation_descends_both_branches_section_4_4() {
        let [_, _, d3, d4] = figure_3_history();
        let mut d5 = d3.merge(&d4);
        d5.increment(NODE_X, 50);
        assert_eq!(d5.to_string(), "[(n1,3), (n2,1), (n3,1)]");
        assert_eq!(d5.compare(&d3), ClockOrder::After);
        assert_eq!(d5.compare(&d4), ClockOrder::After);
        assert_eq!(d5.entries()[0].timestamp_ms, 50, "the coordinator's entry records the write time");
    }

    /// §4.4: the coordinator bumps only its own counter; absent nodes read as 0.
    #[test]
    fn increment_bumps_only_the_coordinators_counter_section_4_4() {
        let mut history = clock(&[(NODE_X, 2), (NODE_Z, 1)]);
        history.increment(NODE_Y, 7);
        history.increment(NODE_Y, 9);
        assert_eq!(history.counter(NODE_X), 2);
        assert_eq!(history.counter(NODE_Y), 2);
        assert_eq!(history.counter(NodeId(99)), 0);
        assert_eq!(history.entries()[1], entry(NODE_Y, 2, 9));
    }

    /// §4.4: merge keeps, per node, the entry with the larger counter and its timestamp.
    #[test]
    fn merge_keeps_the_timestamp_of_the_larger_counter_section_4_4() {
        let left = VectorClock::from_entries(vec![entry(NODE_X, 2, 5), entry(NODE_Y, 1, 8)]).unwrap();
        let right = VectorClock::from_entries(vec![entry(NODE_X, 1, 9), entry(NODE_Y, 1, 3)]).unwrap();
        let merged = left.merge(&right);
        assert_eq!(merged.entries(), &[entry(NODE_X, 2, 5), entry(NODE_Y, 1, 8)]);
        assert_eq!(right.merge(&left), merged);
    }

    /// §4.4: past the threshold the entry of the least recent coordinator goes first.
    #[test]
    fn truncation_drops_the_oldest_timestamp_section_4_4() {
        let mut history = VectorClock::new();
        for node in 0..12 {
            // Node 5 coordinated longest ago, then node 0.
            let timestamp_ms = if node == 5 { 1 } else { 100 + u64::from(node) };
            history.increment(NodeId(node), timestamp_ms);
        }
        let dropped = history.truncate(CLOCK_TRUNCATION_THRESHOLD);
        assert_eq!(dropped, vec![entry(NodeId(5), 1, 1), entry(NodeId(0), 1, 100)]);
        assert_eq!(history.entries().len(), CLOCK_TRUNCATION_THRESHOLD);
        assert_eq!(history.counter(NodeId(5)), 0);
        assert!(history.entries().windows(2).all(|pair| pair[0].node < pair[1].node), "still sorted by node");
    }

    /// §4.4: equal timestamps drop the smallest node id first, so every replica truncates alike.
    #[test]
    fn truncation_breaks_timestamp_ties_by_smallest_node_section_4_4() {
        let mut history = clock(&[(NODE_Z, 1), (NODE_X, 1), (NODE_Y, 1)]);
        assert_eq!(history.truncate(1), vec![entry(NODE_X, 1, 0), entry(NODE_Y, 1, 0)]);
        assert_eq!(history, clock(&[(NODE_Z, 1)]));
        assert!(history.truncate(1).is_empty(), "nothing to drop at the threshold");
    }

    /// §4.4: clocks arrive in messages, so malformed entry lists are refused, not trusted.
    #[test]
    fn from_entries_sorts_and_rejects_malformed_clocks_section_4_4() {
        let sorted = VectorClock::from_entries(vec![entry(NODE_Z, 1, 0), entry(NODE_X, 4, 0)]).unwrap();
        assert_eq!(sorted, clock(&[(NODE_X, 4), (NODE_Z, 1)]));
        let zero = VectorClock::from_entries(vec![entry(NODE_X, 0, 0)]);
        assert_eq!(zero, Err(ClockError::ZeroCounter { node: NODE_X }));
        let twice =
            VectorClock::from_entries(vec![entry(NODE_Y, 1, 0), entry(NODE_X, 1, 0), entry(NODE_Y, 2, 0)]);
        assert_eq!(twice, Err(ClockError::DuplicateNode { node: NODE_Y }));
    }

    /// §4.4: decoding a clock from a peer's bytes goes through the same validation.
    #[test]
    fn decoding_validates_untrusted_bytes_section_4_4() {
        let history = clock(&[(NODE_X, 3), (NODE_Y, 1)]);
        let bytes = postcard::to_allocvec(&history).unwrap();
        assert_eq!(postcard::from_bytes::<VectorClock>(&bytes), Ok(history));
        let duplicate = vec![entry(NODE_X, 1, 0), entry(NODE_X, 2, 0)];
        let hostile = postcard::to_allocvec(&duplicate).unwrap();
        assert!(postcard::from_bytes::<VectorClock>(&hostile).is_err());
    }

    /// §4.4: an empty clock is the history before any write.
    #[test]
    fn the_empty_clock_precedes_every_write_section_4_4() {
        let empty = VectorClock::new();
        assert_eq!(empty.to_string(), "[]");
        assert_eq!(empty.compare(&VectorClock::new()), ClockOrder::Equal);
        assert_eq!(empty.compare(&clock(&[(NODE_Y, 1)])), ClockOrder::Before);
    }

    /// Small node, counter and timestamp ranges so that orders, ties and overlaps are common.
    fn any_clock() -> impl Strategy<Value = VectorClock> {
        let entry = (1u64..4, 0u64..3);
        prop::collection::btree_map(0u32..4, entry, 0..5).prop_map(|counters| {
            let entries = counters.into_iter().map(|(node, (counter, timestamp_ms))| ClockEntry {
                node: NodeId(node),
                counter,
                timestamp_ms,
            });
            VectorClock::from_entries(entries.collect()).expect("generated clocks are valid")
        })
    }

    /// The order written out from §4.4's definition: compare every node's counters.
    fn reference_order(left: &VectorClock, right: &VectorClock) -> ClockOrder {
        let mut nodes = left.entries().iter().chain(right.entries()).map(|entry| entry.node);
        let left_ahead = nodes.clone().any(|node| left.counter(node) > right.counter(node));
        let right_ahead = nodes.any(|node| right.counter(node) > left.counter(node));
        match (left_ahead, right_ahead) {
            (false, false) => ClockOrder::Equal,
            (true, false) => ClockOrder::After,
            (false, true) => ClockOrder::Before,
            (true, true) => ClockOrder::Concurrent,
        }
    }

    fn mirror(order: ClockOrder) -> ClockOrder {
        match order {
            ClockOrder::Before => ClockOrder::After,
            ClockOrder::After => ClockOrder::Before,
            same => same,
        }
    }

    proptest! {
        /// §4.4: the linear walk agrees with the per-node definition of descent.
        #[test]
        fn compare_matches_the_per_node_definition_section_4_4(left in any_clock(), right in any_clock()) {
            prop_assert_eq!(left.compare(&right), reference_order(&left, &right));
            prop_assert_eq!(left.descends(&right), left.compare(&right) != ClockOrder::Before
                && left.compare(&right) != ClockOrder::Concurrent);
        }

        /// §4.4: descent is a partial order, so every clock equals itself.
        #[test]
        fn compare_is_reflexive_section_4_4(history in any_clock()) {
            prop_assert_eq!(history.compare(&history), ClockOrder::Equal);
            prop_assert!(history.descends(&history));
        }

        /// §4.4: swapping the arguments mirrors the order.
        #[test]
        fn compare_mirrors_when_arguments_swap_section_4_4(left in any_clock(), right in any_clock()) {
            prop_assert_eq!(right.compare(&left), mirror(left.compare(&right)));
        }

        /// §4.4: two clocks that descend from each other hold the same counters.
        #[test]
        fn compare_is_antisymmetric_section_4_4(left in any_clock(), right in any_clock()) {
            if left.descends(&right) && right.descends(&left) {
                let counters = |history: &VectorClock| {
                    history.entries().iter().map(|entry| (entry.node, entry.counter)).collect::<Vec<_>>()
                };
                prop_assert_eq!(counters(&left), counters(&right));
            }
        }

        /// §4.4: descent is transitive, both on chains built by merging and on arbitrary triples.
        #[test]
        fn compare_is_transitive_section_4_4(
            first in any_clock(), second in any_clock(), third in any_clock(), extra in any_clock(),
        ) {
            let middle = first.merge(&extra);
            let last = middle.merge(&second);
            prop_assert!(middle.descends(&first) && last.descends(&middle) && last.descends(&first));
            if third.descends(&second) && second.descends(&first) {
                prop_assert!(third.descends(&first));
            }
        }

        /// §4.4: merge is the least upper bound: it descends both inputs, its counters are exactly
        /// the per-node maxima, so any clock that descends both inputs descends it too.
        #[test]
        fn merge_is_the_least_upper_bound_section_4_4(
            left in any_clock(), right in any_clock(), other in any_clock(),
        ) {
            let merged = left.merge(&right);
            prop_assert!(merged.descends(&left) && merged.descends(&right));
            for entry in merged.entries() {
                prop_assert_eq!(entry.counter, left.counter(entry.node).max(right.counter(entry.node)));
            }
            let upper = other.merge(&merged);
            prop_assert!(upper.descends(&merged));
            if other.descends(&left) && other.descends(&right) {
                prop_assert!(other.descends(&merged));
            }
        }

        /// §4.4: merge is commutative, associative and idempotent (timestamps included), so replicas
        /// that merge the same clocks in any order agree byte for byte.
        #[test]
        fn merge_is_commutative_associative_and_idempotent_section_4_4(
            first in any_clock(), second in any_clock(), third in any_clock(),
        ) {
            prop_assert_eq!(first.merge(&second), second.merge(&first));
            prop_assert_eq!(first.merge(&second).merge(&third), first.merge(&second.merge(&third)));
            prop_assert_eq!(first.merge(&first), first.clone());
            prop_assert_eq!(first.merge(&VectorClock::new()), first);
        }
    }

    /// A dotted clock over few nodes and small counters, so dots beyond gaps and shared events
    /// are frequent.
    fn any_dotted_clock() -> impl Strategy<Value = VectorClock> {
        (any_clock(), 0u32..3, 1u64..3, any::<bool>()).prop_map(|(past, node, step, dotted)| {
            if !dotted {
                return past;
            }
            let node = NodeId(node);
            VectorClock::dotted(&past, node, past.counter(node) + step, 0)
        })
    }

    /// Every event `(node, counter)` a history holds, written out.
    fn events(clock: &VectorClock) -> std::collections::BTreeSet<(NodeId, u64)> {
        let mut events: std::collections::BTreeSet<(NodeId, u64)> = clock
            .entries()
            .iter()
            .flat_map(|entry| (1..=entry.counter).map(move |counter| (entry.node, counter)))
            .collect();
        events.extend(clock.dot().map(|dot| (dot.node, dot.counter)));
        events
    }

    /// Dotted version vectors (Preguiça et al. 2010): two writes with the same context through
    /// the same coordinator get different dots and are concurrent; the paper's clocks (§4.4) give
    /// them equal clocks.
    #[test]
    fn same_context_same_coordinator_writes_are_concurrent_only_with_dots_section_4_4() {
        let context = clock(&[(NODE_X, 2)]);
        let first = VectorClock::dotted(&context, NODE_Y, 1, 10);
        let second = VectorClock::dotted(&context, NODE_Y, 2, 20);
        assert_eq!(first.compare(&second), ClockOrder::Concurrent);
        assert_eq!(first.to_string(), "[(n1,2)] dot (n2,1)");
        let mut paper_first = context.clone();
        paper_first.increment(NODE_Y, 10);
        let mut paper_second = context.clone();
        paper_second.increment(NODE_Y, 20);
        assert_eq!(paper_first.compare(&paper_second), ClockOrder::Equal);
        // A reader of both gets a context covering both; a write with it supersedes them.
        let merged = first.merge(&second);
        assert!(merged.dot().is_none());
        let reconciled = VectorClock::dotted(&merged, NODE_X, 3, 30);
        assert_eq!(reconciled.compare(&first), ClockOrder::After);
        assert_eq!(reconciled.compare(&second), ClockOrder::After);
    }

    /// A dot beyond a gap claims only itself: the event in the gap is not in the history.
    #[test]
    fn a_dot_beyond_a_gap_holds_only_itself_section_4_4() {
        let gap = VectorClock::dotted(&clock(&[(NODE_X, 1)]), NODE_X, 3, 0);
        let in_gap = VectorClock::dotted(&clock(&[(NODE_X, 1)]), NODE_X, 2, 0);
        assert!(gap.has_event(NODE_X, 3) && gap.has_event(NODE_X, 1) && !gap.has_event(NODE_X, 2));
        assert_eq!(gap.compare(&in_gap), ClockOrder::Concurrent);
        assert_eq!(gap.closed().to_string(), "[(n1,3)]");
    }

    #[test]
    fn a_dot_already_in_its_past_is_refused_section_4_4() {
        let dot = ClockEntry { node: NODE_X, counter: 2, timestamp_ms: 0 };
        let refused = VectorClock::from_parts(vec![entry(NODE_X, 2, 0)], Some(dot));
        assert_eq!(refused, Err(ClockError::DotInPast { node: NODE_X, counter: 2 }));
        let bytes = postcard::to_allocvec(&clock(&[(NODE_X, 1)])).unwrap();
        let decoded: VectorClock = postcard::from_bytes(&bytes).unwrap();
        assert_eq!(decoded, clock(&[(NODE_X, 1)]));
    }

    proptest! {
        /// Dotted or not, compare is set containment of the events the histories hold, and a
        /// merge holds every event of both.
        #[test]
        fn dotted_compare_is_containment_of_events_section_4_4(left in any_dotted_clock(), right in any_dotted_clock()) {
            let (mine, theirs) = (events(&left), events(&right));
            let expected = match (mine.is_subset(&theirs), theirs.is_subset(&mine)) {
                (true, true) => ClockOrder::Equal,
                (true, false) => ClockOrder::Before,
                (false, true) => ClockOrder::After,
                (false, false) => ClockOrder::Concurrent,
            };
            prop_assert_eq!(left.compare(&right), expected);
            let merged = events(&left.merge(&right));
            prop_assert!(mine.is_subset(&merged) && theirs.is_subset(&merged));
        }
    }
}
