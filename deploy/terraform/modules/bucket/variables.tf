variable "name" {
  type = string
}

variable "backup_retention_days" {
  type    = number
  default = 400
}

variable "tags" {
  type    = map(string)
  default = {}
}
