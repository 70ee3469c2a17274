// Rotating VOXGATE_SIP_PEER_SECRET (and the nonce secret) across two gateway replicas the way Kubernetes does
// it: each pod's Secret volume is updated on its own kubelet sync, so for a while one replica has the new key and
// the other does not. The replica that read it first accepts it at once but signs with it only after
// VOXGATE_SECRET_ACTIVATION_SECONDS, so a call it hands to the other replica (a peer hop signed with the old key)
// still rings there; a call established before the rotation ends normally.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { type SipRequest } from '../../src/sip/index.js';
import { provisionUsers } from '../helpers/provision-users.js';
import { createScratchDatabase, postgresAvailable } from '../helpers/postgres.js';
import { secretReloads, SecretVolume } from '../helpers/secret-volume.js';
import { sdp, SipPhone, type OutgoingCall } from '../helpers/sip-phone.js';
import { startVoxgate, type VoxgateProcess } from '../helpers/voxgate-process.js';

const REDIS_URL = process.env.VOXGATE_TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';
const NAMES = ['VOXGATE_SIP_NONCE_SECRET', 'VOXGATE_SIP_PEER_SECRET'] as const;
const keys = () => Object.fromEntries(NAMES.map((n) => [n, randomBytes(32).toString('base64url')]));

describe('two gateway replicas read a rotated peer secret at different times', async () => {
  const skip = (await postgresAvailable()) ? false : 'PostgreSQL not reachable';
  let db: Awaited<ReturnType<typeof createScratchDatabase>>;
  let one: VoxgateProcess;
  let two: VoxgateProcess;
  let volumeOne: SecretVolume;
  let volumeTwo: SecretVolume;
  const first = keys();
  const second = keys();
  const domain = `peer-rot-${randomBytes(4).toString('hex')}.example`;
  const until = async (what: string, check: () => Promise<boolean>, ms = 60_000) => {
    const deadline = Date.now() + ms;
    while (!(await check())) {
      if (Date.now() > deadline) assert.fail(`${what}: not within ${ms} ms`);
      await new Promise((r) => setTimeout(r, 200));
    }
  };

  before(async () => {
    if (skip) return;
    db = await createScratchDatabase();
    volumeOne = await SecretVolume.create(first);
    volumeTwo = await SecretVolume.create(first);
    const env = {
      VOXGATE_DATABASE_URL: db.url,
      VOXGATE_REDIS_URL: REDIS_URL,
      VOXGATE_GATEWAY_MEDIA_RELAYS: 'off',
      VOXGATE_SIP_ADVERTISED_ADDRESS: '127.0.0.1',
      VOXGATE_SECRET_POLL_SECONDS: '1',
      // Far longer than the test: the replica that read the new key goes on signing with the old one.
      VOXGATE_SECRET_ACTIVATION_SECONDS: '1800',
      VOXGATE_SECRET_OVERLAP_SECONDS: '3600',
    };
    one = await startVoxgate(
      ['--target=sip-gateway'],
      { ...env, ...volumeOne.env(NAMES) },
      { startTimeoutMs: 120_000 },
    );
    two = await startVoxgate(
      ['--target=sip-gateway'],
      { ...env, ...volumeTwo.env(NAMES) },
      { startTimeoutMs: 120_000 },
    );
    await provisionUsers(db.url, { name: 'PeerRotation', domain }, { alice: 'a1ice', bob: 'b0b' });
  });
  after(async () => {
    await one?.stop();
    await two?.stop();
    await db?.drop();
    await volumeOne?.remove();
    await volumeTwo?.remove();
  });

  test(
    'calls handed from the replica with the new key to the one without ring; an earlier call ends',
    { skip },
    async () => {
      const alice = await SipPhone.open('alice', 'a1ice', one.sipUdpPort!, domain);
      const bob = await SipPhone.open('bob', 'b0b', two.sipUdpPort!, domain);
      /** alice (on one) calls bob (on two): the INVITE reaches bob through two, with a peer hop from one. */
      const call = async (tag: string): Promise<OutgoingCall> => {
        const outgoing = await alice.invite('bob', sdp(40700));
        const invite = (await bob.request('INVITE')) as SipRequest;
        assert.equal(bob.origins.get(invite)?.port, two.sipUdpPort, 'through the replica bob registered on');
        bob.reply(invite, 200, 'OK', tag, {}, sdp(40800));
        assert.equal((await outgoing.final()).status, 200);
        outgoing.ack();
        await bob.request('ACK');
        return outgoing;
      };
      const hangUp = async (outgoing: OutgoingCall, tag: string) => {
        outgoing.send('BYE');
        const bye = await bob.request('BYE');
        bob.reply(bye, 200, 'OK', tag);
        assert.equal((await alice.response(outgoing.callId, 200, 'BYE')).status, 200);
      };
      try {
        assert.equal((await alice.register()).status, 200);
        assert.equal((await bob.register()).status, 200);
        const before = await call('before');

        // Replica one reads the new keys; replica two has not yet.
        await volumeOne.update(second);
        for (const name of NAMES) {
          await until(
            `one reloaded ${name}`,
            async () => (await secretReloads(one.httpUrl, name, 'applied')) === 1,
          );
        }
        assert.equal(await secretReloads(two.httpUrl, 'VOXGATE_SIP_PEER_SECRET', 'applied'), 0);
        const during = await call('during');
        // Replica one registers alice again (its nonces are still signed with the key two knows too).
        assert.equal((await alice.register()).status, 200);

        // Replica two reads them as well: both accept both keys.
        await volumeTwo.update(second);
        for (const name of NAMES) {
          await until(
            `two reloaded ${name}`,
            async () => (await secretReloads(two.httpUrl, name, 'applied')) === 1,
          );
        }
        const afterBoth = await call('after');
        assert.equal((await bob.register()).status, 200);

        // Every call, the one established before the rotation included, ends with its BYE answered.
        await hangUp(before, 'before');
        await hangUp(during, 'during');
        await hangUp(afterBoth, 'after');
        const metrics = await (await fetch(`${one.httpUrl}/metrics`)).text();
        assert.match(
          metrics,
          /^voxgate_secret_keys_accepted\{[^}]*secret="VOXGATE_SIP_PEER_SECRET"[^}]*\} 2$/m,
        );
      } finally {
        alice.close();
        bob.close();
      }
    },
  );
});
