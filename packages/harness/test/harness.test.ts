import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { once } from 'node:events';
import { test } from 'node:test';
import {
  EmulatorUnavailableError,
  EPHEMERAL_PORTS_START,
  findDatastoreEmulator,
  freePort,
  get,
  isListening,
  listen,
  startDatastoreEmulator,
  startGate,
} from '../src/index.js';

/** The PIDs of every process whose command line mentions this port. */
function processesOnPort(port: number): number[] {
  const lines = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' }).split('\n');
  return lines
    .filter((line) => line.includes(`--port=${port}`))
    .map((line) => Number(line.trim().split(' ')[0]));
}

const HARNESS = JSON.stringify(new URL('../src/index.js', import.meta.url).href);

/** A child like a test file: it starts an emulator, prints its port, then runs `then`. */
async function testFileWithEmulator(then: string) {
  const script = `
    import { startDatastoreEmulator } from ${HARNESS};
    const emulator = await startDatastoreEmulator();
    console.log(emulator.port);
    ${then}
  `;
  const child = spawn(process.execPath, ['--input-type=module', '-e', script], {
    stdio: ['ignore', 'pipe', 'ignore'],
  });
  const [chunk] = (await once(child.stdout, 'data')) as [Buffer];
  return { child, port: Number(chunk.toString().trim()) };
}

