import { AsyncLocalStorage } from 'node:async_hooks';
import { performance } from 'node:perf_hooks';
import type { RequestHandler } from 'express';
import onHeaders from 'on-headers';

export type DatastoreCall = 'write' | 'query';

interface RequestWork {
  write: number;
  query: number;
  datastoreMs: number;
}

const currentRequest = new AsyncLocalStorage<RequestWork>();

/** Counts a Datastore call, and its time, against the request it serves. */
export async function timedDatastoreCall<T>(
  kind: DatastoreCall,
  call: () => Promise<T>,
): Promise<T> {
  const work = currentRequest.getStore();
  const startedAt = performance.now();
  try {
    return await call();
  } finally {
    if (work) {
      work[kind] += 1;
      work.datastoreMs += performance.now() - startedAt;
    }
  }
}

const counted = (n: number, one: string, many: string) => `${n} ${n === 1 ? one : many}`;

/**
 * Says in a standard `Server-Timing` header what a request cost, so hits and misses can be
 * seen from outside (browser dev tools, `curl -i`) without a line of logging in the handler:
 * `datastore;dur=8.2;desc="1 write, 1 query"` when it used Datastore, `cache;desc=hit` when a
 * page was served without it.
 */
export const serverTiming: RequestHandler = (_req, res, next) => {
  const work: RequestWork = { write: 0, query: 0, datastoreMs: 0 };
  onHeaders(res, () => {
    if (work.write + work.query > 0) {
      const calls = `${counted(work.write, 'write', 'writes')}, ${counted(work.query, 'query', 'queries')}`;
      res.setHeader(
        'Server-Timing',
        `datastore;dur=${work.datastoreMs.toFixed(1)};desc="${calls}"`,
      );
    } else if (res.statusCode === 200) {
      res.setHeader('Server-Timing', 'cache;desc=hit');
    }
  });
  currentRequest.run(work, next);
};
