import { log } from './log.js';

/** What failing open needs of the cache's client (ioredis's `Redis` has it). */
export interface CacheClient {
  on(event: 'error', listener: (error: Error) => void): unknown;
  /** The connection; destroyed, the client reconnects by itself. */
  readonly stream?: { destroy(): void };
}

/**
 * Calls to a cache that fails open: `failOpen('GET', redis.get('visits'))` is the reply, or
 * undefined, a miss, when the call failed for any reason, so the page is served from
 * Datastore instead. Each kind of trouble is logged once when it starts and once when it
 * ends, however many requests meet it: the cache not answering (down, hung, unreachable)
 * is one kind; Redis refusing a command (an ACL without it, out of memory, a wrong type)
 * is a kind for each command, ending when that command works again.
 */
export function cacheCalls(client: CacheClient) {
  const troubles = new Set<string>();
  const starts = (kind: string, message: string, error: unknown) => {
    if (!troubles.has(kind)) log('WARNING', message, { error: String(error) });
    troubles.add(kind);
  };
  const ends = (kind: string, message: string) => {
    if (troubles.delete(kind)) log('INFO', message);
  };
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

  return async function failOpen<T>(command: string, call: Promise<T>): Promise<T | undefined> {
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
  };
}
