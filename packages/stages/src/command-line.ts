// The tools' command lines, read one way: node:util's parseArgs, with `--help` (`-h`) for the
// usage, and a mistyped option answered by what was wrong and the usage, not a stack trace.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * The options and arguments of `config` (parseArgs reads process.argv unless it says `args`).
 * `--help` or `-h` prints the usage and ends the tool (exit 0); an option it does not allow
 * ends it with exit code 2, after one line on stderr saying what (`Unknown option '--prot'.`)
 * and the usage. `tag` starts the first line, and the others are indented as far.
 */
export function commandLine<T extends ParseArgsConfig>(
  config: T,
  usage: string,
  tag = '',
): ReturnType<typeof parseArgs<T>> {
  const say = (stream: NodeJS.WriteStream, lines: string[]) =>
    stream.write(lines.map((line, i) => `${i ? ' '.repeat(tag.length) : tag}${line}\n`).join(''));
  let parsed;
  try {
    parsed = parseArgs({
      ...config,
      options: { ...config.options, help: { type: 'boolean', short: 'h' } },
    });
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (!code?.startsWith('ERR_PARSE_ARGS_')) throw error;
    // Node's first sentence says what; the rest is advice for scripts, not for this tool.
    say(process.stderr, [`${message.split('. ')[0]}.`, ...usage.split('\n')]);
    process.exit(2);
  }
  if ((parsed.values as { help?: boolean }).help) {
    say(process.stdout, usage.split('\n'));
    process.exit(0);
  }
  return parsed as ReturnType<typeof parseArgs<T>>;
}
