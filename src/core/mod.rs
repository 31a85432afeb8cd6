//! The functional core: no I/O, time passed in, every decision carries a reason string that the
//! logs, the reports and the tests all read.

pub mod detector;
pub mod machine;
pub mod outcome;
pub mod rederive;
pub mod retry;
