//! The process clock and id generator (they live in `pier-store`, shared by every runtime crate).

pub use pier_store::clock::{new_id, now_ms};
