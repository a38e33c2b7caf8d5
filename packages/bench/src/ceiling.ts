// The fastest any stage could be here: the same Express app, with the same settings, and the
// same page, rendered from ten visits held in memory, with no store and no cache. Listens on
// PORT.
import express from 'express';
import { ctime, serve, trustedProxies, views } from '@visitme/shared';
import { RETURNING_VISITOR, newVisitor } from './wrk.js';

// What a cache stage shows the bench's returning visitor: their own visit, then the nine new
// visitors' before it (named as the bench names them), frozen as the store hands visits out.
const visits = Object.freeze(
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

// Served as every stage's server entry serves its app: PORT, the same server settings, SIGTERM.
serve(() => {
  const app = express();
  app.disable('x-powered-by');
  app.set('trust proxy', trustedProxies());
  app.set('views', views);
  app.set('view engine', 'pug');
  app.enable('view cache');
  app.locals.ctime = ctime;
  app.get('/', (_req, res) => res.render('index', { visits }));
  return app;
});
