import { LANGUAGE_WORDS } from './language-words.ts'
import { trigramRanking } from './trigrams.ts'

/** What language detection says about one post. */
export interface LanguageResult {
  /** the languages the post counts as: lowercase BCP-47 primary tags ('en','nb','nn','sv','da','fi','de','ja',...), most likely first; may be empty */
  langs: string[]
  /** detection's pick for the text alone, or null when the text is too short / undecidable */
  detected: string | null
  /** 0..1 confidence of `detected` (0 when null) */
  confidence: number
}

// Latin-script candidates: the languages common on Bluesky, as franc code -> BCP-47 tag. Keeping
// franc to these is most of the gain on short posts: it cannot answer Scots or Frisian any more.
const LATIN: ReadonlyArray<readonly [franc: string, tag: string]> = [
  ['eng', 'en'],
  ['deu', 'de'],
  ['nld', 'nl'],
  ['fra', 'fr'],
  ['spa', 'es'],
  ['por', 'pt'],
  ['ita', 'it'],
  ['cat', 'ca'],
  ['glg', 'gl'],
  ['swe', 'sv'],
  ['dan', 'da'],
  ['nob', 'nb'],
  ['nno', 'nn'],
  ['fin', 'fi'],
  ['ekk', 'et'],
  ['pol', 'pl'],
  ['ces', 'cs'],
  ['slk', 'sk'],
  ['slv', 'sl'],
  ['hrv', 'hr'],
  ['hun', 'hu'],
  ['ron', 'ro'],
  ['tur', 'tr'],
  ['ind', 'id'],
  ['tgl', 'tl'],
  ['vie', 'vi'],
  ['lit', 'lt'],
  ['lvs', 'lv'],
]
const N = LATIN.length
const TAGS = LATIN.map(([, tag]) => tag)
const FRANC_CODES = LATIN.map(([code]) => code)
const INDEX = new Map(TAGS.map((tag, i) => [tag, i]))
const FRANC_INDEX = new Map(FRANC_CODES.map((code, i) => [code, i]))
const NORDIC = ['nb', 'nn', 'da', 'sv'].map((tag) => idx(tag))
const NB = idx('nb')
const NN = idx('nn')
const IS_NORDIC = TAGS.map((_, i) => NORDIC.includes(i))

function idx(tag: string): number {
  const i = INDEX.get(tag)
  if (i === undefined) throw new Error(`not a candidate: ${tag}`)
  return i
}

// Scripts whose every language we can name from the characters alone.
const SCRIPT_LANG: Record<string, string> = {
  hangul: 'ko',
  kana: 'ja',
  greek: 'el',
  hebrew: 'he',
  armenian: 'hy',
  georgian: 'ka',
  thai: 'th',
  lao: 'lo',
  khmer: 'km',
  myanmar: 'my',
  sinhala: 'si',
  tamil: 'ta',
  telugu: 'te',
  kannada: 'kn',
  malayalam: 'ml',
  gujarati: 'gu',
  gurmukhi: 'pa',
  bengali: 'bn',
  oriya: 'or',
  tibetan: 'bo',
  ethiopic: 'am',
}

// Scripts shared by several languages: franc decides among those whose own letters (if any) the
// text has. franc alone calls plain Russian Macedonian or Serbian.
const SCRIPT_FRANC: Record<
  string,
  ReadonlyArray<readonly [franc: string, tag: string, needs?: RegExp]>
> = {
  cyrillic: [
    ['rus', 'ru'],
    // Bulgarian writes ъ as a vowel, and never ы, э or ё
    ['bul', 'bg', /^(?=.*ъ)(?!.*[ыэё])/isu],
    ['ukr', 'uk', /[іїєґ]/iu],
    ['bel', 'be', /[ўі]/iu],
    ['srp', 'sr', /[ђћџјљњ]/iu],
    ['mkd', 'mk', /[ѓќѕјљњ]/iu],
    ['kaz', 'kk', /[әғқңөұүһ]/iu],
  ],
  arabic: [
    ['arb', 'ar'],
    ['pes', 'fa', /[پچژگکی]/u],
    ['urd', 'ur', /[ٹڈڑںےہ]/u],
  ],
  devanagari: [
    ['hin', 'hi'],
    ['mar', 'mr'],
    ['npi', 'ne'],
  ],
}
const SCRIPT_FRANC_TAG = new Map(
  Object.values(SCRIPT_FRANC).flatMap((langs) => langs.map(([code, tag]) => [code, tag])),
)

