import { log } from './log.js';
import { MAX_VISITOR_LENGTH, type Visit } from './visit-entity.js';

/** The page lists the ten newest visits, so a cache never holds more. */
export const MAX_CACHED_VISITS = 10;

/**
 * Longer than ten visits can ever be as JSON (about 960 KB at worst): a visitor is shown at
 * most `MAX_VISITOR_LENGTH` characters long (longer ones are cut when read), JSON writes a
 * character in six at most (`\u0001`), and 256 more cover the rest of a visit. A longer
 * value is not ours, and is not parsed.
 */
export const MAX_CACHED_LENGTH = MAX_CACHED_VISITS * (6 * MAX_VISITOR_LENGTH + 256);

/** The visits as a string for a cache (the codelab's `pickle.dumps(visits)`): JSON. */
export function dumpVisits(visits: readonly Visit[]): string {
  return JSON.stringify(visits);
}

let garbageSeen = false;

/**
 * The visits `dumpVisits()` wrote, with their Dates back (the codelab's `pickle.loads(rsp)`),
 * or undefined, "nothing cached", for anything else: nothing, a value too long to be ours,
 * not JSON, not a list of at most ten visits. Whatever else a cache holds is a miss and is
 * replaced; finding it is logged once, and once again when visits are found there again.
 */
export function loadVisits(text: string | null | undefined): readonly Visit[] | undefined {
  if (text === null || text === undefined) return undefined;
  const visits = parse(text);
  if (!visits && !garbageSeen) {
    log('WARNING', 'The cache holds something this app did not write; treating it as a miss', {
      length: text.length,
    });
  } else if (visits && garbageSeen) {
    log('INFO', 'The cache holds visits again');
  }
  garbageSeen = !visits;
  return visits;
}

function parse(text: string): Visit[] | undefined {
  if (text.length > MAX_CACHED_LENGTH) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value) || value.length > MAX_CACHED_VISITS) return undefined;
  const visits: Visit[] = [];
  for (const item of value as unknown[]) {
    if (typeof item !== 'object' || item === null) return undefined;
    if (Object.keys(item).length !== 2) return undefined;
    const { visitor, timestamp } = item as Record<string, unknown>;
    if (typeof visitor !== 'string' || typeof timestamp !== 'string') return undefined;
    const date = new Date(timestamp);
    // What JSON.stringify made of a Date, exactly: anything else was written by someone else.
    if (Number.isNaN(date.getTime()) || date.toISOString() !== timestamp) return undefined;
    visits.push({ visitor, timestamp: date });
  }
  return visits;
}
