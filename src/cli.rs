//! The scriptable command line: clap definitions, one function per subcommand, and the JSON
//! and exit-code contract (docs/cli.md).
