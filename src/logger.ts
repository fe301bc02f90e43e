import { type DestinationStream, type Logger, pino } from 'pino'
import pretty from 'pino-pretty'

export type { Logger }

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'

/** `auto`: human-readable on a terminal, JSON lines otherwise (files, pipes, log collectors) */
export type LogFormat = 'auto' | 'json' | 'pretty'

export interface LoggerOptions {
  /** @default 'auto' */
  format?: LogFormat
  /**
   * Where lines go: 1 (stdout) for serve, 2 (stderr) for commands whose stdout is their result.
   * @default 1
   */
  fd?: 1 | 2
  /** values that must never be written, wherever they turn up (e.g. the publish password) */
  secrets?: readonly string[]
}

/** Keys whose values are secrets, at the top level or one object down (`req.headers`, `opts`). */
const REDACT = [
  'password',
  'dbAuthToken',
  'authorization',
  'cookie',
  'jwt',
  'accessJwt',
  'refreshJwt',
  'token',
]
  .flatMap((key) => [key, `*.${key}`])
  .concat([
    'headers.authorization',
    'headers.cookie',
    '*.headers.authorization',
    '*.headers.cookie',
  ])

// A JWT (base64url of `{"`...) anywhere in a line, e.g. inside an error message: the net below
// the key-based redaction, for values that arrive under keys nobody thought of.
const JWT = /eyJ[\w-]{2,}\.[\w-]{2,}\.[\w-]*/g

/** Structured logs: JSON lines, or pretty ones on a terminal. Secrets never reach the output. */
export function createLogger(level: LogLevel = 'info', opts: LoggerOptions = {}): Logger {
  const fd = opts.fd ?? 1
  const tty = Boolean((fd === 1 ? process.stdout : process.stderr).isTTY)
  const format = opts.format ?? 'auto'
  const destination: DestinationStream =
    format === 'pretty' || (format === 'auto' && tty)
      ? pretty({
          destination: fd,
          sync: true,
          colorize: tty,
          translateTime: 'SYS:HH:MM:ss.l',
          ignore: 'pid,hostname,name',
        })
      : pino.destination({ dest: fd, sync: true })
  // JSON-escaped, as the value appears inside a serialized line
  const secrets = (opts.secrets ?? [])
    .filter((s) => s.length > 0)
    .map((s) => JSON.stringify(s).slice(1, -1))
  return pino(
    {
      level,
      base: { name: 'feedgen' },
      redact: { paths: REDACT, censor: '[redacted]' },
      hooks: {
        streamWrite: (line) => {
          let out = line.replace(JWT, '[redacted]')
          for (const secret of secrets) out = out.replaceAll(secret, '[redacted]')
          return out
        },
      },
    },
    destination,
  )
}
