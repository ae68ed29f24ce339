//! The artifacts bucket: one per account and region, created on first use, holding the
//! function zips under their content hash and the templates too large to send inline.

use anyhow::{Context, Result, anyhow, bail};
use aws_sdk_s3::error::SdkError;
use aws_sdk_s3::operation::head_object::HeadObjectError;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    BucketVersioningStatus, CreateBucketConfiguration, ExpirationStatus, LifecycleExpiration, LifecycleRule,
    LifecycleRuleFilter, NoncurrentVersionExpiration, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule, Tag, Tagging,
    VersioningConfiguration,
};
use serde::Serialize;
use sha2::{Digest, Sha256};

use super::aws::{Aws, error_code, http_status};
use crate::artifact::Artifact;
use infra_model::system::{APP, parameters};

/// `orders-artifacts-<account>-<region>`: deterministic, so every deploy from any machine
/// finds the same bucket.
pub fn default_name(account: &str, region: &str) -> String {
    format!("{APP}-artifacts-{account}-{region}")
}

/// Days after which an overwritten or deleted object's old version, and a template uploaded for
/// a change set, are deleted.
pub const KEEP_DAYS: i32 = 30;

/// What `ensure` found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum BucketState {
    Existing,
    Created,
}

/// What the bucket's name holds before deploy touches it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum BucketFound {
    /// No bucket has the name: deploy creates it.
    Missing,
    /// The bucket exists, is ours, and is in the region deployed to.
    Usable,
}

/// Finds out whether the bucket exists, is ours, and is in our region (CloudFormation reads
/// templates and Lambda reads code only from a bucket in the stack's region). Refuses, with
/// what to do, a bucket of another account and a bucket in another region.
///
/// HeadBucket answers the bucket's region in `x-amz-bucket-region` whether or not the caller
/// may use the bucket, and 301 when it is asked in another region than the bucket's
/// (<https://docs.aws.amazon.com/AmazonS3/latest/API/API_HeadBucket.html>; GetBucketLocation
/// is no longer the recommended way, see its page).
pub async fn inspect(aws: &Aws, bucket: &str) -> Result<BucketFound> {
    let head = aws
        .s3
        .head_bucket()
        .bucket(bucket)
        .expected_bucket_owner(&aws.account)
        .send()
        .await;
    let elsewhere = |region: &str| {
        anyhow!(
            "the artifacts bucket {bucket} is in {region}, but this deploy is to {}: \
             CloudFormation and Lambda read templates and code only from a bucket in the stack's \
             own region.\nWhat to do: pass --artifacts-bucket with a bucket in {} (deploy creates \
             it if the name is free), or leave --artifacts-bucket out to use {}, or deploy to \
             --region {region}",
            aws.region,
            aws.region,
            default_name(&aws.account, &aws.region)
        )
    };
    match head {
        Ok(out) => match out.bucket_region() {
            Some(r) if !aws.local && r != aws.region => Err(elsewhere(r)),
            _ => Ok(BucketFound::Usable),
        },
        Err(e) => {
            let region = e
                .raw_response()
                .and_then(|r| r.headers().get("x-amz-bucket-region"))
                .map(str::to_owned);
            match (http_status(&e), region) {
                (Some(404), _) => Ok(BucketFound::Missing),
                (Some(301), Some(r)) => Err(elsewhere(&r)),
                (Some(301), None) => Err(elsewhere("another region")),
                (Some(403), Some(r)) if !aws.local && r != aws.region => Err(elsewhere(&r)),
                (Some(403), _) => bail!(
                    "the artifacts bucket {bucket} exists but this identity ({}) cannot use it: either \
                     another AWS account owns that name, or the identity lacks s3:ListBucket on it.\n\
                     What to do: pass --artifacts-bucket NAME with a bucket of your own (it is created \
                     if it does not exist), or grant the permissions listed in the README's \"Deploying\" section",
                    aws.caller_arn
                ),
                _ => Err(aws.explain(&format!("check the artifacts bucket {bucket}"), e)),
            }
        }
    }
}

