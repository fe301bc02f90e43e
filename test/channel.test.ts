import { setTimeout as sleep } from 'node:timers/promises'
import { describe, expect, it } from 'vitest'
import { Channel } from '../src/ingest/channel.ts'

describe('Channel', () => {
  it('accepts every push and signals pause from the high-water mark on', () => {
    const ch = new Channel<number>(3)
    expect([ch.push(1), ch.push(2), ch.push(3), ch.push(4)]).toEqual([true, true, false, false])
    expect(ch.depth).toBe(4)
    expect(ch.peak).toBe(4)
  })

  it('hands items out in push order across wrap-around and growth', async () => {
    const ch = new Channel<number>(4)
    const seen: number[] = []
    let next = 0
    for (let round = 0; round < 50; round++) {
      // vary the fill so the ring wraps and, past its initial size, grows
      for (let i = 0; i <= (round % 7) * 9; i++) ch.push(next++)
      seen.push(...(await ch.take(5 + (round % 3), 0)))
    }
    ch.close()
    for (let batch = await ch.take(100, 0); batch.length > 0; batch = await ch.take(100, 0)) {
      seen.push(...batch)
    }
    expect(seen).toEqual(Array.from({ length: next }, (_, i) => i))
  })

  it('returns a full batch at once without waiting for the timer', async () => {
    const ch = new Channel<number>(100)
    for (let i = 0; i < 10; i++) ch.push(i)
    const started = performance.now()
    expect(await ch.take(5, 10_000)).toEqual([0, 1, 2, 3, 4])
    expect(performance.now() - started).toBeLessThan(1000)
    expect(ch.depth).toBe(5)
  })

  it('completes a batch as soon as the last missing item arrives', async () => {
    const ch = new Channel<number>(100)
    ch.push(1)
    const batch = ch.take(2, 10_000)
    setTimeout(() => ch.push(2), 20)
    const started = performance.now()
    expect(await batch).toEqual([1, 2])
    expect(performance.now() - started).toBeLessThan(1000)
  })

  it('returns a partial batch maxWaitMs after the first item arrived', async () => {
    const ch = new Channel<number>(100)
    const started = performance.now()
    const batch = ch.take(10, 80)
    // nothing for a while: the window has not opened yet
    await sleep(150)
    ch.push(7)
    const pushedAt = performance.now()
    expect(await batch).toEqual([7])
    const waited = performance.now() - pushedAt
    expect(waited).toBeGreaterThanOrEqual(70)
    expect(performance.now() - started).toBeGreaterThanOrEqual(220)
  })

  it('resolves writable() only once depth falls to the low-water mark', async () => {
    const ch = new Channel<number>(10, 4)
    for (let i = 0; i < 10; i++) ch.push(i)
    let released = false
    const w = ch.writable().then(() => {
      released = true
    })
    await ch.take(5, 0) // depth 5: above low water
    await sleep(10)
    expect(released).toBe(false)
    await ch.take(1, 0) // depth 4
    await w
    expect(released).toBe(true)
    await expect(ch.writable()).resolves.toBeUndefined()
  })

  it('after close hands out what is left, then empty batches, and releases a paused producer', async () => {
    const ch = new Channel<string>(2)
    ch.push('a')
    ch.push('b')
    ch.push('c')
    const paused = ch.writable()
    ch.close()
    await paused
    expect(await ch.take(2, 10_000)).toEqual(['a', 'b'])
    expect(await ch.take(2, 10_000)).toEqual(['c'])
    expect(await ch.take(2, 10_000)).toEqual([])
    expect(() => ch.push('d')).toThrow(/closed/)
  })

  it('wakes a waiting consumer on close with an empty batch', async () => {
    const ch = new Channel<number>(4)
    const batch = ch.take(4, 10_000)
    setTimeout(() => ch.close(), 10)
    expect(await batch).toEqual([])
  })

  it('returns an empty batch when the signal aborts while empty', async () => {
    const ch = new Channel<number>(4)
    const ac = new AbortController()
    const batch = ch.take(4, 10_000, ac.signal)
    setTimeout(() => ac.abort(), 10)
    expect(await batch).toEqual([])
    // the aborted wait left no consumer behind
    ch.push(1)
    expect(await ch.take(1, 0)).toEqual([1])
  })

  it('refuses a second concurrent consumer', async () => {
    const ch = new Channel<number>(4)
    const first = ch.take(1, 0)
    await expect(ch.take(1, 0)).rejects.toThrow(/consumer/)
    ch.push(1)
    expect(await first).toEqual([1])
  })

  it('rejects a capacity or low-water mark that cannot work', () => {
    expect(() => new Channel(0)).toThrow(RangeError)
    expect(() => new Channel(4, 4)).toThrow(RangeError)
  })
})
