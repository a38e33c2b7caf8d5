// A module folder cannot be deployed as it is: it depends on a workspace package and on the
// root lockfile, and App Engine uploads only the folder that holds app.yaml. This makes a
// folder that can: esbuild bundles the module with the shared package's code into one file
// (registry packages stay external), and npm writes a lockfile for exactly those packages.
// It is made under the workspace root's .deploy/ (git-ignored), outside the stage folders, so
// that diffing two stages never shows it.
import { execFileSync } from 'node:child_process';
import {
  cpSync,
  existsSync,
  mkdirSync,
  readFileSync,
  readdirSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { createRequire } from 'node:module';
import { basename, dirname, isAbsolute, join, relative, resolve } from 'node:path';
import { isDeepStrictEqual } from 'node:util';
import { build, type Plugin } from 'esbuild';
import { parse, parseDocument, Scalar, type Document } from 'yaml';

export interface DeployFolder {
  /** The folder to hand to `gcloud app deploy`. */
  dir: string;
  /** The registry packages the bundle imports, at the versions the workspace resolved. */
  dependencies: Record<string, string>;
  /** `24.x` for runtime `nodejs24`: what `engines.node` says. */
  nodeEngine: string;
  /** The environment variables whose values went into app.yaml. */
  filled: string[];
  /** What app.yaml still holds in place of the learner's values: not deployable. */
  placeholders: Placeholder[];
}

/** Environment variables whose values go into a Redis stage's `env_variables`. */
export const REDIS_VARIABLES = ['REDIS_HOST', 'REDIS_PORT', 'REDIS_PASSWORD', 'REDIS_TLS_CA'];
/** The Serverless VPC Access connector's full name, for `vpc_access_connector.name`. */
export const CONNECTOR_VARIABLE = 'VPC_ACCESS_CONNECTOR';

export interface Placeholder {
  /** Where in app.yaml: `env_variables.REDIS_HOST`. */
  where: string;
  /** The placeholders it holds: `YOUR_REDIS_HOST`, or `PROJECT_ID, REGION, CONNECTOR`. */
  found: string;
  /** The environment variable that fills it. */
  variable: string;
  /** The command that prints its value. */
  command: string;
}

const HOW_TO_GET: Record<string, string> = {
  REDIS_HOST: "gcloud redis instances describe INSTANCE --region=REGION --format='value(host)'",
  REDIS_PORT: "gcloud redis instances describe INSTANCE --region=REGION --format='value(port)'",
  REDIS_PASSWORD:
    "gcloud redis instances get-auth-string INSTANCE --region=REGION --format='value(authString)'",
  REDIS_TLS_CA:
    "gcloud redis instances describe INSTANCE --region=REGION --format='value(serverCaCerts[0].cert)' > server-ca.pem",
  [CONNECTOR_VARIABLE]:
    "gcloud compute networks vpc-access connectors describe CONNECTOR --region=REGION --format='value(name)'",
};

/** Sets a scalar in place, keeping its quoting and the comments around it. */
function setString(doc: Document, path: string[], value: string) {
  const node = doc.getIn(path, true);
  if (node instanceof Scalar) node.value = value;
  else doc.setIn(path, Object.assign(new Scalar(value), { type: Scalar.QUOTE_SINGLE }));
}

/**
 * app.yaml with the learner's values from `env`: the Redis variables for a stage that has
 * them (its `env_variables` holds `REDIS_HOST`), and the connector's full name for a stage
 * that has one. Unset or empty variables leave app.yaml as it is.
 */
export function fillAppYaml(appYaml: string, env: NodeJS.ProcessEnv) {
  const doc = parseDocument(appYaml);
  const filled: string[] = [];
  if (doc.hasIn(['env_variables', 'REDIS_HOST'])) {
    for (const name of REDIS_VARIABLES) {
      const value = env[name];
      if (!value) continue;
      if (name === 'REDIS_PORT' && !(/^\d+$/.test(value) && Number(value) <= 65_535)) {
        throw new Error(`REDIS_PORT must be a port number; it is "${value}"`);
      }
      setString(doc, ['env_variables', name], value);
      filled.push(name);
    }
  }
  const connector = env[CONNECTOR_VARIABLE];
  if (connector && doc.hasIn(['vpc_access_connector', 'name'])) {
    if (!CONNECTOR_NAME.test(connector)) {
      throw new Error(
        `${CONNECTOR_VARIABLE} must be the connector's full name, ` +
          `projects/PROJECT_ID/locations/REGION/connectors/CONNECTOR; it is "${connector}". ` +
          `It is what this prints: ${HOW_TO_GET[CONNECTOR_VARIABLE]}`,
      );
    }
    setString(doc, ['vpc_access_connector', 'name'], connector);
    filled.push(CONNECTOR_VARIABLE);
  }
  // Untouched, it stays byte for byte what the learner wrote.
  return { text: filled.length > 0 ? String(doc) : appYaml, filled };
}

const CONNECTOR_NAME = /^projects\/([^/]+)\/locations\/([^/]+)\/connectors\/([^/]+)$/;
const CONNECTOR_PLACEHOLDERS = ['PROJECT_ID', 'REGION', 'CONNECTOR'];

/** Every value in app.yaml still holding a placeholder, with how to get the real one. */
export function placeholdersIn(appYaml: string): Placeholder[] {
  const config = parse(appYaml) ?? {};
  const found: Placeholder[] = [];
  for (const [name, value] of Object.entries<unknown>(config.env_variables ?? {})) {
    const tokens = String(value).match(/\bYOUR_[A-Z0-9_]+\b/g);
    if (!tokens) continue;
    found.push({
      where: `env_variables.${name}`,
      found: tokens.join(', '),
      variable: name,
      command: HOW_TO_GET[name] ?? `set ${name} to its value`,
    });
  }
  const connector = config.vpc_access_connector?.name;
  if (connector !== undefined) {
    const parts = CONNECTOR_NAME.exec(String(connector))?.slice(1);
    const tokens = parts
      ? parts.filter((part) => CONNECTOR_PLACEHOLDERS.includes(part))
      : [String(connector)];
    if (tokens.length > 0) {
      found.push({
        where: 'vpc_access_connector.name',
        found: tokens.join(', '),
        variable: CONNECTOR_VARIABLE,
        command: HOW_TO_GET[CONNECTOR_VARIABLE]!,
      });
    }
  }
  return found;
}

/** Where the learner reads about it and where their values go, from where they typed. */
export interface ReportPaths {
  /** The stage's tracked app.yaml: `modules/mod13-redis/app.yaml`. */
  appYaml: string;
  /** The deploy folder's copy, which takes the values: `.deploy/mod13-redis/app.yaml`. */
  deployedYaml: string;
  /** The stage's README: `modules/mod13-redis/README.md`. */
  readme: string;
  /** The gcloud command that deploys the folder. */
  gcloud: string;
}

/**
 * What to print when app.yaml is not deployable yet. The values come from the environment, or
 * go into the deploy folder's copy by hand; never into the tracked app.yaml, where an AUTH
 * string would end up committed.
 */
export function placeholderReport(
  placeholders: Placeholder[],
  { appYaml, deployedYaml, readme, gcloud }: ReportPaths,
): string {
  return [
    `${appYaml} still holds placeholders, so this stops before gcloud runs:`,
    ...placeholders.flatMap(({ where, found, variable, command }) => [
      `  ${where} is ${found}: set ${variable}, from`,
      `      ${command}`,
    ]),
    `Set them in the environment, as ${readme} shows under Deploy:`,
    `  ${placeholders.map(({ variable }) => `${variable}=…`).join(' ')} npm run deploy …`,
    `or fill them in the deploy folder's copy, ${deployedYaml} (git ignores it), and run`,
    `  ${gcloud}`,
    `Leave ${appYaml} as it is: git tracks it, and an AUTH string does not belong in git.`,
    '',
  ].join('\n');
}

/**
 * Why the arguments for gcloud cannot be passed on: an empty `--flag=` (or `--flag ''`) is what
 * a shell variable that is not set leaves, as `--project=$PROJECT_ID` does without PROJECT_ID
 * (and `--project $PROJECT_ID`, unquoted, leaves `--project` with nothing after it).
 */
export function emptyArgumentReport(args: readonly string[], readme: string): string | undefined {
  const empty = args.flatMap((arg, index) => {
    const flag = /^(--[\w-]+)=$/.exec(arg)?.[1];
    if (flag) return [flag];
    const next = args[index + 1];
    const valueless = next === '' || (arg === '--project' && (next ?? '-').startsWith('-'));
    return /^--[\w-]+$/.test(arg) && valueless ? [arg] : [];
  });
  if (empty.length === 0) return undefined;
  return (
    empty
      .map((flag) =>
        flag === '--project'
          ? `--project is empty: PROJECT_ID is not set in this shell. Set it to your project's ID ` +
            `(PROJECT_ID=your-project-id), as ${readme} shows under Prework.`
          : `${flag} is empty: the variable that gives its value is not set in this shell.`,
      )
      .join('\n') + '\nNothing was built or deployed.\n'
  );
}

const WORKSPACE_SCOPE = '@visitme/';

/** Registry packages stay `import`s, resolved by `npm ci` on App Engine; workspace code is bundled. */
const externalRegistryPackages: Plugin = {
  name: 'external-registry-packages',
  setup(build) {
    build.onResolve({ filter: /^[^./]/ }, ({ path }) =>
      path.startsWith(WORKSPACE_SCOPE) ? undefined : { path, external: true },
    );
  },
};

/** `express` for `express/lib/x`, `@scope/name` for `@scope/name/x`. */
function packageName(specifier: string): string {
  const parts = specifier.split('/');
  return specifier.startsWith('@') ? parts.slice(0, 2).join('/') : parts[0]!;
}

/** The workspace root: the nearest folder above `from` whose package.json has workspaces. */
export function workspaceRoot(from: string): string {
  for (let dir = resolve(from); ; dir = dirname(dir)) {
    const manifest = join(dir, 'package.json');
    if (existsSync(manifest) && JSON.parse(readFileSync(manifest, 'utf8')).workspaces) return dir;
    if (dirname(dir) === dir) throw new Error(`No npm workspace root above ${from}`);
  }
}

/** `24.x` for `runtime: nodejs24`, the only form App Engine's Node.js runtimes take. */
export function nodeEngineFor(appYaml: string): string {
  const runtime = String(parse(appYaml)?.runtime ?? '');
  const major = /^nodejs(\d+)$/.exec(runtime)?.[1];
  if (!major)
    throw new Error(
      `app.yaml's runtime is "${runtime}", not a Node.js runtime (nodejs22, nodejs24)`,
    );
  return `${major}.x`;
}

interface Previous {
  manifest: Record<string, unknown>;
  lock: { packages?: Record<string, { version?: string; integrity?: string }> };
  lockText: string;
}

/** The manifest and lockfile an earlier prepare left in the deploy folder, if any. */
function readPrevious(dir: string): Previous | undefined {
  try {
    const lockText = readFileSync(join(dir, 'package-lock.json'), 'utf8');
    const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8'));
    return { manifest, lock: JSON.parse(lockText), lockText };
  } catch {
    return undefined;
  }
}

/**
 * Whether the earlier lockfile is what npm would write now: made for the same manifest, and
 * every package in it at the version and integrity the workspace lockfile still has there.
 */
function stillLocked(
  previous: Previous,
  manifest: Record<string, unknown>,
  rootLock: { packages?: Record<string, { version?: string; integrity?: string }> },
): boolean {
  const { allowScripts: _, ...made } = previous.manifest;
  if (!isDeepStrictEqual(made, manifest)) return false;
  return Object.entries(previous.lock.packages ?? {}).every(
    ([path, entry]) =>
      path === '' ||
      (rootLock.packages?.[path]?.version === entry.version &&
        rootLock.packages?.[path]?.integrity === entry.integrity),
  );
}

/** Where a module's deploy folder goes: `<workspace root>/.deploy/<module folder's name>`. */
export function deployFolderFor(moduleDir: string): string {
  return join(workspaceRoot(moduleDir), '.deploy', basename(resolve(moduleDir)));
}

/**
 * Builds the module's deploy folder, App Engine's view of the module, with the learner's values
 * from `env` in its app.yaml (the module's own app.yaml is never written).
 */
export async function prepareDeployFolder(
  moduleDir: string,
  { env = process.env }: { env?: NodeJS.ProcessEnv } = {},
): Promise<DeployFolder> {
  const root = workspaceRoot(moduleDir);
  const manifest = JSON.parse(readFileSync(join(moduleDir, 'package.json'), 'utf8'));
  const filledYaml = fillAppYaml(readFileSync(join(moduleDir, 'app.yaml'), 'utf8'), env);
  const { filled } = filledYaml;
  let appYaml = filledYaml.text;
  const nodeEngine = nodeEngineFor(appYaml);
  const dir = deployFolderFor(moduleDir);
  const previous = readPrevious(dir);
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });

  // Same path as in the module (dist/src/server.js), so `npm start` is the same command and
  // the shared page's views sit where the shared code looks for them (../../views).
  const result = await build({
    entryPoints: [join(moduleDir, 'src', 'server.ts')],
    outfile: join(dir, 'dist', 'src', 'server.js'),
    bundle: true,
    platform: 'node',
    format: 'esm',
    target: `node${nodeEngine.split('.')[0]}`,
    plugins: [externalRegistryPackages],
    metafile: true,
    logLevel: 'warning',
  });
  const imported = new Set(
    Object.values(result.metafile.outputs)
      .flatMap((output) => output.imports)
      .filter((entry) => entry.external && !entry.path.startsWith('node:'))
      .map((entry) => packageName(entry.path)),
  );

  // Also what the module declares but loads by name at run time: Express requires its view
  // engine (pug) itself.
  for (const name of Object.keys(manifest.dependencies ?? {})) {
    if (!name.startsWith(WORKSPACE_SCOPE)) imported.add(name);
  }
  const rootLock = JSON.parse(readFileSync(join(root, 'package-lock.json'), 'utf8'));
  const dependencies: Record<string, string> = {};
  for (const name of [...imported].sort()) {
    const locked = rootLock.packages?.[`node_modules/${name}`]?.version;
    if (!locked)
      throw new Error(`${name} is imported but not in the workspace lockfile: npm install it`);
    dependencies[name] = locked;
  }

  const deployManifest: Record<string, unknown> = {
    name: manifest.name,
    version: manifest.version,
    private: true,
    license: manifest.license,
    type: 'module',
    engines: { node: nodeEngine },
    scripts: {
      // npm runs a script through sh, which passes no signal on: exec makes the server the
      // process npm signals, so App Engine's SIGTERM reaches it.
      start: 'exec node dist/src/server.js',
      // The bundle is built already: nothing to build on App Engine.
      'gcp-build': '',
    },
    dependencies,
  };
  const writeManifest = () =>
    writeFileSync(join(dir, 'package.json'), JSON.stringify(deployManifest, null, 2) + '\n');
  writeManifest();
  // A server CA named by REDIS_TLS_CA from elsewhere goes into the folder, under its name.
  const ca = parse(appYaml)?.env_variables?.REDIS_TLS_CA;
  if (typeof ca === 'string' && !ca.startsWith('YOUR_') && (isAbsolute(ca) || ca.includes('/'))) {
    const source = resolve(moduleDir, ca);
    if (!existsSync(source)) throw new Error(`REDIS_TLS_CA names ${source}, which does not exist`);
    cpSync(source, join(dir, basename(source)));
    appYaml = fillAppYaml(appYaml, { REDIS_TLS_CA: basename(source) }).text;
  }
  writeFileSync(join(dir, 'app.yaml'), appYaml);
  const require = createRequire(join(moduleDir, 'package.json'));
  const sharedDir = dirname(require.resolve('@visitme/shared/package.json'));
  cpSync(join(sharedDir, 'views'), join(dir, 'views'), { recursive: true });
  // Files the app reads at run time from its folder, such as Memorystore's server CA.
  for (const name of readdirSync(moduleDir).filter((name) => name.endsWith('.pem'))) {
    cpSync(join(moduleDir, name), join(dir, name));
  }
  const caFile = parse(appYaml)?.env_variables?.REDIS_TLS_CA;
  if (typeof caFile === 'string' && !caFile.startsWith('YOUR_') && !existsSync(join(dir, caFile))) {
    throw new Error(
      `REDIS_TLS_CA is ${caFile}, which is not in ${moduleDir}: save the server CA there (${HOW_TO_GET.REDIS_TLS_CA})`,
    );
  }
  writeFileSync(
    join(dir, '.gcloudignore'),
    [
      '# App Engine installs dependencies itself (npm ci).',
      '.gcloudignore',
      'node_modules/',
      '',
    ].join('\n'),
  );

  if (previous && stillLocked(previous, deployManifest, rootLock)) {
    // The last prepare's lockfile, when nothing it locks has changed: npm takes seconds.
    writeFileSync(join(dir, 'package-lock.json'), previous.lockText);
  } else {
    // Start from the workspace lockfile, so npm keeps every version it resolved there and
    // only drops what this folder does not use.
    writeFileSync(join(dir, 'package-lock.json'), JSON.stringify(rootLock));
    execFileSync(
      'npm',
      [
        'install',
        '--package-lock-only',
        '--ignore-scripts',
        '--no-audit',
        '--no-fund',
        '--loglevel=error',
      ],
      { cwd: dir, stdio: ['ignore', 'ignore', 'inherit'] },
    );
  }
  // The root's say on install scripts, for the packages this folder installs: without it
  // `npm ci` warns about each one's script (protobufjs's, say).
  const lock = JSON.parse(readFileSync(join(dir, 'package-lock.json'), 'utf8'));
  const rootManifest = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8'));
  const allowScripts = Object.fromEntries(
    Object.entries(rootManifest.allowScripts ?? {}).filter(
      ([name]) => lock.packages?.[`node_modules/${name}`] !== undefined,
    ),
  );
  if (Object.keys(allowScripts).length > 0) {
    deployManifest.allowScripts = allowScripts;
    writeManifest();
  }
  return { dir, dependencies, nodeEngine, filled, placeholders: placeholdersIn(appYaml) };
}

/**
 * What to run to deploy it, as a command line that works in `cwd`: where the user typed
 * `npm run deploy` (npm's INIT_CWD), not the module folder npm runs the script in.
 */
export function deployCommand(
  folder: Pick<DeployFolder, 'dir'>,
  extraArgs: string[],
  cwd = process.env.INIT_CWD ?? process.cwd(),
): string[] {
  return [
    'gcloud',
    'app',
    'deploy',
    join(relative(cwd, folder.dir) || '.', 'app.yaml'),
    ...extraArgs,
  ];
}
