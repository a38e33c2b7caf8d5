// The benchmark's figures as a terminal report, a Markdown report and an SVG chart.
import type { Cores } from './proc.js';
import type { Spread } from './stats.js';
import type { LoadResult } from './wrk.js';

/** One timed wrk run in one round. */
export interface Run extends LoadResult {
  runtime: string;
  target: string;
  workload: string;
  /** Microseconds of user + system time of the server (and redis-server, if it uses it). */
  serverCpuPerRequest: number;
  /** Microseconds of wrk's own CPU time. */
  generatorCpuPerRequest: number;
  /** Cores' worth of CPU that other processes on the machine used meanwhile. */
  othersCores: number;
  /** The index, in its round's runs, of the ceiling run it is taken against (none: itself). */
  ceilingRun?: number;
}

export interface RowSummary {
  runtime: string;
  target: string;
  workload: string;
  requestsPerSecond: Spread;
  /** Medians over rounds, milliseconds. */
  p50: number;
  p99: number;
  errors: number;
  ratio: Spread;
  serverCpuPerRequest: Spread;
  /** Its CPU µs per request minus the ceiling's, round by round. */
  cpuOverCeiling: Spread;
  cpuEfficiency: Spread;
  cached: boolean;
  datastoreBound: boolean;
  datastoreWritesPerRequest: number;
  datastoreQueriesPerRequest: number;
  redisCallsPerRequest: number;
}

/** What a fixed number of requests, every one awaited, did: exact counts. */
export interface Count {
  runtime: string;
  target: string;
  workload: string;
  requests: number;
  errors: number;
  /** Entities the emulator gained. */
  datastoreWrites: number;
  /** Responses whose Server-Timing says the list came fresh from Datastore. */
  datastoreQueries: number;
  cacheHits: number;
  /** Commands Redis ran (INFO commandstats). */
  redisCalls: number;
}

/**
 * The Redis floor on one runtime over every round (floor.ts: the ceiling's page after a bare
 * GET of the cached list), and the cache hit that reads Redis against it.
 */
export interface FloorSummary {
  runtime: string;
  /** The floor's CPU µs per request over the ceiling's, round by round: the GET's cost. */
  overCeiling: Spread;
  hit: {
    target: string;
    /** The hit's CPU µs per request over the ceiling's, round by round. */
    overCeiling: Spread;
    /** The hit's CPU µs per request over the floor run beside it, round by round. */
    aboveFloor: Spread;
  };
}

export interface BenchResults {
  command: string;
  date: string;
  machine: {
    cores: number;
    cpu: string;
    benchNode: string;
    loadAverageBefore: number[];
    loadAverageAfter: number[];
  };
  settings: {
    rounds: number;
    seconds: number;
    connections: number;
    count: number;
    generator: string;
    /** Where the servers (with redis-server) and wrk ran; absent: anywhere. */
    cores?: Cores;
  };
  runtimes: Array<{ label: string; version: string }>;
  neighbours: Spread;
  /** Microseconds of wrk's CPU time per request, over every run. */
  generatorCpuPerRequest: number;
  warnings: string[];
  /** How far the host's speed moved (the ceiling's own CPU per request), when it did. */
  hostSpeed: string[];
  /** The Datastore-bound rows' drift over the run: the emulator, not noise. */
  notes: string[];
  summaries: RowSummary[];
  floors: FloorSummary[];
  counts: Count[];
  rounds: Array<{ round: number; runs: Run[] }>;
}

const HEADINGS = [
  'Target',
  'Workload',
  'Requests/s',
  'p50 ms',
  'p99 ms',
  'vs ceiling (min–max)',
  'CPU µs/req',
  'µs over ceiling (min–max)',
  'CPU: ceiling/this (min–max)',
  'Datastore writes/req',
  'queries/req',
  'Redis calls/req',
  'Errors',
];

const two = (x: number) => (Number.isFinite(x) ? x.toFixed(2) : '–');
const withSpread = (s: Spread) => `${two(s.median)} (${two(s.min)}–${two(s.max)})`;
/** Microseconds: tenths where they matter (a cache hit's few µs over the ceiling). */
const us = (x: number) =>
  !Number.isFinite(x) ? '–' : Math.abs(x) < 100 ? x.toFixed(1) : x.toFixed(0);
const usSpread = (s: Spread) => `${us(s.median)} (${us(s.min)}–${us(s.max)})`;
const ms = (x: number) => (x < 10 ? x.toFixed(1) : x.toFixed(0));

