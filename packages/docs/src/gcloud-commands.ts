// Every `gcloud` command a README tells a learner to run, and a way to check, offline, that
// gcloud accepts it: run with placeholder values, a dummy project and an empty configuration
// (no account), a well-formed command parses its arguments and then stops for want of an
// account, while a misspelt flag, a bad choice or a missing argument stops it earlier with
// "unrecognized arguments", "Invalid choice" or "argument … is required".
import { spawn } from 'node:child_process';
import { mkdtempSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'shell-quote';

/** Values for the placeholders the READMEs use, as `$NAME`, `${NAME}` or a bare `NAME`. */
export const PLACEHOLDERS: Readonly<Record<string, string>> = {
  PROJECT_ID: 'visitme-offline-check',
  BILLING_ACCOUNT_ID: '000000-AAAAAA-000000',
  REGION: 'us-central1',
  APP_REGION: 'us-central',
  REDIS_HOST: '10.0.0.3',
  REDIS_PORT: '6379',
};

/** What a `$(…)` substitution stands for once its own command has been taken out. */
const SUBSTITUTED = 'substituted-value';

export interface GcloudCommand {
  /** Where it is written: `README.md:42`. */
  where: string;
  /** The command as the README has it (continuations joined). */
  written: string;
  /** gcloud's arguments, placeholders filled in. */
  args: string[];
  /** Variables it uses that have no placeholder value. */
  unknown: string[];
}

/** Fenced sh/bash/shell blocks, each with the line number of its first line. */
export function shellBlocks(markdown: string): Array<{ line: number; text: string }> {
  const blocks: Array<{ line: number; text: string }> = [];
  const fence = /^```(sh|bash|shell)[ \t]*\n([\s\S]*?)^```[ \t]*$/gm;
  for (const match of markdown.matchAll(fence)) {
    const line = markdown.slice(0, match.index).split('\n').length + 1;
    blocks.push({ line, text: match[2]! });
  }
  return blocks;
}

/** Inline code spans outside fenced blocks that hold a gcloud command. */
function inlineCommands(markdown: string): Array<{ line: number; text: string }> {
  const withoutFences = markdown.replace(/^```[\s\S]*?^```[ \t]*$/gm, (block) =>
    block.replace(/[^\n]/g, ' '),
  );
  return [...withoutFences.matchAll(/`(gcloud [^`]+)`/g)].map((match) => ({
    line: withoutFences.slice(0, match.index).split('\n').length,
    text: match[1]!.replace(/\s*\n\s*/g, ' '),
  }));
}

/** Each `$(…)` in a line: the commands inside, and the line with each replaced by a value. */
export function takeSubstitutions(line: string): { outer: string; inner: string[] } {
  const inner: string[] = [];
  let outer = '';
  let quote: string | null = null;
  for (let i = 0; i < line.length; i++) {
    const char = line[i]!;
    if (quote === "'") {
      if (char === "'") quote = null;
    } else if (char === "'" || char === '"') {
      quote = quote === char ? null : (quote ?? char);
    } else if (char === '$' && line[i + 1] === '(') {
      const end = closingParen(line, i + 2);
      const { outer: nested, inner: deeper } = takeSubstitutions(line.slice(i + 2, end));
      inner.push(nested, ...deeper);
      outer += SUBSTITUTED;
      i = end;
      continue;
    }
    outer += char;
  }
  return { outer, inner };
}

function closingParen(text: string, from: number): number {
  let depth = 1;
  let quote: string | null = null;
  for (let i = from; i < text.length; i++) {
    const char = text[i]!;
    if (quote) {
      if (char === quote) quote = null;
    } else if (char === "'" || char === '"') quote = char;
    else if (char === '(') depth++;
    else if (char === ')' && --depth === 0) return i;
  }
  throw new Error(`No closing parenthesis in: ${text}`);
}

/** The simple commands of one shell line, as argument lists (operators, redirections and comments taken out). */
function simpleCommands(line: string, unknown: Set<string>): string[][] {
  const tokens = parse(line, (name: string) => {
    if (name in PLACEHOLDERS) return PLACEHOLDERS[name]!;
    unknown.add(name);
    return `$${name}`;
  });
  const commands: string[][] = [[]];
  for (let i = 0; i < tokens.length; i++) {
    const token = tokens[i]!;
    if (typeof token === 'string') commands.at(-1)!.push(token);
    else if ('comment' in token) break;
    else if ('op' in token && token.op === 'glob') commands.at(-1)!.push(token.pattern);
    else if ('op' in token && /^[<>]|^\d[<>]|&>/.test(token.op))
      i++; // the file it redirects to
    else commands.push([]);
  }
  return commands
    .map((words) => words.slice(words.findIndex((word) => !/^[A-Za-z_]\w*=/.test(word))))
    .filter((words) => words.length > 0 && !/^[A-Za-z_]\w*=/.test(words[0]!));
}

function fillBare(word: string): string {
  return word.replace(/\b[A-Z][A-Z0-9_]*\b/g, (name) => PLACEHOLDERS[name] ?? name);
}

/**
 * Every gcloud command in a README: in fenced sh blocks (continuation lines joined, comments,
 * pipes, `&&` and redirections understood, the command inside each `$(…)` taken as a command
 * of its own) and in inline code spans that start with `gcloud `.
 */
export function gcloudCommands(markdown: string, name: string): GcloudCommand[] {
  const lines: Array<{ line: number; text: string }> = [];
  for (const block of shellBlocks(markdown)) {
    let start = block.line;
    let pending = '';
    block.text.split('\n').forEach((text, index) => {
      if (!pending) start = block.line + index;
      if (text.endsWith('\\')) pending += `${text.slice(0, -1)} `;
      else {
        lines.push({ line: start, text: pending + text });
        pending = '';
      }
    });
  }
  lines.push(...inlineCommands(markdown));

  const commands: GcloudCommand[] = [];
  for (const { line, text } of lines) {
    const { outer, inner } = takeSubstitutions(text);
    for (const part of [outer, ...inner]) {
      const unknown = new Set<string>();
      for (const words of simpleCommands(part, unknown)) {
        if (words[0] !== 'gcloud' || words.length < 2) continue;
        commands.push({
          where: `${name}:${line}`,
          written: text.trim(),
          args: words.slice(1).map(fillBare),
          unknown: [...unknown],
        });
      }
    }
  }
  return commands;
}

/**
 * How a command is checked:
 * - `account`: it calls Google Cloud. Run with `--project` set and no account, it must stop
 *   asking for an account, which gcloud does only once the arguments parsed.
 * - `local`: it needs no account (`gcloud config …`, `info`, `meta`, `topic`, `version`). It
 *   runs for real in the throwaway configuration and must succeed.
 * - `help`: running it would change the machine or wait for a person (`components …`,
 *   `init`, `auth login`). Not run: its `--help` must work and name every flag it uses.
 */
export type Rule = 'account' | 'local' | 'help';

export function ruleFor(args: readonly string[]): Rule {
  const [group, command, sub] = args;
  if (['config', 'info', 'meta', 'topic', 'version', 'help'].includes(group!)) return 'local';
  if (group === 'components' || group === 'init') return 'help';
  if (group === 'auth' && (command === 'login' || sub === 'login')) return 'help';
  return 'account';
}

const NO_ACCOUNT = 'You do not currently have an active account selected.';
const PARSE_ERRORS = [
  'unrecognized arguments',
  'Invalid choice',
  'is required',
  'Bad value',
  'must be specified',
  'Usage:',
];

export interface Verdict {
  ok: boolean;
  /** What gcloud printed and how it exited, for the failure message. */
  output: string;
}

export interface CheckOptions {
  /** A directory of the check's own: each command's empty configuration is made in it, and
   * commands run there (relative paths in a command resolve to it). */
  scratch: string;
  /** How many gcloud processes run commands at once. */
  width?: number;
  /** The longest one command may take. */
  timeoutMs?: number;
}

/** Runs (or, for `help`, asks about) each command offline and says whether gcloud accepts it. */
export async function checkCommands(
  commands: ReadonlyArray<readonly string[]>,
  { scratch, width = 2, timeoutMs = 120_000 }: CheckOptions,
): Promise<Verdict[]> {
  const runs = await gcloudRuns(commands.map(gcloudArgs), { scratch, width, timeoutMs });
  return commands.map((args, index) => verdict(args, runs[index]!));
}

/** What gcloud is run with: a `help` command asks for its help, others get a project. */
function gcloudArgs(args: readonly string[]): string[] {
  if (ruleFor(args) === 'help') return [...args.filter((arg) => !arg.startsWith('-')), '--help'];
  return args.some((arg) => arg === '--project' || arg.startsWith('--project='))
    ? [...args]
    : [...args, `--project=${PLACEHOLDERS.PROJECT_ID}`];
}

function verdict(args: readonly string[], { code, output }: GcloudRun): Verdict {
  const rule = ruleFor(args);
  if (rule === 'help') {
    const help = output.replace(/\u001b\[[0-9;]*m/g, '');
    const unknownFlags = args
      .filter((arg) => arg.startsWith('--'))
      .map((arg) => arg.split('=')[0]!)
      .filter((flag) => !help.includes(flag));
    return {
      ok: code === 0 && unknownFlags.length === 0,
      output: `${rule}: exit ${code}; flags its help does not name: ${unknownFlags.join(' ') || 'none'}`,
    };
  }
  const parseError = PARSE_ERRORS.find((text) => output.includes(text));
  const ok =
    rule === 'local'
      ? code === 0
      : code !== 0 && output.includes(NO_ACCOUNT) && parseError === undefined;
  return { ok, output: `${rule}: exit ${code}\n${output}` };
}

interface GcloudRun {
  code: number | null;
  output: string;
}

/** gcloud's environment: no account, no project, no prompts, never the machine's credentials. */
function offlineEnv(configDir: string): NodeJS.ProcessEnv {
  const env = Object.fromEntries(
    Object.entries(process.env).filter(
      ([name]) =>
        !/^CLOUDSDK_(CONFIG|ACTIVE_CONFIG_NAME|CORE_ACCOUNT|CORE_PROJECT|AUTH_)/.test(name) &&
        name !== 'GOOGLE_APPLICATION_CREDENTIALS',
    ),
  );
  return Object.assign(env, {
    CLOUDSDK_CONFIG: configDir,
    CLOUDSDK_CORE_DISABLE_PROMPTS: '1',
    // On a Compute Engine machine gcloud would otherwise use the machine's service account.
    CLOUDSDK_CORE_CHECK_GCE_METADATA: 'false',
    CLOUDSDK_CORE_DISABLE_USAGE_REPORTING: '1',
    PAGER: 'cat',
  });
}

const CANNOT_RUN = 'Cannot run gcloud: install the Google Cloud CLI';

/**
 * Each argument list run as `gcloud ARGS…` in an empty configuration of its own, `width`
 * at a time. gcloud takes about a second of CPU to load itself before it reads its
 * arguments, so it is loaded once per process here (gcloud-batch.py, from the SDK's own
 * entry point), and each command runs in a fork of it: as gcloud would, in a fifth of the time.
 */
async function gcloudRuns(
  argLists: string[][],
  { scratch, width, timeoutMs }: Required<CheckOptions>,
): Promise<GcloudRun[]> {
  const { python, root, bundled } = await (sdk ??= findSdk(scratch));
  const env = Object.assign(offlineEnv(mkdtempSync(join(scratch, 'config-'))), {
    CLOUDSDK_ROOT_DIR: root,
    CLOUDSDK_PYTHON: python,
    CLOUDSDK_ENCODING: 'UTF-8',
    PYTHONIOENCODING: 'UTF-8',
    // macOS kills a forked child that initializes Objective-C classes (Python's system proxy
    // lookup does) unless told not to; each child here runs one command and exits.
    OBJC_DISABLE_INITIALIZE_FORK_SAFETY: 'YES',
    // As gcloud's launcher does: its bundled Python with its own packages, any other without.
    ...(bundled && { CLOUDSDK_PYTHON_SITEPACKAGES: '1' }),
  });
  const jobs = argLists.map((args, index) => ({
    index,
    line: JSON.stringify({ args, configDir: mkdtempSync(join(scratch, 'config-')), cwd: scratch }),
  }));
  const runs: GcloudRun[] = new Array(jobs.length);
  await Promise.all(
    Array.from({ length: Math.min(width, jobs.length) }, async (_, worker) => {
      const mine = jobs.filter(({ index }) => index % width === worker);
      const batch = await spawnOutput(python, [...(bundled ? [] : ['-S']), BATCH, root], {
        env,
        cwd: scratch,
        input: mine.map(({ line }) => `${line}\n`).join(''),
        timeoutMs: timeoutMs * mine.length,
      });
      const results = batch.output.split('\n').filter(Boolean);
      if (batch.code !== 0 || results.length !== mine.length) {
        throw new Error(
          `gcloud stopped after ${results.length} of ${mine.length} commands (exit ${batch.code}):\n${batch.errors}`,
        );
      }
      results.forEach((result, at) => (runs[mine[at]!.index] = JSON.parse(result) as GcloudRun));
    }),
  );
  return runs;
}

let sdk: ReturnType<typeof findSdk> | undefined;

/** Where the SDK is and the Python it runs on, as gcloud's own launcher chose them. */
async function findSdk(scratch: string) {
  const info = await spawnOutput('gcloud', ['info', '--format=json'], {
    env: offlineEnv(mkdtempSync(join(scratch, 'config-'))),
    cwd: scratch,
  });
  if (info.code !== 0) throw new Error(`${CANNOT_RUN} (gcloud info: exit ${info.code})`);
  const { basic, installation } = JSON.parse(info.output) as {
    basic: { python_location: string };
    installation: { sdk_root: string };
  };
  const root = installation.sdk_root;
  const python = basic.python_location;
  return { root, python, bundled: python.startsWith(join(root, 'platform', 'bundledpythonunix')) };
}

const BATCH = fileURLToPath(new URL('../../src/gcloud-batch.py', import.meta.url));

/** A program run to its end: its exit code, its standard output, and its errors. */
function spawnOutput(
  command: string,
  args: string[],
  {
    env,
    cwd,
    input = '',
    timeoutMs = 120_000,
  }: { env: NodeJS.ProcessEnv; cwd: string; input?: string; timeoutMs?: number },
): Promise<{ code: number | null; output: string; errors: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd, env, stdio: ['pipe', 'pipe', 'pipe'] });
    let output = '';
    let errors = '';
    child.stdout.on('data', (chunk: Buffer) => (output += chunk));
    child.stderr.on('data', (chunk: Buffer) => (errors += chunk));
    child.stdin.on('error', () => {}); // it stopped early: said by its exit
    child.stdin.end(input);
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.on('error', (error) => reject(new Error(`${CANNOT_RUN} (${error.message})`)));
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({
        code,
        output,
        errors: signal ? `${errors}\n(killed after ${timeoutMs} ms)` : errors,
      });
    });
  });
}
