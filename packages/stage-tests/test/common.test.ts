// What every stage does alike, run against each: the page, hostile input, the visitor's
// address, unknown paths, and a Datastore that is down or hangs. Every request here comes
// from a new visitor, so the cached stages miss and reach Datastore too.
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { describe, test } from 'node:test';
import { get, listItems, startGate } from '@visitme/harness';
import { CTIME, LOOPBACK, STAGES, startStage, untilServing, useServices } from './stages.js';

const file = useServices();

/** A request with any method (fetch refuses some, such as TRACE); its status and headers. */
function send(method: string, url: string): Promise<IncomingMessage> {
  return new Promise((resolve, reject) => {
    const req = request(url, { method, agent: false }, (res) => {
      res.resume();
      res.on('end', () => resolve(res));
    });
    req.on('error', reject);
    req.end();
  });
}

/** `{ timestamp, visitor }` of each list item; the visitor still HTML-escaped. */
function visitsOnPage(html: string) {
  return listItems(html).map((item) => {
    const match = /^(.{24}) from (.*)$/s.exec(item);
    assert.ok(match, `"${item}" reads "<timestamp> from <visitor>"`);
    const [, timestamp = '', visitor = ''] = match;
    assert.match(timestamp, CTIME);
    return { timestamp, visitor };
  });
}

