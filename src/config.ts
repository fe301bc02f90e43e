import { InvalidArgumentError, Option } from 'commander'
import type { LogFormat, LogLevel } from './logger.ts'

/**
 * Every setting is a flag with an environment fallback `FEEDGEN_<FLAG>` (`--listen-host` ->
 * `FEEDGEN_LISTEN_HOST`). This module is the project's only reader of `process.env`; commander
 * reads the variables named here and runs the same parsers on them as on flags, so a bad value
 * fails the same way from either place: one line, exit code 2.
 */

export class ConfigError extends Error {
  override name = 'ConfigError'
}

export const envName = (flag: string): string =>
  `FEEDGEN_${flag.replace(/^--/, '').replace(/-/g, '_').toUpperCase()}`

function option<T>(
  flags: string,
  description: string,
  parse?: (value: string) => T,
  defaultValue?: T,
  env?: string,
): Option {
  const o = new Option(flags, description).env(env ?? envName(flags.split(/[ ,]/)[0] ?? flags))
  if (parse) o.argParser((value: string) => parse(value))
  if (defaultValue !== undefined) o.default(defaultValue)
  return o
}

export const int =
  (min: number, max: number) =>
  (value: string): number => {
    const n = Number(value)
    if (!/^-?\d+$/.test(value.trim()) || n < min || n > max) {
      throw new InvalidArgumentError(`expected a whole number from ${min} to ${max}`)
    }
    return n
  }

const UNITS: Record<string, number> = { ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 }

/** `500ms`, `30s`, `5m`, `24h`, `7d` -> milliseconds */
export function duration(value: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h|d)$/.exec(value.trim())
  const unit = m?.[2] ? UNITS[m[2]] : undefined
  if (!m || unit === undefined) {
    throw new InvalidArgumentError('expected a duration such as 500ms, 30s, 5m, 24h or 7d')
  }
  return Number(m[1]) * unit
}

/** A duration, or `0` / `off` for none (-> 0). */
export function durationOrOff(value: string): number {
  return /^\s*(0|off)\s*$/i.test(value) ? 0 : duration(value)
}

const oneOf =
  <T extends string>(values: readonly T[]) =>
  (value: string): T => {
    if (!(values as readonly string[]).includes(value)) {
      throw new InvalidArgumentError(`expected one of ${values.join(', ')}`)
    }
    return value as T
  }

function wsUrls(value: string): string[] {
  const urls = value
    .split(',')
    .map((u) => u.trim())
    .filter(Boolean)
  if (urls.length === 0) throw new InvalidArgumentError('expected at least one ws:// or wss:// URL')
  for (const u of urls) wsUrl(u)
  return urls
}

function wsUrl(value: string): string {
  if (!/^wss?:\/\/[^/\s]+/.test(value))
    throw new InvalidArgumentError('expected a ws:// or wss:// URL')
  return value.replace(/\/+$/, '')
}

function httpUrl(value: string): string {
  if (!URL.canParse(value) || !/^https?:/.test(value)) {
    throw new InvalidArgumentError('expected an http:// or https:// URL')
  }
  return value.replace(/\/+$/, '')
}

export function did(value: string): string {
  if (
    !/^did:(plc:[a-z2-7]{24}|web:[a-zA-Z0-9.%-]+(:[a-zA-Z0-9.%-]+)*|[a-z]+:[a-zA-Z0-9._:%-]+)$/.test(
      value,
    )
  ) {
    throw new InvalidArgumentError('expected a DID such as did:plc:... or did:web:...')
  }
  return value
}

function hostname(value: string): string {
  if (!/^[a-zA-Z0-9.-]+(:\d{1,5})?$/.test(value)) {
    throw new InvalidArgumentError('expected a bare hostname such as feeds.example.com')
  }
  return value.toLowerCase()
}

const LOG_LEVELS = ['trace', 'debug', 'info', 'warn', 'error', 'fatal', 'silent'] as const
const LOG_FORMATS = ['auto', 'json', 'pretty'] as const
const SOURCES = ['jetstream', 'firehose', 'none'] as const

export const DEFAULT_JETSTREAMS = [
  'wss://jetstream1.us-east.bsky.network',
  'wss://jetstream2.us-east.bsky.network',
  'wss://jetstream1.us-west.bsky.network',
  'wss://jetstream2.us-west.bsky.network',
]

