import { isEvent, type JetstreamEvent, type ReplayFrame } from './jetstream-server.ts'

export const POST = 'app.bsky.feed.post'
const LIKE = 'app.bsky.feed.like'
const REPOST = 'app.bsky.feed.repost'
const CID = 'bafyreidwaivazkwu67xztlmuobx35hs2lnfh3kolmgfmucldvhd3sgzcqi'

/** A few everyday sentences per language, combined into posts of one to three sentences. */
const SENTENCES: Record<string, string[]> = {
  en: [
    'Just finished reading a great book about the history of the city.',
    'Does anyone know a good place to get coffee around here?',
    'The weather has been absolutely wonderful this whole week.',
    'I cannot believe how fast this year is going by.',
    'Working on a new project and I am really excited about it.',
  ],
  ja: [
    '今日はとても良い天気ですね。散歩に行きたいです。',
    '新しいプロジェクトを始めました。楽しみです。',
    'このラーメン屋さんは本当に美味しいです。',
    '明日の会議の準備をしなければなりません。',
  ],
  pt: [
    'Hoje o dia está lindo e eu vou aproveitar para caminhar na praia.',
    'Alguém sabe onde posso encontrar um bom restaurante por aqui?',
    'Estou muito feliz com o resultado do jogo de ontem à noite.',
    'Não acredito que já estamos quase no fim do ano.',
  ],
  de: [
    'Heute war ein wirklich anstrengender Tag bei der Arbeit.',
    'Weiß jemand, wann der nächste Zug nach Berlin fährt?',
    'Ich habe gerade ein neues Rezept ausprobiert und es war sehr lecker.',
    'Das Wetter ist heute leider wieder ziemlich schlecht.',
  ],
  es: [
    'Hoy hace un día precioso para salir a pasear por el parque.',
    '¿Alguien sabe dónde puedo comprar entradas para el concierto?',
    'Estoy muy contento con los resultados de este proyecto.',
    'No puedo creer que ya sea viernes otra vez.',
  ],
  fr: [
    "Aujourd'hui il fait très beau, je vais me promener en ville.",
    "Quelqu'un connaît un bon restaurant dans le quartier ?",
    'Je viens de terminer un livre vraiment passionnant.',
    'Le train était encore en retard ce matin, comme toujours.',
  ],
  nb: [
    'Jeg har nettopp kommet hjem fra en lang tur i skogen.',
    'Vet noen hvor jeg kan kjøpe billetter til konserten i kveld?',
    'Været har vært helt fantastisk hele uka, jeg håper det fortsetter.',
    'Det er ikke lett å finne en god leilighet i Oslo for tiden.',
  ],
  nn: [
    'Eg har nettopp kome heim frå ein lang tur i fjellet.',
    'Veit nokon kvar eg kan kjøpe billettar til konserten i kveld?',
    'Vêret har vore heilt fantastisk heile veka, eg håpar det held fram.',
    'Det er ikkje lett å finne ei god leilegheit i Bergen for tida.',
  ],
  sv: [
    'Jag har precis kommit hem från en lång promenad i skogen.',
    'Vet någon var jag kan köpa biljetter till konserten ikväll?',
    'Vädret har varit helt fantastiskt hela veckan, jag hoppas det fortsätter.',
    'Det är inte lätt att hitta en bra lägenhet i Stockholm just nu.',
  ],
  da: [
    'Jeg er lige kommet hjem fra en lang gåtur i skoven.',
    'Ved nogen, hvor jeg kan købe billetter til koncerten i aften?',
    'Vejret har været helt fantastisk hele ugen, jeg håber, det fortsætter.',
    'Det er ikke nemt at finde en god lejlighed i København for tiden.',
  ],
  ko: [
    '오늘 날씨가 정말 좋아서 산책을 다녀왔어요.',
    '새로운 프로젝트를 시작했는데 정말 기대돼요.',
    '이 식당은 정말 맛있어서 자주 와요.',
  ],
  fi: [
    'Tänään oli todella kaunis päivä ja kävin pitkällä kävelyllä.',
    'Tietääkö joku, mistä saisi hyvää kahvia tässä lähellä?',
    'Olen todella iloinen tämän projektin tuloksista.',
  ],
}
const LANGS = Object.keys(SENTENCES)

export interface GenerateOptions {
  count: number
  /** the first event's `time_us` @default 60 s ago */
  startUs?: number
  /** µs between events @default 1000 */
  stepUs?: number
  /** @default 1 */
  seed?: number
  /** distinct authors @default 500 */
  authors?: number
  /** the share of each kind of event and of each language @default TEST_PROFILE */
  profile?: StreamProfile
}

