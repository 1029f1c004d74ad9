//! The `dynamoscope` command (see `src/cli`).

/// mimalloc: explore allocates and frees a whole cluster's state per state it reaches, and the
/// system allocator's share of its time was about a third (ARCHITECTURE, "Explore's states").
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() {
    std::process::exit(dynamoscope::cli::main())
}
