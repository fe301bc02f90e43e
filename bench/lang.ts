/**
 * Language detection accuracy and speed on the hand-written corpus in lang-corpus.ts, next to
 * franc with default options (what the ingest path used before) as the baseline.
 *
 *   node bench/lang.ts [--quick] [--misses]
 */
import { franc } from 'franc'
import { detectLanguage } from '../src/ingest/language.ts'
import { type LabelledPost, langCorpus } from './lang-corpus.ts'

const NORDIC = ['nb', 'nn', 'da', 'sv'] as const
const NORWEGIAN = new Set(['nb', 'nn', 'no'])

// franc's ISO 639-3 answers for the corpus languages and their usual confusions
const FRANC_TO_BCP47: Record<string, string> = {
  eng: 'en',
  nob: 'nb',
  nno: 'nn',
  swe: 'sv',
  dan: 'da',
  fin: 'fi',
  deu: 'de',
  spa: 'es',
  por: 'pt',
  fra: 'fr',
  jpn: 'ja',
  ita: 'it',
  nld: 'nl',
  pol: 'pl',
  kor: 'ko',
  cmn: 'zh',
  rus: 'ru',
  sco: 'sco',
}

interface Prediction {
  /** the primary language (langs[0]), 'und' when there is none */
  primary: string
  /** every language the post counts as */
  langs: string[]
}

type Detector = (post: LabelledPost) => Prediction

interface Figures {
  accuracy: number
  perLang: Map<string, { precision: number; recall: number; n: number }>
  noPrecision: number
  noRecall: number
  nbNnSplit: number
  confusion: Map<string, Map<string, number>>
  postsPerS: number
}

const detectors: Record<string, Detector> = {
  feedgen: (p) => {
    const { langs } = detectLanguage(p.text, p.declared ?? [])
    return { primary: langs[0] ?? 'und', langs }
  },
  'feedgen, text only': (p) => {
    const { langs } = detectLanguage(p.text, [])
    return { primary: langs[0] ?? 'und', langs }
  },
  'franc default': (p) => {
    const code = franc(p.text)
    const tag = FRANC_TO_BCP47[code] ?? code
    return { primary: tag, langs: tag === 'und' ? [] : [tag] }
  },
}

function measure(detect: Detector, corpus: LabelledPost[], seconds: number): Figures {
  const preds = corpus.map(detect)
  const langs = [...new Set(corpus.map((p) => p.lang))]
  const perLang = new Map<string, { precision: number; recall: number; n: number }>()
  for (const lang of langs) {
    let tp = 0
    let fp = 0
    let fn = 0
    corpus.forEach((p, i) => {
      const hit = preds[i]?.primary === lang
      if (hit && p.lang === lang) tp++
      else if (hit) fp++
      else if (p.lang === lang) fn++
    })
    perLang.set(lang, { precision: ratio(tp, tp + fp), recall: ratio(tp, tp + fn), n: tp + fn })
  }
  // the Norwegian feed takes a post when any of its langs is Norwegian
  let noTp = 0
  let noFp = 0
  let noFn = 0
  let split = 0
  let norwegian = 0
  corpus.forEach((p, i) => {
    const pred = preds[i]
    const isNo = NORWEGIAN.has(p.lang)
    const saysNo = pred?.langs.some((l) => NORWEGIAN.has(l)) ?? false
    if (isNo && saysNo) noTp++
    else if (saysNo) noFp++
    else if (isNo) noFn++
    if (isNo) {
      norwegian++
      if (pred?.primary === p.lang) split++
    }
  })
  const confusion = new Map<string, Map<string, number>>()
  for (const lang of NORDIC) {
    const row = new Map<string, number>([...NORDIC, 'other'].map((c) => [c, 0]))
    corpus.forEach((p, i) => {
      if (p.lang !== lang) return
      const primary = preds[i]?.primary ?? 'und'
      const col = (NORDIC as readonly string[]).includes(primary) ? primary : 'other'
      row.set(col, (row.get(col) ?? 0) + 1)
    })
    confusion.set(lang, row)
  }
  const correct = corpus.filter((p, i) => preds[i]?.primary === p.lang).length
  return {
    accuracy: ratio(correct, corpus.length),
    perLang,
    noPrecision: ratio(noTp, noTp + noFp),
    noRecall: ratio(noTp, noTp + noFn),
    nbNnSplit: ratio(split, norwegian),
    confusion,
    postsPerS: throughput(detect, corpus, seconds),
  }
}

/** Posts per second on this one thread, after a warm-up pass. */
function throughput(detect: Detector, corpus: LabelledPost[], seconds: number): number {
  for (const p of corpus) detect(p)
  let n = 0
  const start = performance.now()
  const until = start + seconds * 1000
  while (performance.now() < until) {
    for (const p of corpus) detect(p)
    n += corpus.length
  }
  return n / ((performance.now() - start) / 1000)
}