for (const stage of STAGES) {
  describe(stage.name, () => {
    test('the page is the original one: the 10 newest visits, newest first', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      const startedAt = Math.floor(Date.now() / 1000) * 1000;
      let response;
      for (let n = 1; n <= 12; n++) {
        response = await get(app.url + '/', { 'user-agent': `browser ${n}` });
        assert.equal(response.status, 200);
      }
      assert.ok(response);
      assert.match(response.headers['content-type'] ?? '', /^text\/html; charset=utf-8/);
      assert.match(response.body, /<title>VisitMe Example<\/title>/);
      assert.match(response.body, /<h1>VisitMe example<\/h1>/);
      assert.match(response.body, /<h3>Last 10 visits<\/h3>/);

      const visits = visitsOnPage(response.body);
      assert.deepEqual(
        visits.map(({ visitor }) => visitor.replace(/^.*?: /, '')),
        [12, 11, 10, 9, 8, 7, 6, 5, 4, 3].map((n) => `browser ${n}`),
      );
      for (const { timestamp, visitor } of visits) {
        assert.match(visitor.split(': ')[0] ?? '', LOOPBACK);
        // ctime() has no zone: it is UTC, and falls within this test.
        const shown = Date.parse(`${timestamp.replace(/ +/g, ' ')} UTC`);
        assert.ok(shown >= startedAt && shown <= Date.now(), `${timestamp} is now, in UTC`);
      }
      assert.equal(await app.visitCount(), 12);
    });

    test('a User-Agent holding HTML comes back escaped, never as markup', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      const hostile = `<script>alert("x")</script><img src=x onerror='y'>&amp;`;
      const response = await get(app.url + '/', { 'user-agent': hostile });
      assert.equal(response.status, 200);
      assert.ok(!response.body.includes('<script>'));
      assert.ok(!response.body.includes('<img'));
      const [visit] = visitsOnPage(response.body);
      assert.match(
        visit?.visitor ?? '',
        /: &lt;script&gt;alert\(&quot;x&quot;\)&lt;\/script&gt;&lt;img src=x onerror='y'&gt;&amp;amp;$/,
      );
    });

    test('a 3,000-byte User-Agent is stored and shown whole', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      const long = 'Mozilla/5.0 '.padEnd(3000, 'x');
      const response = await get(app.url + '/', { 'user-agent': long });
      assert.equal(response.status, 200);
      const [visit] = visitsOnPage(response.body);
      assert.ok(visit?.visitor.endsWith(`: ${long}`));
      assert.equal(await app.visitCount(), 1);
    });

    test('a request without a User-Agent is stored with an empty one', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      const response = await get(app.url + '/');
      assert.equal(response.status, 200);
      const [visit] = visitsOnPage(response.body);
      assert.match(visit?.visitor ?? '', /^[^ ]+: $/);
      assert.equal(await app.visitCount(), 1);
    });

    test('off App Engine a forged X-Forwarded-For does not change the visitor', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      const response = await get(app.url + '/', {
        'user-agent': 'forger',
        'x-forwarded-for': '203.0.113.9',
      });
      const [visit] = visitsOnPage(response.body);
      assert.match(visit?.visitor.split(': ')[0] ?? '', LOOPBACK);
    });

    test("on App Engine the visitor is the address App Engine's front end saw", async (t) => {
      process.env.GAE_ENV = 'standard';
      const app = await startStage(stage, file.services).finally(() => delete process.env.GAE_ENV);
      t.after(() => app.close());
      // The client forged the first entry; the front end appended the address it saw,
      // and the instance's link-local proxy its own.
      const response = await get(app.url + '/', {
        'user-agent': 'phone',
        'x-forwarded-for': '6.6.6.6, 203.0.113.9, 169.254.1.1',
      });
      const [visit] = visitsOnPage(response.body);
      assert.equal(visit?.visitor, '203.0.113.9: phone');
    });

    test('an unknown path is a 404 and stores nothing', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      for (const path of ['/nope', '/index.html', '/visits?x=1', '/%E0%A4%A', '/..%2f..%2fetc']) {
        const response = await get(app.url + path);
        assert.equal(response.status, 404, path);
        assert.match(response.body, /^Not found/);
      }
      assert.equal(await app.visitCount(), 0);
    });

    test('another method on / is a 405 naming GET and HEAD, and stores nothing', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      for (const method of ['POST', 'PUT', 'DELETE', 'OPTIONS', 'PATCH', 'TRACE']) {
        const response = await send(method, app.url + '/');
        assert.equal(response.statusCode, 405, method);
        assert.equal(response.headers.allow, 'GET, HEAD', method);
      }
      assert.equal((await send('HEAD', app.url + '/')).statusCode, 200);
      assert.equal((await send('POST', app.url + '/nope')).statusCode, 404);
      assert.equal(await app.visitCount(), 1, 'the HEAD request alone was a visit');
    });

    test('no response says what serves it (X-Powered-By)', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      for (const path of ['/', '/nope']) {
        const response = await get(app.url + path, { 'user-agent': 'nosy' });
        assert.equal(response.headers['x-powered-by'], undefined, path);
      }
    });

    test('Server-Timing says the request went to Datastore', async (t) => {
      const app = await startStage(stage, file.services);
      t.after(() => app.close());
      const response = await get(app.url + '/', { 'user-agent': 'curious' });
      assert.match(
        String(response.headers['server-timing']),
        /^datastore;dur=\d+\.\d;desc="queried"$/,
      );
    });

    test('Datastore stopped: 503 with a short message, then 200 once it is back', async (t) => {
      const outage = await file.outage();
      const app = await startStage(stage, { ...file.services, emulator: outage });
      t.after(() => app.close());
      await untilServing(app.url + '/'); // the emulator may just have come back
      await outage.stop();

      const startedAt = Date.now();
      const response = await get(app.url + '/', { 'user-agent': 'during' });
      assert.equal(response.status, 503);
      // Not a speed check: the client library's default would retry for a minute or more.
      assert.ok(Date.now() - startedAt < 20_000, 'answers within the Datastore deadline');
      assert.equal(response.headers['retry-after'], '5');
      assert.match(response.body, /^VisitMe cannot reach its database right now\./);
      assert.doesNotMatch(response.body, /Error|at .*\.js/);

      await outage.restart();
      await untilServing(app.url + '/'); // without a restart of the app
    });

    test('Datastore hung: a 503 at the deadline instead of a hung request', async (t) => {
      // Datastore behind a gate: held, it answers nothing, as a hung server would.
      const gate = await startGate(file.services.emulator.port);
      t.after(() => gate.close());
      const emulator = { ...file.services.emulator, host: gate.host };
      const app = await startStage(stage, { ...file.services, emulator }, { deadlineMs: 2000 });
      t.after(() => app.close());
      await untilServing(app.url + '/');
      gate.hold();
      const startedAt = Date.now();
      const response = await get(app.url + '/', { 'user-agent': 'during' });
      gate.release();
      assert.equal(response.status, 503);
      // Not a speed check: the client library's default would wait a minute or more.
      const ms = Date.now() - startedAt;
      assert.ok(ms < 20_000, `answered within the Datastore deadline: ${ms} ms`);
      assert.equal((await get(app.url + '/', { 'user-agent': 'after' })).status, 200);
    });
  });
}
