// What the tests need to start any stage the same way: each on its own Datastore project (so
// tests never see each other's visits), a stage that caches in Redis on a given Redis. The
// stages are found in modules/ (@visitme/stages), never listed: a new stage folder is tested
// as its cache says it should be.
import { randomUUID } from 'node:crypto';
import { after, before, beforeEach } from 'node:test';
import { join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import type { Express } from 'express';
import { Redis } from 'ioredis';
import type NodeCache from 'node-cache';
import {
  get,
  isListening,
  listen,
  startDatastoreEmulator,
  startRedisServer,
  testEmulator,
  type DatastoreEmulator,
  type EmulatorAddress,
  type RedisServer,
} from '@visitme/harness';
import { datastoreClient, datastoreVisits, type VisitStore } from '@visitme/shared';
import { stages, type Stage } from '@visitme/stages';

export type { Stage };
export const STAGES = stages();
/** The stages that keep the visits in a cache, and those whose cache is `cache`. */
export const CACHED_STAGES = STAGES.filter((stage) => stage.cache);
export const stagesCaching = (cache: Stage['cache']) =>
  STAGES.filter((stage) => stage.cache === cache);

/**
 * The URL of a stage's built module (`main`, `server`…): its workspace package, or, for the
 * stage that `npm run check` holds a learner's copy to, that copy, named by
 * VISITME_STAGE_DIR=<stage>=<folder>. A copy is laid out as a stage is.
 */
export function stageModuleUrl(stage: Stage, entry = 'main'): string {
  const setting = process.env.VISITME_STAGE_DIR ?? '';
  const split = setting.indexOf('=');
  const dir =
    split > 0 && setting.slice(0, split) === stage.name ? setting.slice(split + 1) : stage.dir;
  return pathToFileURL(join(dir, 'dist', 'src', `${entry}.js`)).href;
}

/** What the tests use of a stage's `src/main.ts`. */
export interface StageMain {
  createApp(options: { store?: VisitStore; cache?: NodeCache; redis?: Redis }): Express;
  /** A stage that caches in Redis: its client, from REDIS_HOST, REDIS_PORT… */
  redisFromEnv?(env: NodeJS.ProcessEnv): Redis;
}

/**
 * A stage's `src/main.ts`, loaded when a test needs it: a learner's copy that lacks a file
 * fails the tests that use it, each by name, not every test in the file at once.
 */
export async function importStage(stage: Stage): Promise<StageMain> {
  return (await import(stageModuleUrl(stage))) as StageMain;
}

/** A stage's client maker, or a plain word on what the learner's code still lacks. */
export async function redisFromEnvOf(
  stage: Stage,
): Promise<NonNullable<StageMain['redisFromEnv']>> {
  const { redisFromEnv } = await importStage(stage);
  if (typeof redisFromEnv !== 'function') {
    throw new Error(
      'src/main.ts exports no redisFromEnv(env), which makes the Redis client from REDIS_HOST and REDIS_PORT',
    );
  }
  return redisFromEnv;
}

export interface Services {
  emulator: EmulatorAddress;
  redis?: RedisServer;
}

export interface FileServices {
  services: Services & { redis: RedisServer };
  /**
   * An emulator of the file's own, for a test that stops it: started when a test first asks
   * for it, and started again if the test before stopped it.
   */
  outage(): Promise<DatastoreEmulator>;
  /** A plain client to look into, or tamper with, the test Redis. */
  redisAdmin: Redis;
}

/**
 * The real servers a test file uses, started once for the file and stopped after it, pass or
 * fail: the test run's Datastore emulator (one for every file, `with-datastore-emulator`, or
 * the file's own), a redis-server, and, for the tests that stop Datastore, an emulator of the
 * file's own to stop. Redis is emptied before each test: a Redis stage's key is the same in
 * every test.
 */
export function useServices(): FileServices {
  let own: Promise<DatastoreEmulator> | undefined;
  const file = {
    async outage() {
      if (!own) return await (own = startDatastoreEmulator());
      const emulator = await own;
      if (!(await isListening(emulator.port))) await emulator.restart();
      return emulator;
    },
  } as FileServices;
  let started: Promise<unknown> | undefined;
  before(async () => {
    process.env.METADATA_SERVER_DETECTION = 'none'; // not on Google Cloud: do not probe for it
    started = Promise.all([testEmulator(), startRedisServer()]).then(([emulator, redis]) => {
      Object.assign(file, {
        services: { emulator, redis },
        redisAdmin: new Redis({ host: redis.host, port: redis.port }),
      });
      file.redisAdmin.on('error', () => {}); // some tests stop Redis on purpose
      return emulator;
    });
    await started;
  });
  beforeEach(async () => {
    // A test that stopped Redis may have failed before starting it again.
    if (!(await answers(file.services.redis))) await file.services.redis.restart();
    await file.redisAdmin.flushall();
  });
  after(async () => {
    // When every test of the file is filtered out (npm run check picks a stage's), Node 22 and
    // 24 run this before `before` has finished: wait for it, or what it starts outlives us.
    const emulator = (await started?.catch(() => undefined)) as
      Awaited<ReturnType<typeof testEmulator>> | undefined;
    file.redisAdmin?.disconnect();
    const outage = await own?.catch(() => undefined);
    await Promise.all([emulator?.stop(), file.services?.redis.stop(), outage?.stop()]);
  });
  return file;
}

export interface StageOptions {
  /** Share a Datastore project with another instance; a fresh one by default. */
  projectId?: string;
  /** Each Datastore call's deadline; the stages' own (5 s) by default. */
  deadlineMs?: number;
  /** A node-cache stage: the cache to use, so a test can look inside it. */
  nodeCache?: NodeCache;
  /** A Redis stage: settings other than the test server's own (AUTH, TLS, a dead port). */
  redisEnv?: NodeJS.ProcessEnv;
}

export interface RunningStage {
  url: string;
  projectId: string;
  /** Visits in this stage's project, counted by the emulator itself. */
  visitCount(): Promise<number>;
  close(): Promise<void>;
}

/** The stage's app, built by its own `createApp()` as in production, listening on loopback. */
export async function startStage(
  stage: Stage,
  services: Services,
  options: StageOptions = {},
): Promise<RunningStage> {
  const projectId = options.projectId ?? `test-${randomUUID()}`;
  const datastore = datastoreClient({ projectId, apiEndpoint: services.emulator.host });
  const store = datastoreVisits({
    datastore,
    ...(options.deadlineMs && { deadlineMs: options.deadlineMs }),
  });
  const { createApp } = await importStage(stage);
  let redis: Redis | undefined;
  let app: Express;
  if (stage.cache === 'redis') {
    const env = options.redisEnv ?? services.redis?.env;
    if (!env) throw new Error(`${stage.name} needs a Redis server`);
    redis = (await redisFromEnvOf(stage))(env);
    try {
      app = createApp({ store, redis }); // at once, as in production: it listens for errors
    } catch (error) {
      redis.disconnect(); // or its reconnecting keeps the test process alive
      throw error;
    }
    // Start from a connected client, as a warm instance would; one that cannot connect (no
    // Redis there, the wrong password or protocol) fails or closes, and the app must cope.
    await settled(redis);
  } else {
    app = createApp({ store, ...(options.nodeCache && { cache: options.nodeCache }) });
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

/** Resolves once a new client is ready, or has failed or lost its first connection. */
function settled(redis: Redis): Promise<void> {
  const outcomes = ['ready', 'error', 'close', 'end'] as const;
  return new Promise((resolve) => {
    const done = () => {
      for (const outcome of outcomes) redis.off(outcome, done);
      resolve();
    };
    for (const outcome of outcomes) redis.once(outcome, done);
  });
}

/** The path of a stage's built server entry (what `npm start` runs in its folder). */
export function serverEntry(stage: Stage): string {
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

/** GETs as ever-new visitors, every 200 ms, until the page is served (Datastore is back). */
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
export const LOOPBACK = /^(127\.0\.0\.1|::1)$/;
