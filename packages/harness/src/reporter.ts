// Node's spec reporter, but what a test file prints (the app's JSON log lines, gRPC stack
// traces from a Datastore stopped on purpose, ioredis's "Unhandled error event") is held
// back, and shown only once a test in that file fails: a passing run shows its results,
// a failing one shows its failure with everything that file printed.
//   node --test --test-reporter=@visitme/harness/reporter dist/test/*.test.js
import { resolve } from 'node:path';
import { Readable } from 'node:stream';
import { spec, type TestEvent } from 'node:test/reporters';

type Output = Extract<TestEvent, { type: 'test:stdout' | 'test:stderr' }>;

export async function* heldUntilFailure(
  source: AsyncIterable<TestEvent>,
): AsyncGenerator<TestEvent> {
  const held = new Map<string, Output[]>();
  const failed = new Set<string>();
  for await (const event of source) {
    // Node 22 and 24 name the file of an output event as it was given on the command line,
    // and that of a test event in full.
    const file = resolve((event.data && 'file' in event.data && event.data.file) || '');
    if (event.type === 'test:stdout' || event.type === 'test:stderr') {
      if (failed.has(file)) {
        yield event;
      } else {
        const output = held.get(file) ?? [];
        held.set(file, output);
        output.push(event);
      }
      continue;
    }
    if (event.type === 'test:fail') {
      failed.add(file);
      yield* held.get(file) ?? [];
      held.delete(file);
    }
    yield event;
  }
}

export default async function* quietSpec(source: AsyncIterable<TestEvent>) {
  yield* Readable.from(heldUntilFailure(source)).pipe(new spec());
}
