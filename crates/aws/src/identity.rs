//! The AWS account standby acts in, named in every run's origin so a report says which account
//! it moved (an auditor reading it next month should not have to infer it from bucket names).
//!
//! Read once per process with STS `GetCallerIdentity`, which needs no IAM permission, in the
//! standby region (STS's regional endpoint: the global one lives in us-east-1, which may be the
//! region that is down). The read starts when the context is built and a run waits for it at most
//! [`ACCOUNT_WAIT`]: a failover never waits on STS to name the account; a run that starts before
//! the answer (or with STS unreachable) records the account as not read.

use std::sync::Arc;
use std::time::Duration;

use tokio::sync::OnceCell;

use crate::AwsError;

/// How long a run waits for the account when the read started at context build has not
/// answered yet. A healthy STS answers in tens of milliseconds; a failover does not wait longer.
pub const ACCOUNT_WAIT: Duration = Duration::from_millis(300);

/// STS's own deadline: the read is in the background, but it should not hang for the SDK's 30 s.
const READ_DEADLINE: Duration = Duration::from_secs(5);

/// The account behind the credentials, read at most once (a failed read is kept too: the next
/// process tries again).
#[derive(Clone)]
pub struct Identity {
    client: aws_sdk_sts::Client,
    account: Arc<OnceCell<Result<String, String>>>,
}

impl Identity {
    pub fn new(conf: &aws_config::SdkConfig) -> Identity {
        let sts = aws_sdk_sts::config::Builder::from(conf)
            .timeout_config(
                aws_config::timeout::TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(2))
                    .operation_timeout(READ_DEADLINE)
                    .build(),
            )
            .interceptor(crate::calls::Interceptor)
            .build();
        Identity {
            client: aws_sdk_sts::Client::from_conf(sts),
            account: Arc::new(OnceCell::new()),
        }
    }

    /// Starts the read in the background (once); later calls to [`Identity::account_within`]
    /// find it done or in progress.
    pub fn prefetch(&self) {
        let me = self.clone();
        tokio::spawn(async move {
            me.read().await;
        });
    }

    async fn read(&self) -> &Result<String, String> {
        self.account
            .get_or_init(|| async {
                match self.client.get_caller_identity().send().await {
                    Ok(out) => out
                        .account
                        .filter(|a| !a.is_empty())
                        .ok_or_else(|| "STS GetCallerIdentity named no account".to_string()),
                    Err(e) => Err(AwsError::new("GetCallerIdentity", "sts", e).message),
                }
            })
            .await
    }

    /// The account id, or why it is not known: waits at most `wait` for a read in progress.
    pub async fn account_within(&self, wait: Duration) -> Result<String, String> {
        if let Some(done) = self.account.get() {
            return done.clone();
        }
        match tokio::time::timeout(wait, self.read()).await {
            Ok(done) => done.clone(),
            Err(_) => Err(format!(
                "STS GetCallerIdentity had not answered within {} ms",
                wait.as_millis()
            )),
        }
    }
}
