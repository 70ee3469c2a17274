variable "name" {
  type = string
}

variable "environment" {
  type = string
}

variable "vpc_id" {
  type = string
}

variable "subnet_ids" {
  type = list(string)
}

variable "allowed_cidr" {
  type = string
}

variable "node_type" {
  type    = string
  default = "cache.m7g.large"
}

variable "shards" {
  type    = number
  default = 3
}

variable "tags" {
  type    = map(string)
  default = {}
}
