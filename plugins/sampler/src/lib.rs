//! sampler plugin (being written).
