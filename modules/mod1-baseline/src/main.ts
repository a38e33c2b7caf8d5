// [START imports]
import express from 'express';
import {
  ctime,
  handleErrors,
  notFound,
  remoteAddr,
  trustedProxies,
  views,
  visitsFromEnv,
  type VisitStore,
} from '@visitme/shared';
// [END imports]

export interface AppOptions {
  /** Where visits are kept: Cloud Datastore unless told otherwise. */
  store?: VisitStore;
}

export function createApp(options: AppOptions = {}) {
  const { store = visitsFromEnv() } = options;
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
    // main application (GET) handler
    await storeVisit(remoteAddr(req), req.get('user-agent') ?? '');
    const visits = await fetchVisits(10, res);
    res.render('index', { visits });
  });
  // [END root]

  app.use(notFound);
  app.use(handleErrors);
  return app;
}
