// `npm run deploy:prepare` and `npm run deploy` in a module folder:
//   visitme-deploy prepare            builds .deploy/ and prints the gcloud command
//   visitme-deploy deploy [ARGS…]     builds it and runs `gcloud app deploy …/.deploy/app.yaml ARGS…`
// Both take the learner's values from the environment (REDIS_HOST, REDIS_PORT, REDIS_PASSWORD,
// REDIS_TLS_CA, VPC_ACCESS_CONNECTOR) and stop if app.yaml still holds a placeholder.
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { deployCommand, placeholderReport, prepareDeployFolder, workspaceRoot } from './deploy.js';

const [action, ...args] = process.argv.slice(2);
const moduleDir = process.cwd();
// Where the user typed the command: npm runs this script in the module folder.
const userDir = process.env.INIT_CWD ?? moduleDir;

if (action !== 'prepare' && action !== 'deploy') {
  process.stderr.write('usage: visitme-deploy prepare | deploy [gcloud app deploy arguments]\n');
  process.exit(2);
}

// The bundle includes the shared package's built code: build the module and what it uses.
const { name } = JSON.parse(readFileSync(join(moduleDir, 'package.json'), 'utf8'));
const built = spawnSync(
  'npx',
  ['turbo', 'run', 'build', `--filter=${name}...`, '--output-logs=errors-only'],
  {
    cwd: workspaceRoot(moduleDir),
    stdio: 'inherit',
  },
);
if (built.status !== 0) process.exit(built.status ?? 1);

let folder;
try {
  folder = await prepareDeployFolder(moduleDir);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}
if (folder.placeholders.length > 0) {
  const appYaml = relative(userDir, join(moduleDir, 'app.yaml'));
  process.stderr.write(placeholderReport(folder.placeholders, appYaml));
  process.exit(1);
}
const command = deployCommand(folder, args, userDir);
process.stdout.write(
  `Deploy folder: ${folder.dir}\n` +
    `  runtime Node.js ${folder.nodeEngine}; dependencies: ${Object.entries(folder.dependencies)
      .map(([dep, version]) => `${dep}@${version}`)
      .join(', ')}\n` +
    (folder.filled.length > 0
      ? `  app.yaml from the environment: ${folder.filled.join(', ')}\n`
      : '') +
    `Deploy with:\n  ${command.join(' ')}\n`,
);
if (action === 'deploy') {
  const deployed = spawnSync(command[0]!, command.slice(1), { stdio: 'inherit', cwd: userDir });
  if (deployed.error) {
    process.stderr.write(
      `Cannot run gcloud (${deployed.error.message}): install the Google Cloud CLI.\n`,
    );
    process.exit(1);
  }
  process.exit(deployed.status ?? 1);
}
