//! lstm plugin (being written).
