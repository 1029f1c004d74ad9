//! The nemesis: a random fault schedule drawn from a seed, in the spirit of Jepsen. Faults
//! strike at random times until `heal_at_ms`, each undone after its own duration; then a heal
//! phase repairs everything at once, and the rest of the run is the quiescence period in which
//! the checker expects the cluster to converge (§4.6, §4.7, §4.8).
//!
//! The schedule is plain [`TimedAction`]s, so a run with a nemesis is still a pure function of
//! (configuration, seed, actions) and replays exactly.

use rand_chacha::ChaCha8Rng;
use rand_core::{RngCore, SeedableRng};
use serde::{Deserialize, Serialize};

use super::network::{NetworkConfig, PPM};
use super::scenario::{Action, TimedAction};
use crate::protocol::small_map::SmallMap;
use crate::protocol::types::sort_integers;
use crate::protocol::NodeId;

/// Faults one schedule holds at most, whatever the interval asks for.
pub const FAULTS_MAX: usize = 10_000;
/// Nodes one schedule adds at most: each join moves ranges (§4.9), and a few cover the cases.
pub const JOINS_MAX: usize = 3;
/// Members one schedule removes at most, so that a small cluster keeps its N replicas.
pub const LEAVES_MAX: usize = 2;
/// Mixed into the scenario's seed so the nemesis draws apart from the network and the clients.
const NEMESIS_SEED_SALT: u64 = 0x6e65_6d65_7369_7321;

/// Which faults the nemesis injects, how often, and for how long. Every field has a default, so
/// `"nemesis": {}` in a scenario turns on all of them.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct NemesisConfig {
    /// Crash a node (its process dies, its disk stays) and restart it when the fault ends.
    pub crashes: bool,
    /// Pause a node (a long garbage collection: inputs wait) and resume it when the fault ends.
    pub pauses: bool,
    /// Split the nodes into two groups that cannot reach each other (§4.8.2's partitions).
    pub partitions: bool,
    /// Lose every message from one node to another, but not the other way.
    pub cuts: bool,
    /// Lose messages at `loss_burst_ppm` for a while, then return to the scenario's network.
    pub loss_bursts: bool,
    /// Chance, in parts per million, that a message is lost during a loss burst.
    pub loss_burst_ppm: u32,
    /// Wipe one node at most once per run (a permanent disk failure, §4.7) and restart it empty.
    /// Once only, so that an acknowledged write stays checkable: one more copy survives W >= 2.
    pub wipe: bool,
    /// Mean time between two faults; each interval is drawn uniformly from 1 ms to twice this.
    pub mean_interval_ms: u64,
    /// Shortest a fault lasts before it is undone.
    pub fault_duration_min_ms: u64,
    /// Longest a fault lasts before it is undone (the heal phase may cut it short).
    pub fault_duration_max_ms: u64,
    /// When faults stop and everything is repaired; default 60% of the run.
    pub heal_at_ms: Option<u64>,
    /// Nodes crashed, wiped or paused at once at most.
    pub max_down: usize,
    /// Start a new node and have it join the ring (§4.9), at most [`JOINS_MAX`] per run. Off by
    /// default, so that scenarios written before it keep their schedules.
    pub joins: bool,
    /// Have a member leave the ring for good (§4.9), at most [`LEAVES_MAX`] per run, never below
    /// `members_min` members. Off by default.
    pub leaves: bool,
    /// Members a leave never goes below: N + 1 keeps every key's N replicas and a spare.
    pub members_min: usize,
}

impl Default for NemesisConfig {
    fn default() -> Self {
        NemesisConfig {
            crashes: true,
            pauses: true,
            partitions: true,
            cuts: true,
            loss_bursts: true,
            loss_burst_ppm: 200_000,
            wipe: true,
            mean_interval_ms: 2_000,
            fault_duration_min_ms: 1_000,
            fault_duration_max_ms: 5_000,
            heal_at_ms: None,
            max_down: 2,
            joins: false,
            leaves: false,
            members_min: 4,
        }
    }
}

impl NemesisConfig {
    /// When the heal phase runs in a run of `duration_ms`.
    pub fn heal_at_ms(&self, duration_ms: u64) -> u64 {
        self.heal_at_ms.unwrap_or(duration_ms * 3 / 5)
    }

