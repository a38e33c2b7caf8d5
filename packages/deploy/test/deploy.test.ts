// The deploy folder end to end (npm ci, npm start, gcloud's upload list) is tested in
// packages/stage-tests, for every module. These are the rules it is built by.
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { test } from 'node:test';
import { parse } from 'yaml';
import {
  deployCommand,
  deployFolderFor,
  emptyArgumentReport,
  fillAppYaml,
  nodeEngineFor,
  placeholderReport,
  placeholdersIn,
  workspaceRoot,
} from '../src/deploy.js';

const MOD13_YAML = `runtime: nodejs24

env_variables:
  REDIS_HOST: 'YOUR_REDIS_HOST'
  REDIS_PORT: 'YOUR_REDIS_PORT'
  # With Memorystore's AUTH enabled: its AUTH string.
  # REDIS_PASSWORD: 'YOUR_AUTH_STRING'

vpc_access_connector:
  name: projects/PROJECT_ID/locations/REGION/connectors/CONNECTOR
`;
const CONNECTOR = 'projects/p1/locations/us-central1/connectors/c1';

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

test('the deploy folder is made under the root, outside the stage folders that are diffed', () => {
  const root = fileURLToPath(new URL('../../../../', import.meta.url));
  assert.equal(
    deployFolderFor(join(root, 'modules', 'mod13-redis')),
    join(root, '.deploy', 'mod13-redis'),
  );
});

test("the gcloud command names the folder's app.yaml from where it was typed, passing arguments on", () => {
  const folder = { dir: '/repo/.deploy/m' };
  assert.deepEqual(deployCommand(folder, ['--project=p'], '/repo/modules/m'), [
    'gcloud',
    'app',
    'deploy',
    '../../.deploy/m/app.yaml',
    '--project=p',
  ]);
  assert.deepEqual(deployCommand(folder, [], '/repo'), [
    'gcloud',
    'app',
    'deploy',
    '.deploy/m/app.yaml',
  ]);
});

test('every placeholder is found, with the variable that fills it and the command that gives it', () => {
  const found = placeholdersIn(MOD13_YAML);
  assert.deepEqual(
    found.map(({ where, found, variable }) => [where, found, variable]),
    [
      ['env_variables.REDIS_HOST', 'YOUR_REDIS_HOST', 'REDIS_HOST'],
      ['env_variables.REDIS_PORT', 'YOUR_REDIS_PORT', 'REDIS_PORT'],
      ['vpc_access_connector.name', 'PROJECT_ID, REGION, CONNECTOR', 'VPC_ACCESS_CONNECTOR'],
    ],
  );
  assert.match(found[0]!.command, /^gcloud redis instances describe .*value\(host\)/);
  assert.match(found[2]!.command, /^gcloud compute networks vpc-access connectors describe /);
  // A connector's name half filled in still holds placeholders; comments are not values.
  const half = MOD13_YAML.replace('PROJECT_ID', 'p1');
  assert.equal(placeholdersIn(half).at(-1)?.found, 'REGION, CONNECTOR');
  assert.deepEqual(placeholdersIn('runtime: nodejs22\n'), []);
  const report = placeholderReport(found, {
    appYaml: 'modules/mod13-redis/app.yaml',
    deployedYaml: '.deploy/mod13-redis/app.yaml',
    readme: 'modules/mod13-redis/README.md',
    gcloud: 'gcloud app deploy .deploy/mod13-redis/app.yaml --project=p',
  });
  for (const { where, command } of found) {
    assert.ok(report.includes(where) && report.includes(command), report);
  }
});

