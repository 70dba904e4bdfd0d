//! flowlab runner library.
