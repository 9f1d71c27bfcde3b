//! The filter engine (SPEC §5): being written.
