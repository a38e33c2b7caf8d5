import {
  createServer,
  request,
  type Agent,
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
 * A GET that sends exactly the headers given (fetch would add its own User-Agent), on a
 * connection of its own unless given an `agent` to keep connections in.
 * Header values are sent as bytes (latin1), as a hostile client could.
 */
export function get(
  url: string,
  headers: Record<string, string> = {},
  agent: Agent | false = false,
): Promise<Response> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers, agent }, (res) => readResponse(res).then(resolve, reject));
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
