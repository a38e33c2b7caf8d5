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
  });
}
