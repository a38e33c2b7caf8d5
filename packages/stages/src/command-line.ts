// The tools' command lines, read one way: node:util's parseArgs, with a mistyped option
// answered by what was wrong and the tool's usage, not by a stack trace.
import { parseArgs, type ParseArgsConfig } from 'node:util';

/**
 * The options and arguments of `config` (parseArgs reads process.argv unless it says
 * `args`). One it does not allow ends the tool with exit code 2, after one line on stderr
 * saying what (`Unknown option '--prot'.`) and the usage; `tag` starts the first line, and the
 * others are indented as far.
 */
export function commandLine<T extends ParseArgsConfig>(
  config: T,
  usage: string,
  tag = '',
): ReturnType<typeof parseArgs<T>> {
  try {
    return parseArgs(config);
  } catch (error) {
    const { code, message } = error as { code?: string; message: string };
    if (!code?.startsWith('ERR_PARSE_ARGS_')) throw error;
    // Node's first sentence says what; the rest is advice for scripts, not for this tool.
    const lines = [`${message.split('. ')[0]}.`, ...usage.split('\n')];
    const indent = ' '.repeat(tag.length);
    process.stderr.write(lines.map((line, i) => `${i ? indent : tag}${line}\n`).join(''));
    process.exit(2);
  }
}
