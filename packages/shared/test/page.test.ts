import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import pug from 'pug';
import { ctime, views } from '../src/index.js';

test("ctime() is Python's datetime.ctime() in UTC", () => {
  assert.equal(ctime(new Date('2026-11-26T05:30:19.123Z')), 'Thu Nov 26 05:30:19 2026');
  // Python pads a one-digit day with a space: time.ctime() gives 'Fri Jan  2 03:04:05 2026'.
  assert.equal(ctime(new Date('2026-01-02T03:04:05Z')), 'Fri Jan  2 03:04:05 2026');
  assert.equal(ctime(new Date('2024-02-29T23:59:59.999Z')), 'Thu Feb 29 23:59:59 2024');
});

test('ctime() reads a Date and its ISO string alike, as a cache hands back either', () => {
  const date = new Date('2026-07-04T12:00:00.500Z');
  assert.equal(ctime(date.toISOString()), ctime(date));
  assert.equal(ctime(JSON.parse(JSON.stringify(date))), 'Sat Jul  4 12:00:00 2026');
});

test('ctime() refuses what is not a timestamp rather than printing "Invalid Date"', () => {
  assert.throws(() => ctime('yesterday'), RangeError);
});

test('the page renders the same from Dates and from their JSON round trip', () => {
  const render = pug.compileFile(join(views, 'index.pug'));
  const visits = [
    { visitor: '203.0.113.9: <b>bold</b> & "quoted"', timestamp: new Date('2026-11-26T05:30:19Z') },
    { visitor: '198.51.100.1: curl/8', timestamp: new Date('2026-11-06T00:00:00Z') },
  ];
  const fromDates = render({ visits, ctime });
  const fromJson = render({ visits: JSON.parse(JSON.stringify(visits)), ctime });
  assert.equal(fromJson, fromDates);
  assert.equal(
    fromDates,
    '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>VisitMe Example</title>' +
      '</head><body><h1>VisitMe example</h1><h3>Last 10 visits</h3><ul>' +
      '<li>Thu Nov 26 05:30:19 2026 from 203.0.113.9: &lt;b&gt;bold&lt;/b&gt; &amp; &quot;quoted&quot;</li>' +
      '<li>Fri Nov  6 00:00:00 2026 from 198.51.100.1: curl/8</li>' +
      '</ul></body></html>',
  );
});

test('an empty list is an empty page, not an error', () => {
  const html = pug.compileFile(join(views, 'index.pug'))({ visits: [], ctime });
  assert.match(html, /<ul><\/ul>/);
});
