// The deploy folder end to end (npm ci, npm start, gcloud's upload list) is tested in
// packages/stage-tests, for every module. These are the rules it is built by.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { deployCommand, nodeEngineFor, workspaceRoot } from '../src/deploy.js';

test("engines.node follows app.yaml's runtime", () => {
  assert.equal(nodeEngineFor('runtime: nodejs22\n'), '22.x');
  assert.equal(nodeEngineFor('runtime: nodejs24\nenv_variables:\n  A: b\n'), '24.x');
});

test('an app.yaml that is not for a Node.js runtime is refused, saying why', () => {
  assert.throws(() => nodeEngineFor('runtime: python39\n'), /"python39", not a Node\.js runtime/);
  assert.throws(() => nodeEngineFor('env: flex\n'), /not a Node\.js runtime/);
});

test('the workspace root is found from a module folder', () => {
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  assert.equal(join(workspaceRoot(join(root, 'modules', 'mod1-baseline')), '/'), root);
  assert.throws(() => workspaceRoot('/'), /No npm workspace root/);
});

test("the gcloud command names the folder's app.yaml and passes extra arguments on", () => {
  const folder = { dir: '/repo/modules/m/.deploy', dependencies: {}, nodeEngine: '22.x' };
  assert.deepEqual(deployCommand(folder, ['--project=p'], '/repo/modules/m'), [
    'gcloud',
    'app',
    'deploy',
    '.deploy/app.yaml',
    '--project=p',
  ]);
});
