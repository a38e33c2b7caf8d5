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

/**
 * The visits `dumpVisits()` wrote, with their Dates back (the codelab's `pickle.loads(rsp)`),
 * or undefined for anything else: a value too long to be ours, not JSON, not a list of at
 * most ten visits. Whatever else a cache holds is a miss, to be replaced.
 */
export function parseVisits(text: string): Visit[] | undefined {
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
    const date = writtenDate(timestamp);
    if (!date) return undefined;
    visits.push({ visitor, timestamp: date });
  }
  return visits;
}

// What `Date.prototype.toISOString()` writes for the years 0 to 9999: every date this app stores.
const ISO_DATE = /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/;

/**
 * The Date that JSON.stringify wrote as `text`, exactly (`new Date(text).toISOString()` is
 * `text`), else undefined: anything else was written by someone else. That definition, parsing
 * the text and formatting the Date again, costs ten visits more than the rest of a cache hit's
 * decoding, so the form every stored date takes is read field by field instead, each in range.
 */
function writtenDate(text: string): Date | undefined {
  if (!ISO_DATE.test(text)) return exactlyWritten(text);
  const year = digits(text, 0, 4);
  const month = digits(text, 5, 2);
  const day = digits(text, 8, 2);
  const hours = digits(text, 11, 2);
  const minutes = digits(text, 14, 2);
  const seconds = digits(text, 17, 2);
  // Date.UTC reads the years 0 to 99 as 1900 to 1999.
  if (year < 100 || month < 1 || month > 12 || day < 1) return exactlyWritten(text);
  if (hours > 23 || minutes > 59 || seconds > 59) return undefined;
  const time = Date.UTC(year, month - 1, day, hours, minutes, seconds, digits(text, 20, 3));
  const date = new Date(time);
  return date.getUTCDate() === day ? date : undefined; // else a day the month lacks (February 30)
}

/** The decimal number in `text` from `at`, `length` digits long (the caller checked them). */
function digits(text: string, at: number, length: number): number {
  let value = 0;
  for (let i = at; i < at + length; i++) value = value * 10 + text.charCodeAt(i) - 48;
  return value;
}

/** The definition itself, for the rare forms: a year before 100 or after 9999, or garbage. */
function exactlyWritten(text: string): Date | undefined {
  const date = new Date(text);
  return !Number.isNaN(date.getTime()) && date.toISOString() === text ? date : undefined;
}
