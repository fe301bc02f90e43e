import { randomBytes } from 'node:crypto'
import { AtpAgent } from '@atproto/api'
import { TestNetwork, TestNetworkNoAppView } from '@atproto/dev-env'
import { IdResolver } from '@atproto/identity'

export type { TestNetwork, TestNetworkNoAppView }

/**
 * Whether PostgreSQL and Redis are there for the reference AppView (set by globalSetup, or by
 * the caller). For `describe.skipIf(!appViewAvailable())`. With `FEEDGEN_REQUIRE_APPVIEW=1` (CI)
 * their absence throws instead, so AppView tests can never be skipped silently.
 */
export function appViewAvailable(): boolean {
  const available = Boolean(process.env.DB_POSTGRES_URL && process.env.REDIS_HOST)
  if (!available && process.env.FEEDGEN_REQUIRE_APPVIEW === '1') {
    throw new Error('FEEDGEN_REQUIRE_APPVIEW=1 but DB_POSTGRES_URL or REDIS_HOST is not set')
  }
  return available
}

/**
 * Starts a local PLC and PDS on free loopback ports. Close it with `network.close()` or
 * `await using`.
 */
export function startPdsNetwork(): Promise<TestNetworkNoAppView> {
  return TestNetworkNoAppView.create({})
}

/**
 * Starts PLC, PDS and the reference Bluesky AppView (with its bsync and ozone), over the
 * PostgreSQL at `DB_POSTGRES_URL` and the Redis at `REDIS_HOST`. Each call gets its own
 * PostgreSQL schemas, so test files never see each other's rows.
 */
export function startAppViewNetwork(): Promise<TestNetwork> {
  const dbPostgresUrl = process.env.DB_POSTGRES_URL
  if (!dbPostgresUrl || !process.env.REDIS_HOST) {
    throw new Error(
      'startAppViewNetwork needs DB_POSTGRES_URL and REDIS_HOST (see test/support/global-setup.ts)',
    )
  }
  return TestNetwork.create({ dbPostgresUrl, dbPostgresSchema: `feedgen_${randomLetters(12)}` })
}

/** bsync and ozone accept only `[A-Za-z_]` in schema names. */
function randomLetters(n: number): string {
  return Array.from(randomBytes(n), (b) => String.fromCharCode(97 + (b % 26))).join('')
}

/**
 * An identity resolver for the network's PLC. `@atproto/identity`'s default fetch refuses
 * http and localhost URLs, so this one gets a plain fetch.
 */
export function localIdResolver(network: TestNetworkNoAppView): IdResolver {
  return new IdResolver({ plcUrl: network.plc.url, fetch: globalThis.fetch })
}

/** An account on the network's PDS with an agent logged in as it. */
export type TestAccount = {
  did: string
  handle: string
  password: string
  agent: AtpAgent
}

/**
 * Creates the account `<name>.test` (name: a lowercase handle label) on the network's PDS and
 * returns it with a logged-in agent.
 */
export async function createAccount(
  network: TestNetworkNoAppView,
  name: string,
): Promise<TestAccount> {
  const handle = `${name}.test`
  const password = `${name}-password`
  const agent = new AtpAgent({ service: network.pds.url })
  const { data } = await agent.createAccount({ handle, password, email: `${name}@example.com` })
  return { did: data.did, handle, password, agent }
}

/** Posts `text` as `account`; `langs` is the author's declared languages. */
export function createPost(
  account: TestAccount,
  text: string,
  opts: { langs?: string[]; createdAt?: Date } = {},
): Promise<{ uri: string; cid: string }> {
  return account.agent.post({
    text,
    langs: opts.langs,
    createdAt: (opts.createdAt ?? new Date()).toISOString(),
  })
}