/** Script of one code point, or null for what is not a letter of a script we know. */
function scriptOf(cp: number): string | null {
  if (cp < 0x80) return (cp >= 0x61 && cp <= 0x7a) || (cp >= 0x41 && cp <= 0x5a) ? 'latin' : null
  if (cp < 0x250) return cp >= 0xc0 && cp !== 0xd7 && cp !== 0xf7 ? 'latin' : null
  if (cp >= 0x370 && cp < 0x400) return 'greek'
  if (cp >= 0x400 && cp < 0x530) return 'cyrillic'
  if (cp >= 0x530 && cp < 0x590) return 'armenian'
  if (cp >= 0x590 && cp < 0x600) return 'hebrew'
  if (cp >= 0x600 && cp < 0x700) return 'arabic'
  if (cp >= 0x750 && cp < 0x780) return 'arabic'
  if (cp >= 0x8a0 && cp < 0x900) return 'arabic'
  if (cp >= 0x900 && cp < 0x980) return 'devanagari'
  if (cp >= 0x980 && cp < 0xa00) return 'bengali'
  if (cp >= 0xa00 && cp < 0xa80) return 'gurmukhi'
  if (cp >= 0xa80 && cp < 0xb00) return 'gujarati'
  if (cp >= 0xb00 && cp < 0xb80) return 'oriya'
  if (cp >= 0xb80 && cp < 0xc00) return 'tamil'
  if (cp >= 0xc00 && cp < 0xc80) return 'telugu'
  if (cp >= 0xc80 && cp < 0xd00) return 'kannada'
  if (cp >= 0xd00 && cp < 0xd80) return 'malayalam'
  if (cp >= 0xd80 && cp < 0xe00) return 'sinhala'
  if (cp >= 0xe00 && cp < 0xe80) return 'thai'
  if (cp >= 0xe80 && cp < 0xf00) return 'lao'
  if (cp >= 0xf00 && cp < 0x1000) return 'tibetan'
  if (cp >= 0x1000 && cp < 0x10a0) return 'myanmar'
  if (cp >= 0x10a0 && cp < 0x1100) return 'georgian'
  if (cp >= 0x1100 && cp < 0x1200) return 'hangul'
  if (cp >= 0x1200 && cp < 0x13a0) return 'ethiopic'
  if (cp >= 0x1780 && cp < 0x1800) return 'khmer'
  if (cp >= 0x1e00 && cp < 0x1f00) return 'latin'
  if (cp >= 0x1f00 && cp < 0x2000) return 'greek'
  if (cp >= 0x3040 && cp < 0x3100) return cp === 0x30fb || cp === 0x30fc ? null : 'kana'
  if (cp >= 0x3130 && cp < 0x3190) return 'hangul'
  if (cp >= 0x31f0 && cp < 0x3200) return 'kana'
  if (cp >= 0x3400 && cp < 0x4dc0) return 'han'
  if (cp >= 0x4e00 && cp < 0xa000) return 'han'
  if (cp >= 0xac00 && cp < 0xd7b0) return 'hangul'
  if (cp >= 0xf900 && cp < 0xfb00) return 'han'
  if (cp >= 0xfb50 && cp < 0xfe00) return 'arabic'
  if (cp >= 0xfe70 && cp < 0xff00) return 'arabic'
  if (cp >= 0xff66 && cp < 0xffa0) return 'kana'
  if (cp >= 0x20000 && cp < 0x30000) return 'han'
  return null
}

// One CJK character carries about as much as a short Latin word: weigh it so a Japanese post
// with one English word in it stays Japanese.
const SCRIPT_WEIGHT: Record<string, number> = { han: 3, kana: 3, hangul: 3 }

