//! The shared state store's S3 calls: small documents written with compare-and-swap
//! (`If-None-Match: *` to create, `If-Match: <etag>` to replace) and tagged with the lease
//! epoch and instance that wrote them (`x-amz-meta-standby-epoch`, `x-amz-meta-standby-instance`).

use aws_sdk_s3::Client;
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::primitives::ByteStream;

use super::AwsError;

const EPOCH: &str = "standby-epoch";
const INSTANCE: &str = "standby-instance";

/// A document as stored: its bytes, ETag and the epoch it was written under (0: none).
#[derive(Debug, Clone)]
pub struct Doc {
    pub bytes: Vec<u8>,
    pub etag: String,
    pub epoch: u64,
}

/// A document's ETag and epoch, without its bytes.
#[derive(Debug, Clone)]
pub struct Head {
    pub etag: String,
    pub epoch: u64,
}

/// What a write requires of the key.
#[derive(Debug, Clone)]
pub enum Condition {
    Absent,
    Etag(String),
}

#[derive(Debug, thiserror::Error)]
pub enum PutError {
    /// The condition did not hold: someone else wrote (or deleted) the key.
    #[error("s3://{bucket}/{key} changed since it was read")]
    Precondition { bucket: String, key: String },
    #[error(transparent)]
    Aws(#[from] AwsError),
}

fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_string()
}

fn epoch_of(meta: Option<&std::collections::HashMap<String, String>>) -> u64 {
    meta.and_then(|m| m.get(EPOCH))
        .and_then(|e| e.parse().ok())
        .unwrap_or(0)
}

pub async fn get(client: &Client, bucket: &str, key: &str) -> Result<Option<Doc>, AwsError> {
    let target = || format!("s3://{bucket}/{key}");
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let etag = unquote(out.e_tag().unwrap_or_default());
            let epoch = epoch_of(out.metadata());
            let body = out
                .body
                .collect()
                .await
                .map_err(|e| AwsError::other("GetObject", target(), e))?;
            Ok(Some(Doc {
                bytes: body.into_bytes().to_vec(),
                etag,
                epoch,
            }))
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e) => Err(AwsError::new("GetObject", target(), e)),
    }
}

pub async fn head(client: &Client, bucket: &str, key: &str) -> Result<Option<Head>, AwsError> {
    match client.head_object().bucket(bucket).key(key).send().await {
        Ok(out) => Ok(Some(Head {
            etag: unquote(out.e_tag().unwrap_or_default()),
            epoch: epoch_of(out.metadata()),
        })),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
        Err(e) => Err(AwsError::new(
            "HeadObject",
            format!("s3://{bucket}/{key}"),
            e,
        )),
    }
}

/// Writes `bytes` if `condition` holds; the new ETag. With `fence`, the write is checked
/// against the lease just before it goes on the wire, as the acting clients' requests are.
#[allow(clippy::too_many_arguments)]
pub async fn put(
    client: &Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    condition: Condition,
    epoch: u64,
    instance: &str,
    fence: Option<std::sync::Arc<dyn super::fence::Fence>>,
) -> Result<String, PutError> {
    let mut req = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type("application/json")
        .metadata(EPOCH, epoch.to_string())
        .metadata(INSTANCE, instance)
        .body(ByteStream::from(bytes));
    req = match condition {
        Condition::Absent => req.if_none_match("*"),
        Condition::Etag(e) => req.if_match(format!("\"{e}\"")),
    };
    let sent = match fence {
        Some(f) => {
            req.customize()
                .interceptor(super::fence::Interceptor(f))
                .send()
                .await
        }
        None => req.send().await,
    };
    match sent {
        Ok(out) => Ok(unquote(out.e_tag().unwrap_or_default())),
        Err(e) if lost_race(&e) => Err(PutError::Precondition {
            bucket: bucket.into(),
            key: key.into(),
        }),
        Err(e) => Err(AwsError::new("PutObject", format!("s3://{bucket}/{key}"), e).into()),
    }
}

/// 412 (the condition failed), 409 ConditionalRequestConflict (a concurrent conditional write
/// won) or 404 (an If-Match on a key deleted since): all mean another writer got there first.
fn lost_race<E>(e: &SdkError<E>) -> bool {
    match e {
        SdkError::ServiceError(ctx) => matches!(ctx.raw().status().as_u16(), 404 | 409 | 412),
        _ => false,
    }
}

/// The keys under `prefix`, sorted.
pub async fn keys(client: &Client, bucket: &str, prefix: &str) -> Result<Vec<String>, AwsError> {
    Ok(super::s3::list(client, bucket, prefix)
        .await?
        .into_iter()
        .map(|o| o.key)
        .collect())
}
