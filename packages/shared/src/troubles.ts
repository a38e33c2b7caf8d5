import { log, type Severity } from './log.js';

/**
 * Trouble logged as incidents, not per request: a kind of trouble (Datastore out, unreadable
 * entities, Redis refusing a command…) is logged once when it starts, with what went wrong,
 * and once when it ends, however many requests meet it meanwhile. Each user keeps its own.
 */
export class Troubles {
  private readonly ongoing = new Set<string>();

  /** Logs `message` with `fields` unless `kind` is already ongoing; true if it logged. */
  start(
    kind: string,
    severity: Extract<Severity, 'WARNING' | 'ERROR'>,
    message: string,
    fields: Record<string, unknown> = {},
  ): boolean {
    if (this.ongoing.has(kind)) return false;
    this.ongoing.add(kind);
    log(severity, message, fields);
    return true;
  }

  /** Logs `message` (INFO) if `kind` was ongoing; true if it logged. */
  end(kind: string, message: string): boolean {
    if (!this.ongoing.delete(kind)) return false;
    log('INFO', message);
    return true;
  }
}

export interface OutageMessages {
  severity: Extract<Severity, 'WARNING' | 'ERROR'>;
  /** Logged with the error when a call fails. */
  starts: string;
  /** Logged when a call succeeds again. */
  ends: string;
}

/**
 * Calls to a service, its outage one incident: `messages.starts` is logged, with the error,
 * when a call fails, and `messages.ends` when a call succeeds again. What each call returns
 * or throws is unchanged. A call sent before the outage last started or ended says nothing
 * new by its outcome (one that timed out just after the service came back, or was answered
 * just before it went), so it changes nothing: concurrent calls cannot make the log flap.
 */
export function outageCalls(messages: OutageMessages) {
  const troubles = new Troubles();
  let sent = 0;
  let changedAt = 0; // calls sent when the outage last started or ended
  return async function call<T>(send: () => Promise<T>): Promise<T> {
    const number = ++sent;
    try {
      const result = await send();
      if (number > changedAt && troubles.end('outage', messages.ends)) changedAt = sent;
      return result;
    } catch (error) {
      if (
        number > changedAt &&
        troubles.start('outage', messages.severity, messages.starts, { error })
      ) {
        changedAt = sent;
      }
      throw error;
    }
  };
}
