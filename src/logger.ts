import { type Logger, pino } from 'pino'

export type { Logger }

export type LogLevel = 'trace' | 'debug' | 'info' | 'warn' | 'error' | 'fatal' | 'silent'

/** JSON lines on stdout; secrets are redacted wherever they appear under these keys. */
export function createLogger(level: LogLevel = 'info'): Logger {
  return pino({
    level,
    base: { name: 'feedgen' },
    redact: {
      paths: [
        'password',
        '*.password',
        'authorization',
        '*.authorization',
        'jwt',
        '*.jwt',
        'headers.authorization',
      ],
      censor: '[redacted]',
    },
  })
}