/** Flags shared by the commands, each built fresh so that commands can add them independently. */
export const options = {
  db: () =>
    option(
      '--db <url>',
      'libSQL database: file:path, :memory:, or libsql:// / http(s):// server',
      undefined,
      'file:data/feedgen.db',
    ),
  dbAuthToken: () =>
    option('--db-auth-token <token>', 'auth token for a libSQL server / Turso database'),
  logLevel: () =>
    option<LogLevel>(
      '--log-level <level>',
      `log level: ${LOG_LEVELS.join(', ')}`,
      oneOf(LOG_LEVELS),
      'info',
    ),
  logFormat: () =>
    option<LogFormat>(
      '--log-format <format>',
      'auto (pretty on a terminal, JSON lines otherwise), json or pretty',
      oneOf(LOG_FORMATS),
      'auto',
    ),
  port: () => option('--port <port>', 'HTTP port', int(0, 65535), 3000),
  listenHost: () => option('--listen-host <host>', 'address to listen on', undefined, '0.0.0.0'),
  hostname: () =>
    option(
      '--hostname <host>',
      "the service's public hostname (did:web and did.json)",
      hostname,
      'localhost',
    ),
  serviceDid: () =>
    option('--service-did <did>', 'the DID of this service (default: did:web:<hostname>)', did),
  publisherDid: () =>
    option(
      '--publisher-did <did>',
      'the DID whose repo holds the feed records (default: resolved from --publisher-handle, else the service DID)',
      did,
    ),
  publisherHandle: () =>
    option(
      '--publisher-handle <handle>',
      'the handle whose repo holds the feed records; resolved to its DID once at start',
    ),
  plcUrl: () =>
    option(
      '--plc-url <url>',
      'PLC directory for did:plc resolution',
      httpUrl,
      'https://plc.directory',
    ),
  source: () =>
    option(
      '--source <source>',
      `event stream to ingest: ${SOURCES.join(', ')}`,
      oneOf(SOURCES),
      'jetstream',
    ),
  jetstreamUrl: () =>
    option(
      '--jetstream-url <urls>',
      'Jetstream instances, comma-separated, tried in turn on failure',
      wsUrls,
      DEFAULT_JETSTREAMS,
    ),
  jetstreamCompress: () =>
    option('--jetstream-compress', 'ask Jetstream for zstd-compressed frames'),
  jetstreamZstdDictionary: () =>
    option(
      '--jetstream-zstd-dictionary <path>',
      "Jetstream's zstd dictionary file (pkg/models/zstd_dictionary), needed by --jetstream-compress",
    ),
  firehoseUrl: () =>
    option(
      '--firehose-url <url>',
      'relay or PDS for --source firehose',
      wsUrl,
      'wss://bsky.network',
    ),
  channelSize: () =>
    option(
      '--channel-size <n>',
      'events buffered between source and writer before the socket pauses',
      int(1, 1_000_000),
      10_000,
    ),
  batchSize: () =>
    option('--batch-size <n>', 'most events committed in one transaction', int(1, 100_000), 2_000),
  batchMs: () =>
    option(
      '--batch-ms <ms>',
      'longest an event waits for its batch to commit',
      int(1, 60_000),
      250,
    ),
  maxPostAge: () =>
    option(
      '--max-post-age <duration>',
      'posts created longer ago are kept out (imported archives)',
      duration,
      86_400_000,
    ),
  stallTimeout: () =>
    option(
      '--stall-timeout <duration>',
      'reconnect when the source sent nothing for this long',
      duration,
      60_000,
    ),
  metricsPort: () =>
    option(
      '--metrics-port <port>',
      'serve /metrics on this port only (default: on the main port)',
      int(1, 65535),
    ),
  retention: () =>
    option(
      '--retention <duration>',
      'while ingesting, prune posts stored longer ago than this, in the background (0 or off: keep all)',
      durationOrOff,
      7 * 86_400_000,
    ),
}

/** The flags of `feedgen prune` (the database flags come from `options`). */
export const pruneOptions = {
  olderThan: () =>
    option(
      '--older-than <duration>',
      'remove posts stored longer ago than this',
      duration,
      7 * 86_400_000,
    ),
  vacuum: () =>
    option(
      '--vacuum',
      'then rewrite the whole file (VACUUM): returns all free space and turns on incremental auto-vacuum for a database created before it existed; needs free disk the size of the database',
    ),
}

export type Source = (typeof SOURCES)[number]

/** What commander hands over for `serve`, before cross-checks. */
export interface ServeOptions {
  db: string
  dbAuthToken?: string
  logLevel: LogLevel
  logFormat: LogFormat
  port: number
  listenHost: string
  hostname: string
  serviceDid?: string
  publisherDid?: string
  publisherHandle?: string
  plcUrl: string
  source: Source
  jetstreamUrl: string[]
  jetstreamCompress?: boolean
  jetstreamZstdDictionary?: string
  firehoseUrl: string
  channelSize: number
  batchSize: number
  batchMs: number
  maxPostAge: number
  stallTimeout: number
  metricsPort?: number
  /** ms; 0 keeps everything */
  retention: number
}

export interface ServiceIdentity {
  hostname: string
  serviceDid: string
  /** the URL the AppView calls: http for localhost, https otherwise */
  serviceEndpoint: string
}

/**
 * did:web names its host; on localhost it carries the port (`did:web:localhost%3A3000`), which is
 * how a local AppView finds a development server.
 */
export function serviceIdentity(
  opts: Pick<ServeOptions, 'hostname' | 'port' | 'serviceDid'>,
): ServiceIdentity {
  const local = /^(localhost|127\.0\.0\.1)(:\d+)?$/.test(opts.hostname)
  const host =
    local && !opts.hostname.includes(':') ? `${opts.hostname}:${opts.port}` : opts.hostname
  return {
    hostname: host,
    serviceDid: opts.serviceDid ?? `did:web:${host.replace(':', '%3A')}`,
    serviceEndpoint: `${local ? 'http' : 'https'}://${host}`,
  }
}

/** Local development setups (dev-env PLC, did:web on localhost) need plain http fetches. */
export function isLocalUrl(url: string): boolean {
  const { protocol, hostname: host } = new URL(url)
  return (
    protocol === 'http:' || host === 'localhost' || /^[\d.]+$/.test(host) || host.startsWith('[')
  )
}
