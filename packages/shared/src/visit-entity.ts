import { Datastore, PropertyFilter, type Entity } from '@google-cloud/datastore';
import { log } from './log.js';

/** A `Visit` entity: the same kind and property names as the Python original. */
export interface Visit {
  readonly visitor: string;
  readonly timestamp: Date;
}

/**
 * The longest visitor a page shows whole. This app cannot store a longer one (Node refuses
 * request headers over 16 KiB with a 431), but another writer can store up to a megabyte.
 */
export const MAX_VISITOR_LENGTH = 16_384;

/** Shown in place of a `visitor` that is not text. */
export const UNREADABLE_VISITOR = '(unreadable visitor)';

// A visit is never stored later than now. Instances' clocks agree to well within this; a
// timestamp further ahead (another writer's mistake) would otherwise head the list until then.
const CLOCK_SKEW_MS = 5 * 60_000;

// Rounds of the query when entities had to be skipped: each asks for as many as are missing.
const MAX_ROUNDS = 3;

/** What became of one entity: the visit to show (if any) and what was wrong with it. */
export interface EntityReading {
  visit?: Visit;
  problem?: string;
}

/**
 * Turns a `Visit` entity, as decoded with `wrapNumbers` (so no integer can make the client
 * throw), into a visit the page can show. Another writer may have put anything in either
 * property. A visit without a real `timestamp` cannot be placed among the newest: it is
 * skipped. A visit with a real time but a `visitor` that is not text still happened: it is
 * shown with a mark, and a visitor longer than any this app stores is shown cut.
 */
export function readVisitEntity(entity: Entity): EntityReading {
  const { visitor, timestamp } = entity as Record<string, unknown>;
  if (!(timestamp instanceof Date) || Number.isNaN(timestamp.getTime())) {
    return { problem: `timestamp is ${describe(timestamp)}; skipped` };
  }
  if (typeof visitor !== 'string') {
    return {
      visit: { visitor: UNREADABLE_VISITOR, timestamp },
      problem: `visitor is ${describe(visitor)}; shown as "${UNREADABLE_VISITOR}"`,
    };
  }
  if (visitor.length > MAX_VISITOR_LENGTH) {
    let end = MAX_VISITOR_LENGTH;
    if (/[\uD800-\uDBFF]/.test(visitor.charAt(end - 1))) end--; // never half a character
    return {
      visit: { visitor: `${visitor.slice(0, end)}… (cut at ${end} characters)`, timestamp },
      problem: `visitor is ${visitor.length} characters long; shown cut at ${end}`,
    };
  }
  return { visit: { visitor, timestamp } };
}

function describe(value: unknown): string {
  if (value === undefined) return 'missing';
  if (value === null) return 'null';
  if (typeof value === 'string') return `a string of ${value.length} characters`;
  if (typeof value === 'number') return `the number ${value}`;
  if (typeof value === 'boolean') return `the boolean ${value}`;
  if (Datastore.isInt(value)) return `the integer ${(value as { value: string }).value}`;
  if (Array.isArray(value)) return `an array of ${value.length} values`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid date' : 'a date';
  if (Buffer.isBuffer(value)) return `${value.length} bytes`;
  if (Datastore.isKey(value)) return 'a key';
  if (Datastore.isGeoPoint(value)) return 'a geographical point';
  return 'an embedded entity';
}

/**
 * The newest `limit` visits, newest first, read so that no stored value can break the page
 * or the query. Datastore sorts values of different types by type before value, so in a
 * descending query a `timestamp` stored as text, a float, an array or an integer beyond any
 * time sorts above every real time and would head "the newest ten" forever. An upper bound,
 * a time just ahead of now, leaves out every type that sorts above times (and times in the
 * future). What sorts below or among times (null; integers, on Datastore) is skipped when
 * read, and the query goes on from its cursor for as many as are missing, so the newest real
 * visits still fill the page. (Always fetching a few more would cost every page reads, and
 * still fall short once more than a few were stored.) An inequality on the property the
 * query sorts by needs no composite index.
 */
export function newestVisitsQuery(
  datastore: Datastore,
  gaxOptions: { timeout: number },
): (limit: number) => Promise<Visit[]> {
  let troubled = false; // one warning when unreadable visits appear, one line when they go

  return async (limit) => {
    const visits: Visit[] = [];
    const problems: { key: string; problem: string }[] = [];
    const latest = new Date(Date.now() + CLOCK_SKEW_MS); // one query: a cursor needs the same
    let cursor: string | undefined;
    for (let round = 0; round < MAX_ROUNDS && visits.length < limit; round++) {
      let query = datastore
        .createQuery('Visit')
        .filter(new PropertyFilter('timestamp', '<=', latest))
        .order('timestamp', { descending: true })
        .limit(limit - visits.length);
      if (cursor) query = query.start(cursor);
      // Integers beyond 2^53 come back wrapped instead of failing the whole result.
      const [entities, info] = await datastore.runQuery(query, { gaxOptions, wrapNumbers: true });
      for (const entity of entities) {
        const { visit, problem } = readVisitEntity(entity);
        if (visit) visits.push(visit);
        if (problem) problems.push({ key: keyOf(entity), problem });
      }
      if (info.moreResults === 'NO_MORE_RESULTS' || !info.endCursor) break;
      cursor = info.endCursor;
    }

    if (problems.length > 0 && !troubled) {
      log('WARNING', 'Some Visit entities cannot be shown as stored; see "problems"', {
        problems: problems.slice(0, 10),
      });
    } else if (problems.length === 0 && troubled) {
      log('INFO', 'The newest Visit entities read cleanly again');
    }
    troubled = problems.length > 0;
    return visits;
  };
}

function keyOf(entity: Entity): string {
  const key = (entity as Record<symbol, { path?: unknown[] } | undefined>)[Datastore.KEY];
  return key?.path?.map(String).join('/') ?? '(no key)';
}