// ---- cleaning ----

// links, and bare domains or handles' tails (nrk.no/sport, example.bsky.social) when their last
// label looks like a domain
const LINK =
  /\bhttps?:\/\/\S+|\bwww\.\S+|\b(?:[a-z0-9-]+\.)+(?:[a-z]{2,}\/\S*|(?:com|org|net|social|app|dev|io|no|se|dk|fi|de|fr|es|jp|uk|eu|br|pt)\b)/giu
const MENTION = /(?:^|\s)@[\p{L}\p{N}._-]+/gu
const HASHTAG = /#[\p{L}\p{N}_]+/gu
const EMOJI =
  /\p{Extended_Pictographic}|\p{Emoji_Modifier}|\p{Regional_Indicator}|\u200d|\ufe0f|\u20e3/gu
const REPEATED_PUNCT = /([!?.,…:;~*])\1+/gu
// "sooo", "nooo": three or more of one letter say nothing about the language
const ELONGATED = /(\p{L})\1{2,}/gu

/** Strips what is not language from a post: links, mentions, hashtags, emoji, punctuation runs. */
export function cleanText(text: string): string {
  // the checks skip regular expressions that cannot match: this runs once per post on the firehose
  let t = text
  if (t.includes('@')) t = t.replace(MENTION, ' ')
  if (t.includes('.')) t = t.replace(LINK, ' ')
  if (t.includes('#')) t = t.replace(HASHTAG, ' ')
  return t
    .replace(EMOJI, ' ')
    .replace(REPEATED_PUNCT, '$1')
    .replace(ELONGATED, '$1')
    .replace(/\s+/gu, ' ')
    .trim()
}

// ---- declared tags ----

const ISO639_2: Record<string, string> = {
  nob: 'nb',
  nno: 'nn',
  nor: 'no',
  swe: 'sv',
  dan: 'da',
  fin: 'fi',
  eng: 'en',
  deu: 'de',
  ger: 'de',
  fra: 'fr',
  fre: 'fr',
  spa: 'es',
  por: 'pt',
  ita: 'it',
  nld: 'nl',
  dut: 'nl',
  jpn: 'ja',
  zho: 'zh',
  chi: 'zh',
  cmn: 'zh',
  kor: 'ko',
  pol: 'pl',
  rus: 'ru',
  ukr: 'uk',
  cat: 'ca',
  tur: 'tr',
  ces: 'cs',
  cze: 'cs',
  isl: 'is',
  ice: 'is',
  est: 'et',
  ekk: 'et',
  ara: 'ar',
  arb: 'ar',
  heb: 'he',
  ell: 'el',
  gre: 'el',
  hin: 'hi',
  ind: 'id',
  vie: 'vi',
  tha: 'th',
  fas: 'fa',
  per: 'fa',
  pes: 'fa',
}
// withdrawn ISO 639-1 codes that old devices still send
const LEGACY: Record<string, string> = { iw: 'he', in: 'id', ji: 'yi', jw: 'jv' }

/**
 * Normalises declared language tags to lowercase primary subtags ('nb-NO' -> 'nb', 'nob' -> 'nb',
 * 'en_US' -> 'en'); 'no' stays 'no'. Drops what is not a language tag, keeps order, no repeats.
 */
export function normalizeLangs(declared: readonly string[]): string[] {
  const out: string[] = []
  for (const raw of declared) {
    const primary = raw.trim().toLowerCase().split(/[-_]/u)[0] ?? ''
    if (!/^[a-z]{2,3}$/u.test(primary)) continue
    const tag = ISO639_2[primary] ?? LEGACY[primary] ?? primary
    if (!out.includes(tag)) out.push(tag)
  }
  return out
}

// ---- evidence tables, built once ----

