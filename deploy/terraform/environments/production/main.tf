# voxgate production on AWS (eu-west-3): cluster, PostgreSQL HA, Redis cluster, S3 bucket.
terraform {
  required_version = ">= 1.6"
  required_providers {
    aws    = { source = "hashicorp/aws", version = "~> 5.70" }
    random = { source = "hashicorp/random", version = "~> 3.6" }
  }
  backend "s3" {
    bucket         = "voxgate-terraform-state"
    key            = "production/terraform.tfstate"
    region         = "eu-west-3"
    dynamodb_table = "voxgate-terraform-locks"
    encrypt        = true
  }
}

provider "aws" {
  region = "eu-west-3"
  default_tags {
    tags = { project = "voxgate", environment = "production" }
  }
}

locals {
  name = "voxgate-production"
}

module "cluster" {
  source           = "../../modules/cluster"
  name             = local.name
  general_min_size = 3
  general_max_size = 12
  media_min_size   = 3
  media_max_size   = 12
}

module "postgres" {
  source               = "../../modules/postgres"
  name                 = local.name
  vpc_id               = module.cluster.vpc_id
  db_subnet_group_name = module.cluster.database_subnet_group_name
  allowed_cidr         = module.cluster.vpc_cidr
  instance_class       = "db.m7g.large"
}

module "redis" {
  source       = "../../modules/redis"
  name         = local.name
  environment  = "production"
  vpc_id       = module.cluster.vpc_id
  subnet_ids   = module.cluster.database_subnets
  allowed_cidr = module.cluster.vpc_cidr
  shards       = 3
}

module "bucket" {
  source       = "../../modules/bucket"
  name         = "${local.name}-recordings-backups"
  replica_name = "${local.name}-recordings-backups-replica"
  providers = {
    aws         = aws
    aws.replica = aws.secondary
  }
}

output "sip_eip_allocation_ids" {
  value = module.cluster.sip_eip_allocation_ids
}

output "bucket" {
  value = module.bucket.bucket
}
