//! The process clock (milliseconds, as `pier-core` uses them) and this process's id generator,
//! shared by every runtime crate (server, delivery, CLI).

use pier_core::id::IdGen;
use pier_core::IdKind;
use std::sync::Mutex;

pub fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map(|d| d.as_millis() as i64).unwrap_or(0)
}

static IDS: Mutex<IdGen> = Mutex::new(IdGen::new());

/// A new id of `kind`; ids made by this process sort in the order they were made.
pub fn new_id(kind: IdKind, now: i64) -> String {
    let mut g = IDS.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    g.next(kind, now, &mut rand::rng())
}
