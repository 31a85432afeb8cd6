//! S3: paged listings, server-side copies (single and multipart), HEAD, delete, small JSON
//! documents (manifests).

use aws_sdk_s3::Client;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart};
use chrono::{DateTime, Utc};

use super::AwsError;
use standby_core::sync::Object;

fn unquote(etag: &str) -> String {
    etag.trim_matches('"').to_string()
}

/// Every object under `prefix`, in key order, one ListObjectsV2 page (1,000 keys) at a time.
pub async fn list(client: &Client, bucket: &str, prefix: &str) -> Result<Vec<Object>, AwsError> {
    let target = format!("s3://{bucket}/{prefix}");
    let mut out = Vec::new();
    let mut pages = client
        .list_objects_v2()
        .bucket(bucket)
        .prefix(prefix)
        .into_paginator()
        .send();
    while let Some(page) = pages.next().await {
        let page = page.map_err(|e| AwsError::new("ListObjectsV2", &target, e))?;
        for o in page.contents() {
            let Some(key) = o.key() else { continue };
            let last_modified = o
                .last_modified()
                .and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
                .unwrap_or(DateTime::<Utc>::UNIX_EPOCH);
            out.push(Object {
                key: key.to_string(),
                size: o.size().unwrap_or(0).max(0) as u64,
                etag: unquote(o.e_tag().unwrap_or_default()),
                last_modified,
            });
        }
    }
    // S3 lists in UTF-8 byte order already; sorting again costs little and makes the merge safe
    // against any S3-compatible store that does not.
    out.sort_by(|a, b| a.key.cmp(&b.key));
    Ok(out)
}

/// Every version and delete marker under `prefix` (ListObjectVersions), sorted by key, then
/// oldest first. S3's "null" version id comes back as `None`.
///
/// S3 stamps LastModified to the second, so two writes of a key within one second tie; S3 lists
/// a key's versions newest first, and that order breaks the tie.
pub async fn list_versions(
    client: &Client,
    bucket: &str,
    prefix: &str,
) -> Result<Vec<standby_core::sync::Version>, AwsError> {
    use standby_core::sync::Version;
    let target = format!("s3://{bucket}/{prefix}");
    let time = |t: Option<&aws_sdk_s3::primitives::DateTime>| {
        t.and_then(|t| DateTime::<Utc>::from_timestamp(t.secs(), t.subsec_nanos()))
            .unwrap_or(DateTime::<Utc>::UNIX_EPOCH)
    };
    let id = |v: Option<&str>| v.filter(|v| *v != "null").map(str::to_string);
    let mut out: Vec<(usize, Version)> = Vec::new();
    // No SDK paginator for this one: the next page starts at (key marker, version id marker).
    let mut markers: (Option<String>, Option<String>) = (None, None);
    loop {
        let page = client
            .list_object_versions()
            .bucket(bucket)
            .prefix(prefix)
            .set_key_marker(markers.0.take())
            .set_version_id_marker(markers.1.take())
            .send()
            .await
            .map_err(|e| AwsError::new("ListObjectVersions", &target, e))?;
        for v in page.versions() {
            let Some(key) = v.key() else { continue };
            out.push((
                out.len(),
                Version {
                    key: key.to_string(),
                    version_id: id(v.version_id()),
                    size: v.size().unwrap_or(0).max(0) as u64,
                    etag: unquote(v.e_tag().unwrap_or_default()),
                    last_modified: time(v.last_modified()),
                    delete_marker: false,
                },
            ));
        }
        for d in page.delete_markers() {
            let Some(key) = d.key() else { continue };
            out.push((
                out.len(),
                Version {
                    key: key.to_string(),
                    version_id: id(d.version_id()),
                    size: 0,
                    etag: String::new(),
                    last_modified: time(d.last_modified()),
                    delete_marker: true,
                },
            ));
        }
        if page.is_truncated() != Some(true) {
            break;
        }
        markers = (
            page.next_key_marker().map(str::to_string),
            page.next_version_id_marker().map(str::to_string),
        );
        if markers.0.is_none() {
            break;
        }
    }
    out.sort_by(|(i, a), (j, b)| {
        a.key
            .cmp(&b.key)
            .then(a.last_modified.cmp(&b.last_modified))
            .then(j.cmp(i))
    });
    Ok(out.into_iter().map(|(_, v)| v).collect())
}

/// `bucket/key` with the key percent-encoded, as x-amz-copy-source wants it.
pub fn copy_source(bucket: &str, key: &str) -> String {
    let mut s = String::with_capacity(bucket.len() + key.len() + 1);
    s.push_str(bucket);
    s.push('/');
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            s.push(b as char);
        } else {
            s.push_str(&format!("%{b:02X}"));
        }
    }
    s
}

/// What a copy wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Copied {
    pub etag: String,
    pub version_id: Option<String>,
    pub source_version_id: Option<String>,
    /// Set when the source was written again between the listing and the copy: the size of
    /// the (newer) version the copy holds.
    pub newer_than_listed: Option<u64>,
}