/** The processes still mentioning this port once they have had up to 5 s to go. */
async function processesLeftOn(port: number): Promise<number[]> {
  const deadline = Date.now() + 5000;
  while (processesOnPort(port).length > 0 && Date.now() < deadline) {
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  return processesOnPort(port);
}

test('the emulator starts healthy and stop() leaves no process and no listener', async () => {
  const emulator = await startDatastoreEmulator();
  assert.match(emulator.host, /^127\.0\.0\.1:\d+$/);
  assert.equal(await (await fetch(`http://${emulator.host}/`)).text(), 'Ok\n');
  assert.ok(processesOnPort(emulator.port).length >= 1, 'the launcher and its JVM run');

  await emulator.stop();
  assert.deepEqual(processesOnPort(emulator.port), []);
  assert.equal(await isListening(emulator.port), false);
});

test("the emulator's JVM maps a class-data archive made once in the cache folder; a foreign one is ignored", async (t) => {
  const cache = mkdtempSync(join(tmpdir(), 'archive-cache-'));
  const saved = { cache: process.env.XDG_CACHE_HOME, options: process.env.JDK_JAVA_OPTIONS };
  process.env.XDG_CACHE_HOME = cache;
  delete process.env.JDK_JAVA_OPTIONS; // the user's own would replace the archive's
  t.after(() => {
    for (const [name, value] of [
      ['XDG_CACHE_HOME', saved.cache],
      ['JDK_JAVA_OPTIONS', saved.options],
    ]) {
      if (value === undefined) delete process.env[name!];
      else process.env[name!] = value;
    }
    rmSync(cache, { recursive: true, force: true });
  });
  /** The JDK_JAVA_OPTIONS the emulator's JVM runs with (`ps e` shows its environment). */
  const optionsOf = (port: number) =>
    processesOnPort(port)
      .map((pid) =>
        execFileSync('ps', ['eww', '-o', 'args=', '-p', String(pid)], { encoding: 'utf8' }),
      )
      .find((line) => /\bjava\b/.test(line))
      ?.match(/JDK_JAVA_OPTIONS=(.*?) [A-Z_]+=/)?.[1];

  const first = await startDatastoreEmulator();
  t.after(() => first.stop());
  const made = readdirSync(join(cache, 'visitme'));
  assert.equal(made.length, 1, `one archive, nothing else: ${made}`);
  assert.match(made[0]!, /^datastore-emulator-[0-9a-f]{16}\.jsa$/);
  const archive = join(cache, 'visitme', made[0]!);
  assert.match(optionsOf(first.port) ?? '', new RegExp(`-XX:SharedArchiveFile=${archive}( |$)`));

  // Another Java's, or a damaged one: the JVM starts without it.
  chmodSync(archive, 0o644);
  writeFileSync(archive, randomBytes(100_000));
  const second = await startDatastoreEmulator();
  t.after(() => second.stop());
  assert.equal(await (await fetch(`http://${second.host}/`)).text(), 'Ok\n');
});

test('without `java` on PATH the emulator is not started, and the message says what to install', (t) => {
  const saved = { path: process.env.PATH, java: process.env.JAVA };
  const empty = mkdtempSync(join(tmpdir(), 'no-java-'));
  process.env.PATH = empty;
  delete process.env.JAVA;
  t.after(() => {
    rmSync(empty, { recursive: true, force: true });
    process.env.PATH = saved.path;
    if (saved.java !== undefined) process.env.JAVA = saved.java;
  });
  assert.throws(
    () => findDatastoreEmulator(),
    (error) =>
      error instanceof EmulatorUnavailableError &&
      /`java` is not on PATH\. Install it with `sudo apt-get install -y default-jre-headless`/.test(
        error.message,
      ),
  );
  process.env.PATH = saved.path;
  assert.match(findDatastoreEmulator(), /cloud_datastore_emulator$/, 'found with java on PATH');
});

test('restart() brings a fresh emulator back on the same port', async () => {
  const emulator = await startDatastoreEmulator();
  try {
    await emulator.stop();
    await emulator.restart();
    assert.equal(await (await fetch(`http://${emulator.host}/`)).text(), 'Ok\n');
    assert.equal(await emulator.count('anything', 'Visit'), 0);
  } finally {
    await emulator.stop();
  }
});

test("when a group's leader dies, the rest of the group goes with it", async () => {
  const emulator = await startDatastoreEmulator();
  const launcher = execFileSync('ps', ['-eo', 'pid=,args='], { encoding: 'utf8' })
    .split('\n')
    .find(
      (line) =>
        line.includes('cloud_datastore_emulator start') && line.includes(`--port=${emulator.port}`),
    );
  try {
    assert.ok(launcher, 'the launcher runs');
    assert.ok(processesOnPort(emulator.port).length >= 2, 'and its JVM');
    process.kill(Number(launcher.trim().split(' ')[0]), 'SIGKILL'); // the launcher alone
    assert.deepEqual(await processesLeftOn(emulator.port), [], 'no JVM left behind');
  } finally {
    for (const pid of processesOnPort(emulator.port)) process.kill(pid, 'SIGKILL');
  }
});

test('a process that dies without stopping its emulator takes the emulator with it', async () => {
  // Like a crashing test file.
  const { child, port } = await testFileWithEmulator("throw new Error('test file crashed');");
  const [code] = await once(child, 'exit');
  assert.notEqual(code, 0);
  assert.deepEqual(await processesLeftOn(port), []);
  assert.equal(await isListening(port), false);
});

test('SIGTERM to a test process also stops the emulators it started', async () => {
  const { child, port } = await testFileWithEmulator('setInterval(() => {}, 1000);');
  child.kill('SIGTERM');
  const [, signal] = await once(child, 'exit');
  assert.equal(signal, 'SIGTERM');
  assert.deepEqual(await processesLeftOn(port), []);
});

test('freePort picks free ports below the ephemeral range, never the same one twice', async () => {
  const ephemeralStart = EPHEMERAL_PORTS_START;
  const ports = new Set<number>();
  for (let index = 0; index < 50; index++) {
    const first = await freePort(3);
    for (const port of [first, first + 1, first + 2]) {
      assert.ok(port >= 20_000 && port < ephemeralStart, `${port} is outside the ephemeral range`);
      assert.equal(ports.has(port), false, `${port} handed out once`);
      assert.equal(await isListening(port), false);
      ports.add(port);
    }
  }
});

test('a test process killed outright (SIGKILL, no handler runs) takes its emulator with it', async () => {
  const { child, port } = await testFileWithEmulator('setInterval(() => {}, 1000);');
  assert.notDeepEqual(processesOnPort(port), [], 'the emulator runs');
  child.kill('SIGKILL');
  await once(child, 'exit');
  assert.deepEqual(await processesLeftOn(port), []);
  assert.equal(await isListening(port), false);
});

test('the reaper keeps no test process alive', { timeout: 30_000 }, async () => {
  const { child } = await testFileWithEmulator('await emulator.stop();');
  const [code] = await once(child, 'exit');
  assert.equal(code, 0, 'it exits by itself once its work is done');
});

test('a held gate keeps every byte from the server until released, and says when a request waits', async () => {
  let received = 0;
  const target = await listen((_req, res) => {
    received += 1;
    res.end('answered');
  });
  const port = Number(new URL(target.url).port);
  const gate = await startGate(port);
  try {
    assert.equal((await get(`http://${gate.host}/`)).body, 'answered');
    gate.hold();
    const waiting = get(`http://${gate.host}/`, { 'user-agent': 'patient' });
    await gate.untilHeld('patient');
    // The request is in the gate, not in the server: nothing can have answered it.
    assert.equal(received, 1, 'the server never saw the held request');
    gate.release();
    assert.equal((await waiting).body, 'answered');
    assert.equal(received, 2);
  } finally {
    await gate.close();
    await target.close();
  }
});
