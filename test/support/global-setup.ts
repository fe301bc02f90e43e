import { type ChildProcess, spawn } from 'node:child_process'
import { constants, rmSync } from 'node:fs'
import { access, chown, mkdtemp, readdir, readFile, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { freePort } from './net.ts'

const READY_TIMEOUT_MS = 30_000
const STOP_TIMEOUT_MS = 10_000

const POSTGRES_SETTINGS = {
  // Throwaway data: durability costs time and buys nothing.
  fsync: 'off',
  synchronous_commit: 'off',
  full_page_writes: 'off',
  // TCP on loopback only, no socket file.
  unix_socket_directories: '',
  // Each AppView network holds several pools, and test files may run side by side.
  max_connections: '300',
}

type Identity = { uid: number; gid: number }

/** A server child process: `stop` shuts it down cleanly, `kill` at once (from an exit handler). */
type Service = { stop: () => Promise<void>; kill: () => void }

/**
 * Vitest globalSetup: gives the AppView tests a throwaway PostgreSQL cluster and Redis server on
 * loopback, exported as `DB_POSTGRES_URL` and `REDIS_HOST` (the variables `@atproto/dev-env`
 * reads). Vitest forks its workers after this runs, so they inherit the variables. Variables that
 * are already set are respected. Without the binaries the variables stay unset and the AppView
 * tests skip, unless `FEEDGEN_REQUIRE_APPVIEW=1` (CI) makes that an error.
 */
export async function setup(): Promise<() => Promise<void>> {
  const started: Service[] = []
  // Vitest skips teardown when SIGINT/SIGTERM make it exit: do not leave the servers behind.
  const killAll = () => {
    for (const service of started) service.kill()
  }
  process.once('exit', killAll)
  const teardown = async () => {
    process.off('exit', killAll)
    await Promise.allSettled(started.reverse().map((s) => s.stop()))
  }
  try {
    const missing: string[] = []
    if (!process.env.DB_POSTGRES_URL) {
      const binDir = await findPostgresBinDir()
      if (binDir) {
        const t0 = performance.now()
        const pg = await startPostgres(binDir)
        started.push(pg)
        process.env.DB_POSTGRES_URL = pg.url
        log(`PostgreSQL ${pg.url} (${binDir}) up in ${ms(t0)}`)
      } else missing.push('PostgreSQL (initdb, postgres)')
    }
    if (!process.env.REDIS_HOST) {
      const bin = await findOnPath('redis-server')
      if (bin) {
        const t0 = performance.now()
        const redis = await startRedis(bin)
        started.push(redis)
        process.env.REDIS_HOST = redis.host
        log(`Redis ${redis.host} up in ${ms(t0)}`)
      } else missing.push('redis-server')
    }
    if (missing.length > 0) {
      const what = `${missing.join(' and ')} not found`
      if (process.env.FEEDGEN_REQUIRE_APPVIEW === '1') {
        throw new Error(
          `FEEDGEN_REQUIRE_APPVIEW=1 but ${what}: install postgresql and redis-server`,
        )
      }
      log(`${what}: AppView tests will be skipped`)
    }
  } catch (err) {
    await teardown()
    throw err
  }
  return teardown
}

function log(message: string): void {
  console.log(`[global-setup] ${message}`)
}

function ms(since: number): string {
  return `${Math.round(performance.now() - since)} ms`
}

async function isExecutable(file: string): Promise<boolean> {
  return access(file, constants.X_OK).then(
    () => true,
    () => false,
  )
}

function pathDirs(): string[] {
  return (process.env.PATH ?? '').split(delimiter).filter(Boolean)
}

async function findOnPath(name: string): Promise<string | undefined> {
  for (const dir of pathDirs()) {
    if (await isExecutable(join(dir, name))) return join(dir, name)
  }
  return undefined
}

/** The folder holding both `initdb` and `postgres`, newest Debian major version first. */
async function findPostgresBinDir(): Promise<string | undefined> {
  // Debian keeps the server binaries off PATH, in /usr/lib/postgresql/<major>/bin.
  const debian = '/usr/lib/postgresql'
  const majors = (await readdir(debian).catch(() => []))
    .filter((v) => /^\d+$/.test(v))
    .sort((a, b) => Number(b) - Number(a))
  for (const dir of [...majors.map((v) => join(debian, v, 'bin')), ...pathDirs()]) {
    if ((await isExecutable(join(dir, 'initdb'))) && (await isExecutable(join(dir, 'postgres')))) {
      return dir
    }
  }
  return undefined
}

/** PostgreSQL refuses to run as root: then run it as `postgres` (or `nobody`) instead. */
async function serverIdentity(): Promise<Identity | undefined> {
  if (process.getuid?.() !== 0) return undefined
  const passwd = await readFile('/etc/passwd', 'utf8')
  for (const name of ['postgres', 'nobody']) {
    const fields = passwd
      .split('\n')
      .find((line) => line.startsWith(`${name}:`))
      ?.split(':')
    if (fields?.[2] && fields[3]) return { uid: Number(fields[2]), gid: Number(fields[3]) }
  }
  throw new Error(
    'running as root and found neither a postgres nor a nobody user to run PostgreSQL as',
  )
}

/** Keeps the last few KiB of a child's output, for the error when it fails. */
function captureOutput(child: ChildProcess): () => string {
  let tail = ''
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-8192)
  }
  child.stdout?.on('data', keep)
  child.stderr?.on('data', keep)
  return () => tail
}