// word -> [candidate index, weight][]: a word several languages share counts less for each
const WORDS = new Map<string, Array<[number, number]>>()
{
  const tier = new Map<string, number>()
  const owners = new Map<string, number[]>()
  for (const [tag, { strong, common }] of Object.entries(LANGUAGE_WORDS)) {
    const i = idx(tag)
    for (const [list, weight] of [
      [strong, 2],
      [common, 1],
    ] as const) {
      for (const word of list.split(' ')) {
        tier.set(word, Math.max(tier.get(word) ?? 0, weight))
        const langs = owners.get(word) ?? []
        if (!langs.includes(i)) langs.push(i)
        owners.set(word, langs)
      }
    }
  }
  for (const [word, langs] of owners) {
    const w = (tier.get(word) ?? 1) / Math.sqrt(langs.length)
    WORDS.set(
      word,
      langs.map((i) => [i, w]),
    )
  }
}

// letter -> languages that write it; plus letters the close Nordic neighbours never write
const LETTERS = new Map<string, Array<[number, number]>>()
{
  const uses: Record<string, string> = {
    æ: 'da nb nn',
    ø: 'da nb nn',
    å: 'sv da nb nn',
    ä: 'sv fi de et sk',
    ö: 'sv fi de et hu tr',
    ü: 'de tr hu et',
    ß: 'de',
    ñ: 'es',
    ã: 'pt',
    õ: 'pt et',
    ç: 'pt fr ca tr',
    ê: 'fr pt',
    â: 'fr pt ro',
    î: 'fr ro',
    ô: 'fr pt sk',
    û: 'fr',
    ù: 'fr it',
    è: 'fr it ca',
    à: 'fr it ca pt',
    ì: 'it',
    ò: 'it ca',
    ë: 'fr nl',
    ï: 'fr nl ca',
    ą: 'pl',
    ę: 'pl',
    ł: 'pl',
    ń: 'pl',
    ś: 'pl',
    ź: 'pl',
    ż: 'pl',
    ć: 'pl hr',
    ř: 'cs',
    ě: 'cs',
    ů: 'cs',
    ő: 'hu',
    ű: 'hu',
    ş: 'tr',
    ğ: 'tr',
    ı: 'tr',
    ă: 'ro vi',
    ș: 'ro',
    ț: 'ro',
    đ: 'hr vi',
    ơ: 'vi',
    ư: 'vi',
    š: 'cs sk sl hr lt lv et',
    č: 'cs sk sl hr lt lv',
    ž: 'cs sk sl hr lt lv et',
    ė: 'lt',
    į: 'lt',
    ų: 'lt',
    ū: 'lt lv',
    ā: 'lv',
    ē: 'lv',
    ī: 'lv',
    ļ: 'lv',
    ņ: 'lv',
    ķ: 'lv',
  }
  for (const [ch, langs] of Object.entries(uses)) {
    const list = langs.split(' ')
    const w = 1.5 / Math.sqrt(list.length)
    LETTERS.set(
      ch,
      list.map((tag) => [idx(tag), w]),
    )
  }
  // Swedish never writes æ/ø, Danish and Norwegian never ä/ö: the one hard line between them.
  for (const [ch, tags] of [
    ['æ', 'sv'],
    ['ø', 'sv'],
    ['ä', 'da nb nn'],
    ['ö', 'da nb nn'],
  ] as const) {
    const entry = LETTERS.get(ch) ?? []
    for (const tag of tags.split(' ')) entry.push([idx(tag), -1.5])
  }
}

// Spelling that tells the Nordic languages apart in words no list holds (second stage only).
const NORDIC_SPELLING: ReadonlyArray<
  readonly [kind: 'in' | 'end', s: string, tags: string, w: number]
