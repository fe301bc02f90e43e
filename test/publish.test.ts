import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { feeds } from '../src/feeds/index.ts'
import { jsonLines, runCli } from './support/cli.ts'
import { createAccount, startPdsNetwork, type TestNetworkNoAppView } from './support/network.ts'

describe('feedgen publish / unpublish against a real PDS', () => {
  let network: TestNetworkNoAppView
  let did: string
  let env: Record<string, string>

  beforeAll(async () => {
    network = await startPdsNetwork()
    const account = await createAccount(network, 'publisher')
    did = account.did
    env = {
      FEEDGEN_PUBLISH_HANDLE: 'publisher.test',
      FEEDGEN_PUBLISH_PASSWORD: account.password,
      FEEDGEN_PUBLISH_SERVICE: network.pds.url,
      FEEDGEN_HOSTNAME: 'feeds.example.com',
    }
  })
  afterAll(async () => {
    await network?.close()
  })

  const records = async () => {
    const agent = network.pds.getAgent()
    const res = await agent.com.atproto.repo.listRecords({
      repo: did,
      collection: 'app.bsky.feed.generator',
    })
    return new Map(
      res.data.records.map((r) => [r.uri.split('/').pop(), r.value as Record<string, unknown>]),
    )
  }

  it('prints the records of a dry run without logging in', async () => {
    const res = await runCli([
      'publish',
      '--dry-run',
      '--feed',
      'norwegian',
      '--hostname',
      'feeds.example.com',
    ])
    expect(res.code).toBe(0)
    const [line] = jsonLines(res.stdout)
    expect(line).toMatchObject({
      feed: 'norwegian',
      record: {
        $type: 'app.bsky.feed.generator',
        did: 'did:web:feeds.example.com',
        displayName: 'Norsk',
      },
    })
  })

  it('creates one generator record per feed, then leaves them unchanged, then updates in place', async () => {
    const first = await runCli(['publish'], env)
    expect(first.stderr).toBe('')
    expect(first.code).toBe(0)
    const lines = jsonLines(first.stdout)
    expect(lines.map((l) => [l.feed, l.outcome])).toEqual(feeds.map((f) => [f.id, 'created']))
    expect(lines[0]).toMatchObject({
      uri: `at://${did}/app.bsky.feed.generator/${feeds[0]?.id}`,
      url: `https://bsky.app/profile/${did}/feed/${feeds[0]?.id}`,
    })
    const created = await records()
    expect(created.get('swedish')).toMatchObject({
      did: 'did:web:feeds.example.com',
      displayName: 'Svenska',
      contentMode: 'app.bsky.feed.defs#contentModeUnspecified',
      acceptsInteractions: false,
    })

    const again = await runCli(['publish'], env)
    expect(jsonLines(again.stdout).map((l) => l.outcome)).toEqual(feeds.map(() => 'unchanged'))

    const moved = await runCli(
      ['publish', '--feed', 'swedish', '--hostname', 'feeds2.example.com'],
      env,
    )
    expect(jsonLines(moved.stdout).map((l) => l.outcome)).toEqual(['updated'])
    const updated = await records()
    expect(updated.get('swedish')?.did).toBe('did:web:feeds2.example.com')
    expect(updated.get('swedish')?.createdAt).toBe(created.get('swedish')?.createdAt)
  })

  it('removes the records it is asked to, and says when one was not there', async () => {
    const res = await runCli(['unpublish', '--feed', 'danish'], env)
    expect(jsonLines(res.stdout)).toEqual([
      { feed: 'danish', outcome: 'removed', uri: `at://${did}/app.bsky.feed.generator/danish` },
    ])
    expect((await records()).has('danish')).toBe(false)
    const twice = await runCli(['unpublish', '--feed', 'danish'], env)
    expect(jsonLines(twice.stdout)[0]?.outcome).toBe('absent')
  })

  it('says clearly when the password is wrong, and never prints it', async () => {
    const res = await runCli(['publish'], {
      ...env,
      FEEDGEN_PUBLISH_PASSWORD: 'wrong-password-123',
    })
    expect(res.code).toBe(1)
    expect(res.stderr.trim()).toBe(
      `error: could not log in as publisher.test on ${network.pds.url}: wrong handle or app password`,
    )
    expect(res.stdout + res.stderr).not.toContain('wrong-password-123')
  })

  it('says clearly when the handle is unknown', async () => {
    const res = await runCli(['publish'], { ...env, FEEDGEN_PUBLISH_HANDLE: 'nobody.test' })
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(/^error: .*nobody\.test/)
  })

  it('says clearly when the PDS cannot be reached', async () => {
    const res = await runCli(['publish'], { ...env, FEEDGEN_PUBLISH_SERVICE: 'http://127.0.0.1:9' })
    expect(res.code).toBe(1)
    expect(res.stderr).toMatch(/^error: could not reach http:\/\/127\.0\.0\.1:9/)
  })

  it('refuses an unknown feed id and a missing password before any network call', async () => {
    const unknown = await runCli(['publish', '--feed', 'nope'], env)
    expect(unknown.code).toBe(2)
    expect(unknown.stderr).toMatch(/no feed has the id "nope"/)
    const nopass = await runCli(['publish'], { ...env, FEEDGEN_PUBLISH_PASSWORD: '' })
    expect(nopass.code).toBe(2)
    expect(nopass.stderr).toMatch(/FEEDGEN_PUBLISH_PASSWORD/)
  })
})
