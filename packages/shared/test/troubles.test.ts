// The one way trouble is logged: once when a kind of it starts, once when it ends.
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { Troubles, outageCalls } from '../src/troubles.js';
import { capturingLog } from './capturing-log.js';

const said = (lines: Record<string, unknown>[]) =>
  lines.map(({ severity, message }) => `${String(severity)} ${String(message)}`);

test('Troubles: each kind logged once when it starts, with its fields, and once when it ends', async () => {
  const { lines } = await capturingLog(async () => {
    const troubles = new Troubles();
    assert.equal(troubles.end('a', 'a ended'), false, 'nothing to end yet');
    assert.equal(troubles.start('a', 'WARNING', 'a started', { count: 1 }), true);
    for (let n = 0; n < 5; n++) assert.equal(troubles.start('a', 'WARNING', 'a again'), false);
    troubles.start('b', 'ERROR', 'b started'); // another kind: its own lines
    assert.equal(troubles.end('a', 'a ended'), true);
    assert.equal(troubles.end('a', 'a ended'), false);
    troubles.start('a', 'WARNING', 'a started again');
    new Troubles().start('a', 'WARNING', 'another instance'); // its own state
  });
  assert.deepEqual(said(lines), [
    'WARNING a started',
    'ERROR b started',
    'INFO a ended',
    'WARNING a started again',
    'WARNING another instance',
  ]);
  assert.equal(lines[0]?.count, 1);
});

const messages = { severity: 'ERROR', starts: 'down', ends: 'back' } as const;
const failure = () => Promise.reject(new Error('refused'));
const success = () => Promise.resolve('answer');

test('outageCalls(): results and errors unchanged; an outage is one line and its end another', async () => {
  const { lines } = await capturingLog(async () => {
    const call = outageCalls(messages);
    assert.equal(await call(success), 'answer');
    for (let n = 0; n < 100; n++) await assert.rejects(call(failure), /^Error: refused$/);
    for (let n = 0; n < 100; n++) assert.equal(await call(success), 'answer');
    await assert.rejects(call(failure), /refused/);
  });
  assert.deepEqual(said(lines), ['ERROR down', 'INFO back', 'ERROR down']);
  assert.match(String(lines[0]?.error), /^Error: refused\n {4}at /, 'the error, with its stack');
});

test('outageCalls(): a call sent before the outage started or ended changes nothing', async () => {
  const { lines } = await capturingLog(async () => {
    const call = outageCalls(messages);
    const pending = <T>() => {
      let settle!: { resolve: (value: T) => void; reject: (error: Error) => void };
      const promise = new Promise<T>((resolve, reject) => (settle = { resolve, reject }));
      return { promise, ...settle };
    };
    // Answered just before the service went: its late success does not end the outage.
    const early = pending<string>();
    const answeredLate = call(() => early.promise);
    await assert.rejects(call(failure));
    early.resolve('answer');
    assert.equal(await answeredLate, 'answer');
    // Timed out just after the service came back: its failure does not start a new outage.
    const slow = pending<string>();
    const failedLate = call(() => slow.promise);
    await call(success);
    slow.reject(new Error('timed out'));
    await assert.rejects(failedLate, /timed out/);
    await call(success);
    await assert.rejects(call(failure)); // sent after the end: a new outage
  });
  assert.deepEqual(said(lines), ['ERROR down', 'INFO back', 'ERROR down']);
});
