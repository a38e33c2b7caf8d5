import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { once } from 'node:events';
import { randomUUID } from 'node:crypto';
import { fileURLToPath } from 'node:url';
import { after, before, describe, test } from 'node:test';
import { Datastore } from '@google-cloud/datastore';
import {
  freePort,
  get,
  isListening,
  listItems,
  listen,
  startDatastoreEmulator,
  type DatastoreEmulator,
} from '@visitme/harness';
import { datastoreVisits } from '@visitme/shared';
import { createApp } from 'mod1-baseline';

const CTIME =
  /^(Sun|Mon|Tue|Wed|Thu|Fri|Sat) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) [ 123]\d \d\d:\d\d:\d\d \d{4}$/;
const LOOPBACK = /^(::ffff:127\.0\.0\.1|127\.0\.0\.1|::1)$/;

let emulator: DatastoreEmulator;

before(async () => {
  emulator = await startDatastoreEmulator();
  process.env.DATASTORE_EMULATOR_HOST = emulator.host;
  process.env.METADATA_SERVER_DETECTION = 'none'; // not on Google Cloud: do not probe for it
});
after(() => emulator.stop());

/** Module 1 on its own empty Datastore project, so tests do not see each other's visits. */
async function startModule(options: { deadlineMs?: number } = {}) {
  const projectId = `test-${randomUUID()}`;
  const datastore = new Datastore({ projectId });
  const app = createApp({ store: datastoreVisits({ datastore, ...options }) });
  const server = await listen(app);
  return {
    ...server,
    projectId,
    visitCount: () => emulator.count(projectId, 'Visit'),
  };
}

/** `[timestamp, visitor]` of each list item, unescaped only where the test needs it. */
function visitsOnPage(html: string) {
  return listItems(html).map((item) => {
    const [timestamp, visitor] = [item.slice(0, 24), item.slice(24)];
    assert.match(timestamp, CTIME);
    assert.ok(visitor.startsWith(' from '), `"${item}" is "<timestamp> from <visitor>"`);
    return { timestamp, visitor: visitor.slice(' from '.length) };
  });
}

describe('Module 1 against the Datastore emulator', () => {
  test('each GET / stores exactly one Visit', async () => {
    const app = await startModule();
    try {
      for (let n = 1; n <= 3; n++) {
        const response = await get(app.url + '/', { 'user-agent': 'same browser' });
        assert.equal(response.status, 200);
        assert.equal(await app.visitCount(), n);
      }
    } finally {
      await app.close();
    }
  });

  test('the page is the original one and lists the 10 newest visits, newest first', async () => {
    const app = await startModule();
    try {
      const startedAt = Math.floor(Date.now() / 1000) * 1000;
      let response;
      for (let n = 1; n <= 12; n++) {
        response = await get(app.url + '/', { 'user-agent': `browser ${n}` });
      }
      assert.ok(response);
      assert.equal(response.status, 200);
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
    } finally {
      await app.close();
    }
  });

  test('a User-Agent holding HTML comes back escaped, never as markup', async () => {
    const app = await startModule();
    try {
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
    } finally {
      await app.close();
    }
  });

  test('a 3,000-byte User-Agent is stored and shown whole', async () => {
    const app = await startModule();
    try {
      const long = 'Mozilla/5.0 '.padEnd(3000, 'x');
      const response = await get(app.url + '/', { 'user-agent': long });
      assert.equal(response.status, 200);
      const [visit] = visitsOnPage(response.body);
      assert.ok(visit?.visitor.endsWith(`: ${long}`));
      assert.equal(await app.visitCount(), 1);
    } finally {
      await app.close();
    }
  });

  test('a request without a User-Agent is stored with an empty one', async () => {
    const app = await startModule();
    try {
      const response = await get(app.url + '/');
      assert.equal(response.status, 200);
      const [visit] = visitsOnPage(response.body);
      assert.match(visit?.visitor ?? '', /^[^ ]+: $/);
      assert.equal(await app.visitCount(), 1);
    } finally {
      await app.close();
    }
  });

  test('off App Engine a forged X-Forwarded-For does not change the visitor', async () => {
    const app = await startModule();
    try {
      const response = await get(app.url + '/', {
        'user-agent': 'forger',
        'x-forwarded-for': '203.0.113.9',
      });
      const [visit] = visitsOnPage(response.body);
      assert.match(visit?.visitor.split(': ')[0] ?? '', LOOPBACK);
    } finally {
      await app.close();
    }
  });

  test("on App Engine the visitor is the address App Engine's front end saw", async () => {
    process.env.GAE_ENV = 'standard';
    const app = await startModule().finally(() => delete process.env.GAE_ENV);
    try {
      // The client forged the first entry; the front end appended the real address,
      // and the instance's link-local proxy its own.
      const response = await get(app.url + '/', {
        'user-agent': 'phone',
        'x-forwarded-for': '6.6.6.6, 203.0.113.9, 169.254.1.1',
      });
      const [visit] = visitsOnPage(response.body);
      assert.equal(visit?.visitor, '203.0.113.9: phone');
    } finally {
      await app.close();
    }
  });

  test('an unknown path is a 404 and stores nothing', async () => {
    const app = await startModule();
    try {
      for (const path of ['/nope', '/index.html', '/%E0%A4%A']) {
        const response = await get(app.url + path);
        assert.ok([400, 404].includes(response.status), `${path}: ${response.status}`);
        assert.doesNotMatch(response.body, /at .*\.js/);
      }
      assert.equal((await get(app.url + '/nope')).status, 404);
      assert.equal(await app.visitCount(), 0);
    } finally {
      await app.close();
    }
  });
});

