//! The `adbkeys` binary: the CLI, or the console when no subcommand is given.

fn main() {
    println!("adbkeys: not built yet");
}
