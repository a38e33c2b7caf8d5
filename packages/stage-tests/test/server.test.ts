// Each stage's server entry, run as App Engine runs it: `PORT` and the backing services
// from the environment; SIGTERM lets in-flight requests finish, then it exits.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:net';
import { after, before, test } from 'node:test';
import {
  freePort,
  get,
  isListening,
  startDatastoreEmulator,
  startRedisServer,
  type DatastoreEmulator,
  type RedisServer,
} from '@visitme/harness';
import { STAGES, serverEntry } from './stages.js';

let emulator: DatastoreEmulator;
let redis: RedisServer;

before(async () => {
  [emulator, redis] = await Promise.all([startDatastoreEmulator(), startRedisServer()]);
});
after(() => Promise.all([emulator.stop(), redis.stop()]));

for (const stage of STAGES) {
  test(`${stage}: SIGTERM lets the in-flight request finish, refuses new ones, exits 0`, async () => {
    const port = await freePort();
    const server = spawn(process.execPath, [serverEntry(stage)], {
      env: {
        ...process.env,
        ...redis.env,
        PORT: String(port),
        DATASTORE_EMULATOR_HOST: emulator.host,
        GOOGLE_CLOUD_PROJECT: `test-${randomUUID()}`,
        METADATA_SERVER_DETECTION: 'none',
      },
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    try {
      const [line] = (await once(server.stdout!, 'data')) as [Buffer];
      assert.deepEqual(JSON.parse(line.toString().split('\n')[0]!), {
        severity: 'INFO',
        message: `Listening on port ${port}`,
        port,
      });
      assert.equal((await get(`http://127.0.0.1:${port}/`, { 'user-agent': 'first' })).status, 200);

      emulator.pause(); // holds the next request in flight, waiting on Datastore
      const inFlight = get(`http://127.0.0.1:${port}/`, { 'user-agent': 'patient' });
      await new Promise((resolve) => setTimeout(resolve, 300));
      const exited = once(server, 'exit');
      server.kill('SIGTERM');
      await new Promise((resolve) => setTimeout(resolve, 300));
      assert.equal(await isListening(port), false, 'no new connections once SIGTERM arrived');
      emulator.resume();

      const response = await inFlight;
      assert.equal(response.status, 200);
      assert.match(response.body, /patient/);
      assert.deepEqual(await exited, [0, null]);
    } finally {
      emulator.resume();
      server.kill('SIGKILL');
    }
  });
}

test('a port already in use: one CRITICAL line that says so, exit 1, no "Listening"', async () => {
  const port = await freePort();
  const squatter = createServer().listen(port);
  await once(squatter, 'listening');
  try {
    const server = spawn(process.execPath, [serverEntry(STAGES[0]!)], {
      env: { ...process.env, PORT: String(port), DATASTORE_EMULATOR_HOST: emulator.host },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let output = '';
    for (const stream of [server.stdout!, server.stderr!]) {
      stream.on('data', (chunk: Buffer) => (output += chunk.toString()));
    }
    assert.deepEqual(await once(server, 'close'), [1, null]); // close: stdout fully read
    const lines = output
      .trim()
      .split('\n')
      .map((line) => JSON.parse(line));
    assert.equal(lines.length, 1, output);
    assert.equal(lines[0].severity, 'CRITICAL');
    assert.equal(
      lines[0].message,
      `Cannot listen on port ${port}: something else is listening there`,
    );
  } finally {
    squatter.close();
  }
});
