//! The `dynamoscope` command: run a scenario, check random ones, explore every schedule of a
//! small one, replay a seed, draw the paper's figures, or say where a key lands on the ring.
//!
//! Exit codes: 0 success, 1 an invariant was violated (or a run could not finish, or an output
//! could not be written), 2 a usage error (a bad flag, an unreadable or invalid scenario file).
//! Wall-clock time is read here only, never in `src/protocol` or `src/sim`.

mod check_command;
mod checking;
mod explore_command;
mod figures;
mod lesson_command;
mod progress;
mod run_command;
mod scenario_flags;
mod summary;
mod trace_text;

use clap::{Parser, Subcommand};

use crate::protocol::ring::ring_position;

/// Why the command stopped short of success.
#[derive(Debug)]
pub enum Failure {
    /// Bad flags or bad input: exit code 2.
    Usage(String),
    /// An invariant was violated: exit code 1. The details are already printed.
    Violations,
    /// Something went wrong while running or writing results: exit code 1.
    Failed(String),
}

impl Failure {
    fn exit_code(&self) -> i32 {
        match self {
            Failure::Usage(_) => 2,
            Failure::Violations | Failure::Failed(_) => 1,
        }
    }
}

#[derive(Parser, Debug)]
#[command(
    name = "dynamoscope",
    version,
    about = "An Amazon Dynamo cluster (SOSP 2007) in a deterministic simulator",
    after_help = "Exit codes: 0 success, 1 invariant violated or run failed, 2 usage error."
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand, Debug)]
enum Command {
    /// Run a scenario file, or one built from flags, and print its summary.
    Run(run_command::RunArguments),
    /// Run random scenarios for a range of seeds and check every invariant.
    Check(check_command::CheckArguments),
    /// Try every schedule of a small scenario; write the shortest that breaks a promise as a
    /// scenario file and a share link (exit code 1 when one is found).
    Explore(explore_command::ExploreArguments),
    /// Reproduce a run from its seed and print its summary and, with --trace, its events.
    Replay(run_command::ReplayArguments),
    /// Write the load-balance, version-count and gossip figures as CSV and SVG.
    Figures(figures::FiguresArguments),
    /// Check lesson files natively, or print one as text.
    Lesson(lesson_command::LessonArguments),
    /// Print a key's MD5 ring position (§4.2).
    Position {
        /// The key, as UTF-8 bytes.
        key: String,
    },
}

/// Runs the command with the process arguments and returns the exit code.
pub fn main() -> i32 {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(error) => {
            // Help and version go to stdout with code 0; usage errors to stderr with code 2.
            let _ = error.print();
            return error.exit_code();
        }
    };
    match dispatch(cli.command) {
        Ok(()) => 0,
        Err(failure) => report(failure),
    }
}

fn dispatch(command: Command) -> Result<(), Failure> {
    match command {
        Command::Run(arguments) => run_command::run(arguments),
        Command::Check(arguments) => check_command::check(arguments),
        Command::Replay(arguments) => run_command::replay(arguments),
        Command::Explore(arguments) => explore_command::explore(arguments),
        Command::Figures(arguments) => figures::figures(arguments),
        Command::Lesson(arguments) => lesson_command::lesson(arguments),
        Command::Position { key } => {
            println!("{:#034x}", ring_position(key.as_bytes()));
            Ok(())
        }
    }
}

fn report(failure: Failure) -> i32 {
    match &failure {
        Failure::Usage(message) => {
            eprintln!("error: {message}");
            eprintln!("Run `dynamoscope --help` or `dynamoscope <command> --help` for usage.");
        }
        Failure::Failed(message) => eprintln!("error: {message}"),
        Failure::Violations => {}
    }
    failure.exit_code()
}
