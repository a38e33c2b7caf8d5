// [START imports]
import express from 'express';
import { Redis } from 'ioredis';
import {
  cacheCalls,
  certificatesSetting,
  ctime,
  dumpVisits,
  handleErrors,
  notFound,
  remoteAddr,
  portSetting,
  trustedProxies,
  views,
  visitsFromEnv,
  type VisitStore,
} from '@visitme/shared';

const HOUR = 3600;
// [END imports]

// [START redis_client]
/** Redis at REDIS_HOST and REDIS_PORT; Memorystore's AUTH string and TLS CA file when given. */
export function redisFromEnv(env = process.env): Redis {
  return new Redis({
    host: env.REDIS_HOST || 'localhost',
    port: portSetting(env, 'REDIS_PORT', 6379),
    password: env.REDIS_PASSWORD || undefined,
    tls: env.REDIS_TLS_CA ? { ca: certificatesSetting(env, 'REDIS_TLS_CA') } : undefined,
    // A cache must never hold a page up, and ioredis's defaults queue and retry commands for
    // long: fail at once while disconnected, and after 250 ms when Redis hangs. The client
    // keeps reconnecting in the background, so caching resumes by itself.
    enableOfflineQueue: false,
    maxRetriesPerRequest: 0,
    commandTimeout: 250,
  });
}
// [END redis_client]

export interface AppOptions {
  /** Where visits are kept: Cloud Datastore unless told otherwise. */
  store?: VisitStore;
  /** Redis or Cloud Memorystore for Redis, shared by every instance. */
  redis?: Redis;
}

export function createApp(options: AppOptions = {}) {
  const { store = visitsFromEnv(), redis = redisFromEnv() } = options;
  const { storeVisit, fetchVisits } = store;
  const { failOpen, loadVisits } = cacheCalls(redis); // failed calls, garbage: misses, logged once
  const app = express();
  app.disable('x-powered-by'); // no need to advertise the framework to every client
  app.set('trust proxy', trustedProxies());
  app.set('views', views);
  app.set('view engine', 'pug');
  app.enable('view cache');
  app.locals.ctime = ctime;

  // [START root]
  app.get('/', async function root(req, res) {
    // check for (hour-)cached visits
    const [ipAddr, usrAgt] = [remoteAddr(req), req.get('user-agent') ?? ''];
    const visitor = `${ipAddr}: ${usrAgt}`;
    const rsp = await failOpen('GET', redis.get('visits'));
    let visits = rsp ? loadVisits(rsp) : undefined;

    // register visit & run DB query if cache empty or new visitor
    if (!visits || visits[0]?.visitor !== visitor) {
      await storeVisit(ipAddr, usrAgt);
      visits = await fetchVisits(10, res);
      await failOpen('SET', redis.set('visits', dumpVisits(visits), 'EX', HOUR)); // set() not add()
    } else res.set('Server-Timing', 'cache;desc=hit');

    res.render('index', { visits });
  });
  // [END root]

  app.use(notFound);
  app.use(handleErrors);
  return app;
}
