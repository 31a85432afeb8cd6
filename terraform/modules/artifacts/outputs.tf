output "primary_bucket" {
  value = aws_s3_bucket.primary.id
}

output "standby_bucket" {
  value = aws_s3_bucket.standby.id
}

output "kms_key_arns" {
  description = "Both buckets' keys: the orchestrator decrypts from one and encrypts into the other."
  value       = [aws_kms_key.primary.arn, aws_kms_key.standby.arn]
}