describe('Module 1 when Datastore fails', () => {
  let outage: DatastoreEmulator;
  before(async () => {
    outage = await startDatastoreEmulator();
  });
  after(() => outage.stop());

  async function startOnOutageEmulator() {
    const projectId = `test-${randomUUID()}`;
    const datastore = new Datastore({ projectId, apiEndpoint: outage.host });
    const app = createApp({ store: datastoreVisits({ datastore, deadlineMs: 2000 }) });
    return { ...(await listen(app)), projectId };
  }

  test('stopped: 503 with a short message, then 200 again once it is back', async () => {
    const app = await startOnOutageEmulator();
    try {
      assert.equal((await get(app.url + '/')).status, 200);
      await outage.stop();

      const startedAt = Date.now();
      const response = await get(app.url + '/');
      assert.equal(response.status, 503);
      // Not a speed check: the library's own default would retry for a minute or more.
      assert.ok(Date.now() - startedAt < 20_000, 'answers within the Datastore deadline');
      assert.equal(response.headers['retry-after'], '5');
      assert.match(response.body, /^VisitMe cannot reach its database right now\./);
      assert.doesNotMatch(response.body, /Error|at .*\.js/);

      await outage.restart();
      let status = 0;
      for (let attempt = 0; attempt < 60 && status !== 200; attempt++) {
        status = (await get(app.url + '/')).status;
        if (status !== 200) await new Promise((resolve) => setTimeout(resolve, 500));
      }
      assert.equal(status, 200, 'serves again without a restart of the app');
      assert.equal(
        await outage.count(app.projectId, 'Visit'),
        1,
        'only the visit made after it came back',
      );
    } finally {
      await app.close();
    }
  });

  test('hung: the request fails with a 503 at the deadline instead of hanging', async () => {
    const app = await startOnOutageEmulator();
    try {
      assert.equal((await get(app.url + '/')).status, 200);
      outage.pause();
      const startedAt = Date.now();
      const response = await get(app.url + '/').finally(() => outage.resume());
      assert.equal(response.status, 503);
      assert.ok(Date.now() - startedAt < 20_000, 'answers within the Datastore deadline');
      assert.equal((await get(app.url + '/')).status, 200);
    } finally {
      outage.resume();
      await app.close();
    }
  });
});

describe('the server entry', () => {
  test('SIGTERM: in-flight request finishes, new connections are refused, exit 0', async () => {
    const port = await freePort();
    const server = spawn(
      process.execPath,
      [fileURLToPath(import.meta.resolve('mod1-baseline').replace(/main\.js$/, 'server.js'))],
      {
        env: { ...process.env, PORT: String(port), GOOGLE_CLOUD_PROJECT: `test-${randomUUID()}` },
        stdio: ['ignore', 'pipe', 'inherit'],
      },
    );
    try {
      const [line] = (await once(server.stdout!, 'data')) as [Buffer];
      assert.deepEqual(JSON.parse(line.toString()), {
        severity: 'INFO',
        message: `Listening on port ${port}`,
        port,
      });

      emulator.pause(); // holds the request in flight, waiting on Datastore
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
});
