import { readFile } from 'node:fs/promises'
import { extname } from 'node:path'
import type { AppBskyFeedGenerator, AtpAgent, BlobRef } from '@atproto/api'
import { Command, Option } from 'commander'
import { ConfigError, options, type ServeOptions, serviceIdentity } from '../config.ts'
import type { FeedModule } from '../feeds/feed.ts'
import { createRegistry, feeds } from '../feeds/index.ts'
import { createLogger, type Logger } from '../logger.ts'
import { feedUri } from '../server/getFeedSkeleton.ts'

const COLLECTION = 'app.bsky.feed.generator'
const MAX_AVATAR_BYTES = 1_000_000
const AVATAR_TYPES: Record<string, string> = {
  '.png': 'image/png',
  '.jpg': 'image/jpeg',
  '.jpeg': 'image/jpeg',
}

interface PublishOptions
  extends Pick<ServeOptions, 'hostname' | 'port' | 'serviceDid' | 'logLevel' | 'logFormat'> {
  handle?: string
  password?: string
  service: string
  feed?: string[]
  dryRun?: boolean
}

/** The account flags of publish/unpublish read FEEDGEN_PUBLISH_*, keeping them apart from serve's. */
function accountOptions(): Option[] {
  return [
    new Option('--handle <handle>', 'the account that publishes the feeds').env(
      'FEEDGEN_PUBLISH_HANDLE',
    ),
    new Option('--password <app-password>', 'an app password for that account (never logged)').env(
      'FEEDGEN_PUBLISH_PASSWORD',
    ),
    new Option('--service <url>', "the account's PDS or entryway")
      .env('FEEDGEN_PUBLISH_SERVICE')
      .default('https://bsky.social'),
    new Option('--feed <ids>', 'feeds to act on, comma-separated or repeated (default: all)')
      .env('FEEDGEN_PUBLISH_FEEDS')
      .argParser((v: string, prev: string[] | undefined) => [
        ...(prev ?? []),
        ...v
          .split(',')
          .map((id) => id.trim())
          .filter(Boolean),
      ]),
  ]
}

function withOptions(cmd: Command): Command {
  for (const o of accountOptions()) cmd.addOption(o)
  for (const o of [
    options.hostname,
    options.port,
    options.serviceDid,
    options.logLevel,
    options.logFormat,
  ]) {
    cmd.addOption(o())
  }
  return cmd
}

/** On stderr: stdout carries the results. The password is never written, even at trace level. */
function commandLogger(opts: PublishOptions): Logger {
  const log = createLogger(opts.logLevel, {
    fd: 2,
    format: opts.logFormat,
    secrets: opts.password ? [opts.password] : [],
  })
  log.debug({ config: opts }, 'configuration')
  return log
}

export function publishCommand(): Command {
  return withOptions(
    new Command('publish').description(
      "put one app.bsky.feed.generator record per feed in the account's repo (idempotent)",
    ),
  )
    .option('--dry-run', 'print the records without logging in')
    .action(async (opts: PublishOptions) => {
      const selected = selectFeeds(opts.feed)
      const serviceDid = serviceIdentity(opts).serviceDid
      if (opts.dryRun) {
        for (const feed of selected) {
          const record = await generatorRecord(feed, serviceDid, null)
          print({ feed: feed.id, record })
        }
        return
      }
      const log = commandLogger(opts)
      const agent = await login(opts, log)
      const did = agent.assertDid
      for (const feed of selected) {
        const outcome = await publishFeed(agent, feed, serviceDid, log)
        print({
          feed: feed.id,
          outcome,
          uri: feedUri(did, feed.id),
          url: `https://bsky.app/profile/${did}/feed/${feed.id}`,
        })
      }
    })
}

export function unpublishCommand(): Command {
  return withOptions(
    new Command('unpublish').description("delete the feeds' app.bsky.feed.generator records"),
  ).action(async (opts: PublishOptions) => {
    const agent = await login(opts, commandLogger(opts))
    const did = agent.assertDid
    for (const feed of selectFeeds(opts.feed)) {
      const existing = await getExisting(agent, feed.id)
      if (existing)
        await agent.com.atproto.repo.deleteRecord({
          repo: did,
          collection: COLLECTION,
          rkey: feed.id,
        })
      print({ feed: feed.id, outcome: existing ? 'removed' : 'absent', uri: feedUri(did, feed.id) })
    }
  })
}

function print(line: object): void {
  process.stdout.write(`${JSON.stringify(line)}\n`)
}

function selectFeeds(ids: string[] | undefined): FeedModule[] {
  const registry = createRegistry(feeds)
  if (!ids?.length) return [...registry.values()]
  return ids.map((id) => {
    const feed = registry.get(id)
    if (!feed)
      throw new ConfigError(`no feed has the id "${id}"; known: ${[...registry.keys()].join(', ')}`)
    return feed
  })
}

async function login(opts: PublishOptions, log: Logger): Promise<AtpAgent> {
  if (!opts.handle) throw new ConfigError('publishing needs --handle (or FEEDGEN_PUBLISH_HANDLE)')
  if (!opts.password) {
    throw new ConfigError(
      'publishing needs an app password: FEEDGEN_PUBLISH_PASSWORD (or --password)',
    )
  }
  // loaded here: @atproto/api brings all its lexicons, which no other command needs
  const api = await import('@atproto/api')
  const agent = new api.AtpAgent({ service: opts.service, fetch: tracedFetch(log) })
  log.debug({ handle: opts.handle, service: opts.service }, 'logging in')
  try {
    await agent.login({ identifier: opts.handle, password: opts.password })
  } catch (err) {
    throw new Error(loginError(err, opts), { cause: err })
  }
  log.debug({ did: agent.assertDid }, 'logged in')
  return agent
}

