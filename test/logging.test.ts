import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { serviceIdentity } from '../src/config.ts'
import { createIdResolver } from '../src/context.ts'
import { createDb, migrateDb } from '../src/db/index.ts'
import { createRegistry, defineFeed, type FeedModule } from '../src/feeds/index.ts'
import { Metrics } from '../src/metrics.ts'
import { createApp, listen } from '../src/server/index.ts'
import { type CliProcess, jsonLines, runCli, spawnCli } from './support/cli.ts'
import { captureLogger, type LogLine } from './support/logs.ts'
import {
  createAccount,
  startPdsNetwork,
  type TestAccount,
  type TestNetworkNoAppView,
} from './support/network.ts'
import { tempDbUrl } from './support/serve.ts'
import { waitFor } from './support/wait.ts'

const LXM = 'app.bsky.feed.getFeedSkeleton'
/** any JWT: base64url of `{"` ... */
const JWT = /eyJ[\w-]{2,}\.[\w-]{2,}\./
const DB_TOKEN = 'db-token-that-must-stay-secret'

describe('secrets never reach the logs, even at trace level', () => {
  let network: TestNetworkNoAppView
  let alice: TestAccount

  beforeAll(async () => {
    network = await startPdsNetwork()
    alice = await createAccount(network, 'alice')
  })
  afterAll(async () => {
    await network?.close()
  })

  it('serve logs authenticated requests with their headers, the token redacted', async () => {
    let serve: CliProcess | undefined
    try {
      serve = spawnCli([
        'serve',
        '--source',
        'none',
        '--db',
        tempDbUrl(),
        '--db-auth-token',
        DB_TOKEN,
        '--port',
        '0',
        '--listen-host',
        '127.0.0.1',
        '--hostname',
        'localhost',
        '--plc-url',
        network.plc.url,
        '--publisher-did',
        alice.did,
        '--log-level',
        'trace',
      ])
      const proc = serve
      await waitFor(() => proc.stdout().includes('"msg":"serving on'), 'serve to listen')
      const ready = jsonLines(proc.stdout()).find((l) => l.msg?.toString().startsWith('serving on'))
      const base = `http://127.0.0.1:${ready?.port}`
      const aud = `did:web:localhost%3A${ready?.port}`
      const feed = `at://${alice.did}/app.bsky.feed.generator/norwegian`
      const mint = async (audience: string) =>
        (await alice.agent.com.atproto.server.getServiceAuth({ aud: audience, lxm: LXM })).data
          .token
      const good = await mint(aud)
      const wrong = await mint('did:web:elsewhere.example.com')
      const call = (token: string) =>
        fetch(`${base}/xrpc/${LXM}?feed=${encodeURIComponent(feed)}`, {
          headers: { authorization: `Bearer ${token}` },
        })
      expect((await call(good)).status).toBe(200)
      // a language feed answers everyone alike and does not check tokens (the next test
      // has one refused), but every request's headers are logged
      expect((await call(wrong)).status).toBe(200)
      await waitFor(
        () => proc.stdout().split('"msg":"request"').length > 2,
        'the request lines',
        10_000,
      )
      proc.child.kill('SIGTERM')
      expect((await proc.exit).code).toBe(0)

      const output = proc.stdout() + proc.stderr()
      const lines = jsonLines(proc.stdout())
      // what was logged: the configuration, and each request with its headers
      expect(lines.find((l) => l.msg === 'configuration')?.config).toMatchObject({
        dbAuthToken: '[redacted]',
      })
      const requests = lines.filter((l) => l.msg === 'request' && String(l.url).includes(LXM))
      expect(requests.map((l) => l.status)).toEqual([200, 200])
      for (const line of requests) {
        expect(line.req).toMatchObject({ headers: { authorization: '[redacted]' } })
      }
      // and what never was
      for (const secret of [good, wrong, good.split('.')[2], wrong.split('.')[2], DB_TOKEN]) {
        expect(output).not.toContain(secret)
      }
      expect(output).not.toMatch(JWT)
    } finally {
      serve?.child.kill('SIGKILL')
    }
  })

  it('a refused token is not logged either', async () => {
    const lines: LogLine[] = []
    const whoasks = defineFeed({
      id: 'whoasks',
      displayName: 'Who asks',
      description: 'reads the viewer',
      skeleton: async () => ({ feed: [] }),
    })
    await using served = await serveOne(whoasks, lines, {
      plcUrl: network.plc.url,
      publisherDid: alice.did,
    })
    const wrong = (
      await alice.agent.com.atproto.server.getServiceAuth({
        aud: 'did:web:elsewhere.example.com',
        lxm: LXM,
      })
    ).data.token
    const res = await served.get('whoasks', { headers: { authorization: `Bearer ${wrong}` } })
    expect(res.status).toBe(401)
    expect(lines.filter((l) => l.msg === 'request').map((l) => l.status)).toEqual([401])
    const logged = JSON.stringify(lines)
    expect(logged).not.toContain(wrong.split('.')[2])
    expect(logged).not.toMatch(JWT)
  })

  it('publish logs its calls to the PDS, never the app password or the session tokens', async () => {
    const res = await runCli(['publish', '--feed', 'norwegian', '--log-level', 'trace'], {
      FEEDGEN_PUBLISH_HANDLE: alice.handle,
      FEEDGEN_PUBLISH_PASSWORD: alice.password,
      FEEDGEN_PUBLISH_SERVICE: network.pds.url,
      FEEDGEN_HOSTNAME: 'feeds.example.com',
    })
    expect(res.code).toBe(0)
    // results on stdout, logs on stderr
    expect(jsonLines(res.stdout)).toEqual([expect.objectContaining({ outcome: 'created' })])
    const logs = jsonLines(res.stderr)
    expect(logs.find((l) => l.msg === 'configuration')?.config).toMatchObject({
      password: '[redacted]',
    })
    const calls = logs.filter((l) => l.msg === 'pds call')
    expect(calls.map((l) => String(l.url).split('/xrpc/')[1]?.split('?')[0])).toEqual(
      expect.arrayContaining(['com.atproto.server.createSession', 'com.atproto.repo.putRecord']),
    )
    // calls made with the session carry its access token, redacted
    const authed = calls.filter(
      (l) => (l.req as { headers: Record<string, string> }).headers.authorization,
    )
    expect(authed.length).toBeGreaterThan(0)
    for (const call of authed) {
      expect(call.req).toMatchObject({ headers: { authorization: '[redacted]' } })
    }
    expect(res.stdout + res.stderr).not.toContain(alice.password)
    expect(res.stdout + res.stderr).not.toMatch(JWT)
  })
})

