import { describe, test } from 'node:test';
import assert from 'node:assert/strict';
import {
  createCdrRepository,
  createTenantRepository,
  type CallEvent,
  type Cdr,
} from '../../src/store/index.js';
import { withMigratedStore } from '../helpers/migrated-store.js';
import { storeBackends } from '../helpers/store-backends.js';

// The CDR writer writes a read of the call event stream in two statements (upsertManyFromEvents): the CDRs and
// the answers must be those of writing the same events one by one (upsertFromEvent), on every backend.
function events(tenantId: string, otherTenant: string): CallEvent[] {
  const at = Date.UTC(2026, 11, 3, 12, 0, 0);
  const call = (n: number, extra: Partial<CallEvent> = {}): CallEvent => ({
    type: 'ended',
    callId: `call-${n}`,
    tenantId,
    direction: 'inbound',
    from: '+442079460001',
    to: '+442079460000',
    startedAt: at + n * 1000,
    ...extra,
  });
  return [
    call(1, { type: 'ringing', ringingAt: at + 1500 }), // no CDR yet: changes nothing
    call(1, { answeredAt: at + 3000, endedAt: at + 65_400, ringingAt: at + 1500, disposition: 'answered' }),
    call(1, { answeredAt: at + 3000, endedAt: at + 65_400, disposition: 'answered' }), // redelivered
    call(2, { disposition: 'busy', sipCode: 486, hangupBy: 'callee', reason: 'line "busy"\\ {x}' }),
    call(2, { type: 'ringing', ringingAt: at + 2500 }), // the CDR has none: set once
    call(2, { type: 'ringing', ringingAt: at + 2600 }),
    call(3, { type: 'started' }),
    call(3, { type: 'answered', answeredAt: at + 3500 }),
    call(4, {
      from: 'a\u0000b',
      trunkId: 'not-a-uuid',
      media: { callerToCallee: { packets: 1, bytes: 2, lost: 0, jitterMs: 0.5 } },
    }),
    call(5, { tenantId: otherTenant }), // a tenant deleted since: no CDR
    call(6, { transferredFrom: 'call-1', gateway: 'gw-a', refused: true }),
  ];
}

async function cdrsOf(db: Parameters<typeof createCdrRepository>[0], tenantId: string): Promise<Cdr[]> {
  return createCdrRepository(db).list(tenantId, { limit: 100 });
}

for (const backend of await storeBackends()) {
  describe(`CDRs written in a batch: ${backend.name}`, { skip: backend.skip }, () => {
    test('the same CDRs and answers as one event at a time', async () => {
      const results: { changed: boolean[]; cdrs: Cdr[] }[] = [];
      for (const mode of ['one at a time', 'batch'] as const) {
        await withMigratedStore(backend, async (db) => {
          const tenants = createTenantRepository(db);
          const tenant = await tenants.create({ name: 'Acme', sipDomain: 'acme.example' });
          const gone = await tenants.create({ name: 'Gone', sipDomain: 'gone.example' });
          await tenants.delete(gone.id);
          const repo = createCdrRepository(db);
          const batch = events(tenant.id, gone.id);
          const changed: boolean[] = [];
          if (mode === 'batch') changed.push(...(await repo.upsertManyFromEvents(batch)));
          else for (const e of batch) changed.push(await repo.upsertFromEvent(e));
          const cdrs = (await cdrsOf(db, tenant.id)).map((c) => ({ ...c, tenantId: 'acme' }));
          results.push({ changed, cdrs });
        });
      }
      const [one, batch] = results;
      assert.deepEqual(one?.changed, [
        false,
        true,
        false,
        true,
        true,
        false,
        false,
        false,
        true,
        false,
        true,
      ]);
      assert.deepEqual(batch?.changed, one?.changed);
      assert.equal(one?.cdrs.length, 4);
      assert.deepEqual(batch?.cdrs, one?.cdrs);
      assert.deepEqual(
        await createCdrRepository({
          query: async () => ({ rows: [], rowCount: 0 }),
          exec: async () => undefined,
        }).upsertManyFromEvents([]),
        [],
      );
    });

    test('a ringing event whose CDR the same batch wrote with its ringing time is not sent; one whose CDR was there already is', async () => {
      await withMigratedStore(backend, async (db) => {
        const tenant = await createTenantRepository(db).create({ name: 'Acme', sipDomain: 'acme.example' });
        const sent: string[] = [];
        const repo = createCdrRepository({
          query: (sql, params) => {
            sent.push(sql);
            return db.query(sql, params);
          },
          exec: (sql) => db.exec(sql),
        });
        const updates = () => sent.filter((sql) => sql.includes('UPDATE cdrs')).length;
        const at = Date.UTC(2026, 11, 3, 12, 0, 0);
        const call = (callId: string, extra: Partial<CallEvent> = {}): CallEvent => ({
          type: 'ended',
          callId,
          tenantId: tenant.id,
          direction: 'inbound',
          from: 'a',
          to: 'b',
          startedAt: at,
          endedAt: at + 9000,
          ...extra,
        });
        // A short call: its ringing and ended events in one read, the ended one carrying the ringing time.
        assert.deepEqual(
          await repo.upsertManyFromEvents([
            call('short', { type: 'ringing', ringingAt: at + 700 }),
            call('short', { ringingAt: at + 700 }),
          ]),
          [false, true],
        );
        assert.equal(updates(), 0, 'nothing left for the UPDATE to do: not sent');
        assert.equal((await repo.get(tenant.id, 'short'))?.ringingAt?.getTime(), at + 700);
        // Its CDR written before without a ringing time (another worker): the redelivered ended event writes
        // nothing, so its ringing event is still what sets the time.
        await repo.upsertFromEvent(call('late'));
        assert.deepEqual(
          await repo.upsertManyFromEvents([
            call('late', { type: 'ringing', ringingAt: at + 800 }),
            call('late', { ringingAt: at + 800 }),
          ]),
          [true, false],
        );
        assert.equal(updates(), 1);
        assert.equal((await repo.get(tenant.id, 'late'))?.ringingAt?.getTime(), at + 800);
      });
    });

    test('values PostgreSQL refuses fail the whole batch with their SQLSTATE (the writer then goes one by one)', async () => {
      await withMigratedStore(backend, async (db) => {
        const tenant = await createTenantRepository(db).create({ name: 'Acme', sipDomain: 'acme.example' });
        const good: CallEvent = {
          type: 'ended',
          callId: 'ok',
          tenantId: tenant.id,
          direction: 'inbound',
          from: 'a',
          to: 'b',
          startedAt: Date.now(),
        };
        await assert.rejects(
          createCdrRepository(db).upsertManyFromEvents([good, { ...good, callId: 'bad', sipCode: 7 }]),
          (err: unknown) => /^2[23]/.test(String((err as { code?: unknown }).code)),
        );
        assert.equal(await createCdrRepository(db).get(tenant.id, 'ok'), undefined, 'nothing of the batch');
      });
    });
  });
}