    /// Checks the settings against a run of `duration_ms`; the error is `(field, reason)`.
    pub fn validate(&self, duration_ms: u64) -> Result<(), (&'static str, String)> {
        if self.mean_interval_ms == 0 {
            return Err(("mean_interval_ms", "at least 1".into()));
        }
        if self.fault_duration_min_ms == 0 || self.fault_duration_min_ms > self.fault_duration_max_ms {
            return Err(("fault_duration_min_ms", "1 to fault_duration_max_ms".into()));
        }
        if self.loss_burst_ppm > PPM {
            return Err(("loss_burst_ppm", format!("at most {PPM} (certain)")));
        }
        if self.members_min == 0 {
            return Err(("members_min", "at least 1".into()));
        }
        if self.heal_at_ms(duration_ms) > duration_ms {
            return Err(("heal_at_ms", format!("after the run ends at {duration_ms} ms")));
        }
        Ok(())
    }
}

/// The kinds of fault the nemesis draws from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum FaultKind {
    Crash,
    Pause,
    Wipe,
    Partition,
    Cut,
    LossBurst,
    Join,
    Leave,
}

/// How a node the nemesis took down comes back.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Down {
    /// Crashed or wiped: restart it.
    Stopped,
    Paused,
}

/// The faults of one run, drawn from `seed`: faults in time order before the heal time, each
/// undone after its duration (restart after a crash or wipe, resume after a pause, heal after a
/// partition or cut, `network` again after a loss burst), then at the heal time a heal phase:
/// heal, restore `network` if a burst is on, resume paused nodes and restart stopped ones. Only
/// `nodes` are faulted; the nemesis never takes more than `max_down` of them down at once.
///
/// `network` is the scenario's own network, which a loss burst returns to.
pub fn schedule(
    config: &NemesisConfig,
    nodes: &[NodeId],
    network: &NetworkConfig,
    duration_ms: u64,
    seed: u64,
) -> Vec<TimedAction> {
    let heal_at_ms = config.heal_at_ms(duration_ms).min(duration_ms);
    let mut planner = Planner::new(config, nodes, network, seed);
    let mut at_ms = 0u64;
    for _ in 0..FAULTS_MAX {
        at_ms = at_ms.saturating_add(planner.next_interval_ms());
        if at_ms >= heal_at_ms {
            break;
        }
        planner.undo_due(at_ms);
        planner.inject(at_ms);
    }
    if let Some(before_heal_ms) = heal_at_ms.checked_sub(1) {
        planner.undo_due(before_heal_ms);
    }
    planner.heal(heal_at_ms);
    let actions = planner.actions;
    assert!(actions.is_sorted_by_key(|timed| timed.at_ms), "faults and undos are emitted in time order");
    actions
}

/// The nemesis's own model of the faults it has in force, so that undos match faults.
struct Planner<'a> {
    config: &'a NemesisConfig,
    /// The ring's members as the schedule leaves them: joiners in, leavers out.
    nodes: Vec<NodeId>,
    /// The initial members: only they are wiped, since a wiped joiner restarts knowing no ring.
    initial: Vec<NodeId>,
    joins: usize,
    leaves: usize,
    network: &'a NetworkConfig,
    rng: ChaCha8Rng,
    down: SmallMap<NodeId, Down>,
    /// Node undos by (time, order of scheduling).
    node_undos: SmallMap<(u64, u64), Action>,
    undo_sequence: u64,
    /// When the partitions and cuts in force are healed, all together (a heal clears both).
    network_heal_at_ms: Option<u64>,
    /// When the loss burst in force ends.
    loss_ends_at_ms: Option<u64>,
    wiped: bool,
    actions: Vec<TimedAction>,
}

impl<'a> Planner<'a> {
    fn new(config: &'a NemesisConfig, nodes: &'a [NodeId], network: &'a NetworkConfig, seed: u64) -> Self {
        Planner {
            config,
            nodes: nodes.to_vec(),
            initial: nodes.to_vec(),
            joins: 0,
            leaves: 0,
            network,
            rng: ChaCha8Rng::seed_from_u64(seed ^ NEMESIS_SEED_SALT),
            down: SmallMap::new(),
            node_undos: SmallMap::new(),
            undo_sequence: 0,
            network_heal_at_ms: None,
            loss_ends_at_ms: None,
            wiped: false,
            actions: Vec::new(),
        }
    }

    fn emit(&mut self, at_ms: u64, action: Action) {
        self.actions.push(TimedAction::at(at_ms, action));
    }

    fn below(&mut self, bound: u64) -> u64 {
        self.rng.next_u64() % bound.max(1)
    }

