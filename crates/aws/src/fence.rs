//! Fencing for AWS calls. With a shared state store several instances run, and only the lease
//! holder may act. Every request an acting client sends is checked against the lease just before
//! it goes on the wire (each SDK attempt, retries included) and carries the epoch it acts under
//! in `x-standby-lease: <instance>/<epoch>`, so a proxy or CloudTrail-style log can prove there
//! were never two actors.
//!
//! The header is added after signing and is not an `x-amz-` header, so AWS ignores it.

use std::sync::Arc;

use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextMut;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;

pub const HEADER: &str = "x-standby-lease";

/// The epoch this instance acts under now.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub instance: String,
    pub epoch: u64,
}

/// Says whether this instance may act at this instant.
pub trait Fence: Send + Sync + std::fmt::Debug {
    /// The token to act under, or why this instance may not act now.
    fn check(&self) -> Result<Token, String>;
}

#[derive(Debug, Clone)]
pub(crate) struct Interceptor(pub Arc<dyn Fence>);

impl Intercept for Interceptor {
    fn name(&self) -> &'static str {
        "StandbyLeaseFence"
    }

    fn modify_before_transmit(
        &self,
        context: &mut BeforeTransmitInterceptorContextMut<'_>,
        _components: &RuntimeComponents,
        _cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        let token = self
            .0
            .check()
            .map_err(|why| BoxError::from(format!("not sent, this instance may not act: {why}")))?;
        context
            .request_mut()
            .headers_mut()
            .insert(HEADER, format!("{}/{}", token.instance, token.epoch));
        Ok(())
    }
}
