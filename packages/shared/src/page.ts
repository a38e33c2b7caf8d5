import { fileURLToPath } from 'node:url';

/** The folder holding `index.pug`, the page every stage renders. */
export const views = fileURLToPath(new URL('../../views', import.meta.url));

const DAYS = ['Sun', 'Mon', 'Tue', 'Wed', 'Thu', 'Fri', 'Sat'];
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

/**
 * Python's `datetime.ctime()` in UTC, as the original page shows a timestamp:
 * `Thu Nov 26 05:30:19 2026`, the day of the month padded with a space.
 * Takes a `Date` or its ISO string, since a cache may hand back either.
 */
export function ctime(timestamp: Date | string): string {
  const date = new Date(timestamp);
  if (Number.isNaN(date.getTime())) throw new RangeError(`Not a timestamp: ${String(timestamp)}`);
  const two = (n: number) => String(n).padStart(2, '0');
  return [
    DAYS[date.getUTCDay()],
    MONTHS[date.getUTCMonth()],
    String(date.getUTCDate()).padStart(2, ' '),
    `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`,
    date.getUTCFullYear(),
  ].join(' ');
}
