//! Merkle tree costs for anti-entropy (§4.7): building a range's tree from 100,000 keys, and
//! comparing two such trees when 1 % of the keys differ.

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion, Throughput};
use dynamoscope::protocol::merkle::{MerkleTree, MERKLE_DEPTH_DEFAULT};
use dynamoscope::protocol::ring::ring_position;
use dynamoscope::protocol::types::{KeyRange, RingPosition};

const KEY_COUNT: u64 = 100_000;

/// One key in a hundred gets a different digest on the second replica.
const CHANGED_EVERY: u64 = 100;

const DEPTHS: [u32; 2] = [10, MERKLE_DEPTH_DEFAULT];

/// Benchmarks hash the whole ring so every key belongs to the range.
const WHOLE_RING: KeyRange = KeyRange { start_exclusive: 0, end_inclusive: 0 };

/// (ring position of "key{i}", a digest standing in for its sibling set).
fn entries() -> Vec<(RingPosition, u64)> {
    (0..KEY_COUNT).map(|key| (ring_position(format!("key{key}").as_bytes()), key)).collect()
}

fn with_one_percent_changed(entries: &[(RingPosition, u64)]) -> Vec<(RingPosition, u64)> {
    let changed = entries.iter().zip(0..).map(|(&(position, digest), key): (_, u64)| {
        if key % CHANGED_EVERY == 0 {
            (position, digest ^ 1)
        } else {
            (position, digest)
        }
    });
    changed.collect()
}

fn bench_build(criterion: &mut Criterion) {
    let entries = entries();
    let mut group = criterion.benchmark_group("merkle");
    group.throughput(Throughput::Elements(KEY_COUNT));
    for depth in DEPTHS {
        group.bench_with_input(
            BenchmarkId::new("build_100k", format!("depth_{depth}")),
            &depth,
            |bencher, &depth| {
                bencher.iter(|| MerkleTree::build(WHOLE_RING, depth, black_box(&entries).iter().copied()))
            },
        );
    }
    group.finish();
}

fn bench_diff(criterion: &mut Criterion) {
    let ours = entries();
    let theirs = with_one_percent_changed(&ours);
    let mut group = criterion.benchmark_group("merkle");
    for depth in DEPTHS {
        let our_tree = MerkleTree::build(WHOLE_RING, depth, ours.iter().copied());
        let their_tree = MerkleTree::build(WHOLE_RING, depth, theirs.iter().copied());
        group.bench_function(BenchmarkId::new("diff_100k_1pct", format!("depth_{depth}")), |bencher| {
            bencher.iter(|| black_box(&our_tree).diff(black_box(&their_tree)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_build, bench_diff);
criterion_main!(benches);
