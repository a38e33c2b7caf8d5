// A pass-through on loopback in front of a real server (the Datastore emulator, redis-server)
// that a test can close like a gate: held, every byte either way waits in the gate, so to the
// client the server hangs, answering nothing, exactly when the test says. Released, all that
// waited goes on, in order, and the server answers again. No process is frozen and nothing is
// guessed from timing: the gate knows when a client has sent something that waits.
import { once } from 'node:events';
import { connect, createServer, type Socket } from 'node:net';

export interface Gate {
  /** `127.0.0.1:port`, where clients connect instead of the server. */
  readonly host: string;
  readonly port: number;
  /** From now on, nothing passes: the server hangs, as its clients see it. */
  hold(): void;
  /** Passes on what waited, then everything that comes. */
  release(): void;
  /**
   * Resolves once a client has sent something since the gate was held, holding `text` when
   * given: a request now waiting on the server. (A page's Datastore call carries the visitor
   * it stores, so `untilHeld('alice')` says that alice's page is in the app's hands.)
   */
  untilHeld(text?: string): Promise<void>;
  close(): Promise<void>;
}

/** A gate on loopback in front of the server listening on loopback at `port`. */
export async function startGate(port: number): Promise<Gate> {
  let held = false;
  let waiting: Array<{ to: Socket; chunk: Buffer }> = [];
  // What each client sent while held, to find a request in.
  let fromClients = new Map<Socket, Buffer>();
  let waiters: Array<{ text: string; wake: () => void }> = [];
  const sentSince = (text: string) =>
    [...fromClients.values()].some((bytes) => bytes.includes(text));
  const sockets = new Set<Socket>();

  const server = createServer((client) => {
    const upstream = connect(port, '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    const pass = (to: Socket, fromClient: boolean) => (chunk: Buffer) => {
      if (!held) return void to.write(chunk);
      waiting.push({ to, chunk });
      if (fromClient) {
        fromClients.set(client, Buffer.concat([fromClients.get(client) ?? Buffer.alloc(0), chunk]));
        const found = waiters.filter(({ text }) => sentSince(text));
        waiters = waiters.filter((waiter) => !found.includes(waiter));
        for (const { wake } of found) wake();
      }
    };
    client.on('data', pass(upstream, true));
    upstream.on('data', pass(client, false));
    // Either side closing or failing closes the other: what a client of the server would see.
    client.on('close', () => upstream.destroy());
    upstream.on('close', () => client.destroy());
    client.on('error', () => {});
    upstream.on('error', () => {});
  });
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const gatePort = (server.address() as { port: number }).port;

  return {
    host: `127.0.0.1:${gatePort}`,
    port: gatePort,
    hold() {
      held = true;
      fromClients = new Map();
    },
    release() {
      held = false;
      const queued = waiting;
      waiting = [];
      for (const { to, chunk } of queued) if (!to.destroyed) to.write(chunk);
    },
    untilHeld(text = '') {
      if (sentSince(text)) return Promise.resolve();
      return new Promise((wake) => waiters.push({ text, wake }));
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
