//! Warden's integration tests: one binary, a module per area. Real models,
//! fetched and verified by `make test` before this runs.

mod common;

mod access;
mod admin;
mod architectures;
mod cli;
mod crash;
mod fairness;
mod generation;
mod governance;
mod guard;
mod hub;
mod ingest;
mod model_files;
mod properties;
mod retrieval;
mod server;
mod store;
mod template;
mod tokenizer;
mod tools;
mod tui;
mod verification;
