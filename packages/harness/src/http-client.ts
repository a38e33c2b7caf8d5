import { readFileSync } from 'node:fs';
import {
  createServer,
  request,
  type ClientRequest,
  type IncomingHttpHeaders,
  type IncomingMessage,
  type RequestListener,
  type Server,
} from 'node:http';
import type { AddressInfo } from 'node:net';

export interface Response {
  status: number;
  headers: IncomingHttpHeaders;
  body: string;
}

/**
 * A GET that sends exactly the headers given (fetch would add its own User-Agent).
 * Header values are sent as bytes (latin1), as a hostile client could.
 */
export function get(url: string, headers: Record<string, string> = {}): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent: false }, (res) =>
      readResponse(res).then(resolve, reject),
    );
    req.on('error', reject);
    req.end();
  });
}

/** The whole response: its status, headers and body as text. */
function readResponse(res: IncomingMessage): Promise<Response> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    res.on('data', (chunk: Buffer) => chunks.push(chunk));
    res.on('end', () =>
      resolve({
        status: res.statusCode ?? 0,
        headers: res.headers,
        body: Buffer.concat(chunks).toString('utf8'),
      }),
    );
    res.on('error', reject);
  });
}

/**
 * A GET like `get()`, with `read`: resolves once the server has read the whole request off its
 * socket (on Linux, its receive queue for this connection is empty after the request was sent),
 * so the request is in the server's hands, not waiting to be accepted. Elsewhere, once sent.
 */
export function sendGet(
  url: string,
  headers: Record<string, string> = {},
): { response: Promise<Response>; read: Promise<void> } {
  let req!: ClientRequest;
  const response = new Promise<Response>((resolve, reject) => {
    req = request(url, { headers, agent: false }, (res) => readResponse(res).then(resolve, reject));
    req.on('error', reject);
    req.end();
  });
  const read = new Promise<void>((resolve) => {
    req.once('error', () => resolve()); // `response` fails with it
    req.once('finish', async () => {
      const serverPort = Number(new URL(url).port);
      const clientPort = req.socket?.localPort;
      for (;;) {
        const unread = clientPort === undefined ? 0 : unreadBytes(serverPort, clientPort);
        if (unread === 0 || unread === undefined) return resolve();
        await new Promise((wake) => setTimeout(wake, 5));
      }
    });
  });
  return { response, read };
}

/**
 * Bytes not yet read by the process holding the socket at local port `localPort` connected
 * from `remotePort`, from /proc/net/tcp and tcp6; undefined when that cannot be known.
 */
function unreadBytes(localPort: number, remotePort: number): number | undefined {
  for (const table of ['/proc/net/tcp', '/proc/net/tcp6']) {
    let text: string;
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      // sl local_address rem_address st tx_queue:rx_queue …, ports in hex after the last ':'
      const [, local, remote, , queues] = line.trim().split(/\s+/);
      if (!local || !remote || !queues) continue;
      const port = (address: string) => parseInt(address.slice(address.lastIndexOf(':') + 1), 16);
      if (port(local) !== localPort || port(remote) !== remotePort) continue;
      return parseInt(queues.split(':')[1] ?? '', 16);
    }
  }
  return undefined;
}

/** Listens on a free loopback port; resolves to the base URL and a closer. */
export async function listen(
  handler: RequestListener,
): Promise<{ url: string; server: Server; close: () => Promise<void> }> {
  const server = createServer(handler);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    server,
    close: () =>
      new Promise<void>((resolve, reject) => {
        server.closeAllConnections();
        server.close((error) => (error ? reject(error) : resolve()));
      }),
  };
}

/** The text of each `<li>` on a VisitMe page, in order, still HTML-escaped. */
export function listItems(html: string): string[] {
  return [...html.matchAll(/<li>(.*?)<\/li>/gs)].map((match) => match[1] ?? '');
}
