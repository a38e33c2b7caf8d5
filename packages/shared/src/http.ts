import { readFileSync } from 'node:fs';
import {
  IncomingMessage,
  STATUS_CODES,
  ServerResponse,
  createServer,
  type Server,
  type ServerOptions,
} from 'node:http';
import { isIPv4 } from 'node:net';
import type { ErrorRequestHandler, Express, Request, RequestHandler } from 'express';
import { log } from './log.js';
import { portSetting } from './settings.js';
import { Troubles } from './troubles.js';
import { StoreUnavailableError } from './visits.js';

/**
 * Which peers may set `X-Forwarded-For`, for Express's `trust proxy`. On App Engine
 * (`GAE_ENV` is set) the front end appends the client's address and the instance's
 * proxies reach the app from link-local addresses: trusting exactly those picks the
 * address the front end saw, whatever a client wrote into the header itself.
 * Anywhere else nobody is trusted, so a forged header cannot change the visitor.
 */
export function trustedProxies(env = process.env): string | false {
  return env.GAE_ENV ? 'loopback, linklocal' : false;
}

/**
 * The visitor's address, as the codelab's `request.remote_addr` and App Engine show it: `req.ip`,
 * but an IPv4 client as `203.0.113.9`, not as the IPv4-mapped IPv6 address `::ffff:203.0.113.9`
 * that a server listening on every address (IPv6 and IPv4) is handed.
 */
export function remoteAddr(req: Request): string {
  const ip = req.ip ?? '';
  return ip.startsWith('::ffff:') && isIPv4(ip.slice(7)) ? ip.slice(7) : ip;
}

/** Registered after every route: a 405 for another method on the page, else a 404. */
export const notFound: RequestHandler = (req, res) => {
  if (req.path === '/' && req.method !== 'GET' && req.method !== 'HEAD') {
    res
      .status(405)
      .set('Allow', 'GET, HEAD')
      .type('text/plain')
      .send('Method not allowed: the page at / answers GET and HEAD only.\n');
    return;
  }
  res.status(404).type('text/plain').send('Not found: VisitMe only serves its page at /.\n');
};

export const handleErrors: ErrorRequestHandler = (error: unknown, req, res, next) => {
  if (res.headersSent) return next(error); // Express closes the half-sent response
  if (error instanceof StoreUnavailableError) {
    // Not logged here: the store logs an outage once when it starts and once when it ends.
    res
      .status(503)
      .set('Retry-After', '5')
      .type('text/plain')
      .send('VisitMe cannot reach its database right now. Please try again in a few seconds.\n');
    return;
  }
  const status = clientErrorStatus(error);
  if (status) {
    res.status(status).type('text/plain').send(`${STATUS_CODES[status]}\n`);
    return;
  }
  log('ERROR', 'Request failed; answered 500', { path: req.path, error });
  res.status(500).type('text/plain').send('Something went wrong on our side.\n');
};

// Errors Express itself raises for a bad request (a malformed URL, say) carry a 4xx status.
function clientErrorStatus(error: unknown): number | undefined {
  const status = (error as { status?: unknown } | null)?.status;
  return typeof status === 'number' && status >= 400 && status < 500 ? status : undefined;
}

/**
 * Node's defaults suit neither end: a client sending one byte a second could hold a
 * connection for five minutes (`requestTimeout`), while App Engine's front end would find
 * its idle connections closed after five seconds (`keepAliveTimeout`).
 */
export const SERVER_TIMEOUTS = {
  // Longer than App Engine's front end keeps an idle connection to an instance open (its
  // nginx: 650 s, itself behind Google's load balancers' 600 s). Were the instance to close
  // first, the front end could send a request down a connection just being closed: a 502.
  keepAliveTimeout: 700_000,
  // A request's headers, counted from its first byte or from the connection's opening: they
  // fit in one packet, and the front end sends them at once. A dripping client gets a 408.
  headersTimeout: 10_000,
  // The whole request, body included. The page reads no body (App Engine's own limit on a
  // request is 32 MB), so a body still arriving after this is cut off, with a 408.
  requestTimeout: 30_000,
  // How often Node looks for requests over those limits (by default every 30 s, which
  // would add up to 30 s to each).
  connectionsCheckingInterval: 1_000,
} satisfies ServerOptions;

/** `PORT` as App Engine sets it: a decimal port number; 8080 when unset. */
export function portFromEnv(env = process.env): number {
  return portSetting(env, 'PORT', 8080);
}

export interface ServeOptions {
  port?: number;
  /** How long in-flight requests get after SIGTERM before their connections are cut. */
  graceMs?: number;
  /** Node's server timeouts, `SERVER_TIMEOUTS` unless told otherwise (a test shortens them). */
  timeouts?: Partial<typeof SERVER_TIMEOUTS>;
}

