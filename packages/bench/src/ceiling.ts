// The fastest any stage could be here: the same Express app and page, rendered from ten visits
// held in memory, with no store and no cache. Listens on PORT.
import express from 'express';
import { ctime, serve, views } from '@visitme/shared';

const visits = Array.from({ length: 10 }, (_, n) => ({
  visitor: `127.0.0.1: bench returning visitor`,
  timestamp: new Date(Date.UTC(2026, 10, 26, 5, 30, 19 - n)),
}));

// Served as every stage's server entry serves its app: PORT, the same server settings, SIGTERM.
serve(() => {
  const app = express();
  app.set('views', views);
  app.set('view engine', 'pug');
  app.enable('view cache');
  app.locals.ctime = ctime;
  app.get('/', (_req, res) => res.render('index', { visits }));
  return app;
});
