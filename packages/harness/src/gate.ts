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
   * Resolves once a client has sent something since the gate was held: a request that is now
   * waiting on the server (a page's Datastore call, say, so the page is in the server's hands).
   */
  untilHeld(): Promise<void>;
  close(): Promise<void>;
}

export async function startGate(target: { host?: string; port: number }): Promise<Gate> {
  let held = false;
  let waiting: Array<{ to: Socket; chunk: Buffer }> = [];
  let heldFromClients = 0;
  let waiters: Array<() => void> = [];
  const sockets = new Set<Socket>();

  const server = createServer((client) => {
    const upstream = connect(target.port, target.host ?? '127.0.0.1');
    for (const socket of [client, upstream]) {
      sockets.add(socket);
      socket.on('close', () => sockets.delete(socket));
    }
    const pass = (to: Socket, fromClient: boolean) => (chunk: Buffer) => {
      if (!held) return void to.write(chunk);
      waiting.push({ to, chunk });
      if (fromClient) {
        heldFromClients += 1;
        for (const wake of waiters) wake();
        waiters = [];
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
  const { port } = server.address() as { port: number };

  return {
    host: `127.0.0.1:${port}`,
    port,
    hold() {
      held = true;
      heldFromClients = 0;
    },
    release() {
      held = false;
      const queued = waiting;
      waiting = [];
      for (const { to, chunk } of queued) if (!to.destroyed) to.write(chunk);
    },
    untilHeld() {
      if (heldFromClients > 0) return Promise.resolve();
      return new Promise((resolve) => waiters.push(resolve));
    },
    async close() {
      for (const socket of sockets) socket.destroy();
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
