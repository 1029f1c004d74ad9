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
    /// Each member's holding in this ring, by node id (slides 8–12 read off the picture).
    pub holdings: Vec<(NodeId, Holding)>,
}

/// What one member holds in a view's current ring: the tokens requests are routed to it by,
/// and its share of the ring in percent (§4.2, §6.2). A Left member holds nothing, whatever
/// its own record still lists: its tokens went to its successors.
#[derive(Clone, Copy, Debug, Default, PartialEq)]
pub struct Holding {
    pub tokens: usize,
    pub share_percent: f64,
}

/// Every member's holding in `view`'s current ring, by node id (members holding nothing
/// included), so the counts on the page add up to the ring's tokens and the shares to 100. A
/// sorted list rather than a map: the page ships one more map type's code otherwise.
pub fn holdings(view: &MembershipView) -> Vec<(NodeId, Holding)> {
    let ring = view.current_ring();
    let mut holdings: Vec<(NodeId, Holding)> =
        view.records().map(|record| (record.node, Holding::default())).collect();
    let mut hold = |node: NodeId, add: &dyn Fn(&mut Holding)| {
        let index = match holdings.binary_search_by_key(&node, |(id, _)| *id) {
            Ok(index) => index,
            Err(index) => {
                holdings.insert(index, (node, Holding::default()));
                index
            }
        };
        add(&mut holdings[index].1);
    };
    for (_, node) in ring.tokens() {
        hold(*node, &|holding| holding.tokens += 1);
    }
    for (node, share) in ring.ownership_shares() {
        hold(node, &|holding| holding.share_percent = share * 100.0);
    }
    holdings
}

/// `node`'s holding in a list from [`holdings`].
pub fn holding_of(holdings: &[(NodeId, Holding)], node: NodeId) -> Holding {
    holdings.binary_search_by_key(&node, |(id, _)| *id).map_or(Holding::default(), |index| holdings[index].1)
}

/// The picture of `view`'s current ring with `key` placed on it (no key when empty).
pub fn ring_picture(view: &MembershipView, key: &str, replicas_n: usize) -> RingPicture {
    let ring = view.current_ring();
    let mut picture =
        RingPicture { tokens: ring.tokens().to_vec(), holdings: holdings(view), ..RingPicture::default() };
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
    use crate::protocol::membership::MemberStatus;
    use crate::protocol::{ClusterConfig, Node};
    use crate::sim::run::Simulation;
    use crate::sim::scenario::Scenario;
    use crate::sim::trace::TraceMode;

    /// §4.9: n6 joins, n4 crashes, n2 leaves. A minute later every token of the ring is held by
    /// a member still serving (n4 among them: down is not gone), the counts add up to the
    /// ring's 32 and the shares to 100, and the Left n2 holds none, whatever its own record
    /// still lists. A lecturer read "31 of 32, and n2 still 6" off the page's table, which
    /// counted each record's own list instead of the ring.
    #[test]
    fn holdings_add_up_to_the_ring_after_a_join_a_crash_and_a_leave_section_4_9() {
        let text = r#"{ "seed": 2007, "duration_ms": 70000, "actions": [
            { "at_ms": 1000, "action": { "join": 6 } },
            { "at_ms": 5000, "action": { "crash": 4 } },
            { "at_ms": 6000, "action": { "leave": 2 } } ] }"#;
        let mut simulation =
            Simulation::new(Scenario::from_json(text).unwrap(), TraceMode::HashOnly).unwrap();
        simulation.run();
        let view = &simulation.fabric().node(NodeId(1)).unwrap().durable().view;
        assert_eq!(view.record(NodeId(2)).unwrap().status, MemberStatus::Left);
        let holdings = holdings(view);
        let total: usize = holdings.iter().map(|(_, holding)| holding.tokens).sum();
        assert_eq!(total, view.current_ring().tokens().len());
        assert_eq!(total, 32, "strategy 3's Q partitions, each held once");
        let percent: f64 = holdings.iter().map(|(_, holding)| holding.share_percent).sum();
        assert!((percent - 100.0).abs() < 1e-6, "{percent}");
        assert_eq!(holding_of(&holdings, NodeId(2)), Holding::default(), "the Left n2 holds nothing");
        assert!(
            holding_of(&holdings, NodeId(4)).tokens > 0,
            "the crashed n4 is still a member and holds its share"
        );
        for (node, holding) in &holdings {
            let status = view.record(*node).unwrap().status;
            assert!(
                holding.tokens == 0 || matches!(status, MemberStatus::Normal | MemberStatus::Leaving),
                "{node:?} {status:?}"
            );
        }
    }

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
