import { performance } from 'node:perf_hooks';
import type { Express, Response } from 'express';
import type { Visit } from './visits.js';

// Every list Datastore returns is a new frozen array, remembered here with how long its query
// took. A page rendered from one of these, the first time, was a miss; a page rendered from
// any other list (or the same one again) got it from a cache. Telling them apart by the list
// itself needs no per-request context (AsyncLocalStorage costs every request about 10%).
const freshFromDatastore = new WeakMap<object, number>();

/** Runs a Datastore query that returns a new list, and remembers the list as fresh. */
export async function timedQuery(
  query: () => Promise<readonly Visit[]>,
): Promise<readonly Visit[]> {
  const startedAt = performance.now();
  const visits = await query();
  freshFromDatastore.set(visits, performance.now() - startedAt);
  return visits;
}

/**
 * Says in a standard `Server-Timing` header where the page's list came from, so hits and
 * misses can be seen from outside (browser dev tools, `curl -i`) without a line of logging in
 * the handler: `datastore;dur=8.2;desc="queried"` for a list fresh from Datastore (the visit
 * was stored too), `cache;desc=hit` for one a cache handed back. It hooks this app's
 * `res.render()` once, rather than adding work to every request.
 */
export function addServerTiming(app: Express): void {
  const render = app.response.render as (this: Response, view: string, ...rest: unknown[]) => void;
  app.response.render = function (this: Response, view: string, ...rest: unknown[]) {
    const visits = (rest[0] as { visits?: object } | undefined)?.visits;
    if (visits) {
      const queryMs = freshFromDatastore.get(visits);
      freshFromDatastore.delete(visits);
      this.setHeader(
        'Server-Timing',
        queryMs === undefined
          ? 'cache;desc=hit'
          : `datastore;dur=${queryMs.toFixed(1)};desc="queried"`,
      );
    }
    render.call(this, view, ...rest);
  } as typeof app.response.render;
}