    fn next_interval_ms(&mut self) -> u64 {
        1 + self.below(self.config.mean_interval_ms.saturating_mul(2).saturating_sub(1))
    }

    fn fault_duration_ms(&mut self) -> u64 {
        let span = self.config.fault_duration_max_ms - self.config.fault_duration_min_ms + 1;
        self.config.fault_duration_min_ms + self.below(span)
    }

    /// Emits every undo due at or before `until_ms`, in time order.
    fn undo_due(&mut self, until_ms: u64) {
        let mut due: Vec<(u64, Action)> = Vec::new();
        while self.node_undos.first_key_value().is_some_and(|(key, _)| key.0 <= until_ms) {
            let ((at_ms, _), action) = self.node_undos.pop_first().expect("the first undo was just seen");
            let node = match &action {
                Action::Restart(node) | Action::Resume(node) => *node,
                _ => unreachable!("node undos are restarts and resumes"),
            };
            self.down.remove(&node);
            due.push((at_ms, action));
        }
        if let Some(at_ms) = self.network_heal_at_ms.filter(|at_ms| *at_ms <= until_ms) {
            self.network_heal_at_ms = None;
            due.push((at_ms, Action::Heal));
        }
        if let Some(at_ms) = self.loss_ends_at_ms.filter(|at_ms| *at_ms <= until_ms) {
            self.loss_ends_at_ms = None;
            due.push((at_ms, Action::Network(self.network.clone())));
        }
        due.sort_by_key(|(at_ms, _)| *at_ms);
        for (at_ms, action) in due {
            self.emit(at_ms, action);
        }
    }

    /// The kinds possible now: enabled, and with a node or a pair of nodes to strike.
    fn possible_kinds(&self) -> Vec<FaultKind> {
        let config = self.config;
        let can_take_down = self.down.len() < config.max_down && !self.up_nodes().is_empty();
        let can_wipe = can_take_down && self.up_nodes().iter().any(|node| self.initial.contains(node));
        let pair = self.nodes.len() >= 2;
        let can_leave =
            self.leaves < LEAVES_MAX && self.nodes.len() > config.members_min && !self.up_nodes().is_empty();
        [
            (FaultKind::Crash, config.crashes && can_take_down),
            (FaultKind::Pause, config.pauses && can_take_down),
            (FaultKind::Wipe, config.wipe && !self.wiped && can_wipe),
            (FaultKind::Partition, config.partitions && pair),
            (FaultKind::Cut, config.cuts && pair),
            (FaultKind::LossBurst, config.loss_bursts),
            (FaultKind::Join, config.joins && self.joins < JOINS_MAX),
            (FaultKind::Leave, config.leaves && can_leave),
        ]
        .into_iter()
        .filter_map(|(kind, possible)| possible.then_some(kind))
        .collect()
    }

    fn up_nodes(&self) -> Vec<NodeId> {
        self.nodes.iter().copied().filter(|node| !self.down.contains_key(node)).collect()
    }

    fn inject(&mut self, at_ms: u64) {
        let kinds = self.possible_kinds();
        if kinds.is_empty() {
            return;
        }
        let kind = kinds[self.below(kinds.len() as u64) as usize];
        let ends_at_ms = at_ms + self.fault_duration_ms();
        match kind {
            FaultKind::Crash => self.take_down(at_ms, ends_at_ms, Down::Stopped, Action::Crash),
            FaultKind::Pause => self.take_down(at_ms, ends_at_ms, Down::Paused, Action::Pause),
            FaultKind::Wipe => {
                self.wiped = true;
                self.take_down(at_ms, ends_at_ms, Down::Stopped, Action::Wipe)
            }
            FaultKind::Join => {
                self.joins += 1;
                let joiner =
                    NodeId(self.nodes.iter().chain(&self.initial).map(|node| node.0).max().unwrap_or(0) + 1);
                self.nodes.push(joiner);
                self.emit(at_ms, Action::Join(joiner));
            }
            FaultKind::Leave => {
                self.leaves += 1;
                let up = self.up_nodes();
                let leaver = up[self.below(up.len() as u64) as usize];
                self.nodes.retain(|node| *node != leaver);
                self.emit(at_ms, Action::Leave(leaver));
            }
            FaultKind::Partition => {
                let groups = self.two_groups();
                self.emit(at_ms, Action::Partition(groups));
                self.extend_network_fault(ends_at_ms);
            }
            FaultKind::Cut => {
                let (from, to) = self.two_nodes();
                self.emit(at_ms, Action::Cut { from, to });
                self.extend_network_fault(ends_at_ms);
            }
            FaultKind::LossBurst => self.loss_burst(at_ms, ends_at_ms),
        }
    }