/** Each call to the PDS as a trace line; its authorization header is redacted by the logger. */
function tracedFetch(log: Logger): typeof fetch {
  return async (input, init) => {
    const res = await fetch(input, init)
    if (log.isLevelEnabled('trace')) {
      // the agent hands over a Request, with the session's token in its headers
      const req = input instanceof Request ? input : null
      log.trace(
        {
          method: init?.method ?? req?.method ?? 'GET',
          url: req ? req.url : String(input),
          status: res.status,
          req: { headers: Object.fromEntries(new Headers(init?.headers ?? req?.headers)) },
        },
        'pds call',
      )
    }
    return res
  }
}

/** Says which of the usual three went wrong, without echoing the password. */
function loginError(err: unknown, opts: PublishOptions): string {
  const e = err as { status?: number; error?: string; message?: string; cause?: { code?: string } }
  if (e.status === 401 || e.error === 'AuthenticationRequired') {
    return `could not log in as ${opts.handle} on ${opts.service}: wrong handle or app password`
  }
  if (e.status === 400 && /handle|identifier|not found/i.test(e.message ?? '')) {
    return `${opts.service} does not know the account ${opts.handle}`
  }
  if (e.status === undefined || e.status === 1) {
    return `could not reach ${opts.service}: ${e.message ?? 'network error'}`
  }
  return `logging in to ${opts.service} failed: ${e.error ?? ''} ${e.message ?? ''}`.trim()
}

type Outcome = 'created' | 'updated' | 'unchanged'

async function getExisting(agent: AtpAgent, rkey: string) {
  try {
    const res = await agent.com.atproto.repo.getRecord({
      repo: agent.assertDid,
      collection: COLLECTION,
      rkey,
    })
    return res.data.value as AppBskyFeedGenerator.Record
  } catch (err) {
    if ((err as { error?: string }).error === 'RecordNotFound') return null
    throw err
  }
}

async function publishFeed(
  agent: AtpAgent,
  feed: FeedModule,
  serviceDid: string,
  log: Logger,
): Promise<Outcome> {
  const existing = await getExisting(agent, feed.id)
  const record = await generatorRecord(feed, serviceDid, agent)
  if (existing) {
    record.createdAt = existing.createdAt
    if (sameRecord(existing, record)) return 'unchanged'
  }
  log.trace({ feed: feed.id, record }, 'putting the record')
  await agent.com.atproto.repo.putRecord({
    repo: agent.assertDid,
    collection: COLLECTION,
    rkey: feed.id,
    record,
    validate: true,
  })
  return existing ? 'updated' : 'created'
}

/** The record as the app expects it; with no agent (dry run) nothing is uploaded or resolved. */
export async function generatorRecord(
  feed: FeedModule,
  serviceDid: string,
  agent: AtpAgent | null,
): Promise<AppBskyFeedGenerator.Record> {
  const rt = new (await import('@atproto/api')).RichText({ text: feed.description })
  if (agent) await rt.detectFacets(agent)
  else rt.detectFacetsWithoutResolution()
  const avatar = feed.avatar ? await uploadAvatar(feed, agent) : undefined
  return {
    $type: COLLECTION,
    did: serviceDid,
    displayName: feed.displayName,
    description: rt.text,
    ...(rt.facets?.length ? { descriptionFacets: rt.facets } : {}),
    ...(avatar ? { avatar } : {}),
    contentMode:
      feed.contentMode === 'video'
        ? 'app.bsky.feed.defs#contentModeVideo'
        : 'app.bsky.feed.defs#contentModeUnspecified',
    acceptsInteractions: feed.acceptsInteractions,
    createdAt: new Date().toISOString(),
  }
}

async function uploadAvatar(
  feed: FeedModule,
  agent: AtpAgent | null,
): Promise<BlobRef | undefined> {
  const path = feed.avatar as string
  const mimeType = AVATAR_TYPES[extname(path).toLowerCase()]
  if (!mimeType) throw new ConfigError(`feed ${feed.id}: the avatar must be a .png or .jpg file`)
  const bytes = await readFile(path).catch((cause: unknown) => {
    throw new ConfigError(`feed ${feed.id}: cannot read the avatar ${path}`, { cause })
  })
  if (bytes.byteLength > MAX_AVATAR_BYTES) {
    throw new ConfigError(`feed ${feed.id}: the avatar is ${bytes.byteLength} bytes; at most 1 MB`)
  }
  if (!agent) return undefined
  return (await agent.uploadBlob(bytes, { encoding: mimeType })).data.blob
}

/** Compares what the operator controls; the avatar by its content address (same bytes, same CID). */
function sameRecord(a: AppBskyFeedGenerator.Record, b: AppBskyFeedGenerator.Record): boolean {
  const norm = (r: AppBskyFeedGenerator.Record) =>
    canonical({
      did: r.did,
      displayName: r.displayName,
      description: r.description ?? '',
      descriptionFacets: r.descriptionFacets ?? [],
      avatar: r.avatar ? r.avatar.ref.toString() : null,
      contentMode: r.contentMode ?? 'app.bsky.feed.defs#contentModeUnspecified',
      acceptsInteractions: r.acceptsInteractions ?? false,
    })
  return norm(a) === norm(b)
}

/** JSON with sorted keys: a record read back from the repo comes in DAG-CBOR key order. */
function canonical(v: unknown): string {
  if (Array.isArray(v)) return `[${v.map(canonical).join(',')}]`
  if (v && typeof v === 'object') {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined)
    entries.sort(([a], [b]) => (a < b ? -1 : 1))
    return `{${entries.map(([k, x]) => `${JSON.stringify(k)}:${canonical(x)}`).join(',')}}`
  }
  return JSON.stringify(v)
}
