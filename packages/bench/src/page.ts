// The page the bench's own servers show: the ceiling's and the Redis floor's. Every stage's
// Express app and settings, and the same ten visits a cache stage shows the returning visitor.
import express, { type Express, type RequestHandler } from 'express';
import { ctime, trustedProxies, views } from '@visitme/shared';
import { RETURNING_VISITOR, newVisitor } from './wrk.js';

// Their own visit, then the nine new visitors' before it (named as the bench names them),
// frozen as the store hands visits out.
export const visits = Object.freeze(
  [
    RETURNING_VISITOR,
    ...Array.from({ length: 9 }, (_, n) => newVisitor(`${process.ppid}-count-5`, 49 - n)),
  ].map((agent, n) =>
    Object.freeze({
      visitor: `127.0.0.1: ${agent}`,
      timestamp: new Date(Date.UTC(2026, 10, 26, 5, 30, 19 - n)),
    }),
  ),
);

/** An app set up as every stage's is, answering GET / with `root`. */
export function pageApp(root: RequestHandler): Express {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustedProxies());
  app.set('views', views);
  app.set('view engine', 'pug');
  app.enable('view cache');
  app.locals.ctime = ctime;
  app.get('/', root);
  return app;
}
