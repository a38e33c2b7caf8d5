// The codelab's pickle.dumps / pickle.loads: what Module 13 keeps in Redis, and what it accepts back.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { MAX_CACHED_LENGTH, MAX_CACHED_VISITS } from '../src/cached-visits.js';
import { cacheCalls, ctime, dumpVisits, type Visit } from '../src/index.js';
import { readVisitEntity } from '../src/visit-entity.js';

const visits: Visit[] = [
  {
    visitor: '203.0.113.9: <b>bold</b> & "quoted" \\ é \u2028',
    timestamp: new Date(1_795_000_000_123),
  },
  { visitor: '198.51.100.1: curl/8', timestamp: new Date('2026-11-06T00:00:00Z') },
];

/** The log lines written while `run` runs, parsed. */
function logsDuring(run: () => void): Array<{ severity: string; message: string }> {
  const lines: string[] = [];
  const originals = { out: process.stdout.write, err: process.stderr.write };
  const capture = ((chunk: unknown) => {
    lines.push(String(chunk));
    return true;
  }) as typeof process.stdout.write;
  process.stdout.write = capture;
  process.stderr.write = capture;
  try {
    run();
  } finally {
    process.stdout.write = originals.out;
    process.stderr.write = originals.err;
  }
  return lines
    .flatMap((chunk) => chunk.split('\n').filter(Boolean))
    .map((line) => JSON.parse(line));
}

/** `loadVisits()` as Module 13 has it, from fail-open calls of its own (a fresh log state). */
const loader = () => cacheCalls({ on: () => {} }).loadVisits;

test('loadVisits(dumpVisits(visits)) gives the visits back, timestamps as Dates', () => {
  const loadVisits = loader();
  const loaded = loadVisits(dumpVisits(visits));
  assert.deepEqual(loaded, visits);
  assert.ok(loaded?.every(({ timestamp }) => timestamp instanceof Date));
  assert.deepEqual(
    loaded?.map(({ timestamp }) => ctime(timestamp)),
    visits.map(({ timestamp }) => ctime(timestamp)),
  );
  assert.deepEqual(loadVisits(dumpVisits([])), []);
});

test('the longest list a page can show still loads', () => {
  // Another writer's visitor of a million control characters, read as the page reads it (cut),
  // ten times: each character takes six in JSON.
  const { visit } = readVisitEntity({ visitor: '\u0001'.repeat(1_000_000), timestamp: new Date() });
  const longest = Array.from({ length: MAX_CACHED_VISITS }, () => visit!);
  const json = dumpVisits(longest);
  assert.ok(json.length <= MAX_CACHED_LENGTH, `${json.length} > ${MAX_CACHED_LENGTH} characters`);
  assert.deepEqual(loader()(json), longest);
});

const valid = JSON.parse(dumpVisits(visits)) as Array<Record<string, unknown>>;
const garbage: Array<[string, string]> = [
  ['not JSON', "(lp0\n(dp1\nS'visitor'\np2\n"],
  ['a pickle', '\x80\x04\x95\x1a\x00\x00\x00\x00\x00\x00\x00]\x94.'],
  ['empty', ''],
  ['JSON null', 'null'],
  ['an object', JSON.stringify({ visits: valid })],
  ['a list of numbers', JSON.stringify([1, 2, 3])],
  ['a list with null', JSON.stringify([null])],
  ['a visit without a visitor', JSON.stringify([{ timestamp: valid[0]!.timestamp }])],
  ['a visitor that is not a string', JSON.stringify([{ ...valid[0], visitor: 42 }])],
  ['a timestamp that is not a date', JSON.stringify([{ ...valid[0], timestamp: 'yesterday' }])],
  ['a timestamp as a number', JSON.stringify([{ ...valid[0], timestamp: 1_795_000_000_123 }])],
  ['a date this app did not write', JSON.stringify([{ ...valid[0], timestamp: '2026-11-26' }])],
  ['an extra property', JSON.stringify([{ ...valid[0], admin: true }])],
  ['a __proto__ key', `[{"visitor":"x","timestamp":"${valid[0]!.timestamp}","__proto__":{"a":1}}]`],
  ['eleven visits', JSON.stringify(Array.from({ length: 11 }, () => valid[0]))],
  [
    'ten visits, too long to be ours',
    JSON.stringify(
      Array.from({ length: 10 }, () => ({
        ...valid[0],
        visitor: 'x'.repeat(MAX_CACHED_LENGTH / 10),
      })),
    ),
  ],
  ['100,000 visits', JSON.stringify(Array.from({ length: 100_000 }, () => valid[0]))],
];

