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

variable "recordings_prefix" {
  type        = string
  description = "Where the media relay writes recordings (VOXGATE_RECORDINGS_URL's prefix, with a trailing slash)."
  default     = "recordings/"
}

variable "backups_prefix" {
  type        = string
  description = "VOXGATE_BACKUP_URL's prefix, with a trailing slash: the worker's dumps are under <prefix>backups/."
  default     = "postgres/"
}

variable "replica_name" {
  type        = string
  description = "The bucket in the secondary region (provider aws.replica) that every object is replicated to."
}

variable "replica_recordings_expiration_days" {
  type        = number
  description = "Deletions are not replicated (a replica is a backup): recordings expire from the replica after this many days (VOXGATE_RECORDING_RETENTION_DAYS plus a margin)."
  default     = 120
}

variable "object_backup_prefix" {
  type        = string
  description = "VOXGATE_OBJECT_BACKUP_URL's prefix in the replica bucket: the worker's object-store backup, which expires its own runs."
  default     = "object-backups/"
}
