# Managed PostgreSQL HA: RDS Multi-AZ (synchronous standby in another zone, automatic failover), encrypted,
# daily automated backups with point-in-time recovery. The master password lives in Secrets Manager
# (manage_master_user_password, rotated by RDS). This module does not write voxgate/<env>/database-url: the
# operator creates voxgate's own role and stores its URL there (docs/deployment.md, "Secrets").
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.70" }
  }
}

resource "aws_security_group" "postgres" {
  name_prefix = "${var.name}-postgres-"
  vpc_id      = var.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "postgres" {
  security_group_id = aws_security_group.postgres.id
  ip_protocol       = "tcp"
  from_port         = 5432
  to_port           = 5432
  cidr_ipv4         = var.allowed_cidr
}

resource "aws_db_instance" "this" {
  identifier                      = var.name
  engine                          = "postgres"
  engine_version                  = "16"
  instance_class                  = var.instance_class
  allocated_storage               = var.storage_gb
  max_allocated_storage           = var.storage_gb * 4
  storage_type                    = "gp3"
  storage_encrypted               = true
  multi_az                        = true
  db_name                         = "voxgate"
  username                        = "voxgate"
  manage_master_user_password     = true
  db_subnet_group_name            = var.db_subnet_group_name
  vpc_security_group_ids          = [aws_security_group.postgres.id]
  backup_retention_period         = var.backup_retention_days
  backup_window                   = "01:00-02:00"
  maintenance_window              = "sun:03:00-sun:04:00"
  deletion_protection             = true
  skip_final_snapshot             = false
  final_snapshot_identifier       = "${var.name}-final"
  copy_tags_to_snapshot           = true
  performance_insights_enabled    = true
  enabled_cloudwatch_logs_exports = ["postgresql"]
  tags                            = var.tags
}
