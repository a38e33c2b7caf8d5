// `npm start` at the repository root: a Datastore emulator, then every module's server on
// its own port, as App Engine would run it (PORT and the backing services from the
// environment). Ctrl-C or SIGTERM stops all of it: the root `start` script `exec`s this, so
// the SIGTERM npm forwards reaches it rather than a shell.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import {
  EmulatorUnavailableError,
  RedisUnavailableError,
  canListen,
  untilListening,
  spawnGroup,
  startDatastoreEmulator,
  startRedisServer,
  type DatastoreEmulator,
  type GroupProcess,
  type RedisServer,
} from '@visitme/harness';
import { MODULES_DIR, stages } from '@visitme/stage-diff';

const DEFAULT_BASE_PORT = 8080;

interface Module {
  name: string;
  dir: string;
  server: string;
  dependencies: Record<string, string>;
}

/** Every stage folder in modules/, in stage order (the same order `npm run diff` uses). */
export function discoverModules(modulesDir = MODULES_DIR): Module[] {
  return stages(modulesDir).map((folder) => {
    const dir = join(modulesDir, folder);
    const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    return {
      name: pkg.name as string,
      dir,
      // Built from src/server.ts, the entry `npm start` runs in every module.
      server: join(dir, 'dist', 'src', 'server.js'),
      dependencies: (pkg.dependencies ?? {}) as Record<string, string>,
    };
  });
}

const children: GroupProcess[] = [];
let emulator: DatastoreEmulator | undefined;
let redis: RedisServer | undefined;
let stopping = false;

/** Stops everything started so far, then exits with `code`. */
export async function stopAll(code: number) {
  if (stopping) return;
  stopping = true;
  if (children.length > 0 || emulator || redis) say('stopping…');
  await Promise.all(children.map((child) => child.stop(10_000)));
  await Promise.all([emulator?.stop(), redis?.stop()]);
  process.exit(code);
}

function say(line: string) {
  process.stdout.write(`[stack] ${line}\n`);
}

