variable "name" {
  type        = string
  description = "Cluster and VPC name."
}

variable "vpc_cidr" {
  type        = string
  description = "VPC range; the Kubernetes NetworkPolicies assume 10.30.0.0/16."
  default     = "10.30.0.0/16"
}

variable "kubernetes_version" {
  type    = string
  default = "1.31"
}

variable "general_instance_types" {
  type    = list(string)
  default = ["m7g.large"]
}

variable "general_min_size" {
  type    = number
  default = 3
}

variable "general_max_size" {
  type    = number
  default = 12
}

variable "media_instance_types" {
  type    = list(string)
  default = ["c7gn.large"]
}

variable "media_min_size" {
  type    = number
  default = 3
}

variable "media_max_size" {
  type    = number
  default = 12
}

variable "tags" {
  type    = map(string)
  default = {}
}