/** What a generated stream is made of. Weights need not sum to 1. */
export interface StreamProfile {
  events: Record<'post' | 'like' | 'repost' | 'delete' | 'update' | 'identity' | 'account', number>
  /** language weights of authors; null: every language alike */
  langs: Record<string, number> | null
  /** whether post texts vary as on the network: short replies, links, mentions, tags, emoji */
  varied: boolean
}

/** Heavy on posts and on every edge case: what the ingest tests replay. */
export const TEST_PROFILE: StreamProfile = {
  events: {
    post: 0.6,
    like: 0.22,
    repost: 0,
    delete: 0.08,
    update: 0.01,
    identity: 0.085,
    account: 0.005,
  },
  langs: null,
  varied: false,
}

/**
 * The network as a feed that ranks by engagement sees it (posts, likes and reposts wanted): about
 * one event in five is a post. Languages roughly as Bluesky posts are split.
 */
export const NETWORK_PROFILE: StreamProfile = {
  events: {
    post: 0.2,
    like: 0.6,
    repost: 0.12,
    delete: 0.06,
    update: 0.004,
    identity: 0.015,
    account: 0.001,
  },
  langs: {
    en: 45,
    ja: 18,
    pt: 12,
    de: 5,
    es: 5,
    fr: 4,
    ko: 3,
    nb: 2,
    nn: 0.5,
    sv: 2,
    da: 1.5,
    fi: 1,
  },
  varied: true,
}

/**
 * A deterministic, realistic mixed Jetstream stream: posts (a third of them replies) in a dozen
 * languages with declared langs that are sometimes missing or wrong, likes, reposts, post deletes,
 * post updates, identity events, account deactivations and reactivations, and a few posts too old to
 * keep (backdated `createdAt`).
 */
export function generateEvents(opts: GenerateOptions): JetstreamEvent[] {
  const rand = mulberry32(opts.seed ?? 1)
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rand() * xs.length)] as T
  const profile = opts.profile ?? TEST_PROFILE
  const pickLang = profile.langs
    ? weighted(profile.langs)
    : (r: number) => LANGS[Math.floor(r * LANGS.length)] as string
  const kind = weighted(profile.events)
  const startUs = opts.startUs ?? (Date.now() - 60_000) * 1000
  const stepUs = opts.stepUs ?? 1000
  const authors = Array.from({ length: opts.authors ?? 500 }, (_, i) => ({
    did: `did:plc:${hash(i + (opts.seed ?? 1) * 1_000_003)}`,
    lang: pickLang(rand()),
    // most declare their language, some declare nothing, a few declare the wrong one
    declares: rand(),
  }))
  const posts: { did: string; rkey: string }[] = []
  const events: JetstreamEvent[] = []
  let rkeyN = 0

  for (let i = 0; i < opts.count; i++) {
    const time_us = startUs + i * stepUs
    const author = pick(authors)
    const k = kind(rand())
    const base = { did: author.did, time_us }
    if (k === 'post' || posts.length === 0) {
      const rkey = tid(time_us, rkeyN++)
      const sentences = SENTENCES[author.lang] as string[]
      let text = Array.from({ length: 1 + Math.floor(rand() * 3) }, () => pick(sentences)).join(' ')
      if (profile.varied) text = vary(text, rand, i)
      const record: Record<string, unknown> = {
        $type: POST,
        text,
        createdAt: new Date(
          rand() < 0.01 ? Date.UTC(2020, 0, 1) : Math.floor(time_us / 1000) - 800,
        ).toISOString(),
      }
      if (author.declares < 0.85) record.langs = [author.lang]
      else if (author.declares < 0.92) record.langs = ['en']
      if (posts.length > 0 && rand() < 0.33) {
        const parent = pick(posts)
        const ref = { uri: `at://${parent.did}/${POST}/${parent.rkey}`, cid: CID }
        record.reply = { root: ref, parent: ref }
      }
      posts.push({ did: author.did, rkey })
      events.push({ ...base, kind: 'commit', commit: commit('create', POST, rkey, record) })
    } else if (k === 'like' || k === 'repost') {
      const subject = pick(posts)
      const collection = k === 'like' ? LIKE : REPOST
      const record = {
        $type: collection,
        subject: { uri: `at://${subject.did}/${POST}/${subject.rkey}`, cid: CID },
        createdAt: new Date(Math.floor(time_us / 1000)).toISOString(),
      }
      events.push({
        ...base,
        kind: 'commit',
        commit: commit('create', collection, tid(time_us, rkeyN++), record),
      })
    } else if (k === 'delete') {
      const victim = pick(posts)
      events.push({
        did: victim.did,
        time_us,
        kind: 'commit',
        commit: commit('delete', POST, victim.rkey),
      })
    } else if (k === 'update') {
      const target = pick(posts)
      const record = {
        $type: POST,
        text: pick(SENTENCES.en as string[]),
        createdAt: new Date(Math.floor(time_us / 1000)).toISOString(),
      }
      events.push({
        did: target.did,
        time_us,
        kind: 'commit',
        commit: commit('update', POST, target.rkey, record),
      })
    } else if (k === 'identity') {
      const identity = { did: author.did, handle: `user${i}.test`, seq: i, time: iso(time_us) }
      events.push({ ...base, kind: 'identity', identity })
    } else {
      const active = rand() < 0.3
      const account = {
        active,
        did: author.did,
        seq: i,
        time: iso(time_us),
        ...(active ? {} : { status: pick(['deactivated', 'takendown', 'deleted']) }),
      }
      events.push({ ...base, kind: 'account', account })
    }
  }
  return events
}

