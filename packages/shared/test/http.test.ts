import assert from 'node:assert/strict';
import { test } from 'node:test';
import { portFromEnv } from '../src/index.js';

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
