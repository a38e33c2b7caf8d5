// `npm start` at the repository root: a Datastore emulator and a redis-server, then every
// stage's server on its own port, as App Engine would run it (PORT and the backing services
// from the environment). With --instances=N, N servers of each stage behind one front on the
// stage's usual port, taking turns, as App Engine's front end spreads requests over instances.
// Ctrl-C or SIGTERM stops all of it: the root `start` script `exec`s this, so the SIGTERM npm
// forwards reaches it rather than a shell.
//
// Its ports, from --base-port B (8080 by default): the k-th stage at B+k; with --instances,
// instance i of the k-th stage at B+10k+i; the Datastore emulator at B+98, Redis at B+99.
import { existsSync } from 'node:fs';
import { Agent, createServer, request, type Server } from 'node:http';
import {
  canListen,
  startLocalServices,
  startServer,
  type GroupProcess,
  type LocalServices,
} from '@visitme/harness';
import { portNumber } from '@visitme/shared';
import { findStage, stages, type Stage } from '@visitme/stages';
import { commandLine } from '@visitme/stages/command-line';

const DEFAULT_BASE_PORT = 8080;
/** Ports from the base: stages at +1…, their instances at +10k+i, the services at the end. */
const SPAN = 100;
const MAX_INSTANCES = 9;
const DATASTORE_OFFSET = 98;
const REDIS_OFFSET = 99;

const USAGE =
  'usage: npm start [-- [--base-port=N] [--instances=N] [STAGE ...]]   STAGE: mod13-redis, mod13, 13…';

const servers: GroupProcess[] = [];
const fronts: Server[] = [];
let services: LocalServices | undefined;
let stopping = false;

/** Stops everything started so far, says so, then exits with `code`. */
export async function stopAll(code: number) {
  if (stopping) return;
  stopping = true;
  const started = [
    ...(servers.length > 0 ? [`${servers.length} server${servers.length > 1 ? 's' : ''}`] : []),
    ...(fronts.length > 0 ? [`${fronts.length} front${fronts.length > 1 ? 's' : ''}`] : []),
    ...(services?.emulator ? ['the Datastore emulator'] : []),
    ...(services?.redisServer ? ['redis-server'] : []),
  ];
  if (started.length > 0) say('stopping…');
  for (const front of fronts) {
    front.closeAllConnections();
    front.close();
  }
  await Promise.all(servers.map((server) => server.stop(10_000)));
  await services?.stop();
  if (started.length > 0) say(`stopped everything it started: ${list(started)}.`);
  // Stopped while the emulator was starting (the first start on a machine takes seconds): what
  // was starting goes with this process.
  else if (code === 0) say('stopped while starting: nothing is left running.');
  process.exit(code);
}

function say(line: string) {
  process.stdout.write(`[stack] ${line}\n`);
}

