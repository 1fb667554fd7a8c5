//! Skeleton: filled by this crate's issue.
