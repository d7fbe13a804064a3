//! One module per subcommand: each wires config, pipeline and reports together.

pub mod import;
pub mod login;
pub mod sandbox;
pub mod status;
pub mod validate;
