// What a stage's server needs on a developer's machine: a Datastore emulator and, for a stage
// that caches in Redis, a redis-server, each started here unless the environment names one
// already (DATASTORE_EMULATOR_HOST, REDIS_HOST). npm start, npm run exercise -- --start and
// npm run bench all start them this way.
import {
  EmulatorUnavailableError,
  startDatastoreEmulator,
  type DatastoreEmulator,
} from './datastore-emulator.js';
import { RedisUnavailableError, startRedisServer, type RedisServer } from './redis-server.js';

export interface LocalServicesOptions {
  /** Whether a stage to be served caches in Redis. */
  redis: boolean;
  /** The emulator's port, and redis-server's; free ones when not given. */
  datastorePort?: number;
  redisPort?: number;
  /** Where DATASTORE_EMULATOR_HOST and REDIS_HOST may name servers to use instead. */
  env?: NodeJS.ProcessEnv;
  /**
   * Without Java or the Google Cloud CLI, keep visits in memory (VISITME_STORE=memory); without
   * redis-server, serve without a cache: what `npm start` does, saying so. Otherwise it fails.
   */
  fallBack?: boolean;
  /** Says what it is doing, a line at a time. */
  say?: (line: string) => void;
  /** Says, so that nobody can miss it, what is missing and what runs instead. */
  shout?: (lines: string[]) => void;
}

export interface LocalServices {
  /** What a stage's server needs in its environment to use them. */
  env: Record<string, string>;
  /** Each in a learner's words: `Datastore emulator at 127.0.0.1:8178`. */
  datastore: string;
  redis?: string;
  /** Ours, when started here. */
  emulator?: DatastoreEmulator;
  redisServer?: RedisServer;
  /** Stops what was started here. */
  stop(): Promise<void>;
}

export async function startLocalServices(options: LocalServicesOptions): Promise<LocalServices> {
  const { env = process.env, say = () => {}, shout = () => {} } = options;
  const services: LocalServices = {
    env: {},
    datastore: '',
    async stop() {
      await Promise.all([services.emulator?.stop(), services.redisServer?.stop()]);
    },
  };
  try {
    if (env.DATASTORE_EMULATOR_HOST) {
      services.datastore = `Datastore emulator at ${env.DATASTORE_EMULATOR_HOST} (DATASTORE_EMULATOR_HOST)`;
    } else if (env.VISITME_STORE === 'memory') {
      services.datastore = 'in-memory visits (VISITME_STORE=memory)';
    } else {
      try {
        say('starting the Datastore emulator…');
        services.emulator = await startDatastoreEmulator({ port: options.datastorePort });
        services.env.DATASTORE_EMULATOR_HOST = services.emulator.host;
        services.datastore = `Datastore emulator at ${services.emulator.host}`;
      } catch (error) {
        if (!(error instanceof EmulatorUnavailableError) || !options.fallBack) throw error;
        shout([
          `No Datastore emulator here. ${error.message}`,
          'Falling back to keeping visits IN MEMORY, in each server process: they are lost',
          'when it stops. The page works; Datastore does not take part.',
        ]);
        services.env.VISITME_STORE = 'memory';
        services.datastore = 'IN-MEMORY visits (no emulator: see above)';
      }
    }
    if (env.DATASTORE_EMULATOR_HOST || services.emulator) {
      services.env.GOOGLE_CLOUD_PROJECT = env.GOOGLE_CLOUD_PROJECT ?? 'visitme-local';
      services.env.METADATA_SERVER_DETECTION = 'none'; // not on Google Cloud: do not probe for it
    }

    if (!options.redis) return services;
    if (env.REDIS_HOST) {
      services.redis = `Redis at ${env.REDIS_HOST}:${env.REDIS_PORT ?? 6379} (REDIS_HOST)`;
      return services;
    }
    try {
      say('starting redis-server…');
      services.redisServer = await startRedisServer({ port: options.redisPort });
      Object.assign(services.env, services.redisServer.env);
      services.redis = `Redis at ${services.redisServer.host}:${services.redisServer.port}`;
    } catch (error) {
      if (!(error instanceof RedisUnavailableError) || !options.fallBack) throw error;
      shout([
        `No Redis here. ${error.message}`,
        'A stage that caches in Redis still serves every page, from Datastore, with NO CACHE:',
        'it fails open.',
      ]);
      services.redis = 'NO REDIS: no cache (see above)';
    }
    return services;
  } catch (error) {
    await services.stop();
    throw error;
  }
}
