import { parseVisits } from './cached-visits.js';
import { Troubles } from './troubles.js';
import type { Visit } from './visit-entity.js';

/** What failing open needs of the cache's client (ioredis's `Redis` has it). */
export interface CacheClient {
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** The connection; destroyed, the client reconnects by itself. */
  readonly stream?: { destroy(): void };
}

/**
 * A cache that fails open, for one client: `failOpen('GET', redis.get('visits'))` is the
 * reply, or undefined, a miss, when the call failed for any reason, so the page is served
 * from Datastore instead; `loadVisits(rsp)` is the visits the reply holds, or undefined, a
 * miss, when it holds anything this app did not write. Each kind of trouble is logged once
 * when it starts and once when it ends, however many requests meet it: the cache not
 * answering (down, hung, unreachable) is one kind; Redis refusing a command (an ACL without
 * it, out of memory, a wrong type) is a kind for each command, ending when that command works
 * again; something else under the key is one more, ending when visits are found there again.
 */
export function cacheCalls(client: CacheClient) {
  const troubles = new Troubles();
  const starts = (kind: string, message: string, error: unknown) =>
    troubles.start(kind, 'WARNING', message, { error: String(error) });
  const ends = (kind: string, message: string) => troubles.end(kind, message);
  const failing = 'Redis is failing; serving from Datastore without a cache';
  // The connection failing between requests (without a listener ioredis prints each failure).
  client.on('error', (error) => starts('unanswered', failing, error));

  // A command that timed out may still get its reply: a huge value, say. Redis keeps a copy of
  // it for this connection, and replies to later commands wait behind it. Redis still runs
  // those commands at once, so the miss's SET replaces the value; once a command sent after
  // the timeout fails too, the connection is dropped (which frees the copy) and the client
  // reconnects. A later command that succeeds shows the late reply has come and gone.
  let sent = 0; // calls so far
  let lateReplyBefore: number | undefined; // calls sent after this one queue behind a late reply

  async function failOpen<T>(command: string, call: Promise<T>): Promise<T | undefined> {
    const number = ++sent;
    const afterLateReply = lateReplyBefore !== undefined && number > lateReplyBefore;
    try {
      const reply = await call;
      if (afterLateReply) lateReplyBefore = undefined;
      ends('unanswered', 'Redis answers again; caching resumed');
      ends(command, `Redis accepts ${command} again`);
      return reply;
    } catch (error) {
      // A reply error is Redis refusing this command; anything else is Redis not answering.
      if ((error as Error | undefined)?.name === 'ReplyError') {
        starts(command, `Redis refuses ${command}; serving from Datastore without it`, error);
      } else {
        starts('unanswered', failing, error);
      }
      if (afterLateReply) {
        lateReplyBefore = undefined;
        client.stream?.destroy();
      } else if ((error as Error | undefined)?.message === 'Command timed out') {
        lateReplyBefore ??= sent;
      }
      return undefined;
    }
  }

  /** The codelab's `pickle.loads(rsp)`: see `parseVisits()`. */
  function loadVisits(text: string): readonly Visit[] | undefined {
    const visits = parseVisits(text);
    if (visits) ends('garbage', 'The cache holds visits again');
    else {
      troubles.start(
        'garbage',
        'WARNING',
        'The cache holds something this app did not write; treating it as a miss',
        { length: text.length },
      );
    }
    return visits;
  }

  return { failOpen, loadVisits };
}
