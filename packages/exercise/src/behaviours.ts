// What each stage test checks, in a learner's words, and which kind of behaviour it is: each
// kind is explained under one heading of the README of the stage being checked. Keyed by the
// test's own name (a stage prefix such as "mod13-redis: " left off); a test not listed here is
// still reported, under its own name.

/** The README heading of a stage that explains each kind of behaviour it has. */
export const SECTIONS = {
  page: 'What stays the same',
  cache: 'Application changes',
  settings: 'Configuration changes',
  faults: 'The cache fails open',
} as const;
export type BehaviourKind = keyof typeof SECTIONS;

export interface Behaviour {
  /** What the learner's code does when the test passes. */
  says: string;
  kind: BehaviourKind;
}

const page = (says: string): Behaviour => ({ says, kind: 'page' });
const cache = (says: string): Behaviour => ({ says, kind: 'cache' });
const failsOpen = (says: string): Behaviour => ({ says, kind: 'faults' });
const settings = (says: string): Behaviour => ({ says, kind: 'settings' });

/** Not a stage test: `npm run check` compares the copy's dependencies with the stage's. */
export const DEPENDENCIES = 'package.json dependencies';

/** Not a stage test: a test file that failed outside any of its tests. */
export const TESTS_RAN = 'a test file ran';

