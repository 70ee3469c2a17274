import { createReadStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { PutObjectCommand, S3Client } from '@aws-sdk/client-s3';
import { ObjectKeyError, type ObjectStore } from './object-store.js';

const CONTENT_TYPES: Record<string, string> = {
  wav: 'audio/wav',
  pcap: 'application/vnd.tcpdump.pcap',
};

export interface S3StoreOptions {
  /** `s3://bucket/prefix`: objects are written under `prefix/` in `bucket`. */
  readonly url: string;
  /** An S3-compatible endpoint (MinIO, Ceph); unset = AWS S3 of `region`. */
  readonly endpoint?: string;
  readonly region: string;
  /** `bucket` in the path rather than the host name (needed by most S3-compatible servers). */
  readonly forcePathStyle: boolean;
}

/** `s3://bucket[/prefix]` split; a one-line error for anything else. */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([a-z0-9][a-z0-9.-]{1,61}[a-z0-9])(?:\/(.*))?$/.exec(url);
  if (!m) throw new ObjectKeyError(`not an s3://bucket[/prefix] URL: ${url}`);
  return { bucket: m[1]!, prefix: (m[2] ?? '').replace(/^\/+|\/+$/g, '') };
}

/**
 * Recordings in S3 or an S3-compatible store (`@aws-sdk/client-s3`): each finished file is uploaded under
 * `prefix/key`, then its spooled copy is deleted. Credentials come from the SDK's default chain (environment,
 * web identity / IRSA on Kubernetes, instance profile): nothing secret in voxgate's configuration. A failed
 * upload throws and leaves the spooled file in place, so nothing is lost silently.
 */
export function createS3Store(options: S3StoreOptions): ObjectStore & { close(): void } {
  const { bucket, prefix } = parseS3Url(options.url);
  const client = new S3Client({
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    // The SDK's default adds CRC32 trailers in aws-chunked encoding to streamed uploads, which several
    // S3-compatible servers store verbatim or refuse; checksums only where an API requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  });
  return {
    async putFile(key, localPath) {
      if (key.split('/').some((part) => part === '..' || part === '')) {
        throw new ObjectKeyError(`key outside the store: ${key}`);
      }
      const { size } = await stat(localPath);
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key: prefix ? `${prefix}/${key}` : key,
          Body: createReadStream(localPath),
          ContentLength: size,
          ContentType: CONTENT_TYPES[key.slice(key.lastIndexOf('.') + 1)] ?? 'application/octet-stream',
        }),
      );
      await unlink(localPath);
    },
    close: () => client.destroy(),
  };
}
