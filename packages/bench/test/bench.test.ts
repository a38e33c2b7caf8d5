// Not a speed test: figures are for people to read (npm run bench). This checks that a short
// run works end to end and that what it counts is right: every miss is one Datastore write
// and one query, a returning visitor to a cached stage costs Datastore nothing, and Redis
// sees one call per hit and two per miss.
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { barChart, markdownTable, type Row } from '../src/report.js';

const BENCH = fileURLToPath(new URL('../src/bench.js', import.meta.url));

test('a one-second run measures every stage and counts its calls exactly', () => {
  const results = mkdtempSync(join(tmpdir(), 'bench-'));
  const output = execFileSync(
    process.execPath,
    [BENCH, '--seconds=1', '--connections=4', `--results=${results}`],
    {
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'inherit'],
    },
  );
  const rows: Row[] = JSON.parse(readFileSync(join(results, 'bench.json'), 'utf8'));
  const row = (target: string, workload: string) => {
    const found = rows.find((r) => r.target === target && r.workload === workload);
    assert.ok(found, `${target} ${workload}`);
    return found;
  };
  assert.equal(row('ceiling', 'returning').ratio, 1);
  for (const r of rows) {
    assert.equal(r.errors, 0, `${r.target} ${r.workload}: no errors`);
    assert.ok(r.requestsPerSecond > 0 && r.ratio > 0);
  }
  for (const target of ['mod1-baseline', 'mod12-memcache', 'mod13-redis']) {
    const miss = row(target, 'new');
    // Writes are counted by the emulator, with the last requests still in flight at the end.
    assert.ok(
      Math.abs(miss.datastoreWritesPerRequest - 1) < 0.05,
      `${target}: one write per visitor`,
    );
    assert.equal(miss.datastoreQueriesPerRequest, 1, `${target}: one query per new visitor`);
  }
  const uncached = row('mod1-baseline', 'returning');
  assert.ok(Math.abs(uncached.datastoreWritesPerRequest - 1) < 0.05, 'Module 1 has no cache');
  assert.equal(uncached.datastoreQueriesPerRequest, 1);
  for (const target of ['mod12-memcache', 'mod13-redis']) {
    const hit = row(target, 'returning');
    assert.equal(hit.datastoreWritesPerRequest + hit.datastoreQueriesPerRequest, 0, target);
  }
  // Redis counts what it ran, including the last requests still in flight when the run ends.
  assert.ok(Math.abs(row('mod13-redis', 'returning').redisCallsPerRequest - 1) < 0.02, 'GET');
  assert.ok(Math.abs(row('mod13-redis', 'new').redisCallsPerRequest - 2) < 0.05, 'GET and SET');
  assert.equal(row('mod12-memcache', 'returning').redisCallsPerRequest, 0);

  assert.match(output, /Target +Workload +Requests\/s +p50 ms +p99 ms/);
  assert.match(readFileSync(join(results, 'bench.md'), 'utf8'), /^\| mod13-redis \| returning \|/m);
  assert.match(
    readFileSync(join(results, 'bench.svg'), 'utf8'),
    /^<svg xmlns="http:\/\/www\.w3\.org\/2000\/svg"/,
  );
});

test('the chart has one bar per row, scaled to the fastest, with escaped labels', () => {
  const base = {
    p50: 1,
    p99: 2,
    errors: 0,
    datastoreWritesPerRequest: 0,
    datastoreQueriesPerRequest: 0,
    redisCallsPerRequest: 0,
  };
  const rows: Row[] = [
    { ...base, target: 'ceiling', workload: 'returning', requestsPerSecond: 1000, ratio: 1 },
    { ...base, target: 'a<b>', workload: 'new', requestsPerSecond: 500, ratio: 0.5 },
  ];
  const svg = barChart(rows, 'Title & more');
  assert.equal([...svg.matchAll(/<rect /g)].length, 2);
  assert.match(svg, /width="460\.0"/);
  assert.match(svg, /width="230\.0"/);
  assert.match(svg, /a&#60;b&#62; · new/);
  assert.match(svg, /Title &#38; more/);
  assert.match(
    markdownTable(rows),
    /^\| a<b> \| new \| 500 \| 1 \| 2 \| 0 \| 0\.00 \| 0\.00 \| 0\.00 \| 0\.50 \|$/m,
  );
});
