output "bucket" {
  value = aws_s3_bucket.this.id
}

output "arn" {
  value = aws_s3_bucket.this.arn
}

output "kms_key_arn" {
  value = aws_kms_key.this.arn
}

output "replica_bucket" {
  description = "The bucket in the secondary region holding the replicated recordings and dumps."
  value       = aws_s3_bucket.replica.id
}

output "replica_arn" {
  value = aws_s3_bucket.replica.arn
}

output "replica_region" {
  value = aws_s3_bucket.replica.region
}

output "replica_kms_key_arn" {
  value = aws_kms_key.replica.arn
}
