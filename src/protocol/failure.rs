//! Failure detection (§4.8.3). Dynamo's is purely local: a peer that does not answer a request
//! is unreachable *for this node*, and is probed again periodically; any message from it makes
//! it reachable again. Phi accrual (Cassandra) is an option on top. Like Cassandra's, it is fed
//! only heartbeats, here each gossip round's opening and answer (`Gossip`, `GossipReply`), which flows whatever the clients do:
//! fed every message, it learned the rhythm of client traffic and took the silence after a busy
//! period for the failure of every peer.

use serde::{Deserialize, Serialize};
use std::collections::VecDeque;

use super::config::FailureDetector;
use super::message::Message;
use super::node::{Node, Timer};
use super::observation::{Observation, UnreachableReason};
use super::small_map::SmallMap;
use super::types::NodeId;

/// Inter-arrival samples kept per peer for phi accrual.
const ARRIVAL_WINDOW_MAX: usize = 1000;

#[derive(Clone, Debug, Default, Serialize, Deserialize)]
struct Arrivals {
    last_ms: Option<u64>,
    intervals_ms: VecDeque<u64>,
}

/// Since when a peer is unreachable, and when it was last probed.
#[derive(Clone, Copy, Debug, Serialize, Deserialize)]
struct Suspicion {
    since_ms: u64,
    probed_ms: u64,
}

#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Detector {
    kind: FailureDetector,
    unreachable: SmallMap<NodeId, Suspicion>,
    arrivals: SmallMap<NodeId, Arrivals>,
}

impl Detector {
    pub fn new(kind: FailureDetector) -> Detector {
        Detector { kind, unreachable: SmallMap::new(), arrivals: SmallMap::new() }
    }

    pub fn set_kind(&mut self, kind: FailureDetector) {
        self.kind = kind;
    }

    pub fn is_reachable(&self, peer: NodeId) -> bool {
        !self.unreachable.contains_key(&peer)
    }

    pub fn unreachable_peers(&self) -> Vec<NodeId> {
        self.unreachable.keys().copied().collect()
    }

    /// Records a message from `peer`; if it was unreachable until now, for how long. Only a
    /// `heartbeat` is an arrival phi accrual learns from.
    fn heard_from(&mut self, peer: NodeId, now_ms: u64, heartbeat: bool) -> Option<u64> {
        if let (FailureDetector::PhiAccrual { window, .. }, true) = (self.kind, heartbeat) {
            let arrivals = self.arrivals.entry(peer).or_default();
            if let Some(last_ms) = arrivals.last_ms {
                arrivals.intervals_ms.push_back(now_ms.saturating_sub(last_ms).max(1));
                let bound = (window as usize).min(ARRIVAL_WINDOW_MAX);
                while arrivals.intervals_ms.len() > bound {
                    arrivals.intervals_ms.pop_front();
                }
            }
            arrivals.last_ms = Some(now_ms);
        }
        self.unreachable.remove(&peer).map(|suspicion| now_ms.saturating_sub(suspicion.since_ms))
    }

    /// Marks `peer` unreachable; true if it was reachable until now.
    fn suspect(&mut self, peer: NodeId, now_ms: u64) -> bool {
        if self.unreachable.contains_key(&peer) {
            return false;
        }
        self.unreachable.insert(peer, Suspicion { since_ms: now_ms, probed_ms: now_ms });
        true
    }

    /// phi = t / mean / ln 10, with t the silence since the last message and mean the mean
    /// inter-arrival time: Cassandra's exponential approximation of the accrual detector.
    pub fn phi(&self, peer: NodeId, now_ms: u64) -> Option<f64> {
        let arrivals = self.arrivals.get(&peer)?;
        let last_ms = arrivals.last_ms?;
        if arrivals.intervals_ms.len() < 2 {
            return None;
        }
        let mean_ms = arrivals.intervals_ms.iter().sum::<u64>() as f64 / arrivals.intervals_ms.len() as f64;
        let silence_ms = now_ms.saturating_sub(last_ms) as f64;
        Some(silence_ms / mean_ms / std::f64::consts::LN_10)
    }

    /// Reachable peers whose phi crossed the threshold.
    fn phi_suspects(&self, now_ms: u64) -> Vec<NodeId> {
        let FailureDetector::PhiAccrual { threshold, .. } = self.kind else { return Vec::new() };
        self.arrivals
            .keys()
            .copied()
            .filter(|peer| self.is_reachable(*peer))
            .filter(|peer| self.phi(*peer, now_ms).is_some_and(|phi| phi > threshold))
            .collect()
    }

