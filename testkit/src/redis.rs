//! Filled by the Redis issue.
