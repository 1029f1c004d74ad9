//! The `dynamoscope` command. The simulator's subcommands (run, check, replay, figures) arrive
//! with the simulator; for now it answers where a key lands on the ring.

use crate::protocol::ring::ring_position;

const USAGE: &str = "usage: dynamoscope position <key>   print the key's MD5 ring position (§4.2)";

/// Runs the command with the process arguments and returns the exit code.
pub fn main() -> i32 {
    let arguments: Vec<String> = std::env::args().skip(1).collect();
    match arguments.as_slice() {
        [command, key] if command == "position" => {
            println!("{:#034x}", ring_position(key.as_bytes()));
            0
        }
        [flag] if flag == "--help" || flag == "-h" => {
            println!("{USAGE}");
            0
        }
        _ => {
            eprintln!("{USAGE}");
            2
        }
    }
}
