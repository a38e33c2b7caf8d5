// [START imports]
import express from 'express';
import type { Redis } from 'ioredis';
import {
  addServerTiming,
  ctime,
  handleErrors,
  notFound,
  trustedProxies,
  views,
  visitsFromEnv,
  type VisitStore,
} from '@visitme/shared';
import { redisFromEnv, visitsCache } from './cache.js';

const HOUR = 3600;
// [END imports]

export interface AppOptions {
  /** Where visits are kept: Cloud Datastore unless told otherwise. */
  store?: VisitStore;
  /** Redis or Cloud Memorystore for Redis, shared by every instance. */
  redis?: Redis;
}

export function createApp({ store = visitsFromEnv(), redis = redisFromEnv() }: AppOptions = {}) {
  const { storeVisit, fetchVisits } = store;
  const cache = visitsCache(redis);
  const app = express();
  app.set('trust proxy', trustedProxies());
  app.set('views', views);
  app.set('view engine', 'pug');
  app.enable('view cache');
  app.locals.ctime = ctime;
  addServerTiming(app);

  // [START root]
  app.get('/', async function root(req, res) {
    // check for (hour-)cached visits
    const [ipAddr, usrAgt] = [req.ip ?? '', req.get('user-agent') ?? ''];
    const visitor = `${ipAddr}: ${usrAgt}`;
    let visits = await cache.get('visits');

    // register visit & run DB query if cache empty or new visitor
    if (!visits || visits[0]?.visitor !== visitor) {
      await storeVisit(ipAddr, usrAgt);
      visits = await fetchVisits(10);
      await cache.set('visits', visits, HOUR); // set() not add()
    }

    res.render('index', { visits });
  });
  // [END root]

  app.use(notFound);
  app.use(handleErrors);
  return app;
}