> = [
  ['in', 'kj', 'nb nn', 0.8], // kjøpe, ikkje (da købe)
  ['in', 'gj', 'nb nn', 0.8], // gjøre, igjen (da gøre, igen)
  ['in', 'øy', 'nb nn', 0.8], // høy, øye (da høj, øje)
  ['in', 'øj', 'da', 0.8],
  ['in', 'æ', 'da', 0.4], // da længe, stærk, næste (nb lenge, sterk, neste)
  ['in', 'dd', 'da', 0.4], // da sidder, hedder (nb sitter, heter)
  ['in', 'skø', 'da', 0.5], // da skøn, skære (nb skjønn, skjære)
  ['in', 'skæ', 'da', 0.5],
  ['in', 'ck', 'sv', 0.8], // tack, mycket
  ['end', 'kk', 'nb nn', 0.5], // takk, fikk (da tak, fik)
  ['end', 'ej', 'da sv', 0.5], // hej, nej, vej (no hei, nei, vei)
  ['end', 'ei', 'nb nn', 0.5],
  ['end', 'sjon', 'nb nn', 0.8], // da/sv -tion
  ['end', 'sjonen', 'nb nn', 0.8],
  ['end', 'tion', 'da sv', 0.8],
  ['end', 'hed', 'da', 0.8], // da -hed, nb/sv -het, nn -heit
  ['end', 'heden', 'da', 0.8],
  ['end', 'heit', 'nn', 0.8],
  ['end', 'het', 'nb sv', 0.4],
  ['end', 'igt', 'da sv', 0.6], // neuter -igt (nb viktig)
  ['end', 'ligt', 'da sv', 0.4],
  ['end', 'erne', 'da', 0.8], // da bilerne, sv bilarna, nb bilene, nn bilane
  ['end', 'arna', 'sv', 0.8],
  ['end', 'orna', 'sv', 0.8],
  ['end', 'erna', 'sv', 0.8],
  ['end', 'ene', 'nb', 0.3],
  ['end', 'ane', 'nn', 0.6],
  ['end', 'leg', 'nn', 0.8], // nn vanleg, nb vanlig
  ['end', 'lege', 'nn', 0.8],
  ['end', 'ande', 'nn sv', 0.5], // nn spennande, nb spennende
  ['end', 'ede', 'da', 0.4], // da past tense snakkede
  ['end', 'iskt', 'sv', 0.8], // sv neuter typiskt (da, nb typisk)
  ['end', 'ar', 'sv nn', 0.3], // sv/nn present and plural -ar (nb, da -er)
  ['end', 'a', 'nb nn sv', 0.3], // nb/nn feminine klokka, sv infinitives (da ends in -e)
]
const SPELLING = NORDIC_SPELLING.map(
  ([kind, s, tags, w]) => [kind, s, tags.split(' ').map((tag) => idx(tag)), w] as const,
)

// ---- tuning ----

// Ties go to what is most often written: English is about half of Bluesky, and nine in ten
// Norwegian posts are Bokmål.
const BASE_RATE = TAGS.map((tag) => (tag === 'en' ? 0.5 : tag === 'nn' ? -0.3 : 0))

/** What franc's ranking counts against a language per FRANC_FULL letters (a telling word is 2). */
const FRANC_WEIGHT = 3
/** franc's normalised gap to its best match at which a language is as far off as can be. */
const FRANC_CAP = 0.3
/** franc's say grows with the text, by FRANC_WEIGHT per this many letters. */
const FRANC_FULL = 40
/** ...up to this many times FRANC_WEIGHT, so that long posts still listen to their words. */
const FRANC_MAX = 3
/** How much franc counts inside the Nordic group, where its models are weakest (0..1). */
const FRANC_NORDIC = 0.3
/** A declared language's head start (a telling word is 2). */
const PRIOR = 1.5
/** Below this many Han characters (and no kana) a text is not told apart from Japanese. */
const MIN_HAN = 6
/** Below this many letters a Latin text is not detected at all. */
const MIN_LETTERS = 4
/** The top language's softmax share below which `detected` is null. */
const MIN_CONFIDENCE = 0.25
/** A declared language within this of the top one also counts (bilingual posts). */
const SECOND_LANG_MARGIN = 1.5
/** franc is run on this many front-runners when the words already point somewhere. */
const SHORTLIST = 6

