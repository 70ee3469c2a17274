// Two gateway processes sharing one PostgreSQL and one Redis behave as one: a call that arrives at instance 1
// for a user registered through instance 2 reaches that user through instance 2 (the only address a NAT in
// front of the user would let in).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { buildRequest, type SipRequest } from '../../src/sip/index.js';
import { provisionUsers } from '../helpers/provision-users.js';
import { createScratchDatabase, postgresAvailable } from '../helpers/postgres.js';
import { sdp, SipPhone } from '../helpers/sip-phone.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const REDIS_URL = process.env.VOXGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

describe('two sip-gateway processes on one PostgreSQL and one Redis', async () => {
  const skip = (await postgresAvailable()) ? false : 'PostgreSQL not reachable';
  let db: Awaited<ReturnType<typeof createScratchDatabase>>;
  let one: VoxgateProcess;
  let two: VoxgateProcess;
  const domain = `scale-${randomBytes(4).toString('hex')}.example`;

  before(async () => {
    if (skip) return;
    db = await createScratchDatabase();
    const env = {
      VOXGATE_DATABASE_URL: db.url,
      VOXGATE_REDIS_URL: REDIS_URL,
      VOXGATE_SIP_NONCE_SECRET: randomBytes(24).toString('hex'),
      VOXGATE_GATEWAY_MEDIA_RELAYS: 'off',
      VOXGATE_SIP_ADVERTISED_ADDRESS: '127.0.0.1',
      VOXGATE_SIP_DIGEST_ALGORITHMS: 'SHA-256,MD5',
    };
    one = await startVoxgate(['--target=sip-gateway'], env);
    two = await startVoxgate(['--target=sip-gateway'], env);
    await provisionUsers(db.url, { name: 'Scale', domain }, { alice: 'a1ice', bob: 'b0b' });
  });
  after(async () => {
    await one?.stop();
    await two?.stop();
    await db?.drop();
  });

  test(
    'alice calls through instance 1, bob registered through instance 2 rings from instance 2',
    { skip },
    async () => {
      const alice = await SipPhone.open('alice', 'a1ice', one.sipUdpPort!, domain);
      const bob = await SipPhone.open('bob', 'b0b', two.sipUdpPort!, domain);
      try {
        assert.equal((await alice.register()).status, 200);
        assert.equal((await bob.register()).status, 200);
        const call = await alice.invite('bob', sdp(40500));
        const invite = (await bob.request('INVITE')) as SipRequest;
        assert.equal(
          bob.origins.get(invite)?.port,
          two.sipUdpPort,
          'the INVITE comes from the instance bob registered on',
        );
        assert.ok(
          !invite.headers.some((h) => h.name.toLowerCase() === 'x-voxgate-peer'),
          'the peer hop header stays between the replicas',
        );
        bob.reply(invite, 180, 'Ringing', 'sb');
        await alice.response(call.callId, 180);
        bob.reply(invite, 200, 'OK', 'sb', {}, sdp(40600));
        const ok = await call.final();
        assert.equal(ok.status, 200);
        assert.match(ok.body.toString(), /m=audio 40600 /);
        call.ack();
        await bob.request('ACK');
        call.send('BYE');
        const bye = await bob.request('BYE');
        assert.equal(bob.origins.get(bye)?.port, two.sipUdpPort);
        bob.reply(bye, 200, 'OK', 'sb');
        assert.equal((await alice.response(call.callId, 200, 'BYE')).status, 200);
      } finally {
        alice.close();
        bob.close();
      }
    },
  );

  test(
    'a forged peer-hop header from outside is not trusted: the caller is challenged',
    { skip },
    async () => {
      const mallory = await SipPhone.open('mallory', 'x', two.sipUdpPort!, domain);
      try {
        mallory.send(
          buildRequest('INVITE', `sip:bob@127.0.0.1:9`, [
            { name: 'Via', value: `SIP/2.0/UDP 127.0.0.1:${mallory.port};branch=z9hG4bKforged1;rport` },
            { name: 'Max-Forwards', value: '70' },
            { name: 'From', value: `<sip:mallory@${domain}>;tag=f1` },
            { name: 'To', value: `<sip:bob@${domain}>` },
            { name: 'Call-ID', value: 'forged-peer-hop' },
            { name: 'CSeq', value: '1 INVITE' },
            { name: 'Contact', value: mallory.contact },
            { name: 'X-Voxgate-Peer', value: `<sip:bob@${domain}>;ts=${Date.now()};mac=AAAA` },
          ]),
        );
        assert.equal((await mallory.response('forged-peer-hop', 407)).status, 407);
      } finally {
        mallory.close();
      }
    },
  );
});
