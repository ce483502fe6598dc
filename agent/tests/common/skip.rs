//! What a test does when a tool it needs is missing: the lab's one rule.

#[allow(unused_imports)]
pub use eniwatch_lab::skip::*;
