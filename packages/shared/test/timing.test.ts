import assert from 'node:assert/strict';
import { test } from 'node:test';
import express from 'express';
import { get, listen } from '@visitme/harness';
import { memoryVisits } from '../src/visits.js';

test("Server-Timing: a page that queried says so and what it took, on that page's response only", async (t) => {
  const { fetchVisits } = memoryVisits();
  const app = express();
  app.get('/query', async (_req, res) => {
    await new Promise((resolve) => setTimeout(resolve, 20)); // other pages start meanwhile
    res.json(await fetchVisits(10, res));
  });
  app.get('/cached', async (_req, res) => {
    await new Promise((resolve) => setTimeout(resolve, 10));
    res.set('Server-Timing', 'cache;desc=hit').json([]);
  });
  app.get('/plain', (_req, res) => {
    res.json([]);
  });
  const server = await listen(app);
  t.after(() => server.close());

  const paths = Array.from({ length: 30 }, (_, n) => ['/query', '/cached', '/plain'][n % 3]!);
  const responses = await Promise.all(paths.map((path) => get(server.url + path)));
  for (const [n, response] of responses.entries()) {
    const timing = response.headers['server-timing'];
    if (paths[n] === '/query')
      assert.match(String(timing), /^datastore;dur=\d+\.\d;desc="queried"$/);
    if (paths[n] === '/cached') assert.equal(timing, 'cache;desc=hit');
    if (paths[n] === '/plain') assert.equal(timing, undefined);
  }
});

test('a query given nowhere to say its timing is just a query', async () => {
  const { storeVisit, fetchVisits } = memoryVisits();
  await storeVisit('127.0.0.1', 'x');
  assert.equal((await fetchVisits(10)).length, 1);
});
