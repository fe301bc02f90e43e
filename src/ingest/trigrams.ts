import { data } from 'franc/data.js'

/**
 * franc's trigram ranking (`francAll`), computed the same way and to the same numbers, for the
 * one script and the few candidate languages the caller already knows. franc itself tests the
 * text against ~30 script expressions, rebuilds its filtered model table and sorts trigram tuples
 * on every call: that was half of language detection's time (bench/README.md).
 */

/** franc's penalty for a trigram a model does not hold */
const MAX_DIFFERENCE = 300
/** franc looks at this much of a text */
const MAX_LENGTH = 2048

/** franc's script names for ours */
const FRANC_SCRIPT: Record<string, string> = {
  latin: 'Latin',
  cyrillic: 'Cyrillic',
  arabic: 'Arabic',
  devanagari: 'Devanagari',
}

// trigram -> rank, per language code, built on first use
const models = new Map<string, Map<string, number>>()

function model(script: string, code: string): Map<string, number> | undefined {
  let m = models.get(code)
  if (m) return m
  const source = data[FRANC_SCRIPT[script] ?? '']?.[code]
  if (source === undefined) return undefined
  m = new Map(source.split('|').map((trigram, rank) => [trigram, rank]))
  models.set(code, m)
  return m
}

const dataOrder = new Map<string, Map<string, number>>()

function inDataOrder(script: string, codes: readonly string[]): string[] {
  let order = dataOrder.get(script)
  if (!order) {
    order = new Map(Object.keys(data[FRANC_SCRIPT[script] ?? ''] ?? {}).map((code, i) => [code, i]))
    dataOrder.set(script, order)
  }
  const at = order
  return [...codes].sort((a, b) => (at.get(a) ?? 0) - (at.get(b) ?? 0))
}

/** trigram-utils' cleaning, padding and counting, as franc does it */
function countTrigrams(text: string): Map<string, number> {
  const clean = ` ${text
    .replace(/[\u0021-\u0040]+/g, ' ')
    .replace(/\s+/g, ' ')
    .trim()
    .toLowerCase()} `
  const counts = new Map<string, number>()
  for (let i = 0; i + 3 <= clean.length; i++) {
    const t = clean.slice(i, i + 3)
    counts.set(t, (counts.get(t) ?? 0) + 1)
  }
  return counts
}

/**
 * `francAll(text, { only: codes, minLength: 1 })` for a text whose script is `script` (ours:
 * 'latin', 'cyrillic', ...): `[code, score]` best first, scores in 0..1 as franc normalises them.
 */
export function trigramRanking(
  text: string,
  script: string,
  codes: readonly string[],
): [code: string, score: number][] {
  if (text.length === 0) return [['und', 1]]
  const value = text.slice(0, MAX_LENGTH)
  const counts = countTrigrams(value)
  const distances: [string, number][] = []
  // franc weighs languages in its data's order, which decides ties
  for (const code of inDataOrder(script, codes)) {
    const m = model(script, code)
    if (m === undefined) continue
    let distance = 0
    for (const [trigram, count] of counts) {
      const rank = m.get(trigram)
      distance += rank === undefined ? MAX_DIFFERENCE : Math.abs(count - rank - 1)
    }
    distances.push([code, distance])
  }
  if (distances.length === 0) return [['und', 1]]
  distances.sort((a, b) => a[1] - b[1])
  const min = (distances[0] as [string, number])[1]
  const max = value.length * MAX_DIFFERENCE - min
  for (const d of distances) d[1] = 1 - (d[1] - min) / max || 0
  return distances
}
