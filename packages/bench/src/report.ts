// The benchmark's figures as a terminal table, a Markdown table and an SVG bar chart.

export interface Row {
  target: string;
  workload: string;
  requestsPerSecond: number;
  p50: number;
  p99: number;
  errors: number;
  datastoreWritesPerRequest: number;
  datastoreQueriesPerRequest: number;
  redisCallsPerRequest: number;
  /** Throughput over the ceiling's, measured in the same run. */
  ratio: number;
}

const HEADINGS = [
  'Target',
  'Workload',
  'Requests/s',
  'p50 ms',
  'p99 ms',
  'Errors',
  'Datastore writes/req',
  'Datastore queries/req',
  'Redis calls/req',
  'vs ceiling',
];

function cells(row: Row): string[] {
  return [
    row.target,
    row.workload,
    row.requestsPerSecond.toFixed(0),
    row.p50.toFixed(0),
    row.p99.toFixed(0),
    String(row.errors),
    row.datastoreWritesPerRequest.toFixed(2),
    row.datastoreQueriesPerRequest.toFixed(2),
    row.redisCallsPerRequest.toFixed(2),
    row.ratio.toFixed(2),
  ];
}

export function textTable(rows: Row[]): string {
  const table = [HEADINGS, ...rows.map(cells)];
  const widths = HEADINGS.map((_, column) => Math.max(...table.map((row) => row[column]!.length)));
  const line = (row: string[]) =>
    row
      .map((cell, column) =>
        column < 2 ? cell.padEnd(widths[column]!) : cell.padStart(widths[column]!),
      )
      .join('  ');
  return (
    [
      line(HEADINGS),
      widths.map((width) => '-'.repeat(width)).join('  '),
      ...rows.map((row) => line(cells(row))),
    ].join('\n') + '\n'
  );
}

export function markdownTable(rows: Row[]): string {
  const line = (row: string[]) => `| ${row.join(' | ')} |`;
  const align = HEADINGS.map((_, column) => (column < 2 ? '---' : '---:'));
  return [line(HEADINGS), line(align), ...rows.map((row) => line(cells(row)))].join('\n') + '\n';
}

const escapeXml = (text: string) => text.replace(/[<>&"']/g, (c) => `&#${c.charCodeAt(0)};`);

/** Horizontal bars, one per row: requests per second, labelled with the ratio to the ceiling. */
export function barChart(rows: Row[], title: string): string {
  const barHeight = 22;
  const gap = 8;
  const labelWidth = 260;
  const chartWidth = 460;
  const top = 40;
  const max = Math.max(...rows.map((row) => row.requestsPerSecond), 1);
  const height = top + rows.length * (barHeight + gap) + 20;
  const bars = rows.map((row, index) => {
    const y = top + index * (barHeight + gap);
    const width = Math.max(1, (row.requestsPerSecond / max) * chartWidth);
    const fill =
      row.target === 'ceiling' ? '#9aa0a6' : row.workload === 'returning' ? '#1a73e8' : '#e8710a';
    const label = `${row.target} · ${row.workload}`;
    const value = `${row.requestsPerSecond.toFixed(0)} req/s (${row.ratio.toFixed(2)}×)`;
    return [
      `<text x="${labelWidth - 8}" y="${y + 15}" text-anchor="end">${escapeXml(label)}</text>`,
      `<rect x="${labelWidth}" y="${y}" width="${width.toFixed(1)}" height="${barHeight}" fill="${fill}"/>`,
      `<text x="${labelWidth + width + 6}" y="${y + 15}">${escapeXml(value)}</text>`,
    ].join('\n  ');
  });
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${labelWidth + chartWidth + 180}" height="${height}" font-family="sans-serif" font-size="13">`,
    `  <text x="10" y="24" font-size="16" font-weight="bold">${escapeXml(title)}</text>`,
    `  ${bars.join('\n  ')}`,
    '</svg>',
    '',
  ].join('\n');
}
