//! The Set-Click API: credentials and the HTTP client.

pub mod answer;
pub mod auth;
pub mod client;
pub mod conn;
pub mod form;
