//! EC2's On-Demand vCPU quotas through Service Quotas, for the readiness evaluation: the value
//! applied to the account in the standby region, else the default when Service Quotas has no
//! applied value for the quota (its documented behaviour for quotas never changed).

use aws_sdk_servicequotas::Client;
use aws_sdk_servicequotas::error::ProvideErrorMetadata;

use crate::AwsError;

/// (quota code, quota name, value in vCPUs) for each code Service Quotas answers for; a code it
/// knows nothing of (neither applied nor default) is left out.
pub async fn ec2_vcpus(
    client: &Client,
    codes: &[&str],
) -> Result<Vec<(String, String, f64)>, AwsError> {
    let read = futures_util::future::join_all(codes.iter().map(|code| one(client, code))).await;
    let mut out = Vec::new();
    for r in read {
        if let Some(q) = r? {
            out.push(q);
        }
    }
    Ok(out)
}

async fn one(client: &Client, code: &str) -> Result<Option<(String, String, f64)>, AwsError> {
    let applied = client
        .get_service_quota()
        .service_code("ec2")
        .quota_code(code)
        .send()
        .await;
    let quota = match applied {
        Ok(out) => out.quota,
        Err(e) if e.code() == Some("NoSuchResourceException") => {
            match client
                .get_aws_default_service_quota()
                .service_code("ec2")
                .quota_code(code)
                .send()
                .await
            {
                Ok(out) => out.quota,
                Err(e) if e.code() == Some("NoSuchResourceException") => None,
                Err(e) => return Err(AwsError::new("GetAWSDefaultServiceQuota", code, e)),
            }
        }
        Err(e) => return Err(AwsError::new("GetServiceQuota", code, e)),
    };
    Ok(quota.and_then(|q| {
        Some((
            code.to_string(),
            q.quota_name().unwrap_or(code).to_string(),
            q.value()?,
        ))
    }))
}
