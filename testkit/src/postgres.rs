//! Filled by the store issue.
