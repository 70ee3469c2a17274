variable "name" {
  type = string
}

variable "vpc_id" {
  type = string
}

variable "db_subnet_group_name" {
  type = string
}

variable "allowed_cidr" {
  type        = string
  description = "Who may connect (the cluster's VPC range)."
}

variable "instance_class" {
  type    = string
  default = "db.m7g.large"
}

variable "storage_gb" {
  type    = number
  default = 100
}

variable "backup_retention_days" {
  type    = number
  default = 35
}

variable "tags" {
  type    = map(string)
  default = {}
}
