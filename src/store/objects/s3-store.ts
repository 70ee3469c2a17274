import { createReadStream, createWriteStream } from 'node:fs';
import { stat, unlink } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import {
  DeleteObjectCommand,
  GetObjectCommand,
  ListObjectsV2Command,
  NoSuchKey,
  PutObjectCommand,
  S3Client,
} from '@aws-sdk/client-s3';
import { ObjectStoreError } from './object-store-error.js';
import { checkKey, type ObjectStore, type StoredObject } from './object-store.js';

const CONTENT_TYPES: Record<string, string> = {
  wav: 'audio/wav',
  pcap: 'application/vnd.tcpdump.pcap',
  json: 'application/json',
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
  if (!m) throw new ObjectStoreError('OBJECT_STORE_BAD_URL', `not an s3://bucket[/prefix] URL: ${url}`);
  return { bucket: m[1]!, prefix: (m[2] ?? '').replace(/^\/+|\/+$/g, '') };
}

/**
 * S3 or an S3-compatible store (`@aws-sdk/client-s3`) under `prefix/`. Credentials come from the SDK's default
 * chain (environment, web identity / IRSA on Kubernetes, instance profile): nothing secret in voxgate's
 * configuration. `putFile` deletes the local file once uploaded; a failed upload throws and keeps it.
 */
export function createS3Store(options: S3StoreOptions): ObjectStore {
  const { bucket, prefix } = parseS3Url(options.url);
  const client = new S3Client({
    region: options.region,
    forcePathStyle: options.forcePathStyle,
    // The SDK's default adds CRC32 trailers in aws-chunked encoding to streamed uploads, which several
    // S3-compatible servers store verbatim or refuse; checksums only where an API requires them.
    requestChecksumCalculation: 'WHEN_REQUIRED',
    ...(options.endpoint ? { endpoint: options.endpoint } : {}),
  });
  const fullKey = (key: string) => {
    checkKey(key);
    return prefix ? `${prefix}/${key}` : key;
  };
  const listing = async (under: string): Promise<StoredObject[]> => {
    const base = prefix ? `${prefix}/` : '';
    const found: StoredObject[] = [];
    let token: string | undefined;
    do {
      const page = await client.send(
        new ListObjectsV2Command({
          Bucket: bucket,
          Prefix: base + under,
          ...(token ? { ContinuationToken: token } : {}),
        }),
      );
      for (const o of page.Contents ?? [])
        if (o.Key)
          found.push({
            key: o.Key.slice(base.length),
            size: o.Size ?? 0,
            version: (o.ETag ?? '').replace(/"/g, ''),
          });
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
    return found.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  };
  return {
    async putFile(key, localPath) {
      const Key = fullKey(key);
      const { size } = await stat(localPath);
      await client.send(
        new PutObjectCommand({
          Bucket: bucket,
          Key,
          Body: createReadStream(localPath),
          ContentLength: size,
          ContentType: CONTENT_TYPES[key.slice(key.lastIndexOf('.') + 1)] ?? 'application/octet-stream',
        }),
      );
      await unlink(localPath);
    },
    async getFile(key, localPath) {
      const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: fullKey(key) }));
      if (!(got.Body instanceof Readable)) throw new Error(`no body for ${key}`);
      await pipeline(got.Body, createWriteStream(localPath));
    },
    async open(key) {
      try {
        const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: fullKey(key) }));
        if (!(got.Body instanceof Readable)) throw new Error(`no body for ${key}`);
        return { body: got.Body, size: got.ContentLength ?? 0 };
      } catch (err) {
        if (err instanceof NoSuchKey) return undefined;
        throw err;
      }
    },
    async delete(key) {
      await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: fullKey(key) }));
    },
    list: async (under) => (await listing(under)).map((o) => o.key),
    listVersions: listing,
    close: () => client.destroy(),
  };
}
