//! The gate of `[dns] method = "failover_records"`: one small object in the gate's region
//! (the standby's by default) that the PRIMARY failover record's Route 53 health check reads.
//! Reading and writing it are S3 data-plane calls; no Route 53 API is involved, so a flip works
//! while Route 53's control plane (us-east-1) is down.

use aws_sdk_s3::Client;

use standby_core::config::{Gate, Side};

use super::AwsError;

/// What the gate says now: `None` when the object does not exist (Route 53 then keeps
/// answering the PRIMARY record: the inverted check finds no `serve=standby`).
pub async fn read(client: &Client, gate: &Gate) -> Result<Option<(Side, String)>, AwsError> {
    Ok(super::s3::get_bytes(client, &gate.bucket, &gate.key)
        .await?
        .map(|bytes| {
            let body = String::from_utf8_lossy(&bytes).into_owned();
            (Gate::side_of(&body), body)
        }))
}

/// Writes the gate so Route 53 sends traffic to `to`. Idempotent: the same body again changes
/// nothing Route 53 sees. Returns the object's version id when the bucket is versioned.
///
/// SSE-S3 whatever the bucket's default: Route 53's health checkers read the object without
/// credentials, so they could not decrypt it under a KMS key.
pub async fn write(client: &Client, gate: &Gate, to: Side) -> Result<Option<String>, AwsError> {
    let out = client
        .put_object()
        .bucket(&gate.bucket)
        .key(&gate.key)
        .content_type("text/plain")
        .server_side_encryption(aws_sdk_s3::types::ServerSideEncryption::Aes256)
        .body(aws_sdk_s3::primitives::ByteStream::from(
            Gate::body(to).into_bytes(),
        ))
        .send()
        .await
        .map_err(|e| AwsError::new("PutObject", format!("s3://{}/{}", gate.bucket, gate.key), e))?;
    Ok(out.version_id().map(str::to_string))
}
