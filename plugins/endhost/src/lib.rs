//! endhost plugin (being written).
