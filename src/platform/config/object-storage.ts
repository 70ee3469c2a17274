import { choice, optional, text, url } from './kinds.js';
import type { ValuesOf } from './setting.js';

/** S3 access shared by recordings (media relay) and backups (worker): endpoint, region, addressing style. */
export const objectStorageSettings = {
  VOXGATE_S3_ENDPOINT: optional(
    url(['http', 'https'], {
      description:
        'an S3-compatible endpoint (MinIO, Ceph) for VOXGATE_RECORDINGS_URL and VOXGATE_BACKUP_URL; unset = AWS S3',
    }),
  ),
  VOXGATE_S3_REGION: text({
    type: 'text',
    expects: 'a region name such as eu-west-1',
    pattern: /^[a-z0-9-]+$/,
    description: 'the S3 region (credentials come from the AWS SDK default chain: env, IRSA, instance role)',
    default: 'us-east-1',
  }),
  VOXGATE_S3_FORCE_PATH_STYLE: choice(['auto', 'true', 'false'], {
    description:
      'bucket in the URL path rather than the host name; auto = true when VOXGATE_S3_ENDPOINT is set',
    default: 'auto',
  }),
};

export function s3Access(v: ValuesOf<typeof objectStorageSettings>) {
  return {
    ...(v.VOXGATE_S3_ENDPOINT ? { endpoint: v.VOXGATE_S3_ENDPOINT } : {}),
    region: v.VOXGATE_S3_REGION,
    forcePathStyle:
      v.VOXGATE_S3_FORCE_PATH_STYLE === 'auto'
        ? v.VOXGATE_S3_ENDPOINT !== undefined
        : v.VOXGATE_S3_FORCE_PATH_STYLE === 'true',
  };
}
