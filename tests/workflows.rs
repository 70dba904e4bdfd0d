//! End-to-end workflows over the shipped experiments (filled once the plugins land).
