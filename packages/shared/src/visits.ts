import { Datastore, type DatastoreOptions } from '@google-cloud/datastore';
import { log } from './log.js';
import { timedQuery, type ServerTiming } from './timing.js';
import { outageCalls } from './troubles.js';
import { newestVisitsQuery, type Visit } from './visit-entity.js';

export type { Visit };

/** The codelab's `store_visit()` and `fetch_visits()`, as one replaceable unit. */
export interface VisitStore {
  storeVisit(remoteAddr: string, userAgent: string): Promise<void>;
  /**
   * The newest `limit` visits, newest first, frozen: no page can change them, so a cache can
   * hand the same list to every page. With `timing` (the page's `res`), says in its
   * `Server-Timing` header what the query took.
   */
  fetchVisits(limit: number, timing?: ServerTiming): Promise<readonly Visit[]>;
}

/** Datastore did not answer in time or refused the call: the visit list cannot be served. */
export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

export interface DatastoreVisitsOptions {
  /** An existing client; by default one is made from the environment. */
  datastore?: Datastore;
  /** The most one call (with its retries) may take before the request fails. */
  deadlineMs?: number;
}

export const DEFAULT_DEADLINE_MS = 5000;

/** The project to use: the environment's, else a harmless local one when on the emulator. */
export function datastoreProjectId(env = process.env): string | undefined {
  const configured = env.DATASTORE_PROJECT_ID ?? env.GOOGLE_CLOUD_PROJECT;
  if (configured) return configured;
  return env.DATASTORE_EMULATOR_HOST ? 'visitme-local' : undefined;
}

/** A Datastore client for the environment's project (or `options`), quick to recover. */
export function datastoreClient(options: DatastoreOptions = {}): Datastore {
  return new Datastore({
    projectId: datastoreProjectId(),
    // The emulator needs no credentials, but the auth library would still probe for Google's
    // metadata server to learn the "universe domain", and print a MetadataLookupWarning when
    // it is not there. Naming the universe (Google's own) leaves nothing to probe for.
    ...(process.env.DATASTORE_EMULATOR_HOST && { universeDomain: 'googleapis.com' }),
    // gRPC waits ever longer between reconnects (up to two minutes by default): after a long
    // outage the app would keep failing long after Datastore is back. Retry every 2 s at most.
    'grpc.max_reconnect_backoff_ms': 2000,
    ...options,
  } as DatastoreOptions);
}

export function datastoreVisits(options: DatastoreVisitsOptions = {}): VisitStore {
  const datastore = options.datastore ?? datastoreClient();
  // `timeout` bounds the whole call, gax's retries included, so a dead or hung
  // Datastore fails the request in seconds instead of the library's default minute.
  const gaxOptions = { timeout: options.deadlineMs ?? DEFAULT_DEADLINE_MS };
  const newestVisits = newestVisitsQuery(datastore, gaxOptions);
  const unavailableOnFailure = datastoreCalls();

  return {
    async storeVisit(remoteAddr, userAgent) {
      const entity = {
        key: datastore.key('Visit'),
        data: { visitor: `${remoteAddr}: ${userAgent}`, timestamp: new Date() },
        // Datastore refuses indexed strings over 1,500 bytes, and user agents can be longer.
        excludeFromIndexes: ['visitor'],
      };
      await unavailableOnFailure(() => datastore.save(entity, gaxOptions));
    },

    async fetchVisits(limit, timing) {
      const visits = await unavailableOnFailure(() =>
        timedQuery(() => newestVisits(limit), timing),
      );
      return Object.freeze(visits.map((visit) => Object.freeze(visit)));
    },
  };
}

/** Calls to Datastore: a failure is a StoreUnavailableError, and an outage is logged once. */
function datastoreCalls() {
  const call = outageCalls({
    severity: 'ERROR',
    starts: 'Datastore is unavailable; answering 503 until it answers again',
    ends: 'Datastore answers again',
  });
  return async <T>(send: () => Promise<T>): Promise<T> => {
    try {
      return await call(send);
    } catch (error) {
      throw new StoreUnavailableError('Datastore call failed', { cause: error });
    }
  };
}

/**
 * Keeps visits in this process only. For trying the page where no Datastore emulator can
 * run; it says so loudly, and nothing that tests the Datastore path uses it.
 */
export function memoryVisits(): VisitStore {
  const visits: Visit[] = [];
  const kept = 1000; // a fallback for trying the page, not a database: bound its memory
  log('WARNING', 'Visits are kept in memory only: they vanish when the process stops.');
  return {
    async storeVisit(remoteAddr, userAgent) {
      visits.unshift(
        Object.freeze({ visitor: `${remoteAddr}: ${userAgent}`, timestamp: new Date() }),
      );
      visits.length = Math.min(visits.length, kept);
    },
    async fetchVisits(limit, timing) {
      return timedQuery(async () => Object.freeze(visits.slice(0, limit)), timing);
    },
  };
}

/** The store the environment asks for: Datastore, unless `VISITME_STORE=memory`. */
export function visitsFromEnv(env = process.env): VisitStore {
  return env.VISITME_STORE === 'memory' ? memoryVisits() : datastoreVisits();
}
