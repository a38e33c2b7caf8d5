import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Datastore } from '@google-cloud/datastore';
import { startGate, testEmulator } from '@visitme/harness';
import { datastoreVisits, type Visit } from '../src/index.js';
import { StoreUnavailableError, datastoreProjectId, memoryVisits } from '../src/visits.js';
import { capturingLog } from './capturing-log.js';

test('the project comes from the environment, with a local default on the emulator', () => {
  assert.equal(datastoreProjectId({ DATASTORE_PROJECT_ID: 'a', GOOGLE_CLOUD_PROJECT: 'b' }), 'a');
  assert.equal(datastoreProjectId({ GOOGLE_CLOUD_PROJECT: 'b' }), 'b');
  assert.equal(datastoreProjectId({ DATASTORE_EMULATOR_HOST: 'localhost:8081' }), 'visitme-local');
  // On Google Cloud with nothing set, the client library finds the project itself.
  assert.equal(datastoreProjectId({}), undefined);
});

describe('datastoreVisits() against the Datastore emulator', () => {
  let emulator: Awaited<ReturnType<typeof testEmulator>>;
  before(async () => {
    emulator = await testEmulator();
    process.env.METADATA_SERVER_DETECTION = 'none';
  });
  after(() => emulator.stop());

  function store(projectId = `test-${randomUUID()}`) {
    const datastore = new Datastore({ projectId, apiEndpoint: emulator.host });
    return { projectId, datastore, visits: datastoreVisits({ datastore }) };
  }

  test('stores Visit entities with the original property names', async () => {
    const { datastore, visits } = store();
    const before = Date.now();
    await visits.storeVisit('203.0.113.9', 'Mozilla/5.0');
    const [[entity]] = await datastore.runQuery(datastore.createQuery('Visit'));
    assert.equal(entity.visitor, '203.0.113.9: Mozilla/5.0');
    assert.ok(entity.timestamp instanceof Date);
    assert.ok(entity.timestamp.getTime() >= before && entity.timestamp.getTime() <= Date.now());
    assert.deepEqual(Object.keys(entity).sort(), ['timestamp', 'visitor']);
  });

  test('fetchVisits(limit) returns the newest `limit`, newest first, as plain objects', async () => {
    const { visits } = store();
    for (let n = 1; n <= 5; n++) await visits.storeVisit('127.0.0.1', `agent ${n}`);
    const newest = await visits.fetchVisits(3);
    assert.deepEqual(
      newest.map(({ visitor }) => visitor),
      ['127.0.0.1: agent 5', '127.0.0.1: agent 4', '127.0.0.1: agent 3'],
    );
    assert.ok(newest.every(({ timestamp }) => timestamp instanceof Date));
    assert.deepEqual(Object.getOwnPropertySymbols(newest[0]), [], 'no Datastore key attached');
    assert.deepEqual(JSON.parse(JSON.stringify(newest))[0], {
      visitor: '127.0.0.1: agent 5',
      timestamp: newest[0]?.timestamp.toISOString(),
    });
    assertFrozen(newest); // a cache can hand the same list to every page
  });

  test('a visitor longer than 1,500 bytes (the indexed-string limit) is stored whole', async () => {
    const { projectId, visits } = store();
    const userAgent = 'é'.repeat(1500); // 3,000 bytes in UTF-8
    await visits.storeVisit('127.0.0.1', userAgent);
    const [visit] = await visits.fetchVisits(10);
    assert.equal(visit?.visitor, `127.0.0.1: ${userAgent}`);
    assert.equal(await emulator.count(projectId, 'Visit'), 1);
  });

  test('an unreachable Datastore is a StoreUnavailableError carrying the cause', async () => {
    const datastore = new Datastore({ projectId: 'nowhere', apiEndpoint: '127.0.0.1:9' });
    const visits = datastoreVisits({ datastore, deadlineMs: 1000 });
    const { lines } = await capturingLog(async () => {
      await assert.rejects(visits.storeVisit('127.0.0.1', 'x'), (error: Error) => {
        assert.ok(error instanceof StoreUnavailableError);
        assert.match(String((error.cause as Error).message), /UNAVAILABLE|ECONNREFUSED/);
        return true;
      });
      await assert.rejects(visits.fetchVisits(10), StoreUnavailableError);
    });
    assert.deepEqual(
      lines.map(({ severity }) => severity),
      ['ERROR'],
      'one line for the outage, not one per call',
    );
  });

  test('a Datastore outage is logged once when it starts and once when it ends', async (t) => {
    // Datastore behind a gate: held, it answers nothing, as a hung server would.
    const gate = await startGate(emulator.port);
    t.after(() => gate.close());
    const datastore = new Datastore({ projectId: `test-${randomUUID()}`, apiEndpoint: gate.host });
    // Long enough for a call to a busy emulator, short enough to wait out twice.
    const visits = datastoreVisits({ datastore, deadlineMs: 3000 });
    await visits.storeVisit('127.0.0.1', 'before');
    t.after(() => gate.release());
    const { lines } = await capturingLog(async () => {
      gate.hold(); // hung: every call runs out of its deadline
      await assert.rejects(visits.storeVisit('127.0.0.1', 'during'), StoreUnavailableError);
      await assert.rejects(visits.fetchVisits(10), StoreUnavailableError);
      gate.release();
      // Until one call succeeds: a busy machine may take a while to deliver what waited.
      let back = false;
      for (let attempt = 0; attempt < 20 && !back; attempt++) {
        back = await visits.fetchVisits(10).then(
          () => true,
          () => false,
        );
      }
      assert.ok(back, 'Datastore answers again');
    });
    assert.deepEqual(
      lines.map(({ severity, message }) => `${String(severity)} ${String(message)}`),
      [
        'ERROR Datastore is unavailable; answering 503 until it answers again',
        'INFO Datastore answers again',
      ],
    );
    assert.match(String(lines[0]?.error), /DEADLINE_EXCEEDED|deadline/i);
  });
});

test('memoryVisits() keeps the same interface: newest first, frozen lists', async () => {
  const visits = memoryVisits();
  await visits.storeVisit('127.0.0.1', 'one');
  await visits.storeVisit('127.0.0.1', 'two');
  const list = await visits.fetchVisits(10);
  assert.deepEqual(
    list.map(({ visitor }) => visitor),
    ['127.0.0.1: two', '127.0.0.1: one'],
  );
  assertFrozen(list);
  await visits.storeVisit('127.0.0.1', 'three');
  assert.equal(list.length, 2, 'a list handed out stays as it was');
  assert.equal((await visits.fetchVisits(1))[0]?.visitor, '127.0.0.1: three');
});

/** No caller can change the list or a visit in it (strict mode: a change throws). */
function assertFrozen(list: readonly Visit[]) {
  assert.ok(list.length > 0);
  assert.throws(() => (list as Visit[]).pop(), TypeError);
  assert.throws(() => ((list as Visit[])[0] = list[1]!), TypeError);
  assert.throws(() => ((list[0] as { visitor: string }).visitor = 'changed'), TypeError);
  assert.throws(() => Object.assign(list[0]!, { admin: true }), TypeError);
}