    /// Takes one up node down (only an initial member for a wipe: a wiped joiner would restart
    /// knowing no ring it belongs to) and schedules its undo.
    fn take_down(&mut self, at_ms: u64, ends_at_ms: u64, down: Down, fault: fn(NodeId) -> Action) {
        let wipe = matches!(fault(NodeId(0)), Action::Wipe(_));
        let up: Vec<NodeId> =
            self.up_nodes().into_iter().filter(|node| !wipe || self.initial.contains(node)).collect();
        let node = up[self.below(up.len() as u64) as usize];
        self.down.insert(node, down);
        self.emit(at_ms, fault(node));
        let undo = match down {
            Down::Stopped => Action::Restart(node),
            Down::Paused => Action::Resume(node),
        };
        self.undo_sequence += 1;
        self.node_undos.insert((ends_at_ms, self.undo_sequence), undo);
    }

    /// A random split of the nodes into two non-empty groups.
    fn two_groups(&mut self) -> Vec<Vec<NodeId>> {
        let mut shuffled = self.nodes.to_vec();
        for index in (1..shuffled.len()).rev() {
            let other = self.below(index as u64 + 1) as usize;
            shuffled.swap(index, other);
        }
        let split = 1 + self.below(shuffled.len() as u64 - 1) as usize;
        let (mut left, mut right) = (shuffled[..split].to_vec(), shuffled[split..].to_vec());
        for group in [&mut left, &mut right] {
            sort_integers(group, |node| u128::from(node.0), |wide| NodeId(wide as u32));
        }
        vec![left, right]
    }

    fn two_nodes(&mut self) -> (NodeId, NodeId) {
        let count = self.nodes.len() as u64;
        debug_assert!(count >= 2, "a cut needs two nodes");
        let from = self.below(count) as usize;
        let to = (from + 1 + self.below(count - 1) as usize) % self.nodes.len();
        (self.nodes[from], self.nodes[to])
    }

    /// Partitions and cuts end together, since a heal clears both: the latest end wins.
    fn extend_network_fault(&mut self, ends_at_ms: u64) {
        self.network_heal_at_ms = Some(self.network_heal_at_ms.map_or(ends_at_ms, |at| at.max(ends_at_ms)));
    }

    fn loss_burst(&mut self, at_ms: u64, ends_at_ms: u64) {
        if self.loss_ends_at_ms.is_none() {
            let lossy = NetworkConfig {
                loss_ppm: self.network.loss_ppm.max(self.config.loss_burst_ppm),
                ..self.network.clone()
            };
            self.emit(at_ms, Action::Network(lossy));
        }
        self.loss_ends_at_ms = Some(self.loss_ends_at_ms.map_or(ends_at_ms, |at| at.max(ends_at_ms)));
    }

