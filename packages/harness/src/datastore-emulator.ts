import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import which from 'which';
import { classArchiveOptions } from './class-archive.js';
import {
  freePort,
  spawnGroup,
  startRestartable,
  waitUntil,
  type Restartable,
} from './process-group.js';
import { processTree } from './process-tree.js';

const LAUNCHER = 'platform/cloud-datastore-emulator/cloud_datastore_emulator';

/** Why the Datastore emulator cannot run on this machine, with what to install. */
export class EmulatorUnavailableError extends Error {
  override name = 'EmulatorUnavailableError';
}

/** The emulator's launcher script under the Google Cloud CLI, or an explanation. */
export function findDatastoreEmulator(): string {
  // Looked up, not run: a JVM started only to print its version costs 0.2 s of CPU, each time.
  if (!process.env.JAVA && !which.sync('java', { nothrow: true })) {
    throw new EmulatorUnavailableError(
      'The Datastore emulator needs Java 11 or newer, and `java` is not on PATH. ' +
        'Install it with `sudo apt-get install -y default-jre-headless` (Debian/Ubuntu) ' +
        'or from https://adoptium.net.',
    );
  }
  const roots = [process.env.CLOUDSDK_ROOT_DIR, '/usr/lib/google-cloud-sdk'];
  for (const root of roots) {
    if (root && existsSync(join(root, LAUNCHER))) return join(root, LAUNCHER);
  }
  let sdkRoot: string;
  try {
    sdkRoot = execFileSync('gcloud', ['info', '--format=value(installation.sdk_root)'], {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
  } catch {
    throw new EmulatorUnavailableError(
      'The Google Cloud CLI (`gcloud`) is not installed. Install it from ' +
        'https://cloud.google.com/sdk/docs/install, then run ' +
        '`gcloud components install cloud-datastore-emulator` ' +
        '(or `sudo apt-get install -y google-cloud-cli-datastore-emulator`).',
    );
  }
  const launcher = join(sdkRoot, LAUNCHER);
  if (!existsSync(launcher)) {
    throw new EmulatorUnavailableError(
      `The Google Cloud CLI at ${sdkRoot} lacks the Datastore emulator. Install it with ` +
        '`gcloud components install cloud-datastore-emulator` ' +
        '(or `sudo apt-get install -y google-cloud-cli-datastore-emulator`).',
    );
  }
  return launcher;
}

/** A Datastore emulator that answers at `host`. */
export interface EmulatorAddress {
  /** `host:port`, the value of `DATASTORE_EMULATOR_HOST`. */
  readonly host: string;
  readonly port: number;
  /** How many entities of `kind` project `projectId` holds, asked of the emulator itself. */
  count(projectId: string, kind: string): Promise<number>;
}

/** A running Cloud Datastore emulator, on loopback, in its own process group. */
export interface DatastoreEmulator extends EmulatorAddress, Restartable {}

/** The emulator answering at `host` (`127.0.0.1:8432`), started by someone else. */
export function emulatorAt(host: string): EmulatorAddress {
  return {
    host,
    port: Number(host.slice(host.lastIndexOf(':') + 1)),
    count: (projectId, kind) => countEntities(host, projectId, kind),
  };
}

export interface DatastoreEmulatorOptions {
  port?: number;
  startTimeoutMs?: number;
}

/**
 * Starts the Google Cloud CLI's Datastore emulator with `--testing`: in memory, and
 * strongly consistent, so a visit just stored is in the very next query, as on today's
 * Firestore-in-Datastore-mode projects. Its own launcher starts in about a second,
 * much faster than going through `gcloud`.
 */
export async function startDatastoreEmulator(
  options: DatastoreEmulatorOptions = {},
): Promise<DatastoreEmulator> {
  const launcher = findDatastoreEmulator();
  const timeoutMs = options.startTimeoutMs ?? 60_000;
  const port = options.port ?? (await freePort());
  const host = `127.0.0.1:${port}`;
  const server = await startRestartable({
    name: 'The Datastore emulator',
    command: launcher,
    args: startArgs(port),
    port,
    ready: () => healthy(host),
    timeoutMs,
    env: { ...process.env, JDK_JAVA_OPTIONS: await jvmOptions(launcher) },
  });
  return { ...server, ...emulatorAt(host) };
}

// A JVM that lives for minutes, with a small heap: its quick compiler alone starts it and
// answers 600 queries on about a quarter less CPU than with the optimising one (1.95 + 7.5 s
// against 1.6 + 5.4 s), and the serial collector takes a fifth less again than the default
// (300 visits stored and 300 pages of ten read: 4.4 against 3.5 s), which the tests, two
// cores and a learner's laptop all feel. A user's own JDK_JAVA_OPTIONS replace these.
const JVM_OPTIONS = '-XX:TieredStopAtLevel=1 -XX:+UseSerialGC';

const startArgs = (port: number) => ['start', '--testing', '--host=127.0.0.1', `--port=${port}`];

async function jvmOptions(launcher: string): Promise<string> {
  if (process.env.JDK_JAVA_OPTIONS !== undefined) return process.env.JDK_JAVA_OPTIONS;
  const archive = await classArchiveOptions({
    name: 'datastore-emulator',
    classPath: join(dirname(launcher), 'CloudDatastore.jar'),
    jvmOptions: JVM_OPTIONS,
    writeWith: (options) => runOnce(launcher, options),
  });
  return `${JVM_OPTIONS} ${archive}`.trim();
}

/** An emulator that starts, answers a query, and exits as asked (a JVM writes its class-data archive then). */
async function runOnce(launcher: string, jvmOptions: string): Promise<void> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const emulator = spawnGroup(launcher, startArgs(port), {
    env: { ...process.env, JDK_JAVA_OPTIONS: jvmOptions },
  });
  try {
    await waitUntil('The Datastore emulator', () => healthy(host), emulator, 60_000);
    await countEntities(host, 'archive', 'Visit');
    // SIGTERM to the JVM alone: stopping the group would stop its launcher, the group's
    // leader, and the group is killed when its leader exits.
    const [jvm] = (await processTree(emulator.child.pid!)).filter(({ command }) =>
      /\bjava\b/.test(command),
    );
    if (!jvm) throw new Error('no JVM');
    const exited = once(emulator.child, 'exit', { signal: AbortSignal.timeout(30_000) });
    process.kill(jvm.pid, 'SIGTERM');
    await exited;
  } finally {
    await emulator.kill();
  }
}

/** Set for a command run by `with-datastore-emulator`: the emulator its test files share. */
export const TEST_EMULATOR_VARIABLE = 'VISITME_TEST_DATASTORE';

/**
 * The Datastore emulator for a test file: the one its test run shares, when the run has one
 * (`with-datastore-emulator node --test …`), otherwise one of its own. Each test keeps to its
 * own Datastore project, so files never see each other's entities. `stop()` stops an own
 * emulator only.
 */
export async function testEmulator(): Promise<EmulatorAddress & { stop(): Promise<void> }> {
  const shared = process.env[TEST_EMULATOR_VARIABLE];
  if (shared) return { ...emulatorAt(shared), stop: async () => {} };
  return startDatastoreEmulator();
}

async function healthy(host: string): Promise<boolean> {
  const response = await fetch(`http://${host}/`, { signal: AbortSignal.timeout(1000) });
  return response.ok && (await response.text()).trim() === 'Ok';
}

// Through the emulator's REST API rather than the client library the app uses, so a
// test's count does not depend on the code under test.
async function countEntities(host: string, projectId: string, kind: string): Promise<number> {
  let count = 0;
  let cursor: string | undefined;
  for (;;) {
    const response = await fetch(`http://${host}/v1/projects/${projectId}:runQuery`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({
        query: {
          kind: [{ name: kind }],
          projection: [{ property: { name: '__key__' } }],
          ...(cursor && { startCursor: cursor }),
        },
      }),
    });
    if (!response.ok) throw new Error(`runQuery: ${response.status} ${await response.text()}`);
    const { batch } = (await response.json()) as {
      batch: { entityResults?: unknown[]; endCursor?: string; moreResults: string };
    };
    count += batch.entityResults?.length ?? 0;
    if (batch.moreResults !== 'NOT_FINISHED' || !batch.entityResults?.length) return count;
    cursor = batch.endCursor;
  }
}
