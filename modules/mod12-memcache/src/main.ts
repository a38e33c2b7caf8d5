// [START imports]
import express from 'express';
import NodeCache from 'node-cache';
import {
  ctime,
  handleErrors,
  notFound,
  remoteAddr,
  trustedProxies,
  views,
  visitsFromEnv,
  type Visit,
  type VisitStore,
} from '@visitme/shared';

const HOUR = 3600;
// [END imports]

export interface AppOptions {
  /** Where visits are kept: Cloud Datastore unless told otherwise. */
  store?: VisitStore;
  /** The stand-in for App Engine Memcache: this process's memory. */
  cache?: NodeCache;
}

export function createApp(options: AppOptions = {}) {
  const { store = visitsFromEnv(), cache = new NodeCache({ useClones: false }) } = options;
  const { storeVisit, fetchVisits } = store;
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
    let visits = cache.get<readonly Visit[]>('visits');

    // register visit & run DB query if cache empty or new visitor
    if (!visits || visits[0]?.visitor !== visitor) {
      await storeVisit(ipAddr, usrAgt);
      visits = await fetchVisits(10, res);
      cache.set('visits', visits, HOUR); // set() not add()
    } else res.set('Server-Timing', 'cache;desc=hit');

    res.render('index', { visits });
  });
  // [END root]

  app.use(notFound);
  app.use(handleErrors);
  return app;
}
