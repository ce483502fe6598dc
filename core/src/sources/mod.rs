//! The outside systems both programs read. Each returns plain data or its own
//! error type, and none decides what is wrong: that is the checks' job.

pub mod bounded;
pub mod bounded_body;
pub mod cause;
pub mod kube;
pub mod requests;