pub async fn copy(
    client: &Client,
    src_bucket: &str,
    key: &str,
    dst_bucket: &str,
) -> Result<Copied, AwsError> {
    let target = format!("s3://{src_bucket}/{key} -> s3://{dst_bucket}/{key}");
    let out = client
        .copy_object()
        .bucket(dst_bucket)
        .key(key)
        .copy_source(copy_source(src_bucket, key))
        .send()
        .await
        .map_err(|e| AwsError::new("CopyObject", &target, e))?;
    Ok(Copied {
        etag: unquote(
            out.copy_object_result()
                .and_then(|r| r.e_tag())
                .unwrap_or_default(),
        ),
        version_id: out.version_id().map(str::to_string),
        source_version_id: out.copy_source_version_id().map(str::to_string),
        newer_than_listed: None,
    })
}

pub async fn create_multipart(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<String, AwsError> {
    let out = client
        .create_multipart_upload()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::new("CreateMultipartUpload", format!("s3://{bucket}/{key}"), e))?;
    Ok(out.upload_id().unwrap_or_default().to_string())
}

/// Copies bytes `first..=last` of the source into part `part` of an upload; returns its ETag.
#[allow(clippy::too_many_arguments)]
pub async fn copy_part(
    client: &Client,
    src_bucket: &str,
    key: &str,
    dst_bucket: &str,
    upload_id: &str,
    part: i32,
    first: u64,
    last: u64,
) -> Result<String, AwsError> {
    let out = client
        .upload_part_copy()
        .bucket(dst_bucket)
        .key(key)
        .upload_id(upload_id)
        .part_number(part)
        .copy_source(copy_source(src_bucket, key))
        .copy_source_range(format!("bytes={first}-{last}"))
        .send()
        .await
        .map_err(|e| {
            AwsError::new(
                "UploadPartCopy",
                format!("s3://{dst_bucket}/{key} part {part}"),
                e,
            )
        })?;
    Ok(unquote(
        out.copy_part_result()
            .and_then(|r| r.e_tag())
            .unwrap_or_default(),
    ))
}

pub async fn complete_multipart(
    client: &Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
    parts: Vec<(i32, String)>,
) -> Result<Copied, AwsError> {
    let parts = parts
        .into_iter()
        .map(|(n, etag)| {
            CompletedPart::builder()
                .part_number(n)
                .e_tag(format!("\"{etag}\""))
                .build()
        })
        .collect();
    let out = client
        .complete_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .multipart_upload(
            CompletedMultipartUpload::builder()
                .set_parts(Some(parts))
                .build(),
        )
        .send()
        .await
        .map_err(|e| AwsError::new("CompleteMultipartUpload", format!("s3://{bucket}/{key}"), e))?;
    Ok(Copied {
        etag: unquote(out.e_tag().unwrap_or_default()),
        version_id: out.version_id().map(str::to_string),
        source_version_id: None,
        newer_than_listed: None,
    })
}

pub async fn abort_multipart(
    client: &Client,
    bucket: &str,
    key: &str,
    upload_id: &str,
) -> Result<(), AwsError> {
    client
        .abort_multipart_upload()
        .bucket(bucket)
        .key(key)
        .upload_id(upload_id)
        .send()
        .await
        .map_err(|e| AwsError::new("AbortMultipartUpload", format!("s3://{bucket}/{key}"), e))?;
    Ok(())
}

/// (size, ETag, version id) of an object.
pub async fn head(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<(u64, String, Option<String>), AwsError> {
    let out = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::new("HeadObject", format!("s3://{bucket}/{key}"), e))?;
    Ok((
        out.content_length().unwrap_or(0).max(0) as u64,
        unquote(out.e_tag().unwrap_or_default()),
        out.version_id().map(str::to_string),
    ))
}

pub async fn delete(client: &Client, bucket: &str, key: &str) -> Result<(), AwsError> {
    client
        .delete_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .map_err(|e| AwsError::new("DeleteObject", format!("s3://{bucket}/{key}"), e))?;
    Ok(())
}

/// A small document, or `None` if the key does not exist.
pub async fn get_bytes(
    client: &Client,
    bucket: &str,
    key: &str,
) -> Result<Option<Vec<u8>>, AwsError> {
    match client.get_object().bucket(bucket).key(key).send().await {
        Ok(out) => {
            let body = out
                .body
                .collect()
                .await
                .map_err(|e| AwsError::other("GetObject", format!("s3://{bucket}/{key}"), e))?;
            Ok(Some(body.into_bytes().to_vec()))
        }
        Err(e) if e.as_service_error().is_some_and(|s| s.is_no_such_key()) => Ok(None),
        Err(e) => Err(AwsError::new(
            "GetObject",
            format!("s3://{bucket}/{key}"),
            e,
        )),
    }
}

pub async fn put_bytes(
    client: &Client,
    bucket: &str,
    key: &str,
    bytes: Vec<u8>,
    content_type: &str,
) -> Result<Option<String>, AwsError> {
    let out = client
        .put_object()
        .bucket(bucket)
        .key(key)
        .content_type(content_type)
        .body(ByteStream::from(bytes))
        .send()
        .await
        .map_err(|e| AwsError::new("PutObject", format!("s3://{bucket}/{key}"), e))?;
    Ok(out.version_id().map(str::to_string))
}

#[cfg(test)]
mod tests {
    #[test]
    fn copy_source_percent_encodes_the_key_but_not_slashes() {
        assert_eq!(
            super::copy_source("b", "m/日本 語+x.bin"),
            "b/m/%E6%97%A5%E6%9C%AC%20%E8%AA%9E%2Bx.bin"
        );
    }
}