function cells(row: RowSummary): string[] {
  return [
    row.target,
    row.workload,
    row.requestsPerSecond.median.toFixed(0),
    ms(row.p50),
    ms(row.p99),
    withSpread(row.ratio),
    row.serverCpuPerRequest.median.toFixed(0),
    usSpread(row.cpuOverCeiling),
    withSpread(row.cpuEfficiency),
    two(row.datastoreWritesPerRequest),
    two(row.datastoreQueriesPerRequest),
    two(row.redisCallsPerRequest),
    String(row.errors),
  ];
}

function runtimeTitle(results: BenchResults, label: string): string {
  const version = results.runtimes.find((r) => r.label === label)?.version ?? '';
  return `Servers on Node.js ${version}`;
}

export function title(results: BenchResults): string {
  const { rounds, seconds, connections } = results.settings;
  return `VisitMe stages under load: ${rounds} interleaved rounds of ${seconds} s per run, ${connections} connections`;
}

function machineLine(results: BenchResults): string {
  const m = results.machine;
  const { cores, generator } = results.settings;
  const where = cores
    ? `the servers and redis-server on CPU ${cores.servers}, ${generator} on CPU ${cores.generator}`
    : `the processes on whichever core the system chose (no \`taskset\` here)`;
  return (
    `${m.cores} cores (${m.cpu}); load average ${m.loadAverageBefore.join(' ')} before, ` +
    `${m.loadAverageAfter.join(' ')} after; other processes used ${two(results.neighbours.median)} ` +
    `cores' worth of CPU during the median run (${two(results.neighbours.min)}–${two(results.neighbours.max)}). ` +
    `${where}; ${generator}: ${results.generatorCpuPerRequest.toFixed(1)} µs of CPU per request.`
  );
}

/**
 * The Redis floor on one runtime, and the cache hit that reads Redis against it:
 * what is left of a hit's cost once the round trip itself is paid.
 */
export function floorLines(results: BenchResults, label: string): string[] {
  const floor = results.floors.find((f) => f.runtime === label);
  if (!floor) return [];
  const { overCeiling, hit } = floor;
  return [
    `Redis round trip's floor (the ceiling's page after a bare ioredis GET of the cached list ` +
      `and JSON.parse, the floor row): ${us(overCeiling.median)} µs of CPU per request over the ` +
      `ceiling, client and redis-server (${us(overCeiling.min)}–${us(overCeiling.max)} across rounds).`,
    `${hit.target}'s cache hit: ${us(hit.overCeiling.median)} µs over the ceiling, ` +
      `${us(hit.aboveFloor.median)} µs above the floor (${us(hit.aboveFloor.min)}–${us(hit.aboveFloor.max)} across rounds).`,
  ];
}

function verdict(results: BenchResults): string[] {
  const host = results.hostSpeed.length
    ? [
        '',
        'The host’s speed moved during the run: ' +
          results.hostSpeed.join('; ') +
          '. The ceiling does the same work in every run, so this is the speed at which the ' +
          'host ran this VM, not the machine’s neighbours (they are counted above): a shared ' +
          'host can run a VM’s core at half speed for seconds at a time, and the CPU time ' +
          'charged to a process grows with it. Each cache hit’s figures are taken against the ' +
          'ceiling run beside it, a second apart on the same core, which cancels that; the µs ' +
          'figures and the ceiling’s own carry it, so read them as at the median speed.',
      ]
    : [];
  const drift = results.notes.length
    ? [
        '',
        'Not noise: the rows that reach Datastore run at the emulator’s speed, which changes ' +
          'as it fills (a real Datastore does not), so their spread is left out of the verdict ' +
          'above. These moved by more than ±10% from the first round to the last:',
        ...results.notes.map((note) => `  - ${note}`),
      ]
    : [];
  if (results.warnings.length === 0) {
    return [
      'No sign of noise: other processes took under a tenth of the machine; each cache hit, ' +
        'and the Redis floor, against the ceiling run beside it, held within ±10% over the ' +
        'middle half of the rounds; and the ordering the code implies held (nothing beat the ' +
        'ceiling; a later stage’s cache hit was never cheaper than an earlier one’s).',
      ...host,
      ...drift,
    ];
  }
  return [
    'WARNING: this machine was too noisy during the run to trust these figures; run it again ' +
      'when it is quieter. What gave it away:',
    ...results.warnings.map((w) => `  - ${w}`),
    ...host,
    ...drift,
  ];
}

