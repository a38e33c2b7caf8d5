// A JVM that maps a dump of the classes it loaded the last time it started (a class-data
// archive, Java 13 and later) starts on about half the CPU: the Datastore emulator's, 1.5 →
// 0.75 s here, and the tests start it some seventy times. The archive is made once per
// machine, program and Java, in the user's cache folder, by a run of the program that exists
// only to write it; a JVM that cannot use it (another build, an older Java) starts as before.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, realpathSync, renameSync, rmSync, statSync } from 'node:fs';
import { homedir } from 'node:os';
import { join } from 'node:path';
import which from 'which';

export interface ClassArchive {
  /** What the archive is of, in its file name: `datastore-emulator`. */
  name: string;
  /** The program's class path (its jar). */
  classPath: string;
  /** The JVM options it runs with. */
  jvmOptions: string;
  /** Runs the program once with these JVM options and stops it gracefully. */
  writeWith(jvmOptions: string): Promise<void>;
}

/**
 * The JVM options that map the program's class-data archive, made first if this process is
 * the first to need it; none if it cannot be had (being made elsewhere, or it failed here).
 */
export async function classArchiveOptions(program: ClassArchive): Promise<string> {
  let archive: string;
  try {
    archive = archivePath(program);
  } catch {
    return ''; // no jar or no java where expected: the program will say what is wrong
  }
  const use = `-XX:+IgnoreUnrecognizedVMOptions -XX:SharedArchiveFile=${archive}`;
  if (existsSync(archive)) return use;
  if (existsSync(`${archive}.failed`) || !lock(archive)) return '';
  try {
    const write = `-XX:+IgnoreUnrecognizedVMOptions -XX:ArchiveClassesAtExit=${archive}.tmp`;
    await program.writeWith(`${program.jvmOptions} ${write}`);
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

/** Named for what makes it valid: the program's jar, the `java` that runs it, the options. */
function archivePath({ name, classPath, jvmOptions }: ClassArchive): string {
  const java = realpathSync(process.env.JAVA ?? which.sync('java'));
  const key = createHash('sha256')
    .update(
      [classPath, statSync(classPath).mtimeMs, java, statSync(java).mtimeMs, jvmOptions].join('\n'),
    )
    .digest('hex')
    .slice(0, 16);
  const cache = join(process.env.XDG_CACHE_HOME || join(homedir(), '.cache'), 'visitme');
  mkdirSync(cache, { recursive: true });
  return join(cache, `${name}-${key}.jsa`);
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