function ratio(a: number, b: number): number {
  return b === 0 ? 0 : a / b
}

const pct = (x: number) => `${(x * 100).toFixed(1)}%`

export async function run(opts: { quick: boolean }): Promise<Record<string, number>> {
  const seconds = opts.quick ? 0.3 : 2
  const results = Object.fromEntries(
    Object.entries(detectors).map(([name, d]) => [name, measure(d, langCorpus, seconds)]),
  )
  const ours = results.feedgen as Figures
  const textOnly = results['feedgen, text only'] as Figures
  const baseline = results['franc default'] as Figures
  const names = Object.keys(results)

  console.log(
    `\nLanguage detection on ${langCorpus.length} labelled posts (bench/lang-corpus.ts)\n`,
  )
  console.log(['lang', 'n', ...names.map((n) => `${n} P / R`)].map((c) => c.padEnd(28)).join(''))
  for (const [lang, { n }] of ours.perLang) {
    const cells = names.map((name) => {
      const f = results[name]?.perLang.get(lang)
      return f === undefined ? '-' : `${pct(f.precision)} / ${pct(f.recall)}`
    })
    console.log([lang, String(n), ...cells].map((c) => c.padEnd(28)).join(''))
  }

  for (const name of names) {
    const f = results[name] as Figures
    console.log(`\nNordic confusion, ${name} (rows: truth, columns: primary language)`)
    console.log(['', ...NORDIC, 'other'].map((c) => c.padStart(7)).join(''))
    for (const [lang, row] of f.confusion) {
      console.log([lang, ...[...row.values()].map(String)].map((c) => c.padStart(7)).join(''))
    }
  }

  const targets: Array<[string, number, number, (f: Figures) => number]> = [
    ['Norwegian (nb+nn) precision', 0.97, ours.noPrecision, (f) => f.noPrecision],
    ['Norwegian (nb+nn) recall', 0.95, ours.noRecall, (f) => f.noRecall],
    ['Bokmål vs Nynorsk right', 0.9, ours.nbNnSplit, (f) => f.nbNnSplit],
    ['Danish recall', 0.95, recall(ours, 'da'), (f) => recall(f, 'da')],
    ['Swedish recall', 0.95, recall(ours, 'sv'), (f) => recall(f, 'sv')],
    ['English recall', 0.98, recall(ours, 'en'), (f) => recall(f, 'en')],
    ['overall accuracy', 0.95, ours.accuracy, (f) => f.accuracy],
    ['posts/s, one core', 15_000, ours.postsPerS, (f) => f.postsPerS],
  ]
  console.log(
    `\n${'figure'.padEnd(30)}${'target'.padEnd(10)}${names.map((n) => n.padEnd(22)).join('')}`,
  )
  for (const [label, target, value, get] of targets) {
    const fmt = (x: number) => (target > 1 ? String(Math.round(x)) : pct(x))
    const mark = value >= target ? '✓' : '✗'
    const cells = names.map(
      (n, i) => `${fmt(get(results[n] as Figures))}${i === 0 ? ` ${mark}` : ''}`,
    )
    console.log(
      `${label.padEnd(30)}${`>= ${fmt(target)}`.padEnd(10)}${cells.map((c) => c.padEnd(22)).join('')}`,
    )
  }

  if (process.argv.includes('--misses')) {
    console.log('\nMisses (feedgen):')
    for (const p of langCorpus) {
      const r = detectLanguage(p.text, p.declared ?? [])
      if (r.langs[0] !== p.lang)
        console.log(`${p.lang} -> ${JSON.stringify(r)} ${JSON.stringify(p)}`)
    }
  }

  const figures: Record<string, number> = {}
  const put = (prefix: string, f: Figures) => {
    figures[`${prefix}.overall_accuracy`] = f.accuracy
    figures[`${prefix}.no_precision`] = f.noPrecision
    figures[`${prefix}.no_recall`] = f.noRecall
    figures[`${prefix}.nb_nn_right`] = f.nbNnSplit
    figures[`${prefix}.posts_per_s`] = Math.round(f.postsPerS)
    for (const [lang, { precision, recall }] of f.perLang) {
      figures[`${prefix}.${lang}.precision`] = precision
      figures[`${prefix}.${lang}.recall`] = recall
    }
  }
  put('lang', ours)
  figures['lang.text_only.overall_accuracy'] = textOnly.accuracy
  put('lang.franc_default', baseline)
  return figures
}

function recall(f: Figures, lang: string): number {
  return f.perLang.get(lang)?.recall ?? 0
}

if (import.meta.main) await run({ quick: process.argv.includes('--quick') })
