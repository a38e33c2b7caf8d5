// Visit entities as another writer may have left them: whatever their properties hold, the
// newest real visits are read, what cannot be shown is skipped or marked, and it is logged once.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { Datastore } from '@google-cloud/datastore';
import { startGate, testEmulator } from '@visitme/harness';
import { UNREADABLE_VISITOR, datastoreVisits } from '../src/index.js';
import { MAX_VISITOR_LENGTH, readVisitEntity } from '../src/visit-entity.js';
import { capturingLog } from './capturing-log.js';

const at = (iso: string) => new Date(iso);

test('readVisitEntity(): a real visit as it is; no real time, skipped; odd visitor, marked', () => {
  const timestamp = at('2026-11-26T05:30:19Z');
  assert.deepEqual(readVisitEntity({ visitor: 'a: b', timestamp }), {
    visit: { visitor: 'a: b', timestamp },
  });
  for (const bad of ['2026-11-26', 1.5, [timestamp], null, undefined, true, { timestamp }]) {
    const reading = readVisitEntity({ visitor: 'a: b', timestamp: bad });
    assert.equal(reading.visit, undefined, `timestamp ${String(bad)}`);
    assert.match(reading.problem ?? '', /^timestamp is .*; skipped$/);
  }
  assert.equal(readVisitEntity({ visitor: 'a', timestamp: new Date(NaN) }).visit, undefined);
  for (const odd of [42, ['a'], { a: 1 }, null, undefined, Buffer.from('x'), timestamp]) {
    const reading = readVisitEntity({ visitor: odd, timestamp });
    assert.deepEqual(reading.visit, { visitor: UNREADABLE_VISITOR, timestamp }, String(odd));
    assert.match(reading.problem ?? '', /^visitor is /);
  }
  // Longer than this app can store (another writer's megabyte), cut, never mid-character.
  const long = readVisitEntity({ visitor: 'x'.repeat(1_000_000), timestamp });
  assert.equal(
    long.visit?.visitor.length,
    MAX_VISITOR_LENGTH + '… (cut at 16384 characters)'.length,
  );
  assert.match(long.problem ?? '', /1000000 characters long/);
  const emoji = readVisitEntity({
    visitor: 'x'.repeat(MAX_VISITOR_LENGTH - 1) + '😀😀',
    timestamp,
  });
  assert.doesNotMatch(
    emoji.visit?.visitor ?? '',
    /[\uD800-\uDBFF](?![\uDC00-\uDFFF])/,
    'no lone surrogate',
  );
  const whole = 'y'.repeat(MAX_VISITOR_LENGTH);
  assert.deepEqual(readVisitEntity({ visitor: whole, timestamp }), {
    visit: { visitor: whole, timestamp },
  });
});

