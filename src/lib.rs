//! Warden: an on-premises chatbot that answers from a company's own documents,
//! with a local quantised model, and checks what it says.
//!
//! The binary (`src/main.rs`) is a thin shell over `cli::run`; everything else
//! lives in the subsystems below (see `docs/architecture.md`).

pub mod audit;
pub mod auth;
pub mod cli;
pub mod config;
pub mod crypto;
pub mod durable;
pub mod eval;
pub mod governance;
pub mod guard;
pub mod index;
pub mod ingest;
pub mod model;
pub mod rag;
pub mod sealed;
pub mod server;
pub mod session;
pub mod store;
pub mod tools;
pub mod tui;
