// The floor under any cache hit that reads Redis: the ceiling's page, after a bare ioredis GET
// of the list Module 13 caches and a JSON.parse of it, nothing else. A server, measured as the
// stages are: one GET a page is what a cache hit pays, which a loop of GETs in flight does not
// show (redis-server and the client then read and write several commands at a time). Module
// 13's hit minus this is Module 13's own work. Served as the ceiling is; reads Redis at
// REDIS_HOST and REDIS_PORT, the bench's redis-server.
import { Redis } from 'ioredis';
import { portSetting, serve } from '@visitme/shared';
import { pageApp, visits } from './page.js';

const redis = new Redis({
  host: process.env.REDIS_HOST,
  port: portSetting(process.env, 'REDIS_PORT', 6379),
  password: process.env.REDIS_PASSWORD || undefined,
});

serve(() =>
  pageApp(async (_req, res) => {
    JSON.parse((await redis.get('visits')) ?? 'null');
    res.render('index', { visits });
  }),
);