for (const [what, text] of garbage) {
  test(`anything else reads as nothing cached: ${what}`, () => {
    logsDuring(() => assert.equal(loader()(text), undefined));
  });
}

test('a timestamp is accepted exactly when it is what JSON.stringify writes for a Date', () => {
  // Every digit of many dates' ISO form, replaced by every other digit: days the month lacks,
  // 24:00, minute 60, month 13 and all; then other ways of writing a valid time.
  const dates = [0, 1, -1, 951_782_400_000, 1_795_000_000_123, 253_402_300_799_999];
  dates.push(-62_198_755_200_000, 253_402_300_800_000, -62_198_755_200_001); // years 0, 10000, -1
  for (let n = 0; n < 40; n++) dates.push(Math.round(Math.sin(n + 1) * 8e12) + 1.6e12);
  const candidates = new Set<string>();
  for (const time of dates) {
    const iso = new Date(time).toISOString();
    candidates.add(iso);
    for (let at = 0; at < iso.length; at++) {
      if (!/\d/.test(iso[at]!)) continue;
      for (const digit of '0123456789')
        candidates.add(iso.slice(0, at) + digit + iso.slice(at + 1));
    }
    candidates.add(iso.replace(/^(\d{4})/, '+00$1')); // the same time in the expanded form
    candidates.add(iso.replace('.000Z', 'Z').replace(/\.(\d{3})Z$/, 'Z'));
    candidates.add(iso.replace('Z', '+00:00'));
  }
  const misread = [
    '2026-02-30T00:00:00.000Z',
    '2025-02-29T12:00:00.000Z',
    '2026-01-31T24:00:00.000Z',
  ];
  for (const timestamp of misread) candidates.add(timestamp);
  for (const year of ['0000', '0004', '0099', '0100', '1900', '2000', '2024', '9996']) {
    candidates.add(`${year}-02-29T00:00:00.000Z`); // a leap day, or not
  }
  let accepted = 0;
  const loadVisits = loader();
  logsDuring(() => {
    for (const timestamp of candidates) {
      const date = new Date(timestamp);
      const exact = !Number.isNaN(date.getTime()) && date.toISOString() === timestamp;
      const loaded = loadVisits(JSON.stringify([{ visitor: 'x', timestamp }]));
      assert.equal(loaded !== undefined, exact, `${timestamp}: accepted ${loaded !== undefined}`);
      if (loaded) assert.equal(loaded[0]!.timestamp.getTime(), date.getTime(), timestamp);
      if (exact) accepted += 1;
    }
  });
  const refused = candidates.size - accepted;
  assert.ok(accepted > 1000 && refused > 1000, `${accepted} accepted, ${refused} refused`);
  for (const timestamp of misread) {
    logsDuring(() =>
      assert.equal(loadVisits(JSON.stringify([{ visitor: 'x', timestamp }])), undefined),
    );
  }
});

test('garbage is logged once when first found, and once when visits are found again', () => {
  const loadVisits = loader();
  const logs = logsDuring(() => {
    for (let n = 0; n < 5; n++) for (const [, text] of garbage) loadVisits(text);
    for (let n = 0; n < 3; n++) loadVisits(dumpVisits(visits));
    loadVisits('not JSON');
  });
  assert.deepEqual(
    logs.map(({ severity, message }) => `${severity} ${message}`),
    [
      'WARNING The cache holds something this app did not write; treating it as a miss',
      'INFO The cache holds visits again',
      'WARNING The cache holds something this app did not write; treating it as a miss',
    ],
  );
});

test("each cache's garbage is its own: another client's clean reads end nothing here", () => {
  const [mine, theirs] = [loader(), loader()];
  const logs = logsDuring(() => {
    mine('not JSON');
    theirs(dumpVisits(visits));
    mine('not JSON');
  });
  assert.deepEqual(
    logs.map(({ severity }) => severity),
    ['WARNING'],
  );
});
