// Each stage's server entry, run as App Engine runs it: `PORT` and the backing services
// from the environment; SIGTERM lets in-flight requests finish, then it exits.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomBytes, randomUUID } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { request } from 'node:http';
import { connect, createServer, type Socket } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { Datastore } from '@google-cloud/datastore';
import { after, before, test } from 'node:test';
import {
  freePort,
  get,
  listItems,
  isListening,
  spawnGroup,
  startGate,
  startRedisServer,
  startServer,
  testEmulator,
  type EmulatorAddress,
  type RedisServer,
} from '@visitme/harness';
import { STAGES, serverEntry, stagesCaching } from './stages.js';

let emulator: EmulatorAddress & { stop(): Promise<void> };
let redis: RedisServer;
let started: Promise<unknown> | undefined;

before(async () => {
  process.env.METADATA_SERVER_DETECTION = 'none'; // this file's own Datastore clients
  started = Promise.all([testEmulator(), startRedisServer()]).then((services) => {
    [emulator, redis] = services;
  });
  await started;
});
after(async () => {
  await started?.catch(() => {}); // see useServices(): Node may run this before `before` ends
  await Promise.all([emulator?.stop(), redis?.stop()]);
});

// The first stage's server entry, for what every stage's serve() does alike.
const [first] = STAGES;