    /// The heal phase: every fault still in force ends at `at_ms`.
    fn heal(&mut self, at_ms: u64) {
        self.emit(at_ms, Action::Heal);
        if self.loss_ends_at_ms.take().is_some() {
            self.emit(at_ms, Action::Network(self.network.clone()));
        }
        let down = std::mem::take(&mut self.down);
        for (node, how) in down {
            let action = match how {
                Down::Stopped => Action::Restart(node),
                Down::Paused => Action::Resume(node),
            };
            self.emit(at_ms, action);
        }
        self.network_heal_at_ms = None;
        self.node_undos.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn nodes(count: u32) -> Vec<NodeId> {
        (1..=count).map(NodeId).collect()
    }

    #[test]
    fn the_same_seed_gives_the_same_schedule_and_another_seed_another() {
        let config = NemesisConfig::default();
        let network = NetworkConfig::default();
        let first = schedule(&config, &nodes(5), &network, 40_000, 7);
        assert_eq!(first, schedule(&config, &nodes(5), &network, 40_000, 7));
        assert_ne!(first, schedule(&config, &nodes(5), &network, 40_000, 8));
        assert!(first.windows(2).all(|pair| pair[0].at_ms <= pair[1].at_ms), "in time order");
    }

    /// Replays a schedule on a model of the nodes: every undo matches a fault in force, at most
    /// `max_down` nodes are down at once, one wipe at most, and after the heal all is well.
    #[test]
    fn every_fault_is_undone_and_the_bounds_hold() {
        for seed in 0..200 {
            let config = NemesisConfig { max_down: 2, mean_interval_ms: 500, ..NemesisConfig::default() };
            let network = NetworkConfig::default();
            let actions = schedule(&config, &nodes(6), &network, 20_000, seed);
            let mut down = std::collections::BTreeMap::new();
            let (mut wipes, mut lossy, mut split) = (0, false, false);
            for timed in &actions {
                match &timed.action {
                    Action::Crash(node) | Action::Wipe(node) | Action::Pause(node) => {
                        assert!(down.insert(*node, timed.action.clone()).is_none(), "seed {seed}: {timed:?}");
                        wipes += usize::from(matches!(timed.action, Action::Wipe(_)));
                    }
                    Action::Restart(node) => {
                        assert!(matches!(down.remove(node), Some(Action::Crash(_) | Action::Wipe(_))))
                    }
                    Action::Resume(node) => assert!(matches!(down.remove(node), Some(Action::Pause(_)))),
                    Action::Partition(_) | Action::Cut { .. } => split = true,
                    Action::Heal => split = false,
                    Action::Network(set) => lossy = set.loss_ppm > 0,
                    other => panic!("seed {seed}: the nemesis never does {other:?}"),
                }
                assert!(down.len() <= 2, "seed {seed}: {down:?} down at {}", timed.at_ms);
                assert!(timed.at_ms <= 12_000, "seed {seed}: nothing after the heal at 60%");
            }
            assert!(down.is_empty() && !lossy && !split, "seed {seed}: all repaired");
            assert!(wipes <= 1, "seed {seed}: {wipes} wipes");
        }
    }

    /// §4.9: with joins and leaves on, a joiner gets a fresh id and may be faulted but never
    /// wiped (it would restart knowing no ring), a leaver is never faulted again, and the ring
    /// keeps `members_min` members.
    #[test]
    fn joins_and_leaves_keep_their_bounds_section_4_9() {
        let mut joins_seen = 0;
        for seed in 0..200 {
            let config = NemesisConfig {
                joins: true,
                leaves: true,
                mean_interval_ms: 300,
                ..NemesisConfig::default()
            };
            let actions = schedule(&config, &nodes(5), &NetworkConfig::default(), 20_000, seed);
            let mut members: Vec<NodeId> = nodes(5);
            let (mut joins, mut leaves) = (0, 0);
            for timed in &actions {
                match &timed.action {
                    Action::Join(node) => {
                        assert!(node.0 > 5 && !members.contains(node), "seed {seed}: {timed:?}");
                        members.push(*node);
                        joins += 1;
                    }
                    Action::Leave(node) => {
                        assert!(members.contains(node), "seed {seed}: {timed:?}");
                        members.retain(|member| member != node);
                        leaves += 1;
                    }
                    Action::Wipe(node) => assert!(node.0 <= 5, "seed {seed}: a joiner wiped"),
                    Action::Crash(node) | Action::Pause(node) => {
                        assert!(members.contains(node), "seed {seed}: {timed:?} after it left")
                    }
                    _ => {}
                }
                assert!(members.len() >= config.members_min, "seed {seed}: {members:?}");
            }
            assert!(joins <= JOINS_MAX && leaves <= LEAVES_MAX, "seed {seed}");
            joins_seen += joins;
        }
        assert!(joins_seen > 100, "joins are drawn: {joins_seen}");
    }

    #[test]
    fn a_disabled_nemesis_only_heals() {
        let config = NemesisConfig {
            crashes: false,
            pauses: false,
            partitions: false,
            cuts: false,
            loss_bursts: false,
            wipe: false,
            heal_at_ms: Some(3_000),
            ..NemesisConfig::default()
        };
        let actions = schedule(&config, &nodes(5), &NetworkConfig::default(), 10_000, 1);
        assert_eq!(actions, vec![TimedAction::at(3_000, Action::Heal)]);
    }

    #[test]
    fn bad_settings_name_their_field() {
        let config = NemesisConfig { heal_at_ms: Some(50_000), ..NemesisConfig::default() };
        assert_eq!(config.validate(40_000).unwrap_err().0, "heal_at_ms");
        let config =
            NemesisConfig { fault_duration_min_ms: 9, fault_duration_max_ms: 3, ..Default::default() };
        assert_eq!(config.validate(40_000).unwrap_err().0, "fault_duration_min_ms");
        assert_eq!(NemesisConfig::default().heal_at_ms(40_000), 24_000);
    }
}
