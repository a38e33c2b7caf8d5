// Visit entities another writer left malformed, in each stage's Datastore project: the page
// stays a 200 with the newest real visits, for a new visitor and a returning one (from the
// cache, in the cached stages), and a 503 still means only that Datastore is unreachable.
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { Datastore } from '@google-cloud/datastore';
import { get, listItems } from '@visitme/harness';
import { UNREADABLE_VISITOR } from '@visitme/shared';
import { STAGES, startStage, useServices, type RunningStage } from './stages.js';

const file = useServices();

/** Real visits, then one entity for each poison shape, in the stage's project. */
async function poison(app: RunningStage) {
  const datastore = new Datastore({
    projectId: app.projectId,
    apiEndpoint: file.services.emulator.host,
  });
  const save = (data: Record<string, unknown>) =>
    datastore.save({ key: datastore.key('Visit'), data, excludeFromIndexes: ['visitor'] });
  const now = Date.now();
  for (let n = 1; n <= 12; n++) {
    await save({ visitor: `10.0.0.1: earlier ${n}`, timestamp: new Date(now - 60_000 + n) });
  }
  // Each timestamp sorts above every real time in the newest-first query.
  for (const timestamp of [
    'Thu Nov 26 05:30:19 2026',
    1.5,
    ['a', 'b'],
    datastore.int('9007199254740993'),
  ]) {
    await save({ visitor: 'poison timestamp', timestamp });
  }
  // Real times, odd visitors: shown, marked.
  for (const visitor of [datastore.int('9007199254740993'), ['a'], { nested: 1 }, null]) {
    await save({ visitor, timestamp: new Date(now - 30_000) });
  }
  await save({ visitor: 'm'.repeat(1_000_000), timestamp: new Date(now - 20_000) });
}

for (const stage of STAGES) {
  describe(stage, () => {
    test('poison Visit entities: a 200 with the newest real visits, fresh and cached', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      await poison(app);

      const seen: string[] = []; // this test's visitors, newest first
      for (const [attempt, visitor] of ['first', 'first', 'second', 'second'].entries()) {
        const response = await get(app.url + '/', { 'user-agent': visitor });
        assert.equal(response.status, 200, `request ${attempt + 1}: ${response.body}`);
        // Module 1 stores every request; a cached stage a visitor the cache does not lead with.
        if (stage === 'mod1-baseline' || seen[0] !== visitor) seen.unshift(visitor);
        assert.doesNotMatch(response.body, /poison/);
        const shown = listItems(response.body).map((item) => item.replace(/^.{24} from /s, ''));
        const expected = [
          ...seen.map((name) => new RegExp(`^[^ ]+: ${name}$`)),
          /^m{16384}… \(cut at 16384 characters\)$/,
          ...Array(4).fill(UNREADABLE_VISITOR),
          ...[12, 11, 10, 9, 8].map((n) => `10.0.0.1: earlier ${n}`),
        ].slice(0, 10);
        assert.equal(shown.length, 10);
        for (const [n, want] of expected.entries()) {
          if (want instanceof RegExp) assert.match(shown[n]!, want, `item ${n + 1}`);
          else assert.equal(shown[n], want, `item ${n + 1}`);
        }
      }
      // Module 1 stores every request; the cached stages each visitor once (then a hit).
      const stored = stage === 'mod1-baseline' ? 4 : 2;
      assert.equal(await app.visitCount(), 12 + 4 + 5 + stored);
    });

    test('35 Visit entities whose timestamp is an array holding a recent time: ten visits listed', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      const datastore = new Datastore({
        projectId: app.projectId,
        apiEndpoint: file.services.emulator.host,
      });
      const now = Date.now();
      const entity = (visitor: string, timestamp: unknown) => ({
        key: datastore.key('Visit'),
        data: { visitor, timestamp },
        excludeFromIndexes: ['visitor'],
      });
      // Twelve real visits, the newest ten minutes old; then 35 newer arrays. Datastore indexes
      // each element of an array, so the query's time bound lets these through.
      await datastore.save(
        Array.from({ length: 12 }, (_, n) =>
          entity(`10.0.0.1: earlier ${n + 1}`, new Date(now - 10 * 60_000 - (11 - n) * 1000)),
        ),
      );
      await datastore.save(
        Array.from({ length: 35 }, (_, n) => entity('poison array', [new Date(now - n * 1000)])),
      );

      const seen: string[] = []; // this test's visitors, newest first
      for (const visitor of ['first', 'second', 'third']) {
        const response = await get(app.url + '/', { 'user-agent': visitor });
        assert.equal(response.status, 200, response.body);
        seen.unshift(visitor);
        const shown = listItems(response.body).map((item) => item.replace(/^.{24} from /s, ''));
        assert.doesNotMatch(response.body, /poison/);
        assert.equal(shown.length, 10, `${visitor}: ${JSON.stringify(shown)}`);
        const earlier = [12, 11, 10, 9, 8, 7, 6, 5, 4, 3].map((n) => `10.0.0.1: earlier ${n}`);
        assert.deepEqual(
          shown.slice(seen.length),
          earlier.slice(0, 10 - seen.length),
          `${visitor}: ${JSON.stringify(shown)}`,
        );
        for (const [n, name] of seen.entries()) assert.match(shown[n]!, new RegExp(`: ${name}$`));
      }
    });
  });
}