describe('fetchVisits() with poison entities in the emulator', () => {
  let emulator: Awaited<ReturnType<typeof testEmulator>>;
  before(async () => {
    emulator = await testEmulator();
    process.env.METADATA_SERVER_DETECTION = 'none';
  });
  after(() => emulator.stop());

  function store() {
    const projectId = `test-${randomUUID()}`;
    const datastore = new Datastore({ projectId, apiEndpoint: emulator.host });
    const save = (data: Record<string, unknown>) =>
      datastore.save({ key: datastore.key('Visit'), data, excludeFromIndexes: ['visitor'] });
    const queries = countQueries(datastore);
    return { datastore, save, queries, visits: datastoreVisits({ datastore, deadlineMs: 5000 }) };
  }

  /**
   * What a page costs: the queries `datastore` sends (the real emulator answers them), each
   * after `before(sent)`.
   */
  function countQueries(datastore: Datastore, before: (sent: number) => unknown = () => {}) {
    const queries = { sent: 0 };
    const runQuery = datastore.runQuery.bind(datastore) as (...args: unknown[]) => unknown;
    datastore.runQuery = (async (...args: unknown[]) => {
      await before(++queries.sent);
      return runQuery(...args);
    }) as unknown as typeof datastore.runQuery;
    return queries;
  }

  /** Twelve real visits, a second apart, the newest a minute ago. */
  async function realVisits(save: (data: Record<string, unknown>) => Promise<unknown>) {
    const newest = Date.now() - 60_000;
    for (let n = 1; n <= 12; n++) {
      await save({ visitor: `real ${n}`, timestamp: new Date(newest - (12 - n) * 1000) });
    }
    return newest;
  }

  test('no timestamp of another type keeps the ten newest real visits off the page', async () => {
    const { datastore, save, visits } = store();
    const newest = await realVisits(save);
    // Each of these sorts above every real time in a newest-first query on Datastore.
    for (const timestamp of [
      'Thu Nov 26 05:30:19 2026',
      1.5,
      ['x', 'y'],
      true,
      datastore.int('9007199254740993'), // beyond 2^53: the client used to refuse the result
      new Date('9999-12-31T00:00:00Z'), // a time, but not one a visit happened at
      { nested: 'entity' },
      null,
    ]) {
      await save({ visitor: `poison ${JSON.stringify(timestamp)}`, timestamp });
    }
    await save({ visitor: 'poison: no timestamp' });
    // Integers sort among times on Datastore (as microseconds): three of them among the
    // newest ten, so the first read falls short and the query must go on for more.
    for (const offset of [500, 1500, 2500]) {
      const micros = String((newest - offset) * 1000);
      await save({ visitor: `poison int ${offset}`, timestamp: datastore.int(micros) });
    }

    const logged = await capturingLog(() => visits.fetchVisits(10));
    assert.deepEqual(
      logged.result.map(({ visitor }) => visitor),
      [
        'real 12',
        'real 11',
        'real 10',
        'real 9',
        'real 8',
        'real 7',
        'real 6',
        'real 5',
        'real 4',
        'real 3',
      ],
    );
    assert.ok(logged.result.every(({ timestamp }) => timestamp instanceof Date));
    assert.equal(logged.lines.length, 1, JSON.stringify(logged.lines));
    assert.equal(logged.lines[0]?.severity, 'WARNING');
  });

  test('a visit with a real time and an odd visitor is shown, marked or cut', async () => {
    const { datastore, save, visits } = store();
    const base = Date.now() - 60_000;
    const odd = [
      datastore.int('9223372036854775807'),
      ['a', 'b'],
      { nested: 'entity' },
      null,
      undefined,
      1.5,
    ];
    for (const [n, visitor] of odd.entries()) {
      await save({ ...(visitor !== undefined && { visitor }), timestamp: new Date(base + n) });
    }
    await save({ visitor: 'm'.repeat(1_000_000), timestamp: new Date(base + 100) });
    // Another property beyond 2^53: the client used to refuse the whole result for it.
    const extra = datastore.int('9007199254740993');
    await save({ visitor: 'a: b', timestamp: new Date(base + 200), extra });
    const list = await visits.fetchVisits(10);
    assert.equal(list.length, 8);
    assert.deepEqual(list[0], { visitor: 'a: b', timestamp: new Date(base + 200) });
    assert.match(list[1]!.visitor, /^m{16384}… \(cut at 16384 characters\)$/);
    assert.deepEqual(
      list.slice(2).map(({ visitor }) => visitor),
      Array(6).fill(UNREADABLE_VISITOR),
    );
  });

  test('one query a page: fewer visits than the page lists, or clean ones', async () => {
    const { save, queries, visits } = store();
    let saved = 0;
    for (const stored of [0, 3, 12]) {
      for (; saved < stored; saved++) await save({ visitor: 'a: b', timestamp: new Date() });
      queries.sent = 0;
      assert.equal((await visits.fetchVisits(10)).length, Math.min(stored, 10));
      assert.equal(queries.sent, 1, `queries with ${stored} visits stored`);
    }
  });

  test('arrays holding a recent time, any number of them, leave the page ten real visits', async () => {
    // Datastore indexes each element of an array: the query's time bound lets these through,
    // among (here: above) the real visits, and reading them skips them.
    // Batches of 10, 20, 40, 80, then 100 at most: three queries for 35 of them, six for 300.
    for (const [count, queriesSent] of [
      [35, 3],
      [300, 6],
    ] as const) {
      const { datastore, save, queries, visits } = store();
      const newest = Date.now() - 10 * 60_000;
      for (let n = 1; n <= 12; n++) {
        await save({ visitor: `real ${n}`, timestamp: new Date(newest - (12 - n) * 1000) });
      }
      await datastore.save(
        Array.from({ length: count }, (_, n) => ({
          key: datastore.key('Visit'),
          data: { visitor: `poison ${n}`, timestamp: [new Date(Date.now() - n)] },
        })),
      );
      queries.sent = 0;
      const logged = await capturingLog(() => visits.fetchVisits(10));
      assert.deepEqual(
        logged.result.map(({ visitor }) => visitor),
        [12, 11, 10, 9, 8, 7, 6, 5, 4, 3].map((n) => `real ${n}`),
        `${count} arrays`,
      );
      assert.equal(queries.sent, queriesSent, `queries for ${count} arrays`);
      assert.deepEqual(
        logged.lines.map(({ severity }) => severity),
        ['WARNING'],
      );
      assert.match(JSON.stringify(logged.lines[0]?.problems), /timestamp is an array of 1 value;/);
    }
  });

  test('out of time in a later round: the page shows the visits found so far', async (t) => {
    // Datastore behind a gate, held from the second round: hung, as a frozen server would be.
    const gate = await startGate(emulator.port);
    t.after(() => gate.close());
    const projectId = `test-${randomUUID()}`;
    const datastore = new Datastore({ projectId, apiEndpoint: gate.host });
    const entity = (visitor: string, timestamp: unknown) => ({
      key: datastore.key('Visit'),
      data: { visitor, timestamp },
    });
    const now = Date.now();
    await datastore.save([
      ...[1, 2, 3].map((n) => entity(`newest ${n}`, new Date(now - n))),
      ...Array.from({ length: 35 }, (_, n) => entity('poison', [new Date(now - 1000 - n)])),
      ...[1, 2, 3].map((n) => entity(`older ${n}`, new Date(now - 60_000 - n))),
    ]);
    // The second round finds Datastore hung, and runs out of the page's deadline.
    const queries = countQueries(datastore, (sent) => sent === 2 && gate.hold());
    t.after(() => gate.release());
    // Long enough for the first round on a busy emulator: the second waits out the rest.
    const visits = datastoreVisits({ datastore, deadlineMs: 3000 });
    const logged = await capturingLog(() => visits.fetchVisits(10));
    gate.release();
    assert.deepEqual(
      logged.result.map(({ visitor }) => visitor),
      ['newest 1', 'newest 2', 'newest 3'],
    );
    assert.equal(queries.sent, 2);
    assert.deepEqual(
      logged.lines.map(({ severity, message }) => `${String(severity)} ${String(message)}`),
      ['WARNING Some Visit entities cannot be shown as stored; see "problems"'],
    );
  });

  test('one warning while unreadable visits are among the newest, one line when they leave', async () => {
    const { datastore, save, visits } = store();
    await save({ visitor: datastore.int('9007199254740993'), timestamp: new Date() });
    const whileThere = await capturingLog(async () => {
      for (let n = 0; n < 5; n++) await visits.fetchVisits(10);
    });
    assert.deepEqual(
      whileThere.lines.map(({ severity }) => severity),
      ['WARNING'],
    );
    const [warning] = whileThere.lines;
    assert.match(String(warning?.message), /Visit entities/);
    assert.match(
      JSON.stringify(warning?.problems),
      /Visit\/\d+.*visitor is the integer 9007199254740993/,
    );

    for (let n = 0; n < 10; n++) await visits.storeVisit('127.0.0.1', `newer ${n}`);
    const afterwards = await capturingLog(async () => {
      for (let n = 0; n < 5; n++) await visits.fetchVisits(10);
    });
    assert.deepEqual(
      afterwards.lines.map(({ severity, message }) => [severity, message]),
      [['INFO', 'The newest Visit entities read cleanly again']],
    );
  });
});
