import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { Express, Response } from 'express';

// The response each request is building, so that a query deep in the Visit store can say on
// it what it cost, without the handler passing the response down.
const responses = new AsyncLocalStorage<Response>();

/**
 * Lets this app's pages say in a standard `Server-Timing` header what they cost, so misses
 * can be seen from outside (browser dev tools, `curl -i`): a page whose list came from a
 * Datastore query says `datastore;dur=8.2;desc="queried"`. A cache stage says
 * `cache;desc=hit` itself when it serves its cached list.
 */
export function addServerTiming(app: Express): void {
  app.use((_req, res, next) => responses.run(res, next));
}

/** Runs a query for the current page, noting on its response how long the query took. */
export async function timedQuery<T>(query: () => Promise<T>): Promise<T> {
  const startedAt = performance.now();
  const result = await query();
  const ms = (performance.now() - startedAt).toFixed(1);
  const res = responses.getStore();
  if (res && !res.headersSent) res.set('Server-Timing', `datastore;dur=${ms};desc="queried"`);
  return result;
}
