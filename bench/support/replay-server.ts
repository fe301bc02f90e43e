/**
 * A Jetstream replay server in a process of its own, so that it does not share a core with the
 * client it feeds. Generates its stream from the options in argv[2] (the same the parent uses to
 * know what to expect), then reports `{ url }` over IPC and `{ connected: ms }` on each
 * connection. Unpaced, the whole stream is there at once and is sent as fast as the client reads;
 * paced, each event is released when its `time_us` comes, as the live network sends them. Stops
 * on SIGTERM or when the parent goes away.
 *
 *   fork('bench/support/replay-server.ts', [JSON.stringify({ stream, paced })])
 */
import { generateEvents } from '../../test/support/jetstream-events.ts'
import { startJetstreamServer } from '../../test/support/jetstream-server.ts'
import { type StreamOptions, streamOptions } from './workload.ts'

export interface ReplayOptions {
  stream: StreamOptions
  paced?: boolean
}

const { stream, paced = false } = JSON.parse(process.argv[2] ?? '{}') as ReplayOptions
const events = generateEvents(streamOptions(stream))
const server = await startJetstreamServer({ events: paced ? [] : events, encodeAhead: true })
let seen = 0
let released = paced ? 0 : events.length
const tick = setInterval(() => {
  for (; seen < server.connections.length; seen++) process.send?.({ connected: Date.now() })
  const now = Date.now() * 1000
  const from = released
  while (released < events.length && (events[released]?.time_us ?? 0) <= now) released++
  if (released > from) server.append(events.slice(from, released))
}, 5)
process.send?.({ url: server.url })

const stop = async () => {
  clearInterval(tick)
  await server.close()
  if (process.connected) process.disconnect?.()
}
process.once('SIGTERM', () => void stop())
process.once('disconnect', () => void stop())
