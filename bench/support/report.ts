/** One line of a benchmark's table: a figure, its target and its ceiling. */
export interface Row {
  figure: string
  value: number
  unit: string
  /** `>= n` or `<= n`; the mark says whether the figure meets it */
  target?: readonly ['>=' | '<=', number]
  /** what the bare platform does on the same work; the ratio is value / ceiling */
  ceiling?: number
  /** what the ceiling is, e.g. `JSON.parse` */
  ceilingName?: string
}

const fmt = (x: number): string =>
  Number.isInteger(x) || Math.abs(x) >= 100
    ? Math.round(x).toLocaleString('en-US')
    : x.toLocaleString('en-US', { maximumFractionDigits: 2 })

/** Prints `rows` as an aligned table under `title`. */
export function printTable(title: string, rows: readonly Row[]): void {
  const lines = rows.map((r) => {
    const met = r.target && (r.target[0] === '>=' ? r.value >= r.target[1] : r.value <= r.target[1])
    return [
      r.figure,
      `${fmt(r.value)} ${r.unit}`.trim(),
      r.target ? `${r.target[0]} ${fmt(r.target[1])} ${met ? '✓' : '✗ MISSED'}` : '',
      r.ceiling === undefined ? '' : `${fmt(r.ceiling)} (${r.ceilingName ?? 'ceiling'})`,
      r.ceiling ? `${((r.value / r.ceiling) * 100).toFixed(0)}%` : '',
    ]
  })
  const head = ['figure', 'value', 'target', 'ceiling', 'of ceiling']
  const widths = head.map((h, i) => Math.max(h.length, ...lines.map((l) => (l[i] ?? '').length)))
  const line = (cells: string[]) =>
    cells
      .map((c, i) => (i === 1 || i === 4 ? c.padStart(widths[i] ?? 0) : c.padEnd(widths[i] ?? 0)))
      .join('  ')
  console.log(`\n${title}\n`)
  console.log(line(head))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  for (const l of lines) console.log(line(l))
}

/** Adds each row's figure (and its ceiling and ratio) to `out` under `prefix`. */
export function addFigures(
  out: Record<string, number>,
  prefix: string,
  rows: readonly Row[],
): void {
  for (const r of rows) {
    const key = `${prefix}.${r.figure
      .toLowerCase()
      .replace(/[^a-z0-9]+/g, '_')
      .replace(/^_|_$/g, '')}`
    out[key] = round(r.value)
    if (r.ceiling !== undefined) {
      out[`${key}.ceiling`] = round(r.ceiling)
      if (r.ceiling !== 0) out[`${key}.of_ceiling`] = round(r.value / r.ceiling)
    }
  }
}

function round(x: number): number {
  return Math.abs(x) >= 100 ? Math.round(x) : Math.round(x * 1000) / 1000
}

export const MB = 1024 * 1024