function textTable(rows: string[][]): string {
  const widths = rows[0]!.map((_, column) => Math.max(...rows.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    row
      .map((cell, column) =>
        column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!),
      )
      .join('  ')
      .trimEnd();
  return [line(rows[0]!), widths.map((w) => '-'.repeat(w)).join('  '), ...rows.slice(1).map(line)]
    .join('\n')
    .concat('\n');
}

function markdownTable(rows: string[][]): string {
  const line = (row: string[]) => `| ${row.join(' | ')} |`;
  const align = rows[0]!.map((_, column) => (column < 2 ? '---' : '---:'));
  return [line(rows[0]!), line(align), ...rows.slice(1).map(line)].join('\n') + '\n';
}

/** Each runtime's rows (and lines under them), and with several runtimes the key figures side by side. */
function tables(
  results: BenchResults,
): Array<{ heading: string; rows: string[][]; after: string[] }> {
  const out = results.runtimes.map(({ label }) => ({
    heading: runtimeTitle(results, label),
    rows: [HEADINGS, ...results.summaries.filter((s) => s.runtime === label).map(cells)],
    after: floorLines(results, label),
  }));
  if (results.runtimes.length > 1) {
    const first = results.summaries.filter((s) => s.runtime === results.runtimes[0]!.label);
    out.push({
      heading: 'Side by side',
      rows: [
        [
          'Target',
          'Workload',
          ...results.runtimes.flatMap(({ version }) => [
            `${version} req/s`,
            `${version} vs ceiling`,
            `${version} CPU µs/req`,
            `${version} over ceiling`,
          ]),
        ],
        ...first.map((row) => [
          row.target,
          row.workload,
          ...results.runtimes.flatMap(({ label }) => {
            const s = results.summaries.find(
              (x) => x.runtime === label && x.target === row.target && x.workload === row.workload,
            )!;
            return [
              s.requestsPerSecond.median.toFixed(0),
              withSpread(s.ratio),
              s.serverCpuPerRequest.median.toFixed(0),
              us(s.cpuOverCeiling.median),
            ];
          }),
        ]),
      ],
      after: [],
    });
  }
  return out;
}

const NOTES =
  'Requests/s, p50 and p99 are medians over the rounds. "vs ceiling" is a stage’s throughput over ' +
  'that of the ceiling (the same page from memory, no store, no cache) run beside it (a cache ' +
  'hit) or in the same round (the rest): the median, then the lowest and highest round. CPU ' +
  'µs/req is the server process’s user + system time per response (with redis-server’s for a ' +
  'stage that uses Redis); "over ceiling" is that minus the ceiling’s, and "CPU: ceiling/this" ' +
  'the ceiling’s over this one’s, run by run. The floor (the ceiling’s page after a bare Redis ' +
  'GET of the cached list) is measured in every round too, beside Module 13’s hit. Datastore writes ' +
  '(counted by the emulator), queries (from each response’s Server-Timing) and Redis calls ' +
  '(counted by Redis) are exact counts over a separate fixed number of requests.';

export function textReport(results: BenchResults): string {
  const parts = [`${title(results)}\n${machineLine(results)}\n`];
  for (const { heading, rows, after } of tables(results)) {
    const lines = after.length ? `\n${after.join('\n')}\n` : '';
    parts.push(`${heading}\n\n${textTable(rows)}${lines}`);
  }
  parts.push(verdict(results).join('\n') + '\n');
  return parts.join('\n');
}

export function markdownReport(results: BenchResults): string {
  const parts = [`# ${title(results)}\n`, `${machineLine(results)}\n`];
  for (const { heading, rows, after } of tables(results)) {
    parts.push(
      `## ${heading}\n\n${markdownTable(rows)}${after.map((line) => `\n${line}\n`).join('')}`,
    );
  }
  parts.push(
    `## Noise\n\n${verdict(results)
      .map((line) => line.replace(/^ {2}- /, '- '))
      .join('\n')}\n`,
  );
  parts.push(`_${NOTES} ${results.date}, \`${results.command}\`._\n`);
  return parts.join('\n');
}

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

const COLOURS = { ceiling: '#9aa0a6', returning: '#1a73e8', new: '#e8710a' } as const;

/**
 * Horizontal bars of each row's median ratio to the ceiling, a whisker from its lowest to its
 * highest round, grouped by runtime, with a legend for the workloads.
 */
export function barChart(results: BenchResults): string {
  const barHeight = 20;
  const gap = 8;
  const labelWidth = 220;
  const chartWidth = 420;
  const valueWidth = 260;
  const legendTop = 44;
  let y = legendTop + 34;
  const scale = Math.max(1, ...results.summaries.map((s) => s.ratio.max).filter(Number.isFinite));
  const x = (ratio: number) => labelWidth + (Math.max(0, ratio) / scale) * chartWidth;
  const parts: string[] = [];
  for (const { label, version } of results.runtimes) {
    if (results.runtimes.length > 1) {
      parts.push(
        `<text x="10" y="${y + 14}" font-weight="bold">Node.js ${escapeXml(version)}</text>`,
      );
      y += barHeight + gap;
    }
    for (const row of results.summaries.filter((s) => s.runtime === label)) {
      const fill = row.target === 'ceiling' ? COLOURS.ceiling : COLOURS[row.workload as 'new'];
      const median = Number.isFinite(row.ratio.median) ? row.ratio.median : 0;
      const mid = y + barHeight / 2;
      const value =
        row.target === 'ceiling'
          ? `1 = ${row.requestsPerSecond.median.toFixed(0)} req/s (${row.requestsPerSecond.min.toFixed(0)}–${row.requestsPerSecond.max.toFixed(0)})`
          : `${withSpread(row.ratio)} · ${row.requestsPerSecond.median.toFixed(0)} req/s`;
      parts.push(
        `<text x="${labelWidth - 8}" y="${y + 14}" text-anchor="end">${escapeXml(`${row.target} · ${row.workload}`)}</text>`,
        `<rect x="${labelWidth}" y="${y}" width="${Math.max(1, x(median) - labelWidth).toFixed(1)}" height="${barHeight}" fill="${fill}"/>`,
      );
      if (row.target !== 'ceiling' && Number.isFinite(row.ratio.min)) {
        const [lo, hi] = [x(row.ratio.min), x(row.ratio.max)];
        parts.push(
          `<path class="spread" d="M${lo.toFixed(1)} ${mid}H${hi.toFixed(1)}M${lo.toFixed(1)} ${mid - 6}V${mid + 6}M${hi.toFixed(1)} ${mid - 6}V${mid + 6}" stroke="#202124" stroke-width="1.5" fill="none"/>`,
        );
      }
      const end = Math.max(x(median), Number.isFinite(row.ratio.max) ? x(row.ratio.max) : 0);
      parts.push(`<text x="${(end + 6).toFixed(1)}" y="${y + 14}">${escapeXml(value)}</text>`);
      y += barHeight + gap;
    }
  }
  let legendX = 10;
  const legend = [
    ['ceiling', COLOURS.ceiling],
    ['returning visitor (cache hits after the first)', COLOURS.returning],
    ['new visitor (every request misses)', COLOURS.new],
  ].map(([text, colour]) => {
    const lx = legendX;
    legendX += 44 + text!.length * 6.5; // about 6.5 px a character at 13 px
    return `<rect x="${lx}" y="${legendTop}" width="14" height="14" fill="${colour}"/><text x="${lx + 20}" y="${legendTop + 12}">${escapeXml(text!)}</text>`;
  });
  const note = `Bars: median ratio to the ceiling over ${results.settings.rounds} rounds; whiskers: lowest to highest round.`;
  const warning = results.warnings.length
    ? `<text x="10" y="${y + 34}" fill="#c5221f" font-weight="bold">Noisy run: ${escapeXml(results.warnings.length === 1 ? results.warnings[0]! : `${results.warnings.length} signs of noise, see bench.md`)}</text>`
    : '';
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + chartWidth + valueWidth}" height="${y + 50}" font-family="sans-serif" font-size="13">`,
    `  <text x="10" y="24" font-size="15" font-weight="bold">${escapeXml(title(results))}</text>`,
    `  <g class="legend">${legend.join('')}</g>`,
    `  ${parts.join('\n  ')}`,
    `  <text x="10" y="${y + 14}" fill="#5f6368">${escapeXml(note)}</text>`,
    warning ? `  ${warning}` : '',
    '</svg>',
    '',
  ]
    .filter((line, i, all) => line !== '' || i === all.length - 1)
    .join('\n');
}
