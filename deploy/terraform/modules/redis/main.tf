# Redis cluster: ElastiCache replication group in cluster mode (shards with a replica each, spread over the
# zones, automatic failover), encryption in transit (rediss://) and at rest, AUTH token generated here and
# stored only in Secrets Manager (voxgate/<env>/redis-url, as the rediss+cluster:// URL VOXGATE_REDIS_URL takes:
# TLS by the scheme; test/deploy/terraform-urls.test.ts checks voxgate accepts it).
terraform {
  required_providers {
    aws    = { source = "hashicorp/aws", version = "~> 5.70" }
    random = { source = "hashicorp/random", version = "~> 3.6" }
  }
}

resource "aws_elasticache_subnet_group" "this" {
  name       = var.name
  subnet_ids = var.subnet_ids
}

resource "aws_security_group" "redis" {
  name_prefix = "${var.name}-redis-"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "redis" {
  security_group_id = aws_security_group.redis.id
  ip_protocol       = "tcp"
  from_port         = 6379
  to_port           = 6379
  cidr_ipv4         = var.allowed_cidr
}

resource "random_password" "auth" {
  length  = 64
  special = false
}

resource "aws_elasticache_replication_group" "this" {
  replication_group_id       = var.name
  description                = "voxgate shared state"
  engine                     = "redis"
  engine_version             = "7.1"
  node_type                  = var.node_type
  num_node_groups            = var.shards
  replicas_per_node_group    = 1
  automatic_failover_enabled = true
  multi_az_enabled           = true
  subnet_group_name          = aws_elasticache_subnet_group.this.name
  security_group_ids         = [aws_security_group.redis.id]
  transit_encryption_enabled = true
  at_rest_encryption_enabled = true
  auth_token                 = random_password.auth.result
  parameter_group_name       = "default.redis7.cluster.on"
  snapshot_retention_limit   = 7
  tags                       = var.tags
}

resource "aws_secretsmanager_secret" "url" {
  name = "voxgate/${var.environment}/redis-url"
  tags = var.tags
}

resource "aws_secretsmanager_secret_version" "url" {
  secret_id     = aws_secretsmanager_secret.url.id
  secret_string = "rediss+cluster://:${random_password.auth.result}@${aws_elasticache_replication_group.this.configuration_endpoint_address}:6379"
}
