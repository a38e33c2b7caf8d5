// npm run exercise -- STAGE [--reset | --start [--port=N]]   your copy of STAGE's START
// npm run check -- STAGE [--watch]                          STAGE's own tests against it
import { watch } from 'node:fs';
import { join, relative } from 'node:path';
import { parseArgs, styleText } from 'node:util';
import {
  RedisUnavailableError,
  spawnGroup,
  startDatastoreEmulator,
  startRedisServer,
  untilListening,
  type DatastoreEmulator,
  type RedisServer,
} from '@visitme/harness';
import { MODULES_DIR } from '@visitme/stage-diff';
import {
  buildCopy,
  checkCopy,
  checkDependencies,
  createCopy,
  exercise,
  type Exercise,
  type Result,
} from './exercise.js';

const DEFAULT_PORT = 8090;

const [command, ...rest] = process.argv.slice(2);
const { values, positionals } = parseArgs({
  args: rest,
  allowPositionals: true,
  options: {
    reset: { type: 'boolean' },
    start: { type: 'boolean' },
    port: { type: 'string' },
    watch: { type: 'boolean' },
    help: { type: 'boolean', short: 'h' },
  },
});
const usage =
  command === 'check'
    ? 'usage: npm run check -- STAGE [--watch]   (STAGE: mod12, mod13, …)'
    : 'usage: npm run exercise -- STAGE [--reset | --start [--port=N]]   (STAGE: mod12, mod13, …)';
if (values.help || positionals.length !== 1) {
  process.stdout.write(`${usage}\n`);
  process.exit(values.help ? 0 : 2);
}

const colour = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (style: Parameters<typeof styleText>[0], text: string) =>
  colour ? styleText(style, text) : text;
const say = (text: string) => process.stdout.write(`${text}\n`);
const shown = (dir: string) => relative(process.cwd(), dir) || dir;

let chosen: Exercise;
try {
  chosen = exercise(positionals[0]!);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
const short = chosen.stage.split('-')[0]!;

if (command === 'check') {
  process.exitCode = await check();
  if (values.watch) watchAndCheck();
} else if (values.start) {
  await start();
} else {
  const made = createCopy(chosen, { reset: values.reset ?? false });
  const where = shown(chosen.dir);
  if (!made) {
    say(`${where} exists already: your work is kept. To start again from ${chosen.start}:`);
    say(`  npm run exercise -- ${short} --reset`);
  } else {
    say(`${where} is a copy of ${chosen.start}, the START of ${chosen.stage}.`);
    say(
      `Make ${chosen.stage}'s change there (its README: ${shown(join(MODULES_DIR, chosen.stage, 'README.md'))}), then:`,
    );
    say(
      `  npm run check -- ${short}              the tests ${chosen.stage} is held to, against your copy`,
    );
    say(
      `  npm run exercise -- ${short} --start   run your copy (Datastore emulator, Redis) on port ${DEFAULT_PORT}`,
    );
    say(`  npm run diff -- exercise ${short}      your copy against the official ${chosen.stage}`);
    say(`  npm run exercise -- ${short} --reset   start again from ${chosen.start}`);
  }
}

/** Builds and checks the copy; the exit code: 0 only when every behaviour passes. */
async function check(): Promise<number> {
  const where = shown(chosen.dir);
  if (createCopy(chosen))
    say(`There was no exercise yet: ${where} is now a copy of ${chosen.start}.`);
  say(paint('bold', `Building ${where}…`));
  if (!buildCopy(chosen.dir).ok) {
    say(paint('red', `✗ ${where} does not compile: the compiler's messages are above.`));
    return 1;
  }
  say(
    paint(
      'bold',
      `Checking it with ${chosen.stage}'s own tests (a real Datastore emulator and redis-server)…`,
    ),
  );
  const show = (result: Result) => {
    say(paint(result.passed ? 'green' : 'red', result.line));
    if (result.reason) say(paint('dim', `    ${result.reason}`));
  };
  const dependencies = checkDependencies(chosen);
  show(dependencies);
  const results = [dependencies, ...(await checkCopy(chosen, show))];
  const passed = results.filter((result) => result.passed).length;
  if (results.length === 1) {
    say(paint('red', '✗ no behaviour was checked: the tests did not run.'));
    return 1;
  }
  if (passed === results.length) {
    say(
      paint(
        'green',
        `All ${passed} behaviours pass. Compare with the official one: npm run diff -- exercise ${short}`,
      ),
    );
    return 0;
  }
  say(`${passed} of ${results.length} behaviours pass.`);
  return 1;
}

/** Reruns the check on every save in the copy (after the run in progress, if any). */
function watchAndCheck() {
  let running = false;
  let again = false;
  let timer: NodeJS.Timeout | undefined;
  const rerun = async () => {
    if (running) return void (again = true);
    running = true;
    do {
      again = false;
      say(paint('bold', `\n${new Date().toLocaleTimeString()}: a file changed; checking again.`));
      process.exitCode = await check();
    } while (again);
    running = false;
    say(paint('dim', 'Watching for changes; Ctrl-C stops.'));
  };
  say(paint('dim', 'Watching for changes; Ctrl-C stops.'));
  watch(chosen.dir, { recursive: true }, (_event, file) => {
    if (file && /(^|\/)(dist|node_modules)(\/|$)/.test(file)) return; // our own build output
    clearTimeout(timer);
    timer = setTimeout(() => void rerun(), 300); // an editor's save is several events
  });
}

/** Builds the copy and runs its server as `npm start` runs a stage, until Ctrl-C. */
async function start() {
  createCopy(chosen);
  if (!buildCopy(chosen.dir).ok) {
    say(`✗ ${shown(chosen.dir)} does not compile: the compiler's messages are above.`);
    process.exit(1);
  }
  const port = Number(values.port ?? DEFAULT_PORT);
  let emulator: DatastoreEmulator | undefined;
  let redis: RedisServer | undefined;
  let server: ReturnType<typeof spawnGroup> | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await server?.stop(10_000);
    await Promise.all([emulator?.stop(), redis?.stop()]);
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    PORT: String(port),
    METADATA_SERVER_DETECTION: 'none',
  };
  try {
    if (!env.DATASTORE_EMULATOR_HOST) {
      emulator = await startDatastoreEmulator();
      env.DATASTORE_EMULATOR_HOST = emulator.host;
    }
    env.GOOGLE_CLOUD_PROJECT ??= 'visitme-exercise';
    if (!env.REDIS_HOST) {
      try {
        redis = await startRedisServer();
        Object.assign(env, redis.env);
      } catch (error) {
        if (!(error instanceof RedisUnavailableError)) throw error;
        say(`No redis-server here (${error.message}): the copy runs without Redis.`);
      }
    }
    server = spawnGroup(process.execPath, [join(chosen.dir, 'dist', 'src', 'server.js')], {
      env,
      onOutput: (chunk) => process.stdout.write(chunk),
    });
    server.child.once('exit', (code, signal) => {
      if (stopping) return;
      say(`Your copy exited (${signal ?? `code ${code}`}).`);
      void stop(1);
    });
    await untilListening(shown(chosen.dir), port, server);
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    await stop(1);
  }
  say(
    `Your ${chosen.stage}: http://localhost:${port}/  (Datastore emulator at ${env.DATASTORE_EMULATOR_HOST}` +
      (env.REDIS_HOST ? `, Redis at ${env.REDIS_HOST}:${env.REDIS_PORT ?? 6379})` : ')'),
  );
  say('Ctrl-C stops it.');
}