/**
 * Builds the app with `createApp()` and listens on `PORT` (App Engine sets it; 8080
 * otherwise). A bad `PORT`, or anything `createApp()` throws (a bad setting, say), ends the
 * process with one CRITICAL line and exit code 1. On SIGTERM or SIGINT it stops accepting
 * connections, lets in-flight requests finish, and exits.
 */
export function serve(createApp: () => Express, options: ServeOptions = {}): Server {
  logProcessTrouble();
  const graceMs = options.graceMs ?? 10_000;
  let port: number;
  let app: Express;
  try {
    port = options.port ?? portFromEnv();
    app = createApp();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    log('CRITICAL', `Cannot start: ${message}`, { error });
    process.exit(1);
  }

  const server = createServer(
    { ...SERVER_TIMEOUTS, ...options.timeouts, ...withPrototypesOf(app) },
    app,
  );
  limitConnections(server);
  server.once('error', (error: NodeJS.ErrnoException) => {
    const why = error.code === 'EADDRINUSE' ? ': something else is listening there' : '';
    log('CRITICAL', `Cannot listen on port ${port}${why}`, { error });
    process.exit(1);
  });
  server.listen(port, () => log('INFO', `Listening on port ${port}`, { port }));

  let closing = false;
  const shutdown = (signal: NodeJS.Signals) => {
    if (closing) return; // a second signal (Ctrl-C, then SIGTERM) changes nothing
    closing = true;
    log('INFO', `${signal}: finishing in-flight requests, then exiting`);
    server.close((error) => process.exit(error ? 1 : 0));
    // Keep-alive connections become idle once their request is answered: close them too.
    const closeIdle = setInterval(() => server.closeIdleConnections(), 100);
    setTimeout(() => {
      clearInterval(closeIdle);
      log('WARNING', `Requests still running after ${graceMs} ms; closing their connections`);
      server.closeAllConnections();
    }, graceMs).unref();
  };
  process.on('SIGTERM', shutdown);
  process.on('SIGINT', shutdown);
  return server;
}

/**
 * Node's request and response classes, making objects whose prototypes are already the app's
 * (`app.request`, `app.response`). Express gives every request and response those by changing
 * theirs, which Node 22's V8 makes costly: each request's objects then outlive the young
 * generation, and a server answers a third as many requests (Node 24 barely notices). Made
 * with them, through the options Node has for this, they have nothing left to change.
 */
function withPrototypesOf(app: Express): Pick<ServerOptions, 'IncomingMessage' | 'ServerResponse'> {
  return {
    IncomingMessage: makingWith(IncomingMessage, app.request),
    ServerResponse: makingWith(ServerResponse, app.response),
  };
}

function makingWith<T extends abstract new (...args: never[]) => object>(
  Base: T,
  prototype: object | undefined,
): T | undefined {
  if (!prototype) return undefined; // not an Express app: Node's own
  function Made(...args: unknown[]) {
    return Reflect.construct(Base, args, Made) as object;
  }
  Made.prototype = prototype;
  return Made as unknown as T;
}

// Open files a server keeps for itself beyond its clients' connections: Node's own, the
// connections to Datastore and Redis, the page's template.
const FILES_KEPT = 100;

/**
 * Past its open-files limit a process can accept no connection: Node's event loop then closes
 * each new one unseen, and the app can open no connection to Datastore either. Capping the
 * clients' connections below that limit keeps files for the app's own, and makes each
 * connection turned away visible: it is logged once, and once when connections are accepted
 * again.
 */
function limitConnections(server: Server, limit = openFilesLimit()) {
  if (limit === undefined) return;
  server.maxConnections = Math.max(limit - FILES_KEPT, 1);
  const troubles = new Troubles();
  server.on('drop', () => {
    troubles.start(
      'full',
      'WARNING',
      `Closing new connections: ${server.maxConnections} are open, the most this process ` +
        `takes with its open-files limit of ${limit}`,
    );
  });
  server.on('connection', () => troubles.end('full', 'Accepting new connections again'));
}

/** The process's limit on open files (`ulimit -n`), where Linux says; undefined if unlimited. */
function openFilesLimit(): number | undefined {
  try {
    const limits = readFileSync('/proc/self/limits', 'utf8');
    const soft = /^Max open files\s+(\d+)/m.exec(limits)?.[1];
    return soft === undefined ? undefined : Number(soft);
  } catch {
    return undefined; // not Linux: Node's own behaviour
  }
}

/**
 * Keeps stdout and stderr one JSON object per line, whatever happens: Node's own warnings
 * (a library's deprecation, say) and an uncaught exception are logged like everything else,
 * where Node would print them as lines of text.
 */
function logProcessTrouble() {
  process.removeAllListeners('warning'); // Node's printer
  process.on('warning', (warning) => {
    log('WARNING', `${warning.name}: ${warning.message}`, { warning: warning.stack });
  });
  process.on('uncaughtException', (error: unknown) => {
    const message = error instanceof Error ? error.message : String(error);
    log('CRITICAL', `Uncaught exception, exiting: ${message}`, { error });
    process.exit(1);
  });
}
