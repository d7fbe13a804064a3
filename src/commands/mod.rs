//! One module per subcommand: each wires config, pipeline and reports together.

pub mod validate;