/** Runs the stack until SIGINT or SIGTERM; on a failure to start, stops what did start. */
export async function main() {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { 'base-port': { type: 'string' }, help: { type: 'boolean', short: 'h' } },
  });
  const all = discoverModules();
  if (values.help) {
    say(
      `usage: npm start [-- [--base-port=N] [MODULE ...]]  modules: ${all.map((m) => m.name).join(', ')}`,
    );
    return;
  }
  const basePort =
    values['base-port'] !== undefined
      ? parseBasePort(values['base-port'], all.length)
      : parseBasePort(process.env.VISITME_BASE_PORT, all.length, 'VISITME_BASE_PORT');
  const unknown = positionals.filter((name) => !all.some((module) => module.name === name));
  if (unknown.length > 0) {
    throw new Error(
      `No such module: ${unknown.join(', ')}. There are: ${all.map((m) => m.name).join(', ')}`,
    );
  }
  // Ports follow stage order over all modules, so a module keeps its URL when run alone.
  const chosen = all
    .map((module, index) => ({ module, port: basePort + index + 1 }))
    .filter(({ module }) => positionals.length === 0 || positionals.includes(module.name));

  // Before starting anything: a second stack on the same ports would otherwise find the
  // first one's servers answering and report success.
  const taken = [];
  for (const { module, port } of chosen) {
    if (!(await canListen(port))) taken.push(`${port} (${module.name})`);
  }
  if (taken.length > 0) {
    const [ports, are] = taken.length > 1 ? ['Ports', 'are'] : ['Port', 'is'];
    throw new Error(
      `${ports} ${taken.join(', ')} ${are} already in use, perhaps by another npm start. ` +
        'Stop it, or choose other ports: npm start -- --base-port=N',
    );
  }

  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  const env: NodeJS.ProcessEnv = { ...process.env };
  let datastoreUse: string;
  if (env.DATASTORE_EMULATOR_HOST) {
    datastoreUse = `Datastore emulator at ${env.DATASTORE_EMULATOR_HOST} (DATASTORE_EMULATOR_HOST)`;
  } else if (env.VISITME_STORE === 'memory') {
    datastoreUse = 'in-memory visits (VISITME_STORE=memory)';
  } else {
    try {
      say('starting the Datastore emulator…');
      emulator = await startDatastoreEmulator();
      env.DATASTORE_EMULATOR_HOST = emulator.host;
      datastoreUse = `Datastore emulator at ${emulator.host}`;
    } catch (error) {
      if (!(error instanceof EmulatorUnavailableError)) throw error;
      shout(
        `No Datastore emulator here. ${error.message}`,
        'Falling back to keeping visits IN MEMORY, in each module process: they are lost',
        'when it stops. The page works; Datastore does not take part.',
      );
      env.VISITME_STORE = 'memory';
      datastoreUse = 'IN-MEMORY visits (no emulator: see above)';
    }
  }
  if (env.DATASTORE_EMULATOR_HOST) {
    env.GOOGLE_CLOUD_PROJECT ??= 'visitme-local';
    env.METADATA_SERVER_DETECTION ??= 'none'; // local: do not probe for Google's metadata server
  }

  let redisUse = '';
  if (chosen.some(({ module }) => module.dependencies.ioredis)) {
    if (env.REDIS_HOST) {
      redisUse = `Redis at ${env.REDIS_HOST}:${env.REDIS_PORT ?? 6379} (REDIS_HOST)`;
    } else {
      try {
        say('starting redis-server…');
        redis = await startRedisServer();
        Object.assign(env, redis.env);
        redisUse = `Redis at ${redis.host}:${redis.port}`;
      } catch (error) {
        if (!(error instanceof RedisUnavailableError)) throw error;
        shout(
          `No Redis here. ${error.message}`,
          'Module 13 still serves every page, from Datastore, with NO CACHE: it fails open.',
        );
        redisUse = 'NO REDIS: no cache (see above)';
      }
    }
  }

  const rows: string[][] = [];
  for (const { module, port } of chosen) {
    if (!existsSync(module.server)) {
      throw new Error(
        `${module.name} is not built (${module.server} is missing): run npm run build`,
      );
    }
    const prefix = `[${module.name}] `;
    const child = spawnGroup(process.execPath, [module.server], {
      env: { ...env, PORT: String(port) },
      onOutput: (chunk) => process.stdout.write(prefixLines(prefix, chunk.toString())),
    });
    children.push(child);
    child.child.once('exit', (code, signal) => {
      if (stopping) return;
      say(`${module.name} exited (${signal ?? `code ${code}`}); stopping everything`);
      void stopAll(1);
    });
    const uses = [datastoreUse];
    if (module.dependencies['node-cache']) uses.push('in-process cache (node-cache)');
    if (module.dependencies.ioredis) uses.push(redisUse);
    rows.push([module.name, `http://localhost:${port}/`, uses.join(' + ')]);
  }
  for (const [index, { module, port }] of chosen.entries()) {
    await untilListening(module.name, port, children[index]!);
  }
  process.stdout.write('\n' + table([['Module', 'URL', 'Uses'], ...rows]) + '\n');
  say('running; Ctrl-C stops everything.');
}

/**
 * The port below the first stage's: a whole number leaving room for `count` ports above it.
 * Undefined means the default.
 */
export function parseBasePort(
  text: string | undefined,
  count: number,
  name = '--base-port',
): number {
  if (text === undefined) return DEFAULT_BASE_PORT;
  const port = /^\d+$/.test(text.trim()) ? Number(text) : NaN;
  const highest = 65_535 - count;
  if (!(port >= 1 && port <= highest)) {
    throw new Error(
      `${name} must be a whole number from 1 to ${highest} (the stages listen on the ` +
        `next ${count} ports); it is "${text}"`,
    );
  }
  return port;
}

/** A warning nobody can miss: what is missing, and what runs instead. */
function shout(...lines: string[]) {
  const bar = '!'.repeat(78);
  process.stderr.write([bar, ...lines.map((line) => `! ${line}`), bar, ''].join('\n'));
}

function prefixLines(prefix: string, text: string): string {
  return text.replace(/^(?=.)/gm, prefix);
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  return (
    [
      line(rows[0]!),
      widths.map((width) => '-'.repeat(width)).join('  '),
      ...rows.slice(1).map(line),
    ].join('\n') + '\n'
  );
}
