// Every gcloud command in a README is one gcloud accepts: checked offline, with no account.
import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { after, test } from 'node:test';
import { ROOT, readmes } from '../src/code-blocks.js';
import {
  PLACEHOLDERS,
  checkCommands,
  gcloudCommands,
  ruleFor,
  takeSubstitutions,
  type GcloudCommand,
} from '../src/gcloud-commands.js';

const scratch = mkdtempSync(join(tmpdir(), 'gcloud-offline-'));
after(() => rmSync(scratch, { recursive: true, force: true }));

test('commands are found in sh blocks and inline code, continuations, $(…) and pipes understood', () => {
  const markdown = [
    "Run `gcloud app describe --format='value(locationId)'` first.",
    '',
    '```sh',
    'REGION=us-central1   # your region',
    'gcloud redis instances create visitme-cache --size=1 \\',
    '  --region=$REGION --tier=basic',
    'REDIS_HOST=$(gcloud redis instances describe visitme-cache --region=${REGION} \\',
    "  --format='value(host)')",
    'gcloud app logs tail -s default | head -5 > logs.txt && npm test',
    'gcloud projects delete PROJECT_ID   # bare placeholder',
    'echo $NOT_A_PLACEHOLDER; gcloud info --format="value($UNSET)"',
    '```',
    '',
    '```ts',
    "const notShell = 'gcloud app deploy';",
    '```',
  ].join('\n');
  const found = gcloudCommands(markdown, 'X.md');
  assert.deepEqual(
    found.map(({ where, args }) => [where, args.join(' ')]),
    [
      ['X.md:5', 'redis instances create visitme-cache --size=1 --region=us-central1 --tier=basic'],
      [
        'X.md:7',
        'redis instances describe visitme-cache --region=us-central1 --format=value(host)',
      ],
      ['X.md:9', 'app logs tail -s default'],
      ['X.md:10', `projects delete ${PLACEHOLDERS.PROJECT_ID}`],
      ['X.md:11', 'info --format=value($UNSET)'],
      ['X.md:1', 'app describe --format=value(locationId)'],
    ],
  );
  assert.deepEqual(found.at(-2)!.unknown, ['NOT_A_PLACEHOLDER', 'UNSET']);
  assert.deepEqual(takeSubstitutions('A=$(x "$(y \')\')")'), {
    outer: 'A=substituted-value',
    inner: ['x "substituted-value"', "y ')'"],
  });
});

test('which commands need an account, which run locally, which are only looked up', () => {
  assert.equal(ruleFor(['redis', 'instances', 'create', 'x']), 'account');
  assert.equal(ruleFor(['app', 'create', '--region=us-central']), 'account');
  assert.equal(ruleFor(['auth', 'print-access-token']), 'account');
  assert.equal(ruleFor(['config', 'set', 'project', 'p']), 'local');
  assert.equal(ruleFor(['meta', 'list-files-for-upload', '.']), 'local');
  assert.equal(ruleFor(['components', 'install', 'cloud-datastore-emulator']), 'help');
  assert.equal(ruleFor(['auth', 'login']), 'help');
  assert.equal(ruleFor(['auth', 'application-default', 'login']), 'help');
  assert.equal(ruleFor(['init']), 'help');
});

test('the offline check tells a well-formed command from a misspelt, a wrong and an incomplete one', async () => {
  const create = ['redis', 'instances', 'create', 'x', '--size=1', '--region=us-central1'];
  const cases: Array<[string[], boolean]> = [
    [[...create, '--tier=basic'], true],
    [[...create, '--tierr=basic'], false], // unrecognized arguments
    [[...create, '--tier=basik'], false], // Invalid choice
    [['redis', 'instances', 'create', 'x', '--size=1'], false], // no region
    [['app', 'update', '--serving-status=stopped'], false], // a flag gcloud does not have
    [['config', 'set', 'project', PLACEHOLDERS.PROJECT_ID!], true],
    [['config', 'sett', 'project', 'p'], false],
    [['components', 'install', 'cloud-datastore-emulator'], true],
    [['components', 'install', 'x', '--no-such-flag'], false],
  ];
  const verdicts = await checkCommands(
    cases.map(([args]) => args),
    { scratch },
  );
  cases.forEach(([args, expected], index) => {
    assert.equal(
      verdicts[index]!.ok,
      expected,
      `gcloud ${args.join(' ')}\n${verdicts[index]!.output}`,
    );
  });
});

test('every gcloud command in every README is one gcloud accepts', async () => {
  const commands: GcloudCommand[] = readmes().flatMap((path) =>
    gcloudCommands(readFileSync(path, 'utf8'), relative(ROOT, path)),
  );
  assert.ok(commands.length >= 20, `found ${commands.length} gcloud commands in the READMEs`);
  for (const { where, written, unknown } of commands) {
    assert.deepEqual(unknown, [], `${where}: ${written}\nuses variables with no placeholder value`);
  }
  // The same command in several places is run once.
  const distinct = [...new Set(commands.map(({ args }) => JSON.stringify(args)))];
  const checked = await checkCommands(
    distinct.map((args) => JSON.parse(args) as string[]),
    { scratch },
  );
  const verdicts = new Map(checked.map((verdict, index) => [distinct[index]!, verdict]));
  const rejected = commands
    .map((command) => ({ ...command, verdict: verdicts.get(JSON.stringify(command.args))! }))
    .filter(({ verdict }) => !verdict.ok)
    .map(
      ({ where, written, args, verdict }) =>
        `${where}: ${written}\n  gcloud ${args.join(' ')}\n  ${verdict.output.trim().replace(/\n/g, '\n  ')}`,
    );
  assert.deepEqual(rejected, [], `of ${commands.length} commands, these gcloud does not accept`);
});
