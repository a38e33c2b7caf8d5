// npm run exercise -- STAGE [--reset | --start [--port=N]]   your copy of STAGE's START
// npm run check -- STAGE [--watch]                          STAGE's own tests against it
import { watch } from 'node:fs';
import { join, relative } from 'node:path';
import { styleText } from 'node:util';
import {
  startLocalServices,
  startServer,
  type GroupProcess,
  type LocalServices,
} from '@visitme/harness';
import { portNumber } from '@visitme/shared';
import { commandLine } from '@visitme/stages/command-line';
import {
  buildCopy,
  causes,
  checkCopy,
  checkDependencies,
  createCopy,
  exercise,
  type Exercise,
  type Result,
} from './exercise.js';

const DEFAULT_PORT = 8090;

const [command, ...rest] = process.argv.slice(2);
const usage =
  command === 'check'
    ? 'usage: npm run check -- STAGE [--watch]   (STAGE: mod12, mod13, …)'
    : 'usage: npm run exercise -- STAGE [--reset | --start [--port=N]]   (STAGE: mod12, mod13, …)';
const { values, positionals } = commandLine(
  {
    args: rest,
    allowPositionals: true,
    options: {
      reset: { type: 'boolean' },
      start: { type: 'boolean' },
      port: { type: 'string' },
      watch: { type: 'boolean' },
    },
  },
  usage,
);
if (positionals.length !== 1) {
  process.stdout.write(`${usage}\n`);
  process.exit(2);
}

const colour = process.stdout.isTTY && !process.env.NO_COLOR;
const paint = (style: Parameters<typeof styleText>[0], text: string) =>
  colour ? styleText(style, text) : text;
const say = (text: string) => process.stdout.write(`${text}\n`);
const shown = (dir: string) => relative(process.cwd(), dir) || dir;

let chosen: Exercise;
let port = DEFAULT_PORT;
try {
  chosen = exercise(positionals[0]!);
  if (values.port !== undefined) port = portNumber(values.port, '--port');
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(2);
}
const { stage, start: startStage } = chosen;
const stopping = new AbortController();
let checking = false; // the stage's tests are running: they stop first
const short = stage.name.split('-')[0]!;

if (command === 'check') {
  // Ctrl-C, or SIGTERM to npm (which passes it on): the tests in progress stop, and the servers
  // they started with them; then it says so.
  for (const signal of ['SIGINT', 'SIGTERM'] as const) {
    process.on(signal, () => {
      stopping.abort();
      if (!checking) stopped();
    });
  }
  process.exitCode = await check();
  if (values.watch) watchAndCheck();
} else if (values.start) {
  await start();
} else {
  const made = createCopy(chosen, { reset: values.reset ?? false });
  const where = shown(chosen.dir);
  if (!made) {
    say(`${where} exists already: your work is kept. To start again from ${startStage.name}:`);
    say(`  npm run exercise -- ${short} --reset`);
  } else {
    say(`${where} is a copy of ${startStage.name}, the START of ${stage.name}.`);
    say(
      `Make ${stage.name}'s change there (its README: ${shown(join(stage.dir, 'README.md'))}), then:`,
    );
    say(
      `  npm run check -- ${short}              the tests ${stage.name} is held to, against your copy`,
    );
    say(
      `  npm run exercise -- ${short} --start   run your copy (Datastore emulator, Redis) on port ${DEFAULT_PORT}`,
    );
    say(`  npm run diff -- exercise ${short}      your copy against the official ${stage.name}`);
    say(`  npm run exercise -- ${short} --reset   start again from ${startStage.name}`);
  }
}

function stopped(): never {
  if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
  say('Stopped: the check and the servers its tests started.');
  process.exit(0);
}

/**
 * Builds and checks the copy, then says what to do next: each cause that fails several
 * behaviours once, first, then every behaviour. The exit code: 0 only when every one passes.
 */
async function check(): Promise<number> {
  const where = shown(chosen.dir);
  if (createCopy(chosen))
    say(`There was no exercise yet: ${where} is now a copy of ${startStage.name}.`);
  say(paint('bold', `Building ${where}…`));
  if (!buildCopy(chosen.dir).ok) {
    say(paint('red', `✗ ${where} does not compile: the compiler's messages are above.`));
    return 1;
  }
  say(
    paint(
      'bold',
      `Checking it with ${stage.name}'s own tests (a real Datastore emulator and redis-server)…`,
    ),
  );
  let checked = 0;
  const progress = () => {
    if (process.stdout.isTTY) process.stdout.write(`\r${++checked} behaviours checked…`);
  };
  checking = true;
  const behaviours = await checkCopy(chosen, progress, stopping.signal);
  checking = false;
  if (stopping.signal.aborted) stopped();
  const results = [checkDependencies(chosen), ...behaviours];
  if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
  if (results.length === 1) {
    say(paint('red', '✗ no behaviour was checked: the tests did not run.'));
    return 1;
  }
  const first = causes(results);
  if (first.length > 0) {
    say(paint('bold', '\nNext:'));
    for (const [index, { reason, where, count }] of first.entries()) {
      const many = count > 1 ? ` (${count} behaviours wait on this)` : '';
      say(`  ${index + 1}. ${reason}${many}: ${where}`);
    }
    say('');
  }
  for (const result of results) {
    say(paint(result.passed ? 'green' : 'red', result.line));
    const cause = first.findIndex(({ reason }) => reason === result.reason);
    if (cause >= 0) say(paint('dim', `    see ${cause + 1} above`));
    else if (result.reason) say(paint('dim', `    ${result.reason}`));
  }
  const passed = results.filter((result) => result.passed).length;
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

/**
 * Builds the copy and runs its server as `npm start` runs a stage, until Ctrl-C or SIGTERM,
 * which stop everything it started, and it says so.
 */
async function start() {
  createCopy(chosen);
  if (!buildCopy(chosen.dir).ok) {
    say(`✗ ${shown(chosen.dir)} does not compile: the compiler's messages are above.`);
    process.exit(1);
  }
  let services: LocalServices | undefined;
  let server: GroupProcess | undefined;
  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    await server?.stop(10_000);
    await services?.stop();
    say('Stopped your copy and the servers it used.');
    process.exit(code);
  };
  process.on('SIGINT', () => void stop(0));
  process.on('SIGTERM', () => void stop(0));
  try {
    // The copy's dependencies say whether it caches in Redis yet; Redis is there either way.
    services = await startLocalServices({ redis: true, fallBack: true, say });
    server = await startServer(
      shown(chosen.dir),
      process.execPath,
      [join(chosen.dir, 'dist', 'src', 'server.js')],
      port,
      {
        env: {
          ...process.env,
          GOOGLE_CLOUD_PROJECT: 'visitme-exercise',
          ...services.env,
          PORT: String(port),
        },
        onOutput: (chunk) => process.stdout.write(chunk),
      },
    );
    server.child.once('exit', (code, signal) => {
      if (stopping) return;
      say(`Your copy exited (${signal ?? `code ${code}`}).`);
      void stop(1);
    });
  } catch (error) {
    process.stderr.write(`${(error as Error).message}\n`);
    await stop(1);
    return;
  }
  say(
    `Your ${stage.name}: http://localhost:${port}/  (${[services.datastore, services.redis].filter(Boolean).join(', ')})`,
  );
  say('Ctrl-C stops it.');
}