test('a refused deploy says where the values go: the environment or the deploy folder, never the tracked app.yaml', () => {
  const report = placeholderReport(placeholdersIn(MOD13_YAML), {
    appYaml: 'modules/mod13-redis/app.yaml',
    deployedYaml: '.deploy/mod13-redis/app.yaml',
    readme: 'modules/mod13-redis/README.md',
    gcloud: 'gcloud app deploy .deploy/mod13-redis/app.yaml --project=p',
  });
  assert.match(
    report,
    /Set them in the environment, as modules\/mod13-redis\/README\.md shows under Deploy:/,
  );
  assert.match(report, /\n {2}REDIS_HOST=… REDIS_PORT=… VPC_ACCESS_CONNECTOR=… npm run deploy …\n/);
  assert.match(
    report,
    /\nor fill them in the deploy folder's copy, \.deploy\/mod13-redis\/app\.yaml \(git ignores it\), and run\n {2}gcloud app deploy \.deploy\/mod13-redis\/app\.yaml --project=p\n/,
  );
  assert.match(
    report,
    /\nLeave modules\/mod13-redis\/app\.yaml as it is: git tracks it, and an AUTH string does not belong in git\.\n$/,
  );
  assert.doesNotMatch(report, /write them into/);
});

test('an empty --project (PROJECT_ID not set in the shell) is refused, naming the variable', () => {
  const readme = 'modules/mod1-baseline/README.md';
  for (const args of [
    ['--project='],
    ['--project', ''],
    ['--version=v2', '--project='],
    ['--project'], // `--project $PROJECT_ID`, unquoted
    ['--project', '--version=v2'],
  ]) {
    const report = emptyArgumentReport(args, readme);
    assert.match(
      report ?? '',
      /^--project is empty: PROJECT_ID is not set in this shell\. .*modules\/mod1-baseline\/README\.md shows under Prework\.\nNothing was built or deployed\.\n$/,
      JSON.stringify(args),
    );
  }
  assert.match(emptyArgumentReport(['--version='], readme) ?? '', /^--version is empty: /);
  assert.equal(emptyArgumentReport(['--project=p', '--version=v2'], readme), undefined);
  assert.equal(emptyArgumentReport(['--project', 'p', '--quiet'], readme), undefined);
  assert.equal(emptyArgumentReport([], readme), undefined);
});

test("the learner's values from the environment fill app.yaml, keeping its comments", () => {
  const { text, filled } = fillAppYaml(MOD13_YAML, {
    REDIS_HOST: '10.0.0.3',
    REDIS_PORT: '6378',
    REDIS_PASSWORD: "it's secret",
    VPC_ACCESS_CONNECTOR: CONNECTOR,
    UNRELATED: 'x',
  });
  assert.deepEqual(filled, ['REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD', 'VPC_ACCESS_CONNECTOR']);
  assert.deepEqual(parse(text), {
    runtime: 'nodejs24',
    env_variables: {
      REDIS_HOST: '10.0.0.3',
      REDIS_PORT: '6378', // still a string, as App Engine wants
      REDIS_PASSWORD: "it's secret",
    },
    vpc_access_connector: { name: CONNECTOR },
  });
  assert.match(text, /# With Memorystore's AUTH enabled/);
  assert.deepEqual(placeholdersIn(text), []);
  // Unset and empty variables leave app.yaml as it was, placeholders and all.
  assert.equal(fillAppYaml(MOD13_YAML, { REDIS_HOST: '' }).text, MOD13_YAML);
});

test('a stage without Redis or a connector takes none of those values', () => {
  const { text, filled } = fillAppYaml('runtime: nodejs22\n', {
    REDIS_HOST: '10.0.0.3',
    VPC_ACCESS_CONNECTOR: CONNECTOR,
  });
  assert.equal(text, 'runtime: nodejs22\n');
  assert.deepEqual(filled, []);
});

test('a REDIS_PORT that is not a port, or a connector that is not a full name, is refused', () => {
  assert.throws(
    () => fillAppYaml(MOD13_YAML, { REDIS_PORT: '63 79' }),
    /REDIS_PORT must be a port number; it is "63 79"/,
  );
  assert.throws(
    () => fillAppYaml(MOD13_YAML, { VPC_ACCESS_CONNECTOR: 'visitme-connector' }),
    /VPC_ACCESS_CONNECTOR must be the connector's full name.*connectors describe/,
  );
});
