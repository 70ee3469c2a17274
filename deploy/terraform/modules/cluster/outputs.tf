output "vpc_id" {
  value = module.vpc.vpc_id
}

output "database_subnet_group_name" {
  value = module.vpc.database_subnet_group_name
}

output "database_subnets" {
  value = module.vpc.database_subnets
}

output "vpc_cidr" {
  value = module.vpc.vpc_cidr_block
}

output "cluster_name" {
  value = module.eks.cluster_name
}

output "sip_eip_allocation_ids" {
  description = "For the SIP Service annotation service.beta.kubernetes.io/aws-load-balancer-eip-allocations."
  value       = aws_eip.sip[*].id
}
