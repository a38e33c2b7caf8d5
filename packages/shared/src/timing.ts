import { performance } from 'node:perf_hooks';

/**
 * Where a page says what it cost, in a standard `Server-Timing` header, so that misses can be
 * seen from outside (browser dev tools, `curl -i`): Express's `res`, handed to `fetchVisits()`
 * by the handler. A page whose list came from a Datastore query says
 * `datastore;dur=8.2;desc="queried"`; a cache stage says `cache;desc=hit` itself when it
 * serves its cached list.
 */
export interface ServerTiming {
  set(field: string, value: string): unknown;
}

/** Runs a query, saying on `timing` (when given) how long it took. */
export async function timedQuery<T>(query: () => Promise<T>, timing?: ServerTiming): Promise<T> {
  if (!timing) return query();
  const startedAt = performance.now();
  const result = await query();
  const ms = (performance.now() - startedAt).toFixed(1);
  timing.set('Server-Timing', `datastore;dur=${ms};desc="queried"`);
  return result;
}
