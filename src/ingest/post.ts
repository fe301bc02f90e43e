import { isAtUriString } from '@atproto/syntax'
import type { PostCreate } from './events.ts'
import { detectLanguage } from './language.ts'
import type { SkipReason } from './source.ts'

/** The lexicon's limit on `app.bsky.feed.post#text` (bytes); a larger record is hostile. */
const MAX_TEXT_BYTES = 3000
const MAX_FUTURE_MS = 5 * 60_000
const POST_TYPE = 'app.bsky.feed.post'

export interface PostLimits {
  /** posts whose createdAt is older than this (ms) are kept out: imported archives, backfills */
  maxPostAgeMs: number
}

export interface RawPost {
  uri: string
  cid: string
  author: string
  record: unknown
  cursor: number
  time: number
}

export type PostResult = { ok: true; event: PostCreate } | { ok: false; reason: SkipReason }

/**
 * Validates an `app.bsky.feed.post` record from either source and turns it into the one event
 * both produce, with its languages detected. Never throws on bad input.
 */
export function parsePost(raw: RawPost, limits: PostLimits, now = Date.now()): PostResult {
  const rec = raw.record
  if (
    !isObject(rec) ||
    // a record of another type under the post collection is no post the AppView would show
    rec.$type !== POST_TYPE ||
    typeof rec.text !== 'string' ||
    typeof rec.createdAt !== 'string'
  ) {
    return { ok: false, reason: 'malformed' }
  }
  if (Buffer.byteLength(rec.text) > MAX_TEXT_BYTES) return { ok: false, reason: 'oversized' }
  const createdAt = Date.parse(rec.createdAt)
  if (Number.isNaN(createdAt)) return { ok: false, reason: 'malformed' }
  if (createdAt < now - limits.maxPostAgeMs) return { ok: false, reason: 'too_old' }
  if (createdAt > now + MAX_FUTURE_MS) return { ok: false, reason: 'future' }

  const declared = declaredLangs(rec.langs)
  if (declared === null) return { ok: false, reason: 'malformed' }
  const reply = replyRefs(rec.reply)
  if (reply === null) return { ok: false, reason: 'malformed' }

  const lang = detectLanguage(rec.text, declared)
  return {
    ok: true,
    event: {
      kind: 'post',
      cursor: raw.cursor,
      time: raw.time,
      uri: raw.uri,
      cid: raw.cid,
      author: raw.author,
      text: rec.text,
      createdAt,
      replyRoot: reply.root,
      replyParent: reply.parent,
      declaredLangs: declared,
      langs: lang.langs,
      detectedLang: lang.detected,
      langConfidence: lang.confidence,
    },
  }
}

/** A JSON object (not null, not an array): what every record and frame must be. */
export function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v)
}

function declaredLangs(v: unknown): string[] | null {
  if (v === undefined) return []
  if (!Array.isArray(v) || v.length > 3) return null
  return v.every((l) => typeof l === 'string' && l.length > 0 && l.length <= 128) ? v : null
}

function replyRefs(v: unknown): { root: string | null; parent: string | null } | null {
  if (v === undefined) return { root: null, parent: null }
  if (!isObject(v) || !isObject(v.root) || !isObject(v.parent)) return null
  const root = v.root.uri
  const parent = v.parent.uri
  // stored and compared as they are: anything but an AT-URI (bounded by its syntax) is refused
  if (!isAtUriString(root) || !isAtUriString(parent)) return null
  return { root, parent }
}
