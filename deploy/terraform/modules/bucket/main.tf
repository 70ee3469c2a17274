# S3 bucket for call recordings and database backups: private, versioned, KMS-encrypted, TLS only, with
# lifecycle rules (recordings to infrequent access after 30 days; backups expire after the retention; deleted
# or replaced versions after 30 days), replicated to a bucket in the secondary region (replication.tf).
terraform {
  required_providers {
    aws = {
      source                = "hashicorp/aws"
      version               = "~> 5.70"
      configuration_aliases = [aws.replica]
    }
  }
}

# A key of our own (not aws/s3): replication must decrypt with it and re-encrypt with the replica's key.
resource "aws_kms_key" "this" {
  description         = "${var.name}: objects of the recordings and backups bucket"
  enable_key_rotation = true
  tags                = var.tags
}

resource "aws_s3_bucket" "this" {
  bucket = var.name
  tags   = var.tags
}

resource "aws_s3_bucket_public_access_block" "this" {
  bucket                  = aws_s3_bucket.this.id
  block_public_acls       = true
  block_public_policy     = true
  ignore_public_acls      = true
  restrict_public_buckets = true
}

resource "aws_s3_bucket_versioning" "this" {
  bucket = aws_s3_bucket.this.id
  versioning_configuration {
    status = "Enabled"
  }
}

resource "aws_s3_bucket_server_side_encryption_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    apply_server_side_encryption_by_default {
      sse_algorithm     = "aws:kms"
      kms_master_key_id = aws_kms_key.this.arn
    }
    bucket_key_enabled = true
  }
}

resource "aws_s3_bucket_lifecycle_configuration" "this" {
  bucket = aws_s3_bucket.this.id
  rule {
    id     = "recordings"
    status = "Enabled"
    filter {
      prefix = var.recordings_prefix
    }
    transition {
      days          = 30
      storage_class = "STANDARD_IA"
    }
    # A recording deleted (API, retention) or replaced stays 30 days as a noncurrent version, then goes.
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }
  rule {
    id     = "backups"
    status = "Enabled"
    # The worker writes under VOXGATE_BACKUP_URL's prefix: s3://<bucket>/postgres → postgres/backups/<stamp>.dump.
    filter {
      prefix = "${var.backups_prefix}backups/"
    }
    expiration {
      days = var.backup_retention_days
    }
    noncurrent_version_expiration {
      noncurrent_days = 30
    }
  }
}

data "aws_iam_policy_document" "tls_only" {
  statement {
    sid       = "DenyInsecureTransport"
    effect    = "Deny"
    actions   = ["s3:*"]
    resources = [aws_s3_bucket.this.arn, "${aws_s3_bucket.this.arn}/*"]
    principals {
      type        = "*"
      identifiers = ["*"]
    }
    condition {
      test     = "Bool"
      variable = "aws:SecureTransport"
      values   = ["false"]
    }
  }
}

resource "aws_s3_bucket_policy" "this" {
  bucket = aws_s3_bucket.this.id
  policy = data.aws_iam_policy_document.tls_only.json
}
