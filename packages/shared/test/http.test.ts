import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { test } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { Request } from 'express';
import { portFromEnv } from '../src/http.js';
import { remoteAddr } from '../src/index.js';

test('PORT: decimal 1-65535, 8080 when unset; anything else is refused, naming it', () => {
  assert.equal(portFromEnv({}), 8080);
  assert.equal(portFromEnv({ PORT: '8081' }), 8081);
  assert.equal(portFromEnv({ PORT: '1' }), 1);
  assert.equal(portFromEnv({ PORT: '65535' }), 65535);
  for (const bad of [
    '',
    'abc',
    '0x5a2f',
    '70000',
    '0',
    '65536',
    ' 80',
    '80 ',
    '+80',
    '8e3',
    '1.5',
    '-1',
  ]) {
    assert.throws(
      () => portFromEnv({ PORT: bad }),
      { message: `PORT must be a decimal port number from 1 to 65535; it is "${bad}"` },
      `PORT=${JSON.stringify(bad)}`,
    );
  }
});

test("Node's own warnings and an uncaught exception come out as JSON lines too", () => {
  const shared = new URL('../src/index.js', import.meta.url).href;
  const script = `
    import { serve } from ${JSON.stringify(shared)};
    const server = serve(() => (req, res) => res.end(), { port: 0 });
    server.on('listening', () => {
      process.emitWarning('a library is unhappy', 'DeprecationWarning');
      setTimeout(() => { throw new TypeError('a bug'); }, 10);
    });`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    encoding: 'utf8',
  });
  assert.equal(child.status, 1, child.stderr);
  const lines = (child.stdout + child.stderr).trimEnd().split('\n');
  const entries = lines.map((line) => JSON.parse(line) as { severity: string; message: string });
  assert.deepEqual(
    entries.map(({ severity, message }) => [severity, message]),
    [
      ['INFO', 'Listening on port 0'],
      ['WARNING', 'DeprecationWarning: a library is unhappy'],
      ['CRITICAL', 'Uncaught exception, exiting: a bug'],
    ],
  );
});

test("serve() makes each request and response with the app's prototypes, so Express changes none", () => {
  const shared = new URL('../src/index.js', import.meta.url).href;
  const script = `
    import { IncomingMessage, ServerResponse } from 'node:http';
    import express from 'express';
    import { serve } from ${JSON.stringify(shared)};
    const app = express();
    app.get('/', (req, res) => res.type('text/plain').send(req.get('user-agent')));
    const server = serve(() => app, { port: 0 });
    server.prependListener('request', (req, res) => console.log(JSON.stringify({
      app: [Object.getPrototypeOf(req) === app.request, Object.getPrototypeOf(res) === app.response],
      node: [req instanceof IncomingMessage, res instanceof ServerResponse],
    })));
    server.on('listening', async () => {
      const page = await fetch(\`http://127.0.0.1:\${server.address().port}/\`, {
        headers: { 'user-agent': 'prototypes' },
      });
      console.log(JSON.stringify({ page: [page.status, await page.text()] }));
      process.exit(0);
    });`;
  const child = spawnSync(process.execPath, ['--input-type=module', '-e', script], {
    cwd: fileURLToPath(new URL('../..', import.meta.url)), // where express is found
    encoding: 'utf8',
  });
  assert.equal(child.status, 0, child.stderr);
  const seen = child.stdout
    .trimEnd()
    .split('\n')
    .map((line) => JSON.parse(line) as Record<string, unknown>)
    .filter((entry) => !('severity' in entry));
  assert.deepEqual(seen, [
    { app: [true, true], node: [true, true] },
    { page: [200, 'prototypes'] },
  ]);
});

test("the visitor's address: an IPv4 client as IPv4, whatever socket it came in on", () => {
  const from = (ip: string | undefined) => remoteAddr({ ip } as Request);
  assert.equal(from('::ffff:127.0.0.1'), '127.0.0.1');
  assert.equal(from('::ffff:203.0.113.9'), '203.0.113.9');
  assert.equal(from('203.0.113.9'), '203.0.113.9');
  assert.equal(from('::1'), '::1');
  assert.equal(from('2001:db8::1'), '2001:db8::1');
  assert.equal(from('::ffff:2001:db8::1'), '::ffff:2001:db8::1', 'not IPv4 after the prefix');
  assert.equal(from(undefined), '', 'a socket already gone');
});