async function run(
  cmd: string,
  args: string[],
  opts: { cwd: string; as?: Identity },
): Promise<void> {
  const child = spawn(cmd, args, { cwd: opts.cwd, ...opts.as, stdio: ['ignore', 'pipe', 'pipe'] })
  const output = captureOutput(child)
  const code = await new Promise<number | null>((resolve, reject) => {
    child.once('error', reject)
    child.once('exit', resolve)
  })
  if (code !== 0) throw new Error(`${cmd} exited with ${code}:\n${output()}`)
}

/**
 * Spawns a server and resolves once its output contains `readyLine`. Its output keeps being
 * drained afterwards, so a chatty server never blocks on a full pipe.
 */
async function startServer(
  cmd: string,
  args: string[],
  opts: { cwd: string; as?: Identity; readyLine: string },
): Promise<ChildProcess> {
  const child = spawn(cmd, args, { cwd: opts.cwd, ...opts.as, stdio: ['ignore', 'pipe', 'pipe'] })
  const output = captureOutput(child)
  try {
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(
        () => reject(new Error(`${cmd} not ready after ${READY_TIMEOUT_MS} ms`)),
        READY_TIMEOUT_MS,
      )
      const onData = () => {
        if (!output().includes(opts.readyLine)) return
        clearTimeout(timer)
        resolve()
      }
      child.stdout?.on('data', onData)
      child.stderr?.on('data', onData)
      child.once('error', reject)
      child.once('exit', (code, signal) =>
        reject(new Error(`${cmd} exited early (${code ?? signal})`)),
      )
    })
  } catch (err) {
    await stopChild(child)
    throw new Error(`${(err as Error).message}:\n${output()}`, { cause: err })
  }
  return child
}

/** SIGINT is a fast shutdown for PostgreSQL and a clean exit for Redis; SIGKILL if it hangs. */
async function stopChild(child: ChildProcess): Promise<void> {
  // Never spawned (pid undefined) or already gone: no 'exit' event will come.
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.kill('SIGINT')
  const timer = setTimeout(() => child.kill('SIGKILL'), STOP_TIMEOUT_MS)
  await exited
  clearTimeout(timer)
}

async function startPostgres(binDir: string): Promise<Service & { url: string }> {
  const as = await serverIdentity()
  const dataDir = await mkdtemp(join(tmpdir(), 'feedgen-pg-'))
  const removeDataDir = () => rm(dataDir, { recursive: true, force: true })
  try {
    if (as) await chown(dataDir, as.uid, as.gid)
    // cwd is the data dir: the server user may not be allowed into the caller's cwd (e.g. /root).
    await run(
      join(binDir, 'initdb'),
      ['-D', dataDir, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C', '--no-sync'],
      { cwd: dataDir, as },
    )
    const port = await freePort()
    const child = await startServer(
      join(binDir, 'postgres'),
      ['-D', dataDir, '-h', '127.0.0.1', '-p', String(port), ...settingArgs(POSTGRES_SETTINGS)],
      { cwd: dataDir, as, readyLine: 'database system is ready to accept connections' },
    )
    return {
      url: `postgresql://postgres@127.0.0.1:${port}/postgres`,
      stop: async () => {
        await stopChild(child)
        await removeDataDir()
      },
      kill: () => {
        // SIGKILL: a dying postmaster would still write to the folder (seen with SIGQUIT).
        child.kill('SIGKILL')
        rmSync(dataDir, { recursive: true, force: true, maxRetries: 5 })
      },
    }
  } catch (err) {
    await removeDataDir()
    throw err
  }
}

/** `-c name=value` flags for the postgres server. */
function settingArgs(settings: Record<string, string>): string[] {
  return Object.entries(settings).flatMap(([name, value]) => ['-c', `${name}=${value}`])
}

async function startRedis(bin: string): Promise<Service & { host: string }> {
  const port = await freePort()
  const child = await startServer(
    bin,
    ['--bind', '127.0.0.1', '--port', String(port), '--save', '', '--appendonly', 'no'],
    { cwd: tmpdir(), readyLine: 'Ready to accept connections' },
  )
  return { host: `127.0.0.1:${port}`, stop: () => stopChild(child), kill: () => child.kill() }
}
