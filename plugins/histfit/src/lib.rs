//! histfit plugin (being written).
