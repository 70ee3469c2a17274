// The object store behind recordings and backups, both implementations through the same checks: a local
// folder, and S3 through @aws-sdk/client-s3 against s3rver, an S3-compatible server over real HTTP (MinIO, the
// usual choice, is neither packaged in Debian nor installable here).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { HeadObjectCommand, S3Client } from '@aws-sdk/client-s3';
import S3rver from 's3rver';
import { createFolderStore, createS3Store, parseS3Url, type ObjectStore } from '../../src/store/index.js';

describe('object stores', () => {
  let dir: string;
  let server: S3rver;
  let endpoint: string;
  const saved = { id: process.env.AWS_ACCESS_KEY_ID, secret: process.env.AWS_SECRET_ACCESS_KEY };
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'voxgate-objects-'));
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
    if (saved.id === undefined) delete process.env.AWS_ACCESS_KEY_ID;
    else process.env.AWS_ACCESS_KEY_ID = saved.id;
    if (saved.secret === undefined) delete process.env.AWS_SECRET_ACCESS_KEY;
    else process.env.AWS_SECRET_ACCESS_KEY = saved.secret;
  });

  const stores: [string, () => ObjectStore][] = [
    ['folder', () => createFolderStore(join(dir, 'folder'))],
    [
      's3',
      () =>
        createS3Store({
          url: 's3://recordings/prod/calls',
          endpoint,
          region: 'us-east-1',
          forcePathStyle: true,
        }),
    ],
  ];
  for (const [name, make] of stores) {
    test(`${name}: put moves the file in, get copies it out, list finds it under its prefix`, async () => {
      const store = make();
      try {
        const spooled = join(dir, `${name}-a-1.wav`);
        const bytes = Buffer.from(`RIFF....WAVEfmt ${name} audio for the test`);
        await writeFile(spooled, bytes);
        await store.putFile('2026-11-24/call-1/a-1.wav', spooled);
        assert.equal(existsSync(spooled), false, 'the spooled file is gone once stored');
        await writeFile(join(dir, `${name}-x.json`), '{}');
        await store.putFile('2026-11-25/call-2/meta.json', join(dir, `${name}-x.json`));
        assert.deepEqual(await store.list('2026-11-24/'), ['2026-11-24/call-1/a-1.wav']);
        assert.deepEqual(await store.list(''), ['2026-11-24/call-1/a-1.wav', '2026-11-25/call-2/meta.json']);
        assert.deepEqual(await store.list('nothing/'), []);
        const back = join(dir, `${name}-back.wav`);
        await store.getFile('2026-11-24/call-1/a-1.wav', back);
        assert.deepEqual(await readFile(back), bytes);
        await assert.rejects(store.putFile('../escape.wav', back), /outside the store/);
        await assert.rejects(store.getFile('a/../../b', back), /outside the store/);
      } finally {
        store.close();
      }
    });

    test(`${name}: open streams an object with its size, delete removes it; absent ones are no error`, async () => {
      const store = make();
      try {
        const bytes = Buffer.from(`RIFF....WAVEfmt ${name} streamed`);
        const spooled = join(dir, `${name}-stream.wav`);
        await writeFile(spooled, bytes);
        await store.putFile('2026-12-03/call-9/b-1.wav', spooled);
        const opened = await store.open('2026-12-03/call-9/b-1.wav');
        assert.ok(opened);
        assert.equal(opened.size, bytes.length);
        const chunks: Buffer[] = [];
        for await (const chunk of opened.body) chunks.push(Buffer.from(chunk as Uint8Array));
        assert.deepEqual(Buffer.concat(chunks), bytes);
        assert.equal(await store.open('2026-12-03/call-9/none.wav'), undefined);
        await store.delete('2026-12-03/call-9/b-1.wav');
        assert.equal(await store.open('2026-12-03/call-9/b-1.wav'), undefined);
        assert.deepEqual(await store.list('2026-12-03/'), []);
        await store.delete('2026-12-03/call-9/b-1.wav');
        await assert.rejects(store.delete('../x.wav'), /outside the store/);
      } finally {
        store.close();
      }
    });
  }

  test('s3: the object has its content type under the prefix; a failed upload throws and keeps the file', async () => {
    const client = new S3Client({ region: 'us-east-1', endpoint, forcePathStyle: true });
    const head = await client.send(
      new HeadObjectCommand({ Bucket: 'recordings', Key: 'prod/calls/2026-11-24/call-1/a-1.wav' }),
    );
    assert.equal(head.ContentType, 'audio/wav');
    client.destroy();
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
    } finally {
      store.close();
    }
    assert.deepEqual(parseS3Url('s3://recordings'), { bucket: 'recordings', prefix: '' });
    assert.throws(() => parseS3Url('https://recordings'), /not an s3:\/\/bucket/);
  });
});
