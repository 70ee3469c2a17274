// Recordings in S3-compatible storage through @aws-sdk/client-s3. The server is s3rver, an S3-compatible
// server over real HTTP (MinIO, the usual choice, is neither packaged in Debian nor installable here).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { GetObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { createS3Store, parseS3Url } from '../../src/media/index.js';

describe('S3 recording store', () => {
  let dir: string;
  let server: S3rver;
  let endpoint: string;
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'voxgate-s3-'));
    server = new S3rver({
      address: '127.0.0.1',
      port: 0,
      silent: true,
      directory: join(dir, 'server'),
      configureBuckets: [{ name: 'recordings' }],
    });
    const { port } = await server.run();
    endpoint = `http://127.0.0.1:${port}`;
    // s3rver's fixed credentials, read by the SDK's default chain as in production (env / IRSA).
    process.env.AWS_ACCESS_KEY_ID = 'S3RVER';
    process.env.AWS_SECRET_ACCESS_KEY = 'S3RVER';
  });
  after(async () => {
    await server.close();
    await rm(dir, { recursive: true, force: true });
    process.env.AWS_ACCESS_KEY_ID = saved.id;
    process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
  });

  test('a finished file is uploaded under the prefix with its content type, then its spool copy removed', async () => {
    const store = createS3Store({
      url: 's3://recordings/prod/calls',
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
    });
    try {
      const spooled = join(dir, 'a-1.wav');
      const bytes = Buffer.from('RIFF....WAVEfmt fake audio for the test');
      await writeFile(spooled, bytes);
      await store.putFile('2026-11-24/call-1/a-1.wav', spooled);
      assert.equal(existsSync(spooled), false, 'the spooled file is gone once stored');
      const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true });
      const got = await client.send(
        new GetObjectCommand({ Bucket: 'recordings', Key: 'prod/calls/2026-11-24/call-1/a-1.wav' }),
      );
      assert.equal(got.ContentType, 'audio/wav');
      assert.deepEqual(Buffer.from(await got.Body!.transformToByteArray()), bytes);
      client.destroy();
    } finally {
      store.close();
    }
  });

  test('a failed upload throws and keeps the spooled file; bad keys and URLs are refused', async () => {
    const store = createS3Store({
      url: 's3://no-such-bucket',
      endpoint,
      region: 'us-east-1',
      forcePathStyle: true,
    });
    try {
      const spooled = join(dir, 'call.pcap');
      await writeFile(spooled, Buffer.from('pcap'));
      await assert.rejects(store.putFile('x/call.pcap', spooled));
      assert.equal(existsSync(spooled), true, 'nothing is lost when the upload fails');
      await assert.rejects(store.putFile('../escape.pcap', spooled), /outside the store/);
    } finally {
      store.close();
    }
    assert.deepEqual(parseS3Url('s3://recordings'), { bucket: 'recordings', prefix: '' });
    assert.throws(() => parseS3Url('https://recordings'), /not an s3:\/\/bucket/);
  });
});