for (const stage of STAGES) {
  test(`${stage.name}: SIGTERM lets the in-flight request finish, refuses new ones, exits 0`, async (t) => {
    // Datastore behind a gate: held, the next page waits on it, in flight.
    const gate = await startGate(emulator.port);
    t.after(() => gate.close());
    const port = await freePort();
    const server = spawn(process.execPath, [serverEntry(stage)], {
      env: {
        ...process.env,
        ...redis.env,
        PORT: String(port),
        DATASTORE_EMULATOR_HOST: gate.host,
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

      gate.hold();
      const inFlight = get(`http://127.0.0.1:${port}/`, { 'user-agent': 'patient' });
      await gate.untilHeld('patient'); // its visit is on its way to Datastore: in the server's hands
      const exited = once(server, 'exit');
      server.kill('SIGTERM');
      // Held on Datastore, the request keeps the process up: it stops listening.
      let listening = true;
      for (let attempt = 0; attempt < 100 && listening; attempt++) {
        listening = await isListening(port);
        if (listening) await new Promise((resolve) => setTimeout(resolve, 100));
      }
      assert.equal(listening, false, 'no new connections once SIGTERM arrived');
      assert.equal(server.exitCode, null, 'still up for the request in flight');
      gate.release();

      const response = await inFlight;
      assert.equal(response.status, 200);
      assert.match(response.body, /patient/);
      assert.deepEqual(await exited, [0, null]);
    } finally {
      gate.release();
      server.kill('SIGKILL');
    }
  });
}

test('a port already in use: one CRITICAL line that says so, exit 1, no "Listening"', async () => {
  const port = await freePort();
  const squatter = createServer().listen(port);
  await once(squatter, 'listening');
  try {
    const server = spawn(process.execPath, [serverEntry(first!)], {
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

/**
 * Runs a server entry that should refuse to start, to its exit; every line it wrote to stdout
 * and stderr, parsed. One that starts instead (it says it listens) is stopped: `started`.
 */
async function runToExit(entry: string, env: NodeJS.ProcessEnv) {
  const server = spawn(process.execPath, [entry], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  let started = false;
  for (const stream of [server.stdout!, server.stderr!]) {
    stream.on('data', (chunk: Buffer) => {
      output += chunk.toString();
      if (!started && output.includes('"message":"Listening on port')) {
        started = true;
        server.kill('SIGKILL');
      }
    });
  }
  const [code] = (await once(server, 'close')) as [number | null]; // close: output fully read
  const lines = output
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as { severity: string; message: string });
  return { code, lines, output, started };
}

test('a PORT that is not a decimal port number: one CRITICAL line naming it, exit 1', async () => {
  const cases = [
    ...STAGES.map((stage) => [stage, ''] as const),
    ...['abc', '0x5a2f', '70000', '0'].map((port) => [first!, port] as const),
  ];
  for (const [stage, port] of cases) {
    const { code, lines, output, started } = await runToExit(serverEntry(stage), {
      ...redis.env,
      PORT: port,
      DATASTORE_EMULATOR_HOST: emulator.host,
    });
    assert.equal(started, false, `it started with PORT="${port}" instead of refusing it`);
    assert.equal(code, 1, `${stage.name} PORT="${port}": ${output}`);
    assert.equal(lines.length, 1, output);
    assert.equal(lines[0]!.severity, 'CRITICAL');
    assert.equal(
      lines[0]!.message,
      `Cannot start: PORT must be a decimal port number from 1 to 65535; it is "${port}"`,
    );
  }
});

// Files that are no certificate, for REDIS_TLS_CA: Node's TLS would take them without a word.
const notCertificates = mkdtempSync(join(tmpdir(), 'visitme-not-a-ca-'));
after(() => rmSync(notCertificates, { recursive: true, force: true }));
const textFile = join(notCertificates, 'server-ca.pem');
writeFileSync(textFile, 'Paste the server CA here.\n');
const randomFile = join(notCertificates, 'random.pem');
writeFileSync(randomFile, randomBytes(4096));

for (const [name, value, what, why] of [
  ['REDIS_PORT', 'abc', 'not a port', /must be a decimal port number/],
  ['REDIS_TLS_CA', '/nonexistent/server-ca.pem', 'no such file', /cannot be read: .* \(ENOENT\)$/],
  ['REDIS_TLS_CA', textFile, 'a file of text', /holds no PEM certificate/],
  ['REDIS_TLS_CA', randomFile, 'a file of random bytes', /holds no PEM certificate/],
] as const) {
  for (const stage of stagesCaching('redis')) {
    test(`${stage.name}: a setting createApp() refuses (${name}: ${what}): one CRITICAL line, exit 1`, async () => {
      const { code, lines, output, started } = await runToExit(serverEntry(stage), {
        ...redis.env,
        [name]: value,
        PORT: String(await freePort()),
        DATASTORE_EMULATOR_HOST: emulator.host,
      });
      assert.equal(started, false, `it started with ${name}="${value}" instead of refusing it`);
      assert.equal(code, 1, output);
      assert.equal(lines.length, 1, output);
      assert.equal(lines[0]!.severity, 'CRITICAL');
      assert.ok(lines[0]!.message.startsWith(`Cannot start: ${name} `), lines[0]!.message);
      assert.ok(lines[0]!.message.includes(`"${value}"`), lines[0]!.message);
      assert.match(lines[0]!.message, why);
    });
  }
}

for (const stage of STAGES) {
  test(`${stage.name}: every line out is one JSON object; a poison entity: one warning, one line once gone; POST / is 405`, async () => {
    const port = await freePort();
    const project = `test-${randomUUID()}`;
    const datastore = new Datastore({ projectId: project, apiEndpoint: emulator.host });
    const save = (data: Record<string, unknown>) =>
      datastore.save({ key: datastore.key('Visit'), data });
    await save({ visitor: datastore.int('9007199254740993'), timestamp: new Date() });
    await save({ visitor: 'x', timestamp: 'Thu Nov 26 05:30:19 2026' });
    const env: NodeJS.ProcessEnv = {
      ...process.env,
      ...redis.env,
      PORT: String(port),
      DATASTORE_EMULATOR_HOST: emulator.host,
      GOOGLE_CLOUD_PROJECT: project,
    };
    delete env.METADATA_SERVER_DETECTION; // as a learner runs it: nothing tells it not to probe
    const output = { stdout: '', stderr: '' };
    const server = await startServer(stage.name, process.execPath, [serverEntry(stage)], port, {
      env,
      onOutput: (chunk, stream) => (output[stream] += chunk.toString()),
    });
    try {
      for (let n = 0; n < 20; n++) {
        // Byte 0x85 arrives as U+0085, a line break to some log readers.
        const response = await get(`http://127.0.0.1:${port}/`, { 'user-agent': `v${n % 3}\x85` });
        assert.equal(response.status, 200, response.body);
        // Listening on every address, it is handed ::ffff:127.0.0.1: shown as IPv4, as on App Engine.
        assert.match(listItems(response.body)[0] ?? '', / from 127\.0\.0\.1: v\d/);
      }
      const post = await fetch(`http://127.0.0.1:${port}/`, { method: 'POST', body: 'x' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
    } finally {
      // Stopped as App Engine stops it: all it says until it exits is read below.
      await server.stop(5000);
    }
    const all = `${output.stdout}${output.stderr}`;
    const lines = [output.stdout, output.stderr].flatMap((text) => text.trimEnd().split('\n'));
    for (const line of lines) {
      // Split as the strictest log reader would: a U+0085 or U+2028 inside is a broken line.
      assert.equal(line.split(/[\u0085\u2028\u2029]/).length, 1, `a line break in: ${line}`);
      const entry: unknown = JSON.parse(line);
      assert.ok(entry && typeof entry === 'object' && 'severity' in entry, line);
    }
    // Twenty new visits push the poison out of the newest ten: one warning when it was seen,
    // one line when it was gone. (Module 13 may also say Redis was slow on a busy machine:
    // another kind of trouble, with lines of its own.)
    const entries = lines.map((line) => JSON.parse(line) as Record<string, unknown>);
    const aboutVisits = entries.filter(({ message }) => /Visit entities/.test(String(message)));
    assert.deepEqual(aboutVisits.map(({ severity }) => severity).sort(), ['INFO', 'WARNING'], all);
    // Nothing from a library: neither printed by Node, nor a Node warning logged as JSON.
    assert.deepEqual(
      entries.filter((entry) => 'warning' in entry),
      [],
    );
    assert.doesNotMatch(all, /MetadataLookupWarning/);
  });
}

/** A server entry in its own process group, on this file's emulator, listening. */
async function startEntry(name: string, entry: string) {
  const port = await freePort();
  const server = await startServer(name, process.execPath, [entry], port, {
    env: {
      ...process.env,
      PORT: String(port),
      DATASTORE_EMULATOR_HOST: emulator.host,
      GOOGLE_CLOUD_PROJECT: `test-${randomUUID()}`,
    },
  });
  return { port, server };
}

test('more keep-alive connections than its open-files limit allows: the rest closed, logged once, and its end', async (t) => {
  // Its limit lowered to 250 open files, of which the server keeps 100 for itself.
  const port = await freePort();
  let output = '';
  const shell = `ulimit -n 250 && exec "${process.execPath}" "${serverEntry(first!)}"`;
  const server = await startServer(first!.name, '/bin/sh', ['-c', shell], port, {
    env: {
      ...process.env,
      PORT: String(port),
      DATASTORE_EMULATOR_HOST: emulator.host,
      GOOGLE_CLOUD_PROJECT: `test-${randomUUID()}`,
    },
    onOutput: (chunk) => (output += chunk.toString()),
  });
  const clients: Socket[] = [];
  try {
    // 300 clients, more than the limit, each send a request and keep their connection open
    // (for 700 s, the server's keep-alive timeout): it answers 150 and closes the others.
    const outcomes = await Promise.all(
      Array.from({ length: 300 }, () => {
        const socket = connect({ port, host: '127.0.0.1' });
        clients.push(socket);
        socket.on('error', () => {});
        socket.write('GET /kept-alive HTTP/1.1\r\nHost: localhost\r\n\r\n');
        return new Promise<'answered' | 'closed'>((resolve) => {
          socket.once('data', () => resolve('answered'));
          socket.once('close', () => resolve('closed'));
        });
      }),
    );
    const answered = outcomes.filter((outcome) => outcome === 'answered').length;
    t.diagnostic(`${answered} of 300 connections answered, ${300 - answered} closed`);
    assert.ok(answered > 0 && answered <= 150, `${answered} of 300 answered`);
    for (const socket of clients) socket.destroy();
    // Once they are gone, a new visitor gets the page, visits stored in Datastore and all.
    let status = 0;
    for (let attempt = 0; attempt < 50 && status !== 200; attempt++) {
      status = await get(`http://127.0.0.1:${port}/`, { 'user-agent': 'after' }).then(
        (response) => response.status,
        () => 0,
      );
      if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 100));
    }
    assert.equal(status, 200);
  } finally {
    for (const socket of clients) socket.destroy();
    await server.stop(5000);
  }
  const said = output
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as { severity: string; message: string })
    .map(({ severity, message }) => `${severity} ${message}`);
  assert.deepEqual(
    said,
    [
      `INFO Listening on port ${port}`,
      'WARNING Closing new connections: 150 are open, the most this process takes with its open-files limit of 250',
      'INFO Accepting new connections again',
      'INFO SIGTERM: finishing in-flight requests, then exiting',
    ],
    output,
  );
});

test('a slow client is cut off: headers or a body dripping a byte at a time', async () => {
  const entry = fileURLToPath(new URL('./short-timeouts-server.js', import.meta.url));
  const { port, server } = await startEntry('short-timeouts-server', entry);
  try {
    // Each drips 1,000 bytes, one every 100 ms: the whole would take 100 s. The server must
    // close the connection long before; what it answered says which timeout cut it.
    const [headers, body] = await Promise.all([
      drip(port, 'GET / HTTP/1.1\r\nHost: localhost\r\nX-Slow: ', 1000),
      drip(port, 'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 1000\r\n\r\n', 1000),
    ]);
    assert.ok(headers.sent < 1000, `cut off after ${headers.sent} header bytes`);
    assert.match(headers.answer, /^HTTP\/1\.1 408 Request Timeout\r\n/);
    assert.ok(body.sent < 1000, `cut off after ${body.sent} body bytes`);
    assert.match(body.answer, /^HTTP\/1\.1 405 Method Not Allowed\r\n/);
    assert.match(body.answer, /\r\nAllow: GET, HEAD\r\n/i);
    assert.match(body.answer, /HTTP\/1\.1 408 Request Timeout\r\n/, 'then the request timed out');
  } finally {
    await server.kill();
  }
});

/** Writes `head`, then one byte every 100 ms until `count` or the server closes. */
function drip(port: number, head: string, count: number) {
  return new Promise<{ sent: number; answer: string }>((resolve) => {
    let sent = 0;
    let answer = '';
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.write(head));
    const timer = setInterval(() => {
      if (sent >= count) return;
      sent++;
      socket.write('a', () => {});
    }, 100);
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('error', () => {});
    socket.on('close', () => {
      clearInterval(timer);
      resolve({ sent, answer });
    });
  });
}

test('request framing: pipelining, a smuggling attempt, a 100 MB body to POST /', async (t) => {
  const { port, server } = await startEntry(first!.name, serverEntry(first!));
  try {
    // Two requests in one write: both answered, both stored.
    const pipelined = await exchange(
      port,
      'GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: first\r\n\r\n' +
        'GET / HTTP/1.1\r\nHost: localhost\r\nUser-Agent: second\r\nConnection: close\r\n\r\n',
    );
    const statuses = [...pipelined.matchAll(/HTTP\/1\.1 (\d{3}) /g)].map((match) => match[1]);
    assert.deepEqual(statuses, ['200', '200']);
    assert.match(pipelined, /: first<\/li>/);
    assert.match(pipelined, /: second<\/li>/);

    // Content-Length and Transfer-Encoding together: refused, and nothing is smuggled through.
    const smuggled = await exchange(
      port,
      'POST / HTTP/1.1\r\nHost: localhost\r\nContent-Length: 4\r\n' +
        'Transfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: localhost\r\n\r\n',
    );
    assert.match(smuggled, /^HTTP\/1\.1 400 /);
    assert.equal(smuggled.match(/HTTP\/1\.1 /g)?.length, 1, smuggled);

    // 100 MB sent to the page: a 405, and the server goes on. Node answers once it has the
    // headers and then closes the connection (`Connection: close`) while the body is still
    // coming: a client writing then gets EPIPE or ECONNRESET, and may lose the answer if it
    // has not read it yet. So the first megabyte goes with the headers, and the other 99 only
    // once the answer has been read, until the server closes the connection.
    const { status, megabytes } = await postHundredMegabytes(port);
    assert.equal(status, 405, `after ${megabytes} MB`);
    t.diagnostic(`100 MB POST: ${status}; ${megabytes} MB written before the connection closed`);
    assert.ok(server.child.exitCode === null && server.child.signalCode === null, 'it survives');
    assert.equal((await get(`http://127.0.0.1:${port}/`, { 'user-agent': 'after' })).status, 200);
  } finally {
    await server.stop(5000);
  }
});

/**
 * POSTs a 100 MB body to the page: the first megabyte with the headers, the rest once the
 * answer has been read, until all is sent or the server closes the connection. The answer's
 * status, and how many megabytes were written.
 */
function postHundredMegabytes(port: number): Promise<{ status: number; megabytes: number }> {
  return new Promise((resolve, reject) => {
    let status: number | undefined;
    let sent = 0;
    const megabyte = Buffer.alloc(1024 * 1024, 'a');
    const more = () => {
      while (sent < 100) {
        sent++;
        if (!req.write(megabyte)) return void req.once('drain', more);
      }
      req.end();
    };
    const req = request(`http://127.0.0.1:${port}/`, { method: 'POST', agent: false }, (res) => {
      status = res.statusCode ?? 0;
      res.resume();
      res.on('end', more);
    });
    req.on('error', () => {}); // once answered, writing into a closed connection fails
    req.on('close', () =>
      status === undefined
        ? reject(new Error(`closed unanswered after ${sent} MB`))
        : resolve({ status, megabytes: sent }),
    );
    req.setHeader('content-length', 100 * 1024 * 1024);
    sent++;
    req.write(megabyte);
  });
}

/** Writes raw bytes and reads until the server closes the connection. */
function exchange(port: number, bytes: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1' }, () => socket.write(bytes));
    let answer = '';
    socket.on('data', (chunk) => (answer += chunk.toString('latin1')));
    socket.on('end', () => resolve(answer));
    socket.on('error', reject);
  });
}