/** Runs the stack until SIGINT or SIGTERM; on a failure to start, stops what did start. */
export async function main() {
  const all = stages();
  const usage = `${USAGE}\nstages: ${all.map((stage) => stage.name).join(', ')}`;
  const { values, positionals } = commandLine(
    {
      allowPositionals: true,
      options: {
        'base-port': { type: 'string' },
        instances: { type: 'string' },
      },
    },
    usage,
    '[stack] ',
  );
  const [basePort, name] =
    values['base-port'] !== undefined
      ? [values['base-port'], '--base-port']
      : [process.env.VISITME_BASE_PORT, 'VISITME_BASE_PORT'];
  const base = basePort === undefined ? DEFAULT_BASE_PORT : portNumber(basePort, name);
  if (base + SPAN - 1 > 65_535) {
    throw new Error(
      `${name} must leave room for ${SPAN} ports above it (at most ${65_536 - SPAN}); it is ${base}`,
    );
  }
  const instances = Number(values.instances ?? 1);
  if (!(Number.isInteger(instances) && instances >= 1 && instances <= MAX_INSTANCES)) {
    throw new Error(
      `--instances must be a whole number from 1 to ${MAX_INSTANCES}; it is "${values.instances}"`,
    );
  }
  const chosen = positionals.length === 0 ? all : positionals.map((n) => findStage(n, all));
  // Ports follow stage order over all stages, so a stage keeps its URL when run alone.
  const plans = chosen.map((stage) => {
    const k = all.indexOf(stage) + 1;
    const label = (i: number) => (instances > 1 ? `${stage.name}#${i}` : stage.name);
    return {
      stage,
      port: base + k,
      instances: Array.from({ length: instances }, (_, index) => ({
        label: label(index + 1),
        port: instances > 1 ? base + 10 * k + index + 1 : base + k,
      })),
    };
  });
  const wantsRedis = chosen.some((stage) => stage.cache === 'redis');

  // Before starting anything: a second stack on the same ports would otherwise find the
  // first one's servers answering and report success.
  const ports = plans.flatMap(({ stage, port, instances: list }) => [
    { port, what: stage.name },
    ...list.filter((instance) => instance.port !== port).map((i) => ({ ...i, what: i.label })),
  ]);
  if (!process.env.DATASTORE_EMULATOR_HOST && process.env.VISITME_STORE !== 'memory') {
    ports.push({ port: base + DATASTORE_OFFSET, what: 'Datastore emulator' });
  }
  if (wantsRedis && !process.env.REDIS_HOST) {
    ports.push({ port: base + REDIS_OFFSET, what: 'redis-server' });
  }
  const taken = [];
  for (const { port, what } of ports) if (!(await canListen(port))) taken.push(`${port} (${what})`);
  if (taken.length > 0) {
    const [which, are] = taken.length > 1 ? ['Ports', 'are'] : ['Port', 'is'];
    throw new Error(
      `${which} ${taken.join(', ')} ${are} already in use, perhaps by another npm start. ` +
        'Stop it, or choose other ports: npm start -- --base-port=N',
    );
  }
  const missing = chosen.filter((stage) => !existsSync(stage.server));
  if (missing.length > 0) {
    throw new Error(`${missing.map((s) => s.name).join(', ')} not built: run npm run build`);
  }

  process.on('SIGINT', () => void stopAll(0));
  process.on('SIGTERM', () => void stopAll(0));

  services = await startLocalServices({
    redis: wantsRedis,
    datastorePort: base + DATASTORE_OFFSET,
    redisPort: base + REDIS_OFFSET,
    fallBack: true,
    say,
    shout,
  });
  const env = { ...process.env, ...services.env };

  say(`starting ${plans.length * instances} server${plans.length * instances > 1 ? 's' : ''}…`);
  await Promise.all(
    plans.flatMap(({ stage, instances: list }) =>
      list.map(async ({ label, port }) => {
        const prefix = `[${label}] `;
        const server = await startServer(label, process.execPath, [stage.server], port, {
          env: { ...env, PORT: String(port) },
          onOutput: (chunk) => process.stdout.write(prefixLines(prefix, chunk.toString())),
        });
        servers.push(server);
        server.child.once('exit', (code, signal) => {
          if (stopping) return;
          say(`${label} exited (${signal ?? `code ${code}`}); stopping everything`);
          void stopAll(1);
        });
      }),
    ),
  );
  for (const plan of plans) {
    if (instances > 1) fronts.push(await startFront(plan.stage.name, plan.port, plan.instances));
  }

  const rows = plans.map(({ stage, port }) => {
    const uses = [services!.datastore];
    if (stage.cache === 'node-cache')
      uses.push(`in-process cache (node-cache)${instances > 1 ? ', one per instance' : ''}`);
    if (stage.cache === 'redis') uses.push(services!.redis ?? '');
    return [stage.name, `http://localhost:${port}/`, String(instances), uses.join(' + ')];
  });
  process.stdout.write('\n' + table([['Module', 'URL', 'Instances', 'Uses'], ...rows]) + '\n');
  if (instances > 1) {
    say('each URL takes turns between its instances; X-Served-By names the one that answered.');
  }
  say('running; Ctrl-C stops everything.');
}

/**
 * A front on `port` that hands each request to the next instance in turn (round robin), as App
 * Engine's front end spreads requests over a service's instances, and says which answered.
 */
function startFront(
  stage: string,
  port: number,
  instances: Array<{ label: string; port: number }>,
): Promise<Server> {
  const agent = new Agent({ keepAlive: true });
  let turn = 0;
  const front = createServer((req, res) => {
    const instance = instances[turn++ % instances.length]!;
    const upstream = request(
      {
        host: '127.0.0.1',
        port: instance.port,
        method: req.method,
        path: req.url,
        headers: req.headers,
        agent,
      },
      (answer) => {
        res.writeHead(answer.statusCode ?? 502, {
          ...answer.headers,
          'X-Served-By': instance.label,
        });
        answer.pipe(res);
      },
    );
    upstream.on('error', (error) => {
      if (!res.headersSent)
        res.writeHead(502, { 'content-type': 'text/plain', 'X-Served-By': instance.label });
      res.end(`${instance.label} did not answer: ${error.message}\n`);
    });
    req.pipe(upstream);
  });
  return new Promise((resolve, reject) => {
    front.once('error', reject);
    front.listen(port, () => resolve(front));
  });
}

/** A warning nobody can miss: what is missing, and what runs instead. */
function shout(lines: string[]) {
  const bar = '!'.repeat(78);
  process.stderr.write([bar, ...lines.map((line) => `! ${line}`), bar, ''].join('\n'));
}

function prefixLines(prefix: string, text: string): string {
  return text.replace(/^(?=.)/gm, prefix);
}

function list(items: string[]): string {
  return items.length > 1 ? `${items.slice(0, -1).join(', ')} and ${items.at(-1)}` : items[0]!;
}

function table(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    row
      .map((cell, column) => cell.padEnd(widths[column]!))
      .join('  ')
      .trimEnd();
  return (
    [
      line(rows[0]!),
      widths.map((width) => '-'.repeat(width)).join('  '),
      ...rows.slice(1).map(line),
    ].join('\n') + '\n'
  );
}
