// A stage that caches in Redis (Module 13) has a second server that can fail. The cache fails
// open: whatever Redis does, every request gets its page (from Datastore), soon, and caching
// resumes by itself.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, test } from 'node:test';
import { Redis } from 'ioredis';
import { freePort, get, startGate, startRedisServer } from '@visitme/harness';
import { redisFromEnvOf, stagesCaching, startStage, untilServing, useServices } from './stages.js';

// Not a speed check: how long a page may wait on a broken Redis before it is served
// anyway. Module 13 gives each Redis command 250 ms; this is the hang it must never be.
const BOUNDED_MS = 3000;

const file = useServices();

const as = (userAgent: string) => ({ 'user-agent': userAgent });
const hit = 'cache;desc=hit';

/** The app's log entries while `run` runs (it logs JSON lines to stdout and stderr). */
async function logsDuring(
  run: () => Promise<void>,
): Promise<Array<{ severity: string; message: string }>> {
  const lines: string[] = [];
  const originals = { out: process.stdout.write, err: process.stderr.write };
  const capture = (original: typeof process.stdout.write) =>
    function (this: NodeJS.WriteStream, chunk: unknown, ...rest: unknown[]) {
      lines.push(String(chunk));
      return (original as (...args: unknown[]) => boolean).call(this, chunk, ...rest);
    } as typeof process.stdout.write;
  process.stdout.write = capture(originals.out);
  process.stderr.write = capture(originals.err);
  try {
    await run();
  } finally {
    process.stdout.write = originals.out;
    process.stderr.write = originals.err;
  }
  return lines
    .flatMap((chunk) => chunk.split('\n'))
    .filter((line) => line.startsWith('{'))
    .map((line) => JSON.parse(line));
}

/** GETs until the response is a cache hit (caching resumed), or gives up. */
async function untilHit(url: string, userAgent: string, timeoutMs = 15_000) {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    const response = await get(url, as(userAgent));
    assert.equal(response.status, 200);
    if (response.headers['server-timing'] === hit) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  assert.fail('caching did not resume');
}

/**
 * GETs as `userAgent` until a page is a cache hit, at most `attempts` times: how many were
 * misses first. On a busy machine a GET can outlast its 250 ms and be a miss (with a visit).
 */
async function missesUntilHit(url: string, userAgent: string, attempts = 10): Promise<number> {
  for (let misses = 0; misses < attempts; misses++) {
    const response = await get(url, as(userAgent));
    assert.equal(response.status, 200);
    if (response.headers['server-timing'] === hit) return misses;
  }
  assert.fail(`no cache hit in ${attempts} pages`);
}

/**
 * The log lines as `SEVERITY message`, without Redis not answering in time: on a busy machine
 * it can, and that is another kind of trouble, logged on its own lines.
 */
function withoutSlowRedis(logs: Array<{ severity: string; message: string }>): string[] {
  return logs
    .map(({ severity, message }) => `${severity} ${message}`)
    .filter((line) => !/^(WARNING Redis is failing|INFO Redis answers again)/.test(line));
}

