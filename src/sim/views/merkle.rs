//! Placeholder: written by its own change.
