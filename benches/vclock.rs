//! Vector clock costs on every read and write (§4.4): comparing and merging clocks of 3 entries
//! (the N = 3 replicas that usually coordinate a key) and of 10 (the truncation threshold).

use std::hint::black_box;

use criterion::{criterion_group, criterion_main, BenchmarkId, Criterion};
use dynamoscope::protocol::types::NodeId;
use dynamoscope::protocol::vclock::{VectorClock, CLOCK_TRUNCATION_THRESHOLD};

const ENTRY_COUNTS: [u32; 2] = [3, CLOCK_TRUNCATION_THRESHOLD as u32];

/// A clock and a descendant of it that bumped the last node: the comparison has to walk every
/// entry before it can answer, which is the common case of a write overwriting its context.
fn ancestor_and_descendant(entry_count: u32) -> (VectorClock, VectorClock) {
    let mut ancestor = VectorClock::new();
    for node in 0..entry_count {
        ancestor.increment(NodeId(node), u64::from(node));
    }
    let mut descendant = ancestor.clone();
    descendant.increment(NodeId(entry_count - 1), u64::from(entry_count));
    (ancestor, descendant)
}

fn bench_compare(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("vclock/compare");
    for entry_count in ENTRY_COUNTS {
        let (ancestor, descendant) = ancestor_and_descendant(entry_count);
        group.bench_function(BenchmarkId::from_parameter(format!("{entry_count}_entries")), |bencher| {
            bencher.iter(|| black_box(&descendant).compare(black_box(&ancestor)))
        });
    }
    group.finish();
}

fn bench_merge(criterion: &mut Criterion) {
    let mut group = criterion.benchmark_group("vclock/merge");
    for entry_count in ENTRY_COUNTS {
        let (ancestor, descendant) = ancestor_and_descendant(entry_count);
        group.bench_function(BenchmarkId::from_parameter(format!("{entry_count}_entries")), |bencher| {
            bencher.iter(|| black_box(&descendant).merge(black_box(&ancestor)))
        });
    }
    group.finish();
}

criterion_group!(benches, bench_compare, bench_merge);
criterion_main!(benches);
