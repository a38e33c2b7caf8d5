// What a test's code logs, as the JSON objects `log()` wrote.

/** Runs `fn`, collecting the JSON log lines it writes (anything else passes through). */
export async function capturingLog<T>(fn: () => Promise<T>) {
  const lines: Record<string, unknown>[] = [];
  const streams = [process.stdout, process.stderr];
  const writes = streams.map((stream) => stream.write);
  for (const [n, stream] of streams.entries()) {
    stream.write = ((chunk: unknown, ...rest: unknown[]) => {
      const entry = typeof chunk === 'string' && chunk.startsWith('{"severity"') ? chunk : '';
      if (entry) {
        lines.push(JSON.parse(entry) as Record<string, unknown>);
        return true;
      }
      return (writes[n] as (...args: unknown[]) => boolean).call(stream, chunk, ...rest);
    }) as typeof stream.write;
  }
  try {
    return { result: await fn(), lines };
  } finally {
    for (const [n, stream] of streams.entries()) stream.write = writes[n]!;
  }
}
