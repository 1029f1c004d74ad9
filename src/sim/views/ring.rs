//! The ring as one node's membership view has it (§4.2, §4.3): its tokens and arcs, and for a
//! chosen key, where the key falls and which nodes hold it.

use crate::protocol::membership::MembershipView;
use crate::protocol::ring::{ring_position, Token};
use crate::protocol::NodeId;

/// Where on the drawing a ring position goes: a fraction of a full turn, 0 at the top.
pub fn turn_of(position: u128) -> f64 {
    (position >> 64) as f64 / 2f64.powi(64)
}

#[derive(Clone, Debug, Default, PartialEq)]
pub struct RingPicture {
    /// Tokens in ring order with their owner.
    pub tokens: Vec<(Token, NodeId)>,
    /// The chosen key's position, as a turn.
    pub key_turn: Option<f64>,
    /// The key's top N, in preference order (the first is its coordinator).
    pub preference: Vec<NodeId>,
    /// The nodes after the top N, in the order a sloppy quorum tries them (§4.6).
    pub fallbacks: Vec<NodeId>,
}

/// The picture of `view`'s current ring with `key` placed on it (no key when empty).
pub fn ring_picture(view: &MembershipView, key: &str, replicas_n: usize) -> RingPicture {
    let ring = view.current_ring();
    let mut picture = RingPicture { tokens: ring.tokens().to_vec(), ..RingPicture::default() };
    if key.is_empty() || ring.is_empty() {
        return picture;
    }
    let position = ring_position(key.as_bytes());
    let mut extended = ring.extended_preference_list(position);
    picture.key_turn = Some(turn_of(position));
    picture.fallbacks = extended.split_off(replicas_n.min(extended.len()));
    picture.preference = extended;
    picture
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::{ClusterConfig, Node};

    /// §4.3: the key's preference list is the first N distinct nodes clockwise from its
    /// position; the rest of the nodes are its fallbacks, and no node appears twice.
    #[test]
    fn the_picture_splits_the_clockwise_walk_into_top_n_and_fallbacks() {
        let node = Node::new(ClusterConfig::default(), NodeId(1), 7).unwrap();
        let picture = ring_picture(&node.durable().view, "cart:alice", 3);
        assert_eq!(picture.preference.len(), 3);
        assert_eq!(picture.fallbacks.len(), 2, "five nodes: three replicas, two fallbacks");
        let mut all: Vec<NodeId> = picture.preference.iter().chain(&picture.fallbacks).copied().collect();
        all.sort();
        all.dedup();
        assert_eq!(all.len(), 5);
        assert_eq!(picture.preference, node.ring().preference_list(ring_position(b"cart:alice"), 3));
        let turn = picture.key_turn.unwrap();
        assert!((0.0..1.0).contains(&turn));
        assert!(picture.tokens.windows(2).all(|pair| pair[0].0 < pair[1].0), "tokens in ring order");
        assert!(ring_picture(&node.durable().view, "", 3).preference.is_empty());
    }
}