export const BEHAVIOURS: Record<string, Behaviour> = {
  [DEPENDENCIES]: settings('package.json depends on the packages the stage needs'),
  [TESTS_RAN]: page("the stage's tests ran to the end"),

  // common.test.ts: every stage
  'the page is the original one: the 10 newest visits, newest first': page(
    'the page lists the 10 newest visits, newest first, with their time in UTC',
  ),
  'a User-Agent holding HTML comes back escaped, never as markup': page(
    'a User-Agent holding HTML is shown as text',
  ),
  'a 3,000-byte User-Agent is stored and shown whole': page(
    'a very long User-Agent is stored and shown whole',
  ),
  'a request without a User-Agent is stored with an empty one': page(
    'a visit without a User-Agent is stored too',
  ),
  'off App Engine a forged X-Forwarded-For does not change the visitor': page(
    "off App Engine, a forged X-Forwarded-For does not change the visitor's address",
  ),
  "on App Engine the visitor is the address App Engine's front end saw": page(
    "on App Engine, the visitor's address is the one App Engine saw",
  ),
  'an unknown path is a 404 and stores nothing': page(
    'an unknown path is a 404 and stores no visit',
  ),
  'no response says what serves it (X-Powered-By)': page(
    'no response advertises Express (no X-Powered-By header)',
  ),
  'another method on / is a 405 naming GET and HEAD, and stores nothing': page(
    'another method on / (a POST, say) is a 405 naming GET and HEAD, and stores no visit',
  ),
  'Server-Timing says the request went to Datastore': page(
    "a new visitor's page comes from Datastore (Server-Timing says so)",
  ),
  'Datastore stopped: 503 with a short message, then 200 once it is back': page(
    'with Datastore down the page is a short 503, and it recovers by itself',
  ),
  'Datastore hung: a 503 at the deadline instead of a hung request': page(
    'with Datastore hung the page is a 503 at the deadline, not a hung request',
  ),
  'SIGTERM lets the in-flight request finish, refuses new ones, exits 0': page(
    'the server stops cleanly on SIGTERM, finishing the request in flight',
  ),
  'every line out is one JSON object; a poison entity: one warning, one line once gone; POST / is 405':
    page('every log line is JSON, and a malformed Visit is one warning, not one per page'),

  // poison.test.ts: every stage
  'poison Visit entities: a 200 with the newest real visits, fresh and cached': page(
    'malformed Visit entities do not break the page: it lists the newest visits',
  ),
  '35 Visit entities whose timestamp is an array holding a recent time: ten visits listed': page(
    'however many Visit entities hold their time in an array, the page lists ten real visits',
  ),

  // caching.test.ts: Modules 12 and 13
  'one visitor, many requests: one Visit; a second visitor: one more': cache(
    'a returning visitor is served from the cache',
  ),
  'a hit renders byte for byte what the miss before it rendered': cache(
    'a page from the cache is the same page, byte for byte',
  ),
  'a returning visitor is served from the cache even while Datastore is down': cache(
    'a returning visitor is served from the cache even while Datastore is down',
  ),
  'caches for an hour, and an expired list is a miss': cache(
    'the visits are cached for an hour (HOUR), then read again from Datastore',
  ),
  'node-cache hands out the stored list, uncopied and frozen: no page can change it': cache(
    'node-cache hands out the cached list as it is, uncopied: it is frozen, so no page can change it',
  ),
  'two instances do not share their caches: each stores the same visitor': cache(
    "each instance has its own cache (node-cache lives in the instance's memory)",
  ),
  'caches under "visits" as JSON for an hour (SET visits … EX 3600)': cache(
    'the visits are cached in Redis under "visits" for an hour (HOUR)',
  ),
  'two instances share one Redis: the second stores nothing for the same visitor': cache(
    'instances share the cache: one in Redis, not in each instance',
  ),

  // redis.test.ts: Module 13
  'Redis stopped: every request is still a 200 from Datastore, soon; then it comes back': failsOpen(
    'with Redis stopped every page is still served, and caching resumes when it is back',
  ),
  'Redis hung (answers nothing): still 200s, each within a bounded delay': failsOpen(
    'with Redis hung every page is still served, soon',
  ),
  'Redis busy (CLIENT PAUSE): the page does not wait for it': failsOpen(
    'a busy Redis does not hold the page up',
  ),
  'something else under "visits" (not JSON) is a miss, and is overwritten': failsOpen(
    'something other than JSON under "visits" is a miss, and is overwritten',
  ),
  'something else under "visits" (JSON of the wrong shape) is a miss, and is overwritten':
    failsOpen('JSON of the wrong shape under "visits" is a miss, and is overwritten'),
  'something else under "visits" (visits with a bad timestamp) is a miss, and is overwritten':
    failsOpen('cached visits with a bad timestamp are a miss, and are overwritten'),
  'something else under "visits" (visits without a visitor) is a miss, and is overwritten':
    failsOpen('cached visits without a visitor are a miss, and are overwritten'),
  'a wrong type under "visits" (a Redis list) is a miss too, and is overwritten': failsOpen(
    'a Redis list under "visits" is a miss, and is overwritten',
  ),
  'garbage under "visits" before every page: logged once, and its end once': failsOpen(
    'something other than visits put back under "visits" again and again is one warning',
  ),
  'a wrong type under "visits" before every page: logged once, and its end once': failsOpen(
    'a Redis list put back under "visits" again and again is one warning',
  ),
  'AUTH: with REDIS_PASSWORD the cache works; without it, pages are still served': settings(
    "Memorystore's AUTH string (REDIS_PASSWORD) is used",
  ),
  'TLS: with REDIS_TLS_CA (in-transit encryption) the cache works': settings(
    "Memorystore's in-transit encryption (REDIS_TLS_CA) is used",
  ),
  'a Redis that was never there: pages are served from the first request on': failsOpen(
    'with no Redis at all, pages are served from the first request on',
  ),
  'a REDIS_PORT that is not a decimal port is refused at start, naming it': settings(
    'a REDIS_PORT that is not a port number is refused at start, saying so',
  ),
  'a REDIS_TLS_CA that cannot be read is refused at start, naming it': settings(
    'a REDIS_TLS_CA file that cannot be read is refused at start, saying so',
  ),
  'a REDIS_TLS_CA that holds no certificate is refused at start, naming it': settings(
    'a REDIS_TLS_CA file that holds no certificate is refused at start, saying so',
  ),
  // server.test.ts: a stage that caches in Redis, run as App Engine runs it
  'a setting createApp() refuses (REDIS_PORT: not a port): one CRITICAL line, exit 1': settings(
    'the server does not start with a REDIS_PORT that is not a port: one CRITICAL line, exit 1',
  ),
  'a setting createApp() refuses (REDIS_TLS_CA: no such file): one CRITICAL line, exit 1': settings(
    'the server does not start with a REDIS_TLS_CA file that is not there',
  ),
  'a setting createApp() refuses (REDIS_TLS_CA: a file of text): one CRITICAL line, exit 1':
    settings('the server does not start with a REDIS_TLS_CA file of text'),
  'a setting createApp() refuses (REDIS_TLS_CA: a file of random bytes): one CRITICAL line, exit 1':
    settings('the server does not start with a REDIS_TLS_CA file of random bytes'),
  'SET refused (an ACL without set): one warning for any number of pages, one line when it works again':
    failsOpen('a Redis that refuses SET (an ACL) is one warning, not one per page'),
  'SET refused (maxmemory reached (noeviction)): one warning for any number of pages, one line when it works again':
    failsOpen('a full Redis that refuses SET is one warning, not one per page'),
  '100,000 valid visits under "visits" are a miss, and are replaced by the ten newest': failsOpen(
    'a huge list under "visits" is a miss, and is replaced by the ten newest',
  ),
  'a 100 MB value under "visits" is replaced within a few pages; Redis memory stays bounded':
    failsOpen('a 100 MB value under "visits" is replaced, and Redis memory stays bounded'),
  'a 100 MB value while Datastore is down: no SET can replace it, and Redis memory stays bounded':
    failsOpen('a 100 MB value while Datastore is down keeps Redis memory bounded'),
};

/** The test's name without the stage prefix some tests carry ("mod13-redis: …"). */
export function behaviourKey(testName: string, stage: string): string {
  return testName.startsWith(`${stage}: `) ? testName.slice(stage.length + 2) : testName;
}
