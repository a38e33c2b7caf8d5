// The lesson of Modules 12 and 13: a returning visitor is served from the cache, with no
// new Visit and no Datastore query, for an hour; a new visitor refreshes it. Each stage is
// held to what its cache (node-cache, Redis, none) says of it.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import NodeCache from 'node-cache';
import { get } from '@visitme/harness';
import {
  CACHED_STAGES,
  STAGES,
  stagesCaching,
  startStage,
  untilServing,
  useServices,
} from './stages.js';

const HOUR = 3600;
const file = useServices();

const as = (userAgent: string) => ({ 'user-agent': userAgent });

for (const stage of STAGES.filter(({ cache }) => !cache)) {
  describe(stage.name, () => {
    test('has no cache: every GET / stores a Visit, even from the same visitor', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      for (let n = 1; n <= 3; n++) {
        assert.equal((await get(app.url + '/', as('same browser'))).status, 200);
        assert.equal(await app.visitCount(), n);
      }
    });
  });
}

for (const stage of CACHED_STAGES) {
  describe(stage.name, () => {
    test('one visitor, many requests: one Visit; a second visitor: one more', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      const first = await get(app.url + '/', as('alice'));
      assert.match(String(first.headers['server-timing']), /^datastore;/);
      for (let n = 0; n < 5; n++) {
        const again = await get(app.url + '/', as('alice'));
        assert.equal(again.status, 200);
        assert.equal(again.headers['server-timing'], 'cache;desc=hit');
      }
      assert.equal(await app.visitCount(), 1);

      const bob = await get(app.url + '/', as('bob'));
      assert.match(String(bob.headers['server-timing']), /^datastore;/);
      assert.equal(await app.visitCount(), 2);
      // The newest cached visitor is now bob, so alice counts again, as in the codelab.
      await get(app.url + '/', as('alice'));
      assert.equal(await app.visitCount(), 3);
    });

    test('a hit renders byte for byte what the miss before it rendered', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      await get(app.url + '/', as('someone earlier'));
      const miss = await get(app.url + '/', as('carol <b>&</b>'));
      const hit = await get(app.url + '/', as('carol <b>&</b>'));
      assert.match(String(miss.headers['server-timing']), /^datastore;/);
      assert.equal(hit.headers['server-timing'], 'cache;desc=hit');
      assert.equal(hit.body, miss.body);
      assert.equal(hit.headers['content-type'], miss.headers['content-type']);
    });

    test('a returning visitor is served from the cache even while Datastore is down', async (t) => {
      const outage = await file.outage();
      const app = await startStage(stage, { ...file.services, emulator: outage });
      t.after(() => app.close());
      await untilServing(app.url + '/'); // the emulator may just have come back
      const before = await get(app.url + '/', as('dave'));
      assert.equal(before.status, 200);
      await outage.stop();
      const during = await get(app.url + '/', as('dave'));
      assert.equal(during.status, 200);
      assert.equal(during.body, before.body);
      assert.equal((await get(app.url + '/', as('erin'))).status, 503, 'a new visitor');
    });
  });
}

for (const stage of stagesCaching('node-cache')) {
  describe(stage.name, () => {
    test('caches for an hour, and an expired list is a miss', async (t) => {
      const cache = new NodeCache({ useClones: false }); // as the stage makes its own
      const app = await startStage(stage, file.services, { nodeCache: cache });
      t.after(() => app.close());
      const before = Date.now();
      await get(app.url + '/', as('frank'));
      const expiresAt = cache.getTtl('visits');
      assert.ok(expiresAt, 'visits is cached with an expiry');
      assert.ok(expiresAt >= before + HOUR * 1000 && expiresAt <= Date.now() + HOUR * 1000);

      // The hour on node-cache's clock (Date): a hit to its last millisecond, a miss after it.
      t.mock.timers.enable({ apis: ['Date'], now: expiresAt - 1 });
      const lastMoment = await get(app.url + '/', as('frank'));
      assert.equal(lastMoment.headers['server-timing'], 'cache;desc=hit', 'still cached');
      t.mock.timers.setTime(expiresAt + 1);
      const afterExpiry = await get(app.url + '/', as('frank'));
      t.mock.timers.reset();
      assert.match(String(afterExpiry.headers['server-timing']), /^datastore;/, 'expired');
      assert.equal(await app.visitCount(), 2);
    });

    test('node-cache hands out the stored list, uncopied and frozen: no page can change it', async (t) => {
      const cache = new NodeCache({ useClones: false }); // as the stage makes its own
      const app = await startStage(stage, file.services, { nodeCache: cache });
      t.after(() => app.close());
      await get(app.url + '/', as('someone earlier'));
      const miss = await get(app.url + '/', as('judith'));
      const handedOut = cache.get<Array<{ visitor: string; timestamp: Date }>>('visits')!;
      assert.equal(handedOut, cache.get('visits'), 'every get hands out the one stored list');
      assert.ok(Object.isFrozen(handedOut), 'the list is frozen');
      assert.ok(handedOut.every(Object.isFrozen), 'each visit in it is frozen');
      assert.throws(() => (handedOut[0]!.visitor = 'changed'), TypeError);
      assert.throws(() => handedOut.pop(), TypeError);
      const hit = await get(app.url + '/', as('judith'));
      assert.equal(hit.headers['server-timing'], 'cache;desc=hit');
      assert.equal(hit.body, miss.body);
    });

    test('two instances do not share their caches: each stores the same visitor', async (t) => {
      const first = await startStage(stage, file.services);
      t.after(() => first.close());
      const second = await startStage(stage, file.services, { projectId: first.projectId });
      t.after(() => second.close());
      await get(first.url + '/', as('grace'));
      const fromSecond = await get(second.url + '/', as('grace'));
      assert.match(String(fromSecond.headers['server-timing']), /^datastore;/);
      assert.equal(await first.visitCount(), 2);
    });
  });
}

for (const stage of stagesCaching('redis')) {
  describe(stage.name, () => {
    test('caches under "visits" as JSON for an hour (SET visits … EX 3600)', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      const page = await get(app.url + '/', as('heidi'));
      const ttl = await file.redisAdmin.ttl('visits');
      const expiry =
        ttl === -2
          ? 'nothing is cached under "visits"'
          : ttl === -1
            ? 'the key has no expiry'
            : `the key expires in ${ttl} s`;
      assert.ok(ttl > HOUR - 5 && ttl <= HOUR, `${expiry}; expected about ${HOUR} s (HOUR)`);
      const cached = JSON.parse((await file.redisAdmin.get('visits')) ?? 'null');
      assert.equal(cached.length, 1);
      assert.match(cached[0].visitor, /: heidi$/);
      assert.ok(page.body.includes(cached[0].visitor.replace(/^.*: /, '')));

      await file.redisAdmin.expire('visits', 0); // the hour is over: Redis drops the key
      const afterExpiry = await get(app.url + '/', as('heidi'));
      assert.match(String(afterExpiry.headers['server-timing']), /^datastore;/);
      assert.equal(await app.visitCount(), 2);
    });

    test('two instances share one Redis: the second stores nothing for the same visitor', async (t) => {
      const first = await startStage(stage, file.services);
      t.after(() => first.close());
      const second = await startStage(stage, file.services, { projectId: first.projectId });
      t.after(() => second.close());
      const fromFirst = await get(first.url + '/', as('ivan'));
      const fromSecond = await get(second.url + '/', as('ivan'));
      assert.equal(fromSecond.headers['server-timing'], 'cache;desc=hit');
      assert.equal(fromSecond.body, fromFirst.body);
      assert.equal(await first.visitCount(), 1);
    });
  });
}
