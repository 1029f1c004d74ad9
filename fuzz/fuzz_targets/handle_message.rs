//! Arbitrary bytes from the network, fed to a node: the first byte picks the sender, the rest
//! is the message. A node must reject what it cannot decode and never panic on anything.

#![no_main]

use dynamoscope::protocol::{Message, Observation, Output};
use dynamoscope_fuzz::{coordinator_with_operations_in_flight, fresh_node, sender_of, FUZZED_NODE, NOW_MS};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // An empty input still exercises the empty message, from the node itself.
    let (sender_byte, bytes) = data.split_first().map_or((0, data), |(first, rest)| (*first, rest));
    let from = sender_of(sender_byte);

    let mut node = fresh_node();
    node.handle_message_bytes(NOW_MS, from, bytes);
    let outputs: Vec<Output> = node.drain_outputs().collect();
    let rejections = outputs
        .iter()
        .filter(|output| matches!(output, Output::Observe(Observation::MessageRejected { from: rejected, .. }) if *rejected == from))
        .count();

    match Message::decode(bytes) {
        Err(_) => {
            // The contract of `handle_message_bytes`: undecodable bytes are observed once, and
            // nothing else happens.
            assert_eq!(rejections, 1, "undecodable bytes from {from} gave {outputs:?}");
            assert_eq!(outputs.len(), 1, "undecodable bytes from {from} did more than reject: {outputs:?}");
        }
        Ok(message) => {
            // What decodes must survive a round trip, or two nodes could disagree on what a
            // message said.
            assert_eq!(
                Message::decode(&message.encode()).as_ref(),
                Ok(&message),
                "re-encoding changed {message:?}"
            );
            if from == FUZZED_NODE {
                assert!(rejections >= 1, "a message from the node itself was not rejected: {outputs:?}");
            }
            // Replies only match operations that exist, so the same message goes to a node
            // with requests in flight too.
            let (mut coordinator, _) = coordinator_with_operations_in_flight();
            coordinator.handle_message(NOW_MS, from, message);
            for output in coordinator.drain_outputs() {
                if let Output::Send { to, message } = output {
                    assert_ne!(to, FUZZED_NODE, "the node messaged itself: {message:?}");
                }
            }
        }
    }
});