    /// Unreachable peers not probed for `retry_ms`; their probe time is reset.
    fn take_due_probes(&mut self, now_ms: u64, retry_ms: u64) -> Vec<NodeId> {
        let due: Vec<NodeId> = self
            .unreachable
            .iter()
            .filter(|(_, suspicion)| now_ms.saturating_sub(suspicion.probed_ms) >= retry_ms)
            .map(|(peer, _)| *peer)
            .collect();
        for peer in &due {
            if let Some(suspicion) = self.unreachable.get_mut(peer) {
                suspicion.probed_ms = now_ms;
            }
        }
        due
    }
}

impl Node {
    /// Any message is evidence the sender is alive (§4.8.3); a gossip round's opening and
    /// answer, which every round has, are also phi accrual's heartbeat.
    pub(super) fn note_alive(&mut self, peer: NodeId, message: &Message) {
        let heartbeat = matches!(message, Message::Gossip { .. } | Message::GossipReply { .. });
        if let Some(silent_ms) = self.detector.heard_from(peer, self.now_ms, heartbeat) {
            self.observe(Observation::PeerReachable { peer });
            self.on_peer_back(peer, silent_ms);
        }
    }

    pub(super) fn mark_unreachable(&mut self, peer: NodeId, reason: UnreachableReason) {
        if peer != self.id && self.detector.suspect(peer, self.now_ms) {
            self.observe(Observation::PeerUnreachable { peer, reason });
        }
    }

    pub(super) fn on_failure_detector_timer(&mut self) {
        for peer in self.detector.phi_suspects(self.now_ms) {
            self.mark_unreachable(peer, UnreachableReason::PhiAccrual);
        }
        // A probe is a gossip exchange: it doubles as membership reconciliation.
        for peer in self.detector.take_due_probes(self.now_ms, self.config.unreachable_retry_ms) {
            self.send_gossip(peer);
        }
        // The same tick retries what went unanswered in Merkle exchanges (§4.7).
        self.on_anti_entropy_tick();
        self.set_timer(self.now_ms + self.config.unreachable_retry_ms, Timer::FailureDetector);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_timeout_makes_a_peer_unreachable_and_any_message_reachable_again_section_4_8_3() {
        let mut detector = Detector::new(FailureDetector::Local);
        let peer = NodeId(2);
        assert!(detector.is_reachable(peer));
        assert!(detector.suspect(peer, 100));
        assert!(!detector.suspect(peer, 150), "already unreachable");
        assert!(!detector.is_reachable(peer));
        assert_eq!(detector.heard_from(peer, 200, false), Some(100), "unreachable for 100 ms");
        assert_eq!(detector.heard_from(peer, 250, false), None, "reachable already");
        assert!(detector.is_reachable(peer));
    }

    #[test]
    fn unreachable_peers_are_probed_again_after_the_retry_interval_section_4_8_3() {
        let mut detector = Detector::new(FailureDetector::Local);
        detector.suspect(NodeId(3), 1_000);
        assert!(detector.take_due_probes(1_500, 1_000).is_empty());
        assert_eq!(detector.take_due_probes(2_000, 1_000), vec![NodeId(3)]);
        assert!(detector.take_due_probes(2_500, 1_000).is_empty(), "the probe time was reset");
    }

    /// §4.8.3: any message makes a peer reachable again, but phi accrual learns only from
    /// heartbeats: a burst of client traffic neither shortens the expected interval nor resets
    /// the silence it judges.
    #[test]
    fn phi_accrual_learns_only_from_heartbeats_section_4_8_3() {
        let mut detector = Detector::new(FailureDetector::PhiAccrual { threshold: 8.0, window: 100 });
        let peer = NodeId(4);
        for tick in 0..10 {
            detector.heard_from(peer, tick * 1_000, true);
        }
        let before = detector.phi(peer, 10_000);
        detector.suspect(peer, 9_500);
        for burst_ms in 9_001..9_900 {
            detector.heard_from(peer, burst_ms, false);
        }
        assert!(detector.is_reachable(peer), "any message makes the peer reachable");
        assert_eq!(detector.phi(peer, 10_000), before, "client traffic is no heartbeat");
        assert!(detector.phi_suspects(9_000 + 3_000).is_empty(), "phi 1.3 after 3 s of quiet");
    }

    #[test]
    fn phi_grows_with_silence_and_crosses_the_threshold_section_4_8_3() {
        let mut detector = Detector::new(FailureDetector::PhiAccrual { threshold: 8.0, window: 100 });
        let peer = NodeId(4);
        for tick in 0..10 {
            detector.heard_from(peer, tick * 1_000, true);
        }
        let phi_soon = detector.phi(peer, 9_000 + 1_000).unwrap();
        assert!((phi_soon - 1.0 / std::f64::consts::LN_10).abs() < 1e-9, "phi = t / mean / ln 10");
        assert!(detector.phi_suspects(9_000 + 10_000).is_empty(), "phi 4.3 is under 8");
        assert_eq!(detector.phi_suspects(9_000 + 20_000), vec![peer], "phi 8.7 is over 8");
    }
}
