// The Datastore emulator's JVM starts on half the CPU (1.5 → 0.75 s here) when it maps a
// dump of the classes it loads as it starts (a class-data archive, Java 13 and later) instead
// of loading them anew, and the tests start it some seventy times. The archive is made once
// per machine, emulator and Java, in the user's cache folder, by an emulator that runs only
// to write it; a JVM that cannot use it (another build, an older Java) starts as before.
import { createHash } from 'node:crypto';
import { once } from 'node:events';
import { existsSync, mkdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { delimiter, dirname, join } from 'node:path';
import { freePort, spawnGroup, waitUntil } from './process-group.js';
import { processTree } from './process-tree.js';

/**
 * The JVM options that map the emulator's class-data archive, made first if this process is
 * the first to need it; none if it cannot be had (being made elsewhere, or it failed here).
 */
export async function classArchiveOptions(
  launcher: string,
  jvmOptions: string,
  healthy: (host: string) => Promise<boolean>,
): Promise<string> {
  let archive: string;
  try {
    archive = archivePath(launcher, jvmOptions);
  } catch {
    return ''; // no jar or no java where expected: the launcher will say what is wrong
  }
  const use = `-XX:+IgnoreUnrecognizedVMOptions -XX:SharedArchiveFile=${archive}`;
  if (existsSync(archive)) return use;
  if (existsSync(`${archive}.failed`) || !lock(archive)) return '';
  try {
    const write = `-XX:+IgnoreUnrecognizedVMOptions -XX:ArchiveClassesAtExit=${archive}.tmp`;
    await makeArchive(launcher, `${jvmOptions} ${write}`, healthy);
    renameSync(`${archive}.tmp`, archive);
    return use;
  } catch {
    mkdirSync(`${archive}.failed`, { recursive: true }); // not tried again on this machine
    return '';
  } finally {
    rmSync(`${archive}.tmp`, { force: true });
    rmSync(`${archive}.lock`, { recursive: true, force: true });
  }
}

/** Named for what makes it valid: the emulator's jar, the `java` the launcher runs, the options. */
function archivePath(launcher: string, jvmOptions: string): string {
  const jar = join(dirname(launcher), 'CloudDatastore.jar');
  const java = realpathSync(process.env.JAVA ?? onPath('java'));
  const key = createHash('sha256')
    .update([jar, statSync(jar).mtimeMs, java, statSync(java).mtimeMs, jvmOptions].join('\n'))
    .digest('hex')
    .slice(0, 16);
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'visitme');
  mkdirSync(cache, { recursive: true });
  return join(cache, `datastore-emulator-${key}.jsa`);
}

function onPath(command: string): string {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    if (dir && existsSync(join(dir, command))) return join(dir, command);
  }
  throw new Error(`${command} is not on PATH`);
}

/** Whether this process may make the archive: no other is making it (for a minute at most). */
function lock(archive: string): boolean {
  const dir = `${archive}.lock`;
  try {
    if (Date.now() - statSync(dir).mtimeMs > 60_000) rmSync(dir, { recursive: true });
  } catch {
    // no lock yet
  }
  try {
    mkdirSync(dir);
    return true;
  } catch {
    return false;
  }
}

/** An emulator that starts, answers a query, and stops gracefully: the JVM writes the archive as it exits. */
async function makeArchive(
  launcher: string,
  jvmOptions: string,
  healthy: (host: string) => Promise<boolean>,
): Promise<void> {
  const port = await freePort();
  const host = `127.0.0.1:${port}`;
  const emulator = spawnGroup(
    launcher,
    ['start', '--testing', '--host=127.0.0.1', `--port=${port}`],
    {
      env: { ...process.env, JDK_JAVA_OPTIONS: jvmOptions },
    },
  );
  try {
    await waitUntil('The Datastore emulator', () => healthy(host), emulator, 60_000);
    await fetch(`http://${host}/v1/projects/archive:runQuery`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: { kind: [{ name: 'Visit' }] } }),
    });
    // SIGTERM to the JVM alone: its launcher, the group's leader, exits after it, and the
    // group is killed when its leader exits.
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