const SCRIPT = '/usr/bin/script'
const LOGGER = fileURLToPath(new URL('../src/logger.ts', import.meta.url))

/** Logs one line from a fresh process, on a pseudo-terminal (through script(1)) or a pipe. */
function logOneLine(tty: boolean): Promise<string> {
  const program = `import { createLogger } from ${JSON.stringify(LOGGER)}; createLogger('info').info({ feed: 'norwegian' }, 'hello')`
  const node = [process.execPath, '--input-type=module', '-e', program]
  const quoted = node.map((a) => `'${a.replaceAll("'", `'\\''`)}'`).join(' ')
  const [cmd, args] = tty ? [SCRIPT, ['-qec', quoted, '/dev/null']] : [node[0], node.slice(1)]
  return new Promise((resolve, reject) => {
    execFile(cmd as string, args as string[], { timeout: 30_000 }, (err, stdout) =>
      err ? reject(err) : resolve(stdout),
    )
  })
}

describe.skipIf(!existsSync(SCRIPT))('log format', () => {
  it('is human-readable on a terminal and JSON lines anywhere else', async () => {
    const onTty = await logOneLine(true)
    expect(onTty).toMatch(/^\[\d\d:\d\d:\d\d\.\d{3}\] .*INFO.*: .*hello/)
    expect(onTty).toMatch(/feed.*: .*"norwegian"/)
    expect(onTty.trimStart().startsWith('{')).toBe(false)

    const piped = await logOneLine(false)
    expect(jsonLines(piped)).toEqual([
      expect.objectContaining({ level: 30, name: 'feedgen', feed: 'norwegian', msg: 'hello' }),
    ])
  })
})

describe('server errors', () => {
  it('logs a failing feed at error with its cause; the client gets the XRPC error alone', async () => {
    const lines: LogLine[] = []
    const broken = defineFeed({
      id: 'broken',
      displayName: 'Broken',
      description: 'always fails',
      skeleton: async () => {
        throw new Error('the feed query failed', { cause: new Error('disk on fire') })
      },
    })
    await using served = await serveOne(broken, lines, { plcUrl: 'http://127.0.0.1:1' })
    const get = (rkey: string) => served.get(rkey)

    const failed = await get('broken')
    expect(failed.status).toBe(500)
    const body = await failed.text()
    expect(body).not.toMatch(/disk on fire|feed query failed|at .*\.ts:\d+/)
    expect(JSON.parse(body)).toMatchObject({ error: 'InternalServerError' })
    expect((await get('unknown')).status).toBe(400)

    const errors = lines.filter((l) => l.level >= 50)
    expect(errors).toHaveLength(1)
    expect(errors[0]).toMatchObject({
      msg: 'xrpc: request failed',
      err: { message: 'the feed query failed: disk on fire' },
    })
    // both requests are debug lines with their status
    expect(lines.filter((l) => l.msg === 'request').map((l) => l.status)).toEqual([500, 400])
  })
})

/**
 * One feed served in this process (createApp on a fresh database), its log lines landing in
 * `lines`; `get(rkey)` asks for a feed of the publisher (the service itself unless given).
 */
async function serveOne(
  feed: FeedModule,
  lines: LogLine[],
  opts: { plcUrl: string; publisherDid?: string },
) {
  const handle = await createDb(tempDbUrl())
  await migrateDb(handle.db)
  const http = await listen(0, '127.0.0.1')
  const identity = serviceIdentity({ hostname: 'localhost', port: http.port })
  const publisherDid = opts.publisherDid ?? identity.serviceDid
  http.serve(
    createApp(
      {
        version: 'test',
        identity,
        publisherDid,
        db: handle.db,
        dbPath: handle.path,
        feeds: createRegistry([feed]),
        idResolver: createIdResolver(opts.plcUrl),
        logger: captureLogger(lines),
        metrics: new Metrics({ dbPath: handle.path, source: 'none' }),
      },
      { metrics: false },
    ),
  )
  const uri = (rkey: string) => `at://${publisherDid}/app.bsky.feed.generator/${rkey}`
  return {
    get: (rkey: string, init?: RequestInit) =>
      fetch(
        `http://127.0.0.1:${http.port}/xrpc/${LXM}?feed=${encodeURIComponent(uri(rkey))}`,
        init,
      ),
    [Symbol.asyncDispose]: async () => {
      await http[Symbol.asyncDispose]()
      handle.close()
    },
  }
}
