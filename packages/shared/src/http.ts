import type { Server } from 'node:http';
import { STATUS_CODES } from 'node:http';
import type { ErrorRequestHandler, Express, RequestHandler } from 'express';
import { log } from './log.js';
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

export const notFound: RequestHandler = (_req, res) => {
  res.status(404).type('text/plain').send('Not found: VisitMe only serves its page at /.\n');
};

export const handleErrors: ErrorRequestHandler = (error: unknown, req, res, next) => {
  if (res.headersSent) return next(error); // Express closes the half-sent response
  if (error instanceof StoreUnavailableError) {
    log('ERROR', 'Datastore is unavailable; answered 503', { path: req.path, error });
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

export interface ServeOptions {
  port?: number;
  /** How long in-flight requests get after SIGTERM before their connections are cut. */
  graceMs?: number;
}

/**
 * Listens on `PORT` (App Engine sets it; 8080 otherwise). On SIGTERM or SIGINT it stops
 * accepting connections, lets in-flight requests finish, and exits.
 */
export function serve(app: Express, options: ServeOptions = {}): Server {
  const port = options.port ?? Number(process.env.PORT ?? 8080);
  const graceMs = options.graceMs ?? 10_000;
  // Express 5 hands a failed listen (a port in use, say) to this callback, not to a throw.
  const server = app.listen(port, (error?: NodeJS.ErrnoException) => {
    if (error) {
      const why = error.code === 'EADDRINUSE' ? ': something else is listening there' : '';
      log('CRITICAL', `Cannot listen on port ${port}${why}`, { error });
      process.exit(1);
    }
    log('INFO', `Listening on port ${port}`, { port });
  });

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