for (const stage of stagesCaching('redis')) {
  describe(stage.name, () => {
    test('Redis stopped: every request is still a 200 from Datastore, soon; then it comes back', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      await get(app.url + '/', as('judy'));
      const logs = await logsDuring(async () => {
        await file.services.redis.stop();
        for (let n = 0; n < 5; n++) {
          const startedAt = Date.now();
          const response = await get(app.url + '/', as('judy'));
          assert.equal(response.status, 200);
          assert.match(
            String(response.headers['server-timing']),
            /^datastore;/,
            'no cache, no hit',
          );
          assert.ok(Date.now() - startedAt < BOUNDED_MS);
        }
        assert.equal(await app.visitCount(), 6, 'with no cache, every request stores its visit');

        await file.services.redis.restart();
        await untilHit(app.url + '/', 'judy');
      });
      const failing = logs.filter(({ message }) => message.startsWith('Redis is failing'));
      const resumed = logs.filter(({ message }) => message.startsWith('Redis answers again'));
      assert.equal(failing.length, 1, 'the outage is logged once, not per request');
      assert.equal(failing[0]?.severity, 'WARNING');
      assert.equal(resumed.length, 1, 'and its end once');
    });

    test('Redis hung (answers nothing): still 200s, each within a bounded delay', async (t) => {
      // Redis behind a gate: held, it answers nothing, as a hung server would.
      const gate = await startGate(file.services.redis.port);
      t.after(() => gate.close());
      const redisEnv = { ...file.services.redis.env, REDIS_PORT: String(gate.port) };
      const app = await startStage(stage, file.services, { redisEnv });
      t.after(() => app.close());
      await get(app.url + '/', as('ken'));
      gate.hold();
      t.after(() => gate.release()); // should an assertion fail while it is held
      for (let n = 0; n < 3; n++) {
        const startedAt = Date.now();
        const response = await get(app.url + '/', as('ken'));
        assert.equal(response.status, 200);
        assert.ok(Date.now() - startedAt < BOUNDED_MS, `${Date.now() - startedAt} ms`);
      }
      gate.release();
      await untilHit(app.url + '/', 'ken');
    });

    test('Redis busy (CLIENT PAUSE): the page does not wait for it', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      const pauser = new Redis({ host: file.services.redis.host, port: file.services.redis.port });
      t.after(() => pauser.disconnect());
      await get(app.url + '/', as('lena')); // cached: lena's next page would be a hit
      // Once Redis has said OK, it runs no client's command for 2 s (8 times the app's command
      // timeout); this client's PING, sent next, is answered only when it resumes.
      await pauser.call('CLIENT', 'PAUSE', '2000', 'ALL');
      let resumed = false;
      const ping = pauser.ping().then(() => (resumed = true));
      const startedAt = Date.now();
      const response = await get(app.url + '/', as('lena'));
      assert.equal(response.status, 200);
      // Ordered, not timed: the page came while Redis still ran nothing, so the app did not wait.
      assert.equal(resumed, false, `served before Redis resumed (${Date.now() - startedAt} ms)`);
      assert.match(String(response.headers['server-timing']), /^datastore;/, 'from Datastore');
      await ping;
      await untilHit(app.url + '/', 'lena');
    });

    for (const [what, garbage] of [
      ['not JSON', 'pickle.dumps(visits)'],
      ['JSON of the wrong shape', JSON.stringify({ visits: [] })],
      ['visits with a bad timestamp', JSON.stringify([{ visitor: 'x', timestamp: 'yesterday' }])],
      ['visits without a visitor', JSON.stringify([{ timestamp: new Date().toISOString() }])],
    ]) {
      test(`something else under "visits" (${what}) is a miss, and is overwritten`, async (t) => {
        const app = await startStage(stage, file.services);
        t.after(() => app.close());
        await file.redisAdmin.set('visits', garbage!, 'EX', 3600);
        const response = await get(app.url + '/', as('mallory'));
        assert.equal(response.status, 200);
        assert.match(String(response.headers['server-timing']), /^datastore;/);
        const cached = JSON.parse((await file.redisAdmin.get('visits')) ?? 'null');
        assert.match(cached[0].visitor, /: mallory$/);
        assert.equal((await get(app.url + '/', as('mallory'))).headers['server-timing'], hit);
      });
    }

    test('a wrong type under "visits" (a Redis list) is a miss too, and is overwritten', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      await file.redisAdmin.rpush('visits', 'a', 'b');
      assert.equal((await get(app.url + '/', as('nina'))).status, 200);
      assert.equal(await file.redisAdmin.type('visits'), 'string');
      assert.equal((await get(app.url + '/', as('nina'))).headers['server-timing'], hit);
    });

    // Another writer keeps putting something else under "visits" between pages: each kind of
    // trouble is one warning when it starts and one line when it ends, not one per page.
    for (const [what, spoil, warning, ending] of [
      [
        'garbage',
        () => file.redisAdmin.set('visits', 'pickle.dumps(visits)'),
        'WARNING The cache holds something this app did not write; treating it as a miss',
        'INFO The cache holds visits again',
      ],
      [
        'a wrong type',
        () => file.redisAdmin.multi().del('visits').rpush('visits', 'a').exec(),
        'WARNING Redis refuses GET; serving from Datastore without it',
        'INFO Redis accepts GET again',
      ],
    ] as const) {
      test(`${what} under "visits" before every page: logged once, and its end once`, async (t) => {
        const app = await startStage(stage, file.services);
        t.after(() => app.close());
        const pages = 10;
        const logs = await logsDuring(async () => {
          for (let n = 0; n < pages; n++) {
            await spoil();
            const response = await get(app.url + '/', as('oliver'));
            assert.equal(response.status, 200);
            assert.match(String(response.headers['server-timing']), /^datastore;/, `page ${n}`);
          }
          await missesUntilHit(app.url + '/', 'oliver');
        });
        assert.deepEqual(withoutSlowRedis(logs), [warning, ending], `${pages} pages`);
      });
    }

    /** A returning visitor's second page is a cache hit, with Redis reached through `redisEnv`. */
    async function assertCachesWith(redisEnv: NodeJS.ProcessEnv, visitor: string) {
      const app = await startStage(stage, file.services, { redisEnv });
      try {
        await get(app.url + '/', as(visitor));
        assert.equal((await get(app.url + '/', as(visitor))).headers['server-timing'], hit);
      } finally {
        await app.close();
      }
    }

    test('AUTH: with REDIS_PASSWORD the cache works; without it, pages are still served', async () => {
      const secured = await startRedisServer({ password: 'memorystore-auth-string' });
      try {
        await assertCachesWith(secured.env, 'oscar');
        const { REDIS_PASSWORD: _, ...withoutPassword } = secured.env;
        const locked = await startStage(stage, file.services, { redisEnv: withoutPassword });
        try {
          for (let n = 0; n < 2; n++) {
            const response = await get(locked.url + '/', as('peggy'));
            assert.equal(response.status, 200);
            assert.notEqual(response.headers['server-timing'], hit);
          }
        } finally {
          await locked.close();
        }
      } finally {
        await secured.stop();
      }
    });

    test('TLS: with REDIS_TLS_CA (in-transit encryption) the cache works', async () => {
      const encrypted = await startRedisServer({ tls: true, password: 'auth-and-tls' });
      try {
        assert.ok(encrypted.env.REDIS_TLS_CA);
        await assertCachesWith(encrypted.env, 'quinn');
        // Plain text to a TLS-only port: no cache, but the page is served.
        const { REDIS_TLS_CA: _, ...plain } = encrypted.env;
        const confused = await startStage(stage, file.services, { redisEnv: plain });
        try {
          assert.equal((await get(confused.url + '/', as('rupert'))).status, 200);
        } finally {
          await confused.close();
        }
      } finally {
        await encrypted.stop();
      }
    });

    test('a Redis that was never there: pages are served from the first request on', async (t) => {
      const app = await startStage(stage, file.services, {
        redisEnv: { REDIS_HOST: '127.0.0.1', REDIS_PORT: String(await freePort()) },
      });
      t.after(() => app.close());
      for (let n = 0; n < 3; n++) assert.equal((await get(app.url + '/', as('sybil'))).status, 200);
    });

    test('a REDIS_PORT that is not a decimal port is refused at start, naming it', async () => {
      const fromEnv = await redisFromEnvOf(stage);
      for (const port of ['YOUR_REDIS_PORT', 'abc', '0x1f', '', '0', '65536']) {
        assert.throws(
          () => fromEnv({ REDIS_HOST: '10.0.0.3', REDIS_PORT: port }),
          (error: Error) =>
            error.message ===
            `REDIS_PORT must be a decimal port number from 1 to 65535; it is "${port}"`,
          `redisFromEnv() must refuse REDIS_PORT="${port}", saying it must be a decimal port number`,
        );
      }
    });

    test('a REDIS_TLS_CA that cannot be read is refused at start, naming it', async () => {
      const fromEnv = await redisFromEnvOf(stage);
      assert.throws(
        () => fromEnv({ REDIS_HOST: '10.0.0.3', REDIS_TLS_CA: '/nonexistent/server-ca.pem' }),
        /^Error: REDIS_TLS_CA names a file that cannot be read: "\/nonexistent\/server-ca\.pem" \(ENOENT\)$/,
      );
    });

    test('a REDIS_TLS_CA that holds no certificate is refused at start, naming it', async (t) => {
      const fromEnv = await redisFromEnvOf(stage);
      const folder = mkdtempSync(join(tmpdir(), 'visitme-not-a-ca-'));
      t.after(() => rmSync(folder, { recursive: true, force: true }));
      const file = join(folder, 'server-ca.pem');
      // What the README's `gcloud redis instances describe … > server-ca.pem` leaves for an
      // instance created without in-transit encryption: no certificate to print, an empty line.
      writeFileSync(file, '\n');
      assert.throws(() => fromEnv({ REDIS_HOST: '10.0.0.3', REDIS_TLS_CA: file }), {
        message: `REDIS_TLS_CA names a file that holds no PEM certificate: "${file}" (one begins "-----BEGIN CERTIFICATE-----")`,
      });
    });

    // Redis answers GET but refuses SET: an ACL without `set`, or `maxmemory` reached with
    // `noeviction`. Each page is a miss that tries to SET; the trouble is still one warning.
    for (const [what, refuse, allow] of [
      [
        'an ACL without set',
        ['ACL', 'SETUSER', 'default', '-set'],
        ['ACL', 'SETUSER', 'default', '+set'],
      ],
      [
        'maxmemory reached (noeviction)',
        ['CONFIG', 'SET', 'maxmemory', '1'],
        ['CONFIG', 'SET', 'maxmemory', '0'],
      ],
    ] as const) {
      test(`SET refused (${what}): one warning for any number of pages, one line when it works again`, async (t) => {
        const redis = await startRedisServer();
        t.after(() => redis.stop());
        const admin = new Redis({ host: redis.host, port: redis.port });
        t.after(() => admin.disconnect());
        await admin.call('CONFIG', 'SET', 'maxmemory-policy', 'noeviction');
        const app = await startStage(stage, file.services, { redisEnv: redis.env });
        t.after(() => app.close());
        const pages = 25;
        let trentMisses = 0;
        const logs = await logsDuring(async () => {
          await admin.call(refuse[0], ...refuse.slice(1));
          for (let n = 0; n < pages; n++) {
            const response = await get(app.url + '/', as(`visitor ${n % 2}`));
            assert.equal(response.status, 200);
            assert.match(String(response.headers['server-timing']), /^datastore;/, `page ${n}`);
          }
          await admin.call(allow[0], ...allow.slice(1));
          trentMisses = await missesUntilHit(app.url + '/', 'trent');
        });
        const visits = await app.visitCount();
        assert.equal(visits, pages + trentMisses, `every refused page stored its visit: ${visits}`);
        assert.ok(trentMisses >= 1, 'the first page once SET works is a miss');
        assert.deepEqual(
          withoutSlowRedis(logs),
          [
            'WARNING Redis refuses SET; serving from Datastore without it',
            'INFO Redis accepts SET again',
          ],
          `${pages} pages with SET refused`,
        );
      });
    }

    test('100,000 valid visits under "visits" are a miss, and are replaced by the ten newest', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      const visit = { visitor: '203.0.113.9: someone else', timestamp: new Date().toISOString() };
      const value = JSON.stringify(Array.from({ length: 100_000 }, () => visit));
      await file.redisAdmin.set('visits', value, 'EX', 3600);
      const response = await get(app.url + '/', as('wendy'));
      assert.equal(response.status, 200);
      const timing = String(response.headers['server-timing']);
      assert.match(timing, /^datastore;/, `a ${value.length}-character value: ${timing}`);
      const cached = JSON.parse((await file.redisAdmin.get('visits')) ?? 'null');
      assert.equal(cached.length, 1, 'replaced by what Datastore holds: one visit');
      assert.equal((await get(app.url + '/', as('wendy'))).headers['server-timing'], hit);
    });

    // A value so large that reading it outlasts the command timeout. Redis copies the whole reply
    // into the connection's output buffer for every GET; a client that stopped waiting but kept the
    // connection would let those copies pile up (2.3 GB after 22 pages), and a skipped SET would
    // leave the value there for good.
    test('a 100 MB value under "visits" is replaced within a few pages; Redis memory stays bounded', async (t) => {
      const redis = await startRedisServer(); // its own, so its memory is this test's alone
      t.after(() => redis.stop());
      const admin = new Redis({ host: redis.host, port: redis.port });
      t.after(() => admin.disconnect());
      // Should the app regress, Redis cuts a client whose pending replies pass 1 GB: the test then
      // fails on its figures instead of exhausting the machine.
      await admin.call('CONFIG', 'SET', 'client-output-buffer-limit', 'normal 1gb 1gb 0');
      const size = 100 * 1024 * 1024;
      const app = await startStage(stage, file.services, { redisEnv: redis.env });
      t.after(() => app.close());
      await untilServing(app.url + '/'); // Datastore answering, so that only Redis is on trial
      await admin.setrange('visits', size - 1, 'x'); // made by Redis itself: nothing to upload

      const MB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
      const memory = async (field: string) =>
        Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(await admin.info('memory'))?.[1]);
      const rounds = 8;
      const concurrent = 4; // pages at once, on the app's one Redis connection
      const figures: string[] = [];
      let replacedInRound: number | undefined;
      const usedAfterRound: number[] = [];
      let last: Array<{ status: number; timing: string }> = [];
      for (let round = 1; round <= rounds; round++) {
        const startedAt = Date.now();
        const responses = await Promise.all(
          Array.from({ length: concurrent }, () => get(app.url + '/', as('victor'))),
        );
        const ms = Date.now() - startedAt;
        last = responses.map(({ status, headers }) => ({
          status,
          timing: String(headers['server-timing']),
        }));
        for (const { status } of last) assert.equal(status, 200, `round ${round}`);
        const length = await admin.strlen('visits');
        if (replacedInRound === undefined && length < size) replacedInRound = round;
        usedAfterRound.push(await memory('used_memory'));
        figures.push(
          `round ${round}: ${ms} ms, value ${length} bytes, used_memory ${MB(usedAfterRound.at(-1)!)}`,
        );
      }
      const peak = await memory('used_memory_peak');
      const final = await memory('used_memory');
      t.diagnostic(`${figures.join('; ')}; peak ${MB(peak)}`);
      assert.ok(
        replacedInRound !== undefined && replacedInRound <= 2,
        `replaced in round ${replacedInRound} of ${concurrent} pages each; ${figures.join('; ')}`,
      );
      // The value itself, plus one reply's copy for each page that read it at once: never more,
      // however many pages come.
      assert.ok(
        peak < size * (concurrent + 1.5),
        `used_memory_peak ${MB(peak)} for a ${MB(size)} value; ${figures.join('; ')}`,
      );
      // No copy outlives the round after it: the connection that held them was dropped.
      for (const [index, used] of usedAfterRound.slice(1).entries()) {
        assert.ok(used < 16 * 1024 * 1024, `round ${index + 2}: used_memory ${MB(used)}`);
      }
      assert.ok(final < 16 * 1024 * 1024, `used_memory ${MB(final)} once replaced`);
      // Parsing the late 100 MB replies can keep the app's Redis calls timing out for a while on
      // a busy machine (each such page is a miss); the cache must then work again by itself.
      const misses = await missesUntilHit(app.url + '/', 'victor', 100);
      t.diagnostic(
        `last round: ${last.map(({ timing }) => timing).join(', ')}; then ${misses} misses`,
      );
    });

    // With Datastore down no page gets as far as the SET, so the value stays. Each GET makes Redis
    // copy it; the connection is dropped when a GET sent after the first timeout fails, so at most
    // two rounds of pages hold copies at once, however many rounds come.
    test('a 100 MB value while Datastore is down: no SET can replace it, and Redis memory stays bounded', async (t) => {
      const redis = await startRedisServer();
      t.after(() => redis.stop());
      const admin = new Redis({ host: redis.host, port: redis.port });
      t.after(() => admin.disconnect());
      await admin.call('CONFIG', 'SET', 'client-output-buffer-limit', 'normal 1gb 1gb 0');
      const size = 100 * 1024 * 1024;
      await admin.setrange('visits', size - 1, 'x');
      const outage = await file.outage();
      const app = await startStage(
        stage,
        { ...file.services, emulator: outage },
        {
          redisEnv: redis.env,
          deadlineMs: 300,
        },
      );
      t.after(() => app.close());
      await outage.stop();
      const MB = (bytes: number) => `${(bytes / 1024 / 1024).toFixed(1)} MB`;
      const memory = async (field: string) =>
        Number(new RegExp(`^${field}:(\\d+)`, 'm').exec(await admin.info('memory'))?.[1]);
      const concurrent = 4;
      const figures: string[] = [];
      const statuses = new Map<number, number>();
      for (let round = 1; round <= 12; round++) {
        const responses = await Promise.all(
          Array.from({ length: concurrent }, (_, n) =>
            get(app.url + '/', as(`visitor ${round}-${n}`)),
          ),
        );
        for (const { status } of responses) statuses.set(status, (statuses.get(status) ?? 0) + 1);
        figures.push(`round ${round}: used_memory ${MB(await memory('used_memory'))}`);
      }
      const peak = await memory('used_memory_peak');
      t.diagnostic(`${[...statuses].join(' ')}; ${figures.join('; ')}; peak ${MB(peak)}`);
      assert.deepEqual([...statuses.keys()], [503], 'Datastore is down');
      assert.ok(
        peak < size * (2 * concurrent + 1.5),
        `used_memory_peak ${MB(peak)} for a ${MB(size)} value; ${figures.join('; ')}`,
      );
    });
  });
}
