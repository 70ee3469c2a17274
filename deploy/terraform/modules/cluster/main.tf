# Multi-zone EKS cluster: VPC over three zones, private subnets for the general nodes, public subnets for the
# media nodes (RTP needs public addresses), isolated database subnets for the data zone.
terraform {
  required_providers {
    aws = { source = "hashicorp/aws", version = "~> 5.70" }
  }
}

data "aws_availability_zones" "available" {
  state = "available"
}

locals {
  azs = slice(data.aws_availability_zones.available.names, 0, 3)
}

module "vpc" {
  source  = "terraform-aws-modules/vpc/aws"
  version = "~> 5.13"

  name = var.name
  cidr = var.vpc_cidr
  azs  = local.azs
  # 10.30.0.0/17 nodes (NetworkPolicy ipBlock for ng), 10.30.112.0/22 data zone (NetworkPolicy ipBlock).
  private_subnets  = [for i in range(3) : cidrsubnet(var.vpc_cidr, 3, i)]
  public_subnets   = [for i in range(3) : cidrsubnet(var.vpc_cidr, 8, 96 + i)]
  database_subnets = [for i in range(3) : cidrsubnet(var.vpc_cidr, 8, 112 + i)]

  enable_nat_gateway      = true
  one_nat_gateway_per_az  = true
  map_public_ip_on_launch = true

  public_subnet_tags  = { "kubernetes.io/role/elb" = "1" }
  private_subnet_tags = { "kubernetes.io/role/internal-elb" = "1" }
  tags                = var.tags
}

module "eks" {
  source  = "terraform-aws-modules/eks/aws"
  version = "~> 20.24"

  cluster_name    = var.name
  cluster_version = var.kubernetes_version
  vpc_id          = module.vpc.vpc_id
  subnet_ids      = module.vpc.private_subnets

  cluster_endpoint_public_access = false
  enable_irsa                    = true
  # Control-plane audit log, kept 12 months (docs/deployment.md, compliance).
  cluster_enabled_log_types              = ["api", "audit", "authenticator"]
  cloudwatch_log_group_retention_in_days = 365

  eks_managed_node_groups = {
    general = {
      instance_types = var.general_instance_types
      min_size       = var.general_min_size
      max_size       = var.general_max_size
      desired_size   = var.general_min_size
      subnet_ids     = module.vpc.private_subnets
    }
    # Media relays: host network, one per node, public addresses, RTP open in the security group below.
    media = {
      instance_types         = var.media_instance_types
      min_size               = var.media_min_size
      max_size               = var.media_max_size
      desired_size           = var.media_min_size
      subnet_ids             = module.vpc.public_subnets
      labels                 = { "voxgate.io/pool" = "media" }
      taints                 = { media = { key = "voxgate.io/pool", value = "media", effect = "NO_SCHEDULE" } }
      vpc_security_group_ids = [aws_security_group.media.id]
    }
  }
  tags = var.tags
}

# What NetworkPolicies cannot enforce on host-network pods: RTP from anywhere, ng and metrics from the VPC.
resource "aws_security_group" "media" {
  name_prefix = "${var.name}-media-"
  description = "voxgate media relay nodes"
  vpc_id      = module.vpc.vpc_id
  tags        = var.tags
}

resource "aws_vpc_security_group_ingress_rule" "rtp" {
  security_group_id = aws_security_group.media.id
  description       = "RTP/RTCP"
  ip_protocol       = "udp"
  from_port         = 30000
  to_port           = 40000
  cidr_ipv4         = "0.0.0.0/0"
}

resource "aws_vpc_security_group_ingress_rule" "ng" {
  security_group_id = aws_security_group.media.id
  description       = "ng control from the gateways"
  ip_protocol       = "udp"
  from_port         = 22222
  to_port           = 22222
  cidr_ipv4         = var.vpc_cidr
}

resource "aws_vpc_security_group_ingress_rule" "metrics" {
  security_group_id = aws_security_group.media.id
  description       = "health and metrics from the cluster"
  ip_protocol       = "tcp"
  from_port         = 8080
  to_port           = 8080
  cidr_ipv4         = var.vpc_cidr
}

# Stable SIP addresses: one Elastic IP per zone for the SIP network load balancer.
resource "aws_eip" "sip" {
  count  = 3
  domain = "vpc"
  tags   = merge(var.tags, { Name = "${var.name}-sip-${local.azs[count.index]}" })
}
