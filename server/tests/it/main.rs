//! The server's integration tests, one test binary (issue 26: eleven binaries each linked
//! Leptos and fred; one link instead of eleven). Every module is one subject, over real sockets
//! and real stores; `common` holds the helpers (servers started in-process, clients, private
//! `redis-server`s, a TCP proxy, a local Redis Cluster).
//!
//! Run one subject with its module path, e.g. `cargo test -p server --test it sync::` or one
//! test with `cargo test -p server --test it sync::memory::late_join`. Tests run two at a time
//! (libtest's default on a 2-core machine), as they did in eleven binaries.

mod common;

mod abuse;
mod cluster;
mod faults;
mod hold;
mod host;
mod lang;
mod metrics;
mod pages;
mod permanent;
mod playlist;
mod redis_cluster;
mod room;
mod roster;
mod start;
mod sync;
mod together;
mod wire;