/**
 * The post URIs a correct ingest holds after `frames`: creates and updates of posts not older
 * than `maxPostAgeMs` (updates only add a missing post), minus deletes, minus every post of an
 * account made inactive after it was created.
 */
export function expectedPostUris(
  frames: readonly ReplayFrame[],
  maxPostAgeMs: number,
): Set<string> {
  const live = new Map<string, string>()
  const now = Date.now()
  for (const f of frames) {
    if (!isEvent(f)) continue
    if (f.kind === 'account' && f.account && !f.account.active) {
      for (const [uri, did] of live) if (did === f.did) live.delete(uri)
    }
    const c = f.commit
    if (f.kind !== 'commit' || !c || c.collection !== POST) continue
    const uri = `at://${f.did}/${POST}/${c.rkey}`
    if (c.operation === 'delete') live.delete(uri)
    else if (Date.parse(String(c.record?.createdAt)) >= now - maxPostAgeMs && !live.has(uri)) {
      live.set(uri, f.did)
    }
  }
  return new Set(live.keys())
}

function commit(
  operation: 'create' | 'update' | 'delete',
  collection: string,
  rkey: string,
  record?: Record<string, unknown>,
): NonNullable<JetstreamEvent['commit']> {
  const rev = tid(Date.now() * 1000, 0)
  return record
    ? { rev, operation, collection, rkey, record, cid: CID }
    : { rev, operation, collection, rkey }
}

/** Picks a key with probability proportional to its weight, from one uniform number in [0, 1). */
function weighted<K extends string>(weights: Record<K, number>): (r: number) => K {
  const entries = Object.entries(weights) as [K, number][]
  const total = entries.reduce((sum, [, w]) => sum + w, 0)
  return (r) => {
    let at = r * total
    for (const [key, w] of entries) {
      if (at < w) return key
      at -= w
    }
    return (entries.at(-1) as [K, number])[0]
  }
}

/** Network-like texts: a quarter are short replies; some carry a link, mention, tag or emoji. */
function vary(text: string, rand: () => number, n: number): string {
  let t = text
  if (rand() < 0.25) {
    // a few words (a few characters of CJK)
    const words = t.split(' ')
    t = words.length > 1 ? words.slice(0, 2 + Math.floor(rand() * 4)).join(' ') : t.slice(0, 8)
  }
  if (rand() < 0.1) t = `@friend${n % 97}.bsky.social ${t}`
  if (rand() < 0.1) t = `${t} https://example.com/articles/${n}`
  if (rand() < 0.08) t = `${t} #bluesky`
  if (rand() < 0.15) t = `${t} 😂`
  return t
}

const S32 = '234567abcdefghijklmnopqrstuvwxyz'

/** A TID-shaped record key: sortable base32 of the time and a counter. */
function tid(timeUs: number, n: number): string {
  let v = BigInt(timeUs) * 1024n + BigInt(n % 1024)
  let s = ''
  for (let i = 0; i < 13; i++) {
    s = S32[Number(v & 31n)] + s
    v >>= 5n
  }
  return s
}

function hash(n: number): string {
  let s = ''
  let v = (n * 2654435761) >>> 0
  for (let i = 0; i < 24; i++) {
    s += S32[v & 31]
    v = Math.imul(v ^ (v >>> 15), 2246822507) >>> 0 || i + 1
  }
  return s
}

function iso(timeUs: number): string {
  return new Date(Math.floor(timeUs / 1000)).toISOString()
}

/** A small seeded PRNG: uniform in [0, 1), the same sequence for the same seed. */
export function mulberry32(seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}
