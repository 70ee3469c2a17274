# Disaster recovery in the secondary region (var.secondary_region, eu-central-1 by default): the replica
# bucket always exists (module "bucket" replicates into it); the cluster, PostgreSQL and Redis there only with
# dr_active = true, the first step of a redeploy:
#
#   terraform apply -var dr_active=true
#   terraform output -json > outputs.json
#   ansible-playbook -i deploy/ansible/inventory.yml deploy/ansible/dr-redeploy.yml -e tf_outputs_file=outputs.json ...
#
# (docs/deployment.md, "Backup, restore, disaster recovery"). The outputs below are what the playbook reads.

variable "secondary_region" {
  type    = string
  default = "eu-central-1"
}

variable "dr_active" {
  type        = bool
  description = "Create voxgate's cluster, PostgreSQL and Redis in the secondary region (a disaster, or a drill)."
  default     = false
}

provider "aws" {
  alias  = "secondary"
  region = var.secondary_region
  default_tags {
    tags = { project = "voxgate", environment = "staging", role = "dr" }
  }
}

module "dr_cluster" {
  source           = "../../modules/cluster"
  count            = var.dr_active ? 1 : 0
  providers        = { aws = aws.secondary }
  name             = "${local.name}-dr"
  general_min_size = 2
  general_max_size = 12
  media_min_size   = 1
  media_max_size   = 12
}

module "dr_postgres" {
  source               = "../../modules/postgres"
  count                = var.dr_active ? 1 : 0
  providers            = { aws = aws.secondary }
  name                 = "${local.name}-dr"
  vpc_id               = module.dr_cluster[0].vpc_id
  db_subnet_group_name = module.dr_cluster[0].database_subnet_group_name
  allowed_cidr         = module.dr_cluster[0].vpc_cidr
  instance_class       = "db.t4g.medium"
}

module "dr_redis" {
  source       = "../../modules/redis"
  count        = var.dr_active ? 1 : 0
  providers    = { aws = aws.secondary }
  name         = "${local.name}-dr"
  environment  = "staging"
  vpc_id       = module.dr_cluster[0].vpc_id
  subnet_ids   = module.dr_cluster[0].database_subnets
  allowed_cidr = module.dr_cluster[0].vpc_cidr
}

output "dr" {
  description = "What deploy/ansible/dr-redeploy.yml reads (terraform output -json)."
  value = {
    environment       = "staging"
    active            = var.dr_active
    primary_region    = "eu-west-3"
    region            = var.secondary_region
    bucket            = module.bucket.bucket
    replica_bucket    = module.bucket.replica_bucket
    recordings_url    = "s3://${module.bucket.replica_bucket}/recordings"
    backup_url        = "s3://${module.bucket.replica_bucket}/postgres"
    object_backup_url = "s3://${module.bucket.replica_bucket}/object-backups"
    cluster_name      = one(module.dr_cluster[*].cluster_name)
    sip_eip_ids       = one(module.dr_cluster[*].sip_eip_allocation_ids)
    postgres_endpoint = one(module.dr_postgres[*].endpoint)
    postgres_secret   = one(module.dr_postgres[*].master_user_secret_arn)
    redis_endpoint    = one(module.dr_redis[*].configuration_endpoint)
  }
}
