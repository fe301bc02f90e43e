import { Writable } from 'node:stream'
import { type Logger, pino } from 'pino'

export interface LogLine {
  level: number
  msg: string
  [key: string]: unknown
}

/** A debug-level pino logger whose JSON lines land in `lines`, to assert on what was logged. */
export function captureLogger(lines: LogLine[]): Logger {
  const stream = new Writable({
    write(chunk, _enc, done) {
      lines.push(JSON.parse(String(chunk)))
      done()
    },
  })
  return pino({ level: 'debug' }, stream)
}
