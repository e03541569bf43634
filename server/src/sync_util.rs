//! The one poison-ignoring lock of the server.
//!
//! Invariant: no critical section in this crate leaves its data half-updated on a panic that
//! matters (each one writes whole values), so a lock poisoned by a panicking task is taken as
//! it is instead of spreading the panic to every later user of the same data (a hub, a viewer,
//! a store). One helper over `std::sync::Mutex` rather than `parking_lot`: the same semantics
//! as the four copies it replaces, and no new dependency.

use std::sync::{Mutex, MutexGuard};

/// Locks `m`, ignoring poisoning (see the module docs).
pub fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}
