//! Cluster settings. Every node of a cluster runs with the same [`ClusterConfig`].

use serde::{Deserialize, Serialize};

use super::merkle::{MERKLE_DEPTH_DEFAULT, MERKLE_DEPTH_MAX};
use super::ring::PartitionStrategy;
use super::store::ConflictPolicy;
use super::types::{IntoOrdered, NodeId};
use super::vclock::{ClockKind, CLOCK_TRUNCATION_THRESHOLD};

/// How a node decides a peer is unreachable (§4.8.3).
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub enum FailureDetector {
    /// Dynamo's own: a request that times out marks the peer unreachable; any answer clears it.
    Local,
    /// Cassandra's phi accrual on top of the local rule: a peer whose silence makes
    /// phi = t / mean / ln 10 exceed `threshold` is unreachable too.
    PhiAccrual { threshold: f64, window: u32 },
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct ClusterConfig {
    /// N: replicas of each key (§4.3).
    pub replicas_n: usize,
    /// R: replicas that must answer a get (§4.5).
    pub reads_r: usize,
    /// W: replicas that must acknowledge a put, the coordinator included (§4.5).
    pub writes_w: usize,
    pub strategy: PartitionStrategy,
    pub conflict_policy: ConflictPolicy,
    /// The nodes that form the cluster at time zero, with agreed tokens.
    pub initial_members: Vec<NodeId>,
    /// Nodes every node knows and gossips with now and then, so that no logical partition lasts (§4.8.2).
    pub seeds: Vec<NodeId>,
    /// Seeds the initial tokens (strategy 1), so every node computes the same initial ring.
    pub token_seed: u64,
    /// How long a coordinator waits for one replica before trying a fallback (§4.6).
    pub replica_timeout_ms: u64,
    /// How long a client request may take in all before it fails.
    pub request_timeout_ms: u64,
    pub gossip_interval_ms: u64,
    pub anti_entropy_interval_ms: u64,
    pub hint_handoff_interval_ms: u64,
    /// How often an unreachable peer is probed again (§4.8.3).
    pub unreachable_retry_ms: u64,
    pub clock_truncation_threshold: usize,
    pub merkle_depth: u32,
    pub failure_detector: FailureDetector,
    /// The clocks new versions get: the paper's, or dotted version vectors.
    pub clocks: ClockKind,
}

impl Default for ClusterConfig {
    fn default() -> Self {
        ClusterConfig {
            replicas_n: 3,
            reads_r: 2,
            writes_w: 2,
            strategy: PartitionStrategy::EqualPartitions { partitions: 32 },
            conflict_policy: ConflictPolicy::Siblings,
            initial_members: (1..=5).map(NodeId).collect(),
            seeds: vec![NodeId(1)],
            token_seed: 2007,
            replica_timeout_ms: 100,
            request_timeout_ms: 1_000,
            gossip_interval_ms: 1_000,
            anti_entropy_interval_ms: 5_000,
            hint_handoff_interval_ms: 1_000,
            unreachable_retry_ms: 1_000,
            clock_truncation_threshold: CLOCK_TRUNCATION_THRESHOLD,
            merkle_depth: MERKLE_DEPTH_DEFAULT,
            failure_detector: FailureDetector::Local,
            clocks: ClockKind::Paper,
        }
    }
}

/// Bounds that keep every per-node loop and message small.
pub const REPLICAS_MAX: usize = 16;
pub const INTERVAL_MS_MAX: u64 = 3_600_000;

impl ClusterConfig {
    /// Checks every setting; the error names the field and what it must be. R + W > N is not
    /// required: a lesson shows what goes wrong without it.
    pub fn validate(&self) -> Result<(), ConfigError> {
        let n = self.replicas_n;
        check(
            (1..=REPLICAS_MAX).contains(&n),
            "replicas_n",
            format!("N must be 1 to {REPLICAS_MAX}, not {n}"),
        )?;
        check(
            self.reads_r >= 1 && self.reads_r <= n,
            "reads_r",
            format!("R must be 1 to N={n}, not {}", self.reads_r),
        )?;
        check(
            self.writes_w >= 1 && self.writes_w <= n,
            "writes_w",
            format!("W must be 1 to N={n}, not {}", self.writes_w),
        )?;
        self.validate_strategy()?;
        self.validate_members()?;
        self.validate_timing()?;
        check(
            self.clock_truncation_threshold >= 1,
            "clock_truncation_threshold",
            "the clock truncation threshold must be at least 1".into(),
        )?;
        check(
            self.merkle_depth <= MERKLE_DEPTH_MAX,
            "merkle_depth",
            format!("the Merkle depth must be 0 to {MERKLE_DEPTH_MAX}, not {}", self.merkle_depth),
        )?;
        if let FailureDetector::PhiAccrual { threshold, window } = self.failure_detector {
            check(
                threshold.is_finite() && threshold > 0.0 && (2..=1000).contains(&window),
                "failure_detector",
                "phi accrual needs a positive threshold and a window of 2 to 1000 intervals".into(),
            )?;
        }
        Ok(())
    }

    fn validate_strategy(&self) -> Result<(), ConfigError> {
        match self.strategy {
            PartitionStrategy::RandomTokens { tokens_per_node } => check(
                (1..=256).contains(&tokens_per_node),
                "strategy",
                format!("strategy 1 needs 1 to 256 tokens per node, not {tokens_per_node}"),
            ),
            PartitionStrategy::EqualPartitions { partitions } => check(
                (1..=4096).contains(&partitions),
                "strategy",
                format!("strategy 3 needs 1 to 4096 partitions, not {partitions}"),
            ),
        }
    }

    fn validate_members(&self) -> Result<(), ConfigError> {
        let members = &self.initial_members;
        check(!members.is_empty(), "initial_members", "the cluster needs at least one node".into())?;
        let max = super::membership::MEMBERS_MAX;
        check(members.len() <= max, "initial_members", format!("at most {max} initial nodes"))?;
        let distinct = members.iter().into_btree_set();
        check(distinct.len() == members.len(), "initial_members", "a node is listed twice".into())?;
        check(members.iter().all(|node| node.0 > 0), "initial_members", "node ids start at 1".into())?;
        check(self.seeds.len() <= 64, "seeds", "at most 64 seeds".into())
    }

    fn validate_timing(&self) -> Result<(), ConfigError> {
        let intervals = [
            ("replica_timeout_ms", self.replica_timeout_ms),
            ("request_timeout_ms", self.request_timeout_ms),
            ("gossip_interval_ms", self.gossip_interval_ms),
            ("anti_entropy_interval_ms", self.anti_entropy_interval_ms),
            ("hint_handoff_interval_ms", self.hint_handoff_interval_ms),
            ("unreachable_retry_ms", self.unreachable_retry_ms),
        ];
        for (field, value) in intervals {
            check(
                (1..=INTERVAL_MS_MAX).contains(&value),
                field,
                format!("{field} must be 1 to {INTERVAL_MS_MAX} ms, not {value}"),
            )?;
        }
        check(
            self.request_timeout_ms >= self.replica_timeout_ms,
            "request_timeout_ms",
            "a request must be allowed at least one replica timeout".into(),
        )
    }
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConfigError {
    /// The setting that is wrong, as named in [`ClusterConfig`].
    pub field: &'static str,
    pub reason: String,
}

impl std::fmt::Display for ConfigError {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(formatter, "{}: {}", self.field, self.reason)
    }
}

impl std::error::Error for ConfigError {}

fn check(condition: bool, field: &'static str, reason: String) -> Result<(), ConfigError> {
    if condition {
        Ok(())
    } else {
        Err(ConfigError { field, reason })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_default_is_the_typical_dynamo_configuration_section_4_5() {
        let config = ClusterConfig::default();
        assert_eq!((config.replicas_n, config.reads_r, config.writes_w), (3, 2, 2));
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn r_above_n_is_refused_and_named_section_4_5() {
        let config = ClusterConfig { reads_r: 4, ..ClusterConfig::default() };
        let error = config.validate().unwrap_err();
        assert_eq!(error.field, "reads_r");
        assert!(error.reason.contains("R must be 1 to N=3"), "{error}");
    }

    #[test]
    fn r_plus_w_not_above_n_is_allowed_section_4_5() {
        let config = ClusterConfig { reads_r: 1, writes_w: 1, ..ClusterConfig::default() };
        assert_eq!(config.validate(), Ok(()));
    }

    #[test]
    fn zero_intervals_and_duplicate_members_are_refused() {
        let config = ClusterConfig { gossip_interval_ms: 0, ..ClusterConfig::default() };
        assert_eq!(config.validate().unwrap_err().field, "gossip_interval_ms");
        let config =
            ClusterConfig { initial_members: vec![NodeId(1), NodeId(1)], ..ClusterConfig::default() };
        assert_eq!(config.validate().unwrap_err().field, "initial_members");
    }
}
