/**
 * The serving ceiling: a bare `node:http` server that answers every request with one JSON body
 * held in memory (argv[2]). Reports `{ port }` over IPC; stops on SIGTERM.
 */
import { once } from 'node:events'
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'

const body = Buffer.from(process.argv[2] ?? '{}')
const server = createServer((_req, res) => {
  res.writeHead(200, {
    'content-type': 'application/json; charset=utf-8',
    'content-length': body.length,
  })
  res.end(body)
})
server.keepAliveTimeout = 65_000
server.listen(0, '127.0.0.1')
await once(server, 'listening')
process.send?.({ port: (server.address() as AddressInfo).port })
process.once('SIGTERM', () => {
  server.close()
  server.closeAllConnections()
  process.disconnect?.()
})
