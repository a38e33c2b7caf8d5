import { Datastore, PropertyFilter, type Entity } from '@google-cloud/datastore';
import { Troubles } from './troubles.js';

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

// When entities had to be skipped, the query goes on in batches twice as large each round, up
// to this many: another writer's entity can be a megabyte, and a round holds its batch in memory.
const MAX_BATCH = 100;

// gRPC's status code for a call that ran out of time.
const DEADLINE_EXCEEDED = 4;

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
  if (Array.isArray(value))
    return `an array of ${value.length} value${value.length === 1 ? '' : 's'}`;
  if (value instanceof Date) return Number.isNaN(value.getTime()) ? 'an invalid date' : 'a date';
  if (Buffer.isBuffer(value)) return `${value.length} bytes`;
  if (Datastore.isKey(value)) return 'a key';
  if (Datastore.isGeoPoint(value)) return 'a geographical point';
  return 'an embedded entity';
}

/**
 * The newest `limit` visits, newest first, read so that no stored value can break the page
 * or the query. Datastore sorts values of different types by type before value, so in a
 * descending query a `timestamp` stored as text, a float or an integer beyond any time sorts
 * above every real time and would head "the newest ten" forever. An upper bound, a time just
 * ahead of now, leaves out every type that sorts above times (and times in the future). What
 * sorts below or among times is skipped when read: null, integers (on Datastore), and an array
 * holding a time (Datastore indexes each element, so the bound lets it through). The query then
 * goes on from its cursor, in batches twice as large each round, until the page is full or the
 * deadline (`gaxOptions.timeout`, for all rounds together) has passed, when the page shows the
 * visits found. (Always fetching a few more would cost every page reads, and still fall short
 * once more than a few were stored.) An inequality on the property the query sorts by needs
 * no composite index.
 */
export function newestVisitsQuery(
  datastore: Datastore,
  gaxOptions: { timeout: number },
): (limit: number) => Promise<Visit[]> {
  const troubles = new Troubles(); // a warning when unreadable visits appear, a line when they go

  return async (limit) => {
    const visits: Visit[] = [];
    const problems: { key: string; problem: string }[] = [];
    const latest = new Date(Date.now() + CLOCK_SKEW_MS); // one query: a cursor needs the same
    const deadline = Date.now() + gaxOptions.timeout; // for all rounds together
    let cursor: string | undefined;
    for (let batch = limit; visits.length < limit; batch = Math.min(2 * batch, MAX_BATCH)) {
      const timeout = deadline - Date.now();
      if (cursor && timeout <= 0) break; // out of time: the visits found so far
      let query = datastore
        .createQuery('Visit')
        .filter(new PropertyFilter('timestamp', '<=', latest))
        .order('timestamp', { descending: true })
        .limit(batch);
      if (cursor) query = query.start(cursor);
      let result;
      try {
        // Integers beyond 2^53 come back wrapped instead of failing the whole result.
        result = await datastore.runQuery(query, {
          gaxOptions: { ...gaxOptions, timeout },
          wrapNumbers: true,
        });
      } catch (error) {
        // A later round cut short by the deadline: the visits found so far.
        if (cursor && (error as { code?: unknown }).code === DEADLINE_EXCEEDED) break;
        throw error;
      }
      const [entities, info] = result;
      for (const entity of entities) {
        if (visits.length === limit) break;
        const { visit, problem } = readVisitEntity(entity);
        if (visit) visits.push(visit);
        if (problem) problems.push({ key: keyOf(entity), problem });
      }
      // Datastore says MORE_RESULTS_AFTER_LIMIT even when fewer came: then none are left.
      const more =
        info.moreResults === 'MORE_RESULTS_AFTER_CURSOR' ||
        (info.moreResults === 'MORE_RESULTS_AFTER_LIMIT' && entities.length === batch);
      if (!more || !info.endCursor) break;
      cursor = info.endCursor;
    }

    if (problems.length > 0) {
      troubles.start(
        'unreadable',
        'WARNING',
        'Some Visit entities cannot be shown as stored; see "problems"',
        { problems: problems.slice(0, 10) },
      );
    } else {
      troubles.end('unreadable', 'The newest Visit entities read cleanly again');
    }
    return visits;
  };
}

function keyOf(entity: Entity): string {
  const key = (entity as Record<symbol, { path?: unknown[] } | undefined>)[Datastore.KEY];
  return key?.path?.map(String).join('/') ?? '(no key)';
}