const TOKEN = /[\p{L}\p{M}]+(?:['’][\p{L}\p{M}]+)*/gu

interface Detection {
  langs: string[]
  detected: string | null
  confidence: number
}

/**
 * Detects the language of a post. Detection looks at the text alone; `langs` then weighs in the
 * author's declared languages, and falls back to them when the text cannot decide.
 */
export function detectLanguage(text: string, declared: readonly string[]): LanguageResult {
  const decl = normalizeLangs(declared)
  return detect(cleanText(text), decl)
}

function detect(clean: string, decl: string[]): Detection {
  const counts = new Map<string, number>()
  let total = 0
  for (const ch of clean) {
    const s = scriptOf(ch.codePointAt(0) ?? 0)
    if (s === null) continue
    const w = SCRIPT_WEIGHT[s] ?? 1
    counts.set(s, (counts.get(s) ?? 0) + w)
    total += w
  }
  if (total === 0) return undecided(decl)
  const kana = counts.get('kana') ?? 0
  const han = counts.get('han') ?? 0
  const hangul = counts.get('hangul') ?? 0
  if (kana + han + hangul >= total / 2) {
    if (hangul > 0 && hangul >= kana + han / 2) return byScript('ko', hangul / 3)
    // kana anywhere in CJK text makes it Japanese: Chinese does not write kana
    if (kana > 0) return byScript('ja', (kana + han) / 3)
    // Han alone is Chinese, unless the author says Japanese (kanji-only posts are short ones)
    if (han / 3 < MIN_HAN) return undecided(decl)
    const langs = decl.includes('ja') && !decl.includes('zh') ? ['ja'] : ['zh']
    return { langs, detected: 'zh', confidence: 0.9 }
  }
  let top = 'latin'
  let topCount = 0
  for (const [s, c] of counts) {
    if (c > topCount) {
      top = s
      topCount = c
    }
  }
  const single = SCRIPT_LANG[top]
  if (single !== undefined) return byScript(single, topCount)
  const shared = SCRIPT_FRANC[top]
  if (shared !== undefined) {
    const only = shared
      .filter(([, , needs]) => needs === undefined || needs.test(clean))
      .map(([code]) => code)
    const [code, score] = trigramRanking(clean, top, only)[0] ?? ['und', 0]
    const tag = SCRIPT_FRANC_TAG.get(code)
    if (tag === undefined) return undecided(decl)
    return { langs: [tag], detected: tag, confidence: round(Math.min(0.9, score)) }
  }
  if (top !== 'latin') return undecided(decl)
  return detectLatin(clean, decl)
}

function undecided(decl: string[]): Detection {
  return { langs: decl, detected: null, confidence: 0 }
}

/** A language known from its script; confidence grows with the number of letters. */
function byScript(tag: string, letters: number): Detection {
  const confidence = letters >= 4 ? 0.99 : round(0.6 + letters * 0.1)
  return { langs: [tag], detected: tag, confidence }
}

function detectLatin(clean: string, decl: string[]): Detection {
  const lower = clean.toLowerCase()
  const tokens = lower.match(TOKEN) ?? []
  let letters = 0
  for (const t of tokens) letters += t.length
  if (letters < MIN_LETTERS) return undecided(decl)

  const scores = Float64Array.from(BASE_RATE)
  let hits = 0
  for (const raw of tokens) {
    const entry = WORDS.get(raw.replace('’', "'"))
    if (entry === undefined) continue
    hits++
    for (const [i, w] of entry) scores[i] = (scores[i] ?? 0) + w
  }
  const seen = new Map<string, number>()
  for (const ch of lower) {
    const entry = LETTERS.get(ch)
    if (entry === undefined) continue
    const n = (seen.get(ch) ?? 0) + 1
    seen.set(ch, n)
    if (n > 3) continue
    for (const [i, w] of entry) scores[i] = (scores[i] ?? 0) + w
  }
  addFranc(clean, scores, letters, hits)

  // second stage: when the front-runner is Nordic, spelling decides between the four
  let best = argmax(scores)
  if (IS_NORDIC[best]) {
    for (const raw of tokens) {
      if (raw.length < 4 || WORDS.has(raw)) continue
      for (const [kind, s, langs, w] of SPELLING) {
        if (kind === 'in' ? raw.includes(s) : raw.endsWith(s)) {
          for (const i of langs) scores[i] = (scores[i] ?? 0) + w
        }
      }
    }
    best = argmax(scores)
  }
  const share = softmaxShare(scores, best)
  const detected = share >= MIN_CONFIDENCE ? (TAGS[best] ?? null) : null

  // the declared languages weigh in on top of the text's own evidence
  for (const tag of decl) {
    for (const [i, w] of priorFor(tag)) scores[i] = (scores[i] ?? 0) + w
  }
  if (detected === null) {
    // too little to go on: the declared languages, with 'no' refined when the text leans nb or nn
    if (decl.length === 0) return undecided(decl)
    const tag = TAGS[best] ?? ''
    const langs =
      decl.includes('no') && (tag === 'nb' || tag === 'nn')
        ? decl.map((l) => (l === 'no' ? tag : l))
        : decl
    return undecided(langs)
  }
  const pick = argmax(scores)
  const top = scores[pick] ?? 0
  const langs = [TAGS[pick] ?? '']
  for (const tag of decl) {
    // a declared language the text supports nearly as well also counts: bilingual posts
    const i = INDEX.get(tag)
    if (i !== undefined && i !== pick && (scores[i] ?? 0) >= top - SECOND_LANG_MARGIN)
      langs.push(tag)
  }
  return { langs, detected, confidence: round(share) }
}

/**
 * franc's ranking as evidence. franc scales its distances by the text's length and its best
 * match, so the same gap means more on a short text than a long one: only the size of the gap
 * up to a cap counts, which keeps franc a tie-breaker wherever the words have spoken.
 */
function addFranc(clean: string, scores: Float64Array, letters: number, hits: number): void {
  // a few trigrams say little: franc's say grows with the text
  const weight = FRANC_WEIGHT * Math.min(FRANC_MAX, letters / FRANC_FULL)
  // when the words already point somewhere, franc only needs to weigh the front-runners
  let only = FRANC_CODES
  if (hits >= 2) {
    const order = [...scores.keys()].sort((a, b) => (scores[b] ?? 0) - (scores[a] ?? 0))
    only = order.slice(0, SHORTLIST).map((i) => FRANC_CODES[i] ?? '')
  }
  const gap = new Float64Array(N).fill(FRANC_CAP)
  for (const [code, s] of trigramRanking(clean, 'latin', only)) {
    const i = FRANC_INDEX.get(code)
    if (i !== undefined) gap[i] = Math.min(1 - s, FRANC_CAP)
  }
  // franc's Nordic models are built from formal text and mix the four up: let it say "Nordic",
  // only a little about which one, and nothing about Bokmål or Nynorsk (it leans to Nynorsk)
  let nordicGap = FRANC_CAP
  for (const i of NORDIC) nordicGap = Math.min(nordicGap, gap[i] ?? FRANC_CAP)
  const norwegianGap = Math.min(gap[NB] ?? FRANC_CAP, gap[NN] ?? FRANC_CAP)
  for (let i = 0; i < N; i++) {
    const g = i === NB || i === NN ? norwegianGap : (gap[i] ?? FRANC_CAP)
    const own = IS_NORDIC[i] ? nordicGap + FRANC_NORDIC * (g - nordicGap) : g
    scores[i] = (scores[i] ?? 0) - (weight * own) / FRANC_CAP
  }
}

function priorFor(tag: string): Array<[number, number]> {
  if (tag === 'no')
    return [
      [idx('nb'), PRIOR],
      [idx('nn'), PRIOR],
    ]
  const i = INDEX.get(tag)
  if (i === undefined) return []
  if (tag === 'nb')
    return [
      [i, PRIOR],
      [idx('nn'), PRIOR / 3],
    ]
  if (tag === 'nn')
    return [
      [i, PRIOR],
      [idx('nb'), PRIOR / 3],
    ]
  return [[i, PRIOR]]
}

function argmax(scores: Float64Array): number {
  let best = 0
  for (let i = 1; i < scores.length; i++) if ((scores[i] ?? 0) > (scores[best] ?? 0)) best = i
  return best
}

function softmaxShare(scores: Float64Array, best: number): number {
  const top = scores[best] ?? 0
  let sum = 0
  for (const s of scores) sum += Math.exp(s - top)
  return 1 / sum
}

function round(x: number): number {
  return Math.round(x * 1000) / 1000
}
