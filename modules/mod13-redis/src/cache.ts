import { readFileSync } from 'node:fs';
import { Redis, type RedisOptions } from 'ioredis';
import { log, type Visit } from '@visitme/shared';

/** The longest a page waits on a slow or hung Redis before it is served from Datastore. */
const COMMAND_TIMEOUT_MS = 250;

// [START redis_client]
/**
 * The client for Redis or Cloud Memorystore for Redis, configured like the original
 * Module 13 (`REDIS_HOST`, `REDIS_PORT`) plus Memorystore's optional AUTH string
 * (`REDIS_PASSWORD`) and in-transit encryption (`REDIS_TLS_CA`, the server CA file).
 */
export function redisFromEnv(env = process.env): Redis {
  const port = Number(env.REDIS_PORT || 6379);
  if (!Number.isInteger(port) || port < 1 || port > 65535) {
    throw new Error(`REDIS_PORT must be a port number; it is "${env.REDIS_PORT}"`);
  }
  const options: RedisOptions = {
    host: env.REDIS_HOST || 'localhost',
    port,
    ...(env.REDIS_PASSWORD && { password: env.REDIS_PASSWORD }),
    ...(env.REDIS_TLS_CA && { tls: { ca: readFileSync(env.REDIS_TLS_CA) } }),
    // The cache must never hold a page up (ioredis's defaults queue commands and retry
    // for a long time): fail at once while disconnected, after COMMAND_TIMEOUT_MS when
    // Redis hangs, and keep reconnecting in the background so caching resumes by itself.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: COMMAND_TIMEOUT_MS,
    connectTimeout: 2000,
    retryStrategy: (attempt) => Math.min(attempt * 100, 2000),
  };
  return new Redis(options);
}
// [END redis_client]

/**
 * `visits` cached in Redis as JSON, failing open: when Redis is down, hangs or holds
 * something else under the key, `get()` is a miss and `set()` does nothing, so every
 * request still gets its page from Datastore. Each kind of trouble is logged once.
 */
export function visitsCache(redis: Redis) {
  let healthy = true;
  let reportedGarbage = false;
  const failed = (error: unknown) => {
    if (healthy)
      log('WARNING', 'Redis is failing; serving from Datastore without a cache', { error });
    healthy = false;
  };
  const worked = () => {
    if (!healthy) log('INFO', 'Redis answers again; caching resumed');
    healthy = true;
  };
  redis.on('error', failed); // connection trouble; without a listener ioredis prints each one
  redis.on('ready', worked);

  return {
    async get(key: string): Promise<readonly Visit[] | undefined> {
      let json: string | null;
      try {
        json = await redis.get(key);
      } catch (error) {
        if (!isWrongType(error)) {
          failed(error);
          return undefined;
        }
        json = ''; // Redis answered: the key just holds a list, a hash…, not a string
      }
      worked();
      if (json === null) return undefined;
      const visits = parseVisits(json);
      if (!visits && !reportedGarbage) {
        log('WARNING', `Redis holds something else under "${key}"; treating it as a miss`);
      }
      reportedGarbage = !visits;
      return visits;
    },

    async set(key: string, visits: readonly Visit[], seconds: number): Promise<void> {
      if (!healthy) return; // it just failed this request: do not wait on it twice
      try {
        await redis.set(key, JSON.stringify(visits), 'EX', seconds);
      } catch (error) {
        failed(error);
      }
    },
  };
}

function isWrongType(error: unknown): boolean {
  return error instanceof Error && error.message.startsWith('WRONGTYPE');
}

/** The list Module 13 wrote, with its Dates back, or undefined for anything else. */
function parseVisits(json: string): Visit[] | undefined {
  let value: unknown;
  try {
    value = JSON.parse(json);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  const visits: Visit[] = [];
  for (const item of value) {
    const { visitor, timestamp } = (item ?? {}) as Record<string, unknown>;
    if (typeof visitor !== 'string' || typeof timestamp !== 'string') return undefined;
    const date = new Date(timestamp);
    if (Number.isNaN(date.getTime())) return undefined;
    visits.push({ visitor, timestamp: date });
  }
  return visits;
}