/// Makes sure the bucket exists and is ours; creates it (encrypted, public access blocked,
/// versioned, TLS only, old versions expiring) if it does not.
pub async fn ensure(aws: &Aws, bucket: &str) -> Result<BucketState> {
    if inspect(aws, bucket).await? == BucketFound::Usable {
        return Ok(BucketState::Existing);
    }

    let mut create = aws.s3.create_bucket().bucket(bucket);
    if aws.region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(aws.region.as_str()))
                .build(),
        );
    }
    if let Err(e) = create.send().await {
        match error_code(&e) {
            Some("BucketAlreadyOwnedByYou") => {}
            Some("BucketAlreadyExists") => bail!(
                "the bucket name {bucket} is taken by another AWS account (bucket names are global).\n\
                 What to do: pass --artifacts-bucket NAME with a name of your own; deploy creates it"
            ),
            _ => return Err(aws.explain(&format!("create the artifacts bucket {bucket}"), e)),
        }
    }
    configure(aws, bucket).await.with_context(|| {
        format!(
            "the artifacts bucket {bucket} was created but could not be configured; run deploy again to retry"
        )
    })?;
    Ok(BucketState::Created)
}

async fn configure(aws: &Aws, bucket: &str) -> Result<()> {
    let s3 = &aws.s3;
    s3.put_public_access_block()
        .bucket(bucket)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .ignore_public_acls(true)
                .block_public_policy(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws.explain("block public access to the artifacts bucket", e))?;
    s3.put_bucket_encryption()
        .bucket(bucket)
        .server_side_encryption_configuration(
            ServerSideEncryptionConfiguration::builder()
                .rules(
                    ServerSideEncryptionRule::builder()
                        .apply_server_side_encryption_by_default(
                            ServerSideEncryptionByDefault::builder()
                                .sse_algorithm(ServerSideEncryption::Aes256)
                                .build()?,
                        )
                        .build(),
                )
                .build()?,
        )
        .send()
        .await
        .map_err(|e| aws.explain("turn on encryption of the artifacts bucket", e))?;
    s3.put_bucket_versioning()
        .bucket(bucket)
        .versioning_configuration(
            VersioningConfiguration::builder()
                .status(BucketVersioningStatus::Enabled)
                .build(),
        )
        .send()
        .await
        .map_err(|e| aws.explain("turn on versioning of the artifacts bucket", e))?;
    s3.put_bucket_lifecycle_configuration()
        .bucket(bucket)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder()
                .rules(
                    LifecycleRule::builder()
                        .id("old-versions")
                        .status(ExpirationStatus::Enabled)
                        .filter(LifecycleRuleFilter::builder().prefix("").build())
                        .noncurrent_version_expiration(
                            NoncurrentVersionExpiration::builder()
                                .noncurrent_days(KEEP_DAYS)
                                .build(),
                        )
                        .abort_incomplete_multipart_upload(
                            AbortIncompleteMultipartUpload::builder()
                                .days_after_initiation(1)
                                .build(),
                        )
                        .build()?,
                )
                .rules(
                    LifecycleRule::builder()
                        .id("templates")
                        .status(ExpirationStatus::Enabled)
                        .filter(LifecycleRuleFilter::builder().prefix("templates/").build())
                        .expiration(LifecycleExpiration::builder().days(KEEP_DAYS).build())
                        .build()?,
                )
                .build()?,
        )
        .send()
        .await
        .map_err(|e| aws.explain("set the lifecycle of the artifacts bucket", e))?;
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(
            Tagging::builder()
                .tag_set(Tag::builder().key("app").value(APP).build()?)
                .build()?,
        )
        .send()
        .await
        .map_err(|e| aws.explain("tag the artifacts bucket", e))?;
    if aws.local {
        // The emulator speaks plain HTTP, and moto enforces bucket policies: a TLS-only policy
        // would lock xtask out.
        return Ok(());
    }
    let policy = tls_only_policy(aws.partition(), bucket);
    s3.put_bucket_policy()
        .bucket(bucket)
        .policy(policy.to_string())
        .send()
        .await
        .map_err(|e| aws.explain("set the policy of the artifacts bucket", e))?;
    Ok(())
}

/// The bucket policy: every request over plain HTTP is denied. The ARNs name the region's
/// partition (`arn:aws-cn:s3:::...` in China, `arn:aws-us-gov:...` in GovCloud): S3 refuses a
/// policy whose resources are in another partition.
pub fn tls_only_policy(partition: &str, bucket: &str) -> serde_json::Value {
    serde_json::json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": "DenyInsecureTransport",
            "Effect": "Deny",
            "Principal": "*",
            "Action": "s3:*",
            "Resource": [
                format!("arn:{partition}:s3:::{bucket}"),
                format!("arn:{partition}:s3:::{bucket}/*"),
            ],
            "Condition": {"Bool": {"aws:SecureTransport": "false"}},
        }],
    })
}

/// Which artifacts were uploaded and which were there already.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Uploads {
    /// S3 keys uploaded by this run.
    pub uploaded: Vec<String>,
    /// S3 keys already in the bucket (same content hash).
    pub already_there: Vec<String>,
}

