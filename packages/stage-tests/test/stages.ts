// What the tests need to start any stage the same way: each on its own Datastore
// project (so tests never see each other's visits), Module 13 on a given Redis.
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach } from 'node:test';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Redis } from 'ioredis';
import type NodeCache from 'node-cache';
import {
  get,
  listen,
  startDatastoreEmulator,
  startRedisServer,
  type DatastoreEmulator,
  type RedisServer,
} from '@visitme/harness';
import { datastoreClient, datastoreVisits } from '@visitme/shared';

export const STAGES = ['mod1-baseline', 'mod12-memcache', 'mod13-redis'] as const;
export type StageName = (typeof STAGES)[number];
export const CACHED_STAGES = ['mod12-memcache', 'mod13-redis'] as const;

/**
 * The URL of a stage's built module (`main`, `server`, `cache`…): its workspace package, or,
 * for the stage that `npm run check` holds a learner's copy to, that copy, named by
 * VISITME_STAGE_DIR=<stage>=<folder>. A copy is laid out as a stage is, and every stage's
 * package.json exports `./*` as `./dist/src/*.js`.
 */
export function stageModuleUrl(stage: StageName, entry = 'main'): string {
  const setting = process.env.VISITME_STAGE_DIR ?? '';
  const split = setting.indexOf('=');
  if (split > 0 && setting.slice(0, split) === stage) {
    return pathToFileURL(join(setting.slice(split + 1), 'dist', 'src', `${entry}.js`)).href;
  }
  return import.meta.resolve(entry === 'main' ? stage : `${stage}/${entry}`);
}

/**
 * A stage's module, loaded when a test needs it: a learner's copy that lacks a file fails
 * the tests that use it, each by name, not every test in the file at once.
 */
export async function importStage<Module>(stage: StageName, entry = 'main'): Promise<Module> {
  return (await import(stageModuleUrl(stage, entry))) as Module;
}

export interface Services {
  emulator: DatastoreEmulator;
  redis?: RedisServer;
}

export interface FileServices {
  services: Services & { redis: RedisServer };
  /** A second emulator, for the tests that stop or freeze Datastore. */
  outage: DatastoreEmulator;
  /** A plain client to look into, or tamper with, the test Redis. */
  redisAdmin: Redis;
}

/**
 * The real servers a test file uses, started once for the file and stopped after it, pass
 * or fail. Redis is emptied before each test: Module 13's key is the same in every test.
 */
export function useServices(): FileServices {
  const file = {} as FileServices;
  before(async () => {
    process.env.METADATA_SERVER_DETECTION = 'none'; // not on Google Cloud: do not probe for it
    const [emulator, redis, outage] = await Promise.all([
      startDatastoreEmulator(),
      startRedisServer(),
      startDatastoreEmulator(),
    ]);
    Object.assign(file, {
      services: { emulator, redis },
      outage,
      redisAdmin: new Redis({ host: redis.host, port: redis.port }),
    });
    file.redisAdmin.on('error', () => {}); // some tests stop Redis on purpose
  });
  beforeEach(async () => {
    // A test that broke Redis may have failed before mending it.
    file.services.redis.resume();
    if (!(await answers(file.services.redis))) await file.services.redis.restart();
    await file.redisAdmin.flushall();
  });
  after(async () => {
    file.redisAdmin?.disconnect();
    await Promise.all([
      file.services?.emulator.stop(),
      file.services?.redis.stop(),
      file.outage?.stop(),
    ]);
  });
  return file;
}

export interface StageOptions {
  /** Share a Datastore project with another instance; a fresh one by default. */
  projectId?: string;
  deadlineMs?: number;
  /** Module 12: the cache to use, so a test can look inside it. */
  nodeCache?: NodeCache;
  /** Module 13: Redis settings other than the test server's own (AUTH, TLS, a dead port). */
  redisEnv?: NodeJS.ProcessEnv;
}

export interface RunningStage {
  url: string;
  projectId: string;
  /** Visits in this stage's project, counted by the emulator itself. */
  visitCount(): Promise<number>;
  close(): Promise<void>;
}

export async function startStage(
  stage: StageName,
  services: Services,
  options: StageOptions = {},
): Promise<RunningStage> {
  const projectId = options.projectId ?? `test-${randomUUID()}`;
  const datastore = datastoreClient({ projectId, apiEndpoint: services.emulator.host });
  const store = datastoreVisits({ datastore, deadlineMs: options.deadlineMs ?? 2000 });
  let redis: Redis | undefined;
  let app;
  switch (stage) {
    case 'mod1-baseline': {
      const { createApp } = await importStage<typeof import('mod1-baseline')>(stage);
      app = createApp({ store });
      break;
    }
    case 'mod12-memcache': {
      const { createApp } = await importStage<typeof import('mod12-memcache')>(stage);
      app = createApp({ store, ...(options.nodeCache && { cache: options.nodeCache }) });
      break;
    }
    case 'mod13-redis': {
      const env = options.redisEnv ?? services.redis?.env;
      if (!env) throw new Error('Module 13 needs a Redis server');
      const { createApp, redisFromEnv } = await importStage<typeof import('mod13-redis')>(stage);
      redis = redisFromEnv(env);
      app = createApp({ store, redis }); // at once, as in production: it listens for errors
      await new Promise<void>((resolve) => {
        // Start from a connected client, as a warm instance would; a dead Redis never
        // connects, and then the app must cope without it.
        redis!.once('ready', resolve);
        setTimeout(resolve, 1000);
      });
      break;
    }
  }
  const server = await listen(app);
  return {
    url: server.url,
    projectId,
    visitCount: () => services.emulator.count(projectId, 'Visit'),
    async close() {
      await server.close();
      redis?.disconnect();
    },
  };
}

/** The path of a stage's built server entry (what `npm start` runs in its folder). */
export function serverEntry(stage: StageName): string {
  return fileURLToPath(stageModuleUrl(stage, 'server'));
}

async function answers(redis: RedisServer): Promise<boolean> {
  const probe = new Redis({
    host: redis.host,
    port: redis.port,
    lazyConnect: true,
    retryStrategy: () => null,
    maxRetriesPerRequest: 0,
  });
  try {
    await probe.connect();
    return (await probe.ping()) === 'PONG';
  } catch {
    return false;
  } finally {
    probe.disconnect();
  }
}

/** GETs as ever-new visitors until the page is served (after Datastore came back). */
export async function untilServing(url: string, timeoutMs = 30_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  for (let attempt = 0; Date.now() < deadline; attempt++) {
    const response = await get(url, { 'user-agent': `warm-up ${attempt}` });
    if (response.status === 200) return;
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
  throw new Error(`${url} still fails after ${timeoutMs} ms`);
}

export const CTIME =
  /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d \d\d:\d\d:\d\d \d{4}$/;
export const LOOPBACK = /^(::ffff:127\.0\.0\.1|127\.0\.0\.1|::1)$/;
