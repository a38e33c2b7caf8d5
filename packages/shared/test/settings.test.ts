import assert from 'node:assert/strict';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { fileSetting, portSetting } from '../src/index.js';

test('portSetting(): a decimal port, or the fallback when the variable is not set', () => {
  assert.equal(portSetting({}, 'REDIS_PORT', 6379), 6379);
  assert.equal(portSetting({ REDIS_PORT: '6380' }, 'REDIS_PORT', 6379), 6380);
  assert.equal(portSetting({ REDIS_PORT: '1' }, 'REDIS_PORT', 6379), 1);
  assert.equal(portSetting({ REDIS_PORT: '65535' }, 'REDIS_PORT', 6379), 65535);
});

for (const value of [
  '',
  'abc',
  '0x1f',
  '0x5a2f',
  '1e3',
  '0',
  '65536',
  '-1',
  ' 80',
  '80 ',
  '6379.0',
  'YOUR_REDIS_PORT',
]) {
  test(`portSetting() refuses ${JSON.stringify(value)}, naming the variable and the value`, () => {
    assert.throws(
      () => portSetting({ REDIS_PORT: value }, 'REDIS_PORT', 6379),
      (error: Error) =>
        error.message ===
        `REDIS_PORT must be a decimal port number from 1 to 65535; it is "${value}"`,
    );
  });
}

test('fileSetting(): the file the variable names; an Error naming both when unreadable', () => {
  const folder = mkdtempSync(join(tmpdir(), 'settings-'));
  const ca = join(folder, 'server-ca.pem');
  writeFileSync(ca, 'CERTIFICATE');
  assert.equal(fileSetting({ REDIS_TLS_CA: ca }, 'REDIS_TLS_CA').toString(), 'CERTIFICATE');
  const missing = join(folder, 'missing.pem');
  assert.throws(
    () => fileSetting({ REDIS_TLS_CA: missing }, 'REDIS_TLS_CA'),
    new RegExp(`^Error: REDIS_TLS_CA names a file that cannot be read: "${missing}" \\(ENOENT\\)$`),
  );
  assert.throws(
    () => fileSetting({ REDIS_TLS_CA: folder }, 'REDIS_TLS_CA'),
    /^Error: REDIS_TLS_CA .*\(EISDIR\)$/,
  );
});