async fn exists(aws: &Aws, bucket: &str, key: &str) -> Result<bool> {
    match aws.s3.head_object().bucket(bucket).key(key).send().await {
        Ok(_) => Ok(true),
        Err(SdkError::ServiceError(e)) if matches!(e.err(), HeadObjectError::NotFound(_)) => Ok(false),
        Err(e) if http_status(&e) == Some(404) => Ok(false),
        Err(e) => Err(aws.explain(&format!("check s3://{bucket}/{key}"), e)),
    }
}

/// Uploads each artifact under `functions/<name>/<sha256>.zip` unless it is there already.
/// The zip is hashed again first: a file changed since it was hashed is refused.
pub async fn upload_artifacts(aws: &Aws, bucket: &str, artifacts: &[Artifact]) -> Result<Uploads> {
    let mut tasks = tokio::task::JoinSet::new();
    for a in artifacts {
        let aws = aws.clone();
        let bucket = bucket.to_owned();
        let a = a.clone();
        tasks.spawn(async move {
            let key = parameters::code_key_value(&a.function, &a.sha256);
            if exists(&aws, &bucket, &key).await? {
                return Ok::<_, anyhow::Error>((key, false));
            }
            let bytes = std::fs::read(&a.zip)
                .with_context(|| format!("cannot read {} (the {} artifact)", a.zip.display(), a.function))?;
            let actual = hex::encode(Sha256::digest(&bytes));
            if actual != a.sha256 {
                bail!(
                    "{} changed after it was hashed (sha256 {actual}, expected {}): build again",
                    a.zip.display(),
                    a.sha256
                );
            }
            aws.s3
                .put_object()
                .bucket(&bucket)
                .key(&key)
                .content_type("application/zip")
                .body(ByteStream::from(bytes))
                .send()
                .await
                .map_err(|e| aws.explain(&format!("upload {} to s3://{bucket}/{key}", a.zip.display()), e))?;
            Ok((key, true))
        });
    }
    let mut out = Uploads::default();
    while let Some(joined) = tasks.join_next().await {
        let (key, uploaded) = joined.context("an upload task failed")??;
        if uploaded {
            out.uploaded.push(key);
        } else {
            out.already_there.push(key);
        }
    }
    out.uploaded.sort();
    out.already_there.sort();
    Ok(out)
}

/// Uploads a template body (content-addressed) and returns the URL CloudFormation reads it from.
pub async fn upload_template(aws: &Aws, bucket: &str, stack: &str, body: &str) -> Result<String> {
    let key = format!(
        "templates/{stack}/{}.json",
        hex::encode(Sha256::digest(body.as_bytes()))
    );
    if !exists(aws, bucket, &key).await? {
        aws.s3
            .put_object()
            .bucket(bucket)
            .key(&key)
            .content_type("application/json")
            .body(ByteStream::from(body.as_bytes().to_vec()))
            .send()
            .await
            .map_err(|e| aws.explain(&format!("upload the template to s3://{bucket}/{key}"), e))?;
    }
    Ok(template_url(&aws.region, bucket, &key))
}

/// The S3 URL of an object, in the path style CloudFormation accepts in every region (and that
/// moto resolves against its own S3).
pub fn template_url(region: &str, bucket: &str, key: &str) -> String {
    let suffix = if region.starts_with("cn-") {
        "amazonaws.com.cn"
    } else {
        "amazonaws.com"
    };
    format!("https://s3.{region}.{suffix}/{bucket}/{key}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_urls() {
        assert_eq!(
            default_name("123456789012", "eu-west-1"),
            "orders-artifacts-123456789012-eu-west-1"
        );
        assert!(default_name("123456789012", "ap-southeast-2").len() <= 63);
        assert_eq!(
            template_url("eu-west-1", "b", "templates/s/x.json"),
            "https://s3.eu-west-1.amazonaws.com/b/templates/s/x.json"
        );
        assert_eq!(
            template_url("cn-north-1", "b", "k"),
            "https://s3.cn-north-1.amazonaws.com.cn/b/k"
        );
    }

    #[test]
    fn the_bucket_policy_names_the_partition_of_the_region() {
        let cn = tls_only_policy(crate::deploy::aws::partition("cn-north-1"), "b");
        assert_eq!(
            cn["Statement"][0]["Resource"],
            serde_json::json!(["arn:aws-cn:s3:::b", "arn:aws-cn:s3:::b/*"])
        );
        let gov = tls_only_policy(crate::deploy::aws::partition("us-gov-west-1"), "b");
        assert_eq!(gov["Statement"][0]["Resource"][0], "arn:aws-us-gov:s3:::b");
    }
}
