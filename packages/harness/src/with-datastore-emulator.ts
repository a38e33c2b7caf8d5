// with-datastore-emulator COMMAND [ARG…]: runs COMMAND (a test run: `node --test …`) with one
// Datastore emulator started for all of it, named in VISITME_TEST_DATASTORE, and stops the
// emulator when COMMAND exits, whatever its way out. Every test file of the run then shares one
// JVM (`testEmulator()`) instead of starting its own: a second or two and a few of CPU each.
import { spawn } from 'node:child_process';
import { startDatastoreEmulator, TEST_EMULATOR_VARIABLE } from './datastore-emulator.js';

const [command, ...args] = process.argv.slice(2);
if (!command) {
  process.stderr.write('usage: with-datastore-emulator COMMAND [ARG…]\n');
  process.exit(2);
}
const emulator = await startDatastoreEmulator();
const child = spawn(command, args, {
  stdio: 'inherit',
  env: { ...process.env, [TEST_EMULATOR_VARIABLE]: emulator.host },
});
// Ctrl-C reaches the whole terminal group; a SIGTERM to this process alone is passed on.
for (const signal of ['SIGINT', 'SIGTERM'] as const) {
  process.on(signal, () => child.kill(signal));
}
const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) =>
  child.once('exit', (...outcome) => resolve(outcome)),
);
await emulator.stop();
process.exitCode = code ?? (signal ? 1 : 0);
