/**
 * A bounded async channel between one producer (a source) and one consumer (the writer).
 *
 * Backpressure is cooperative: `push` always keeps the item (a source cannot un-read a socket),
 * but answers `false` from the high-water mark (`capacity`) on, and the producer must then stop
 * reading until `writable()` resolves at the low-water mark. Depth can therefore exceed
 * `capacity` only by what the producer had already read when it was told to stop.
 */
export class Channel<T> {
  readonly capacity: number
  readonly lowWater: number
  // a growable ring buffer: no shifting, no per-item allocation
  #items: (T | undefined)[]
  #head = 0
  #size = 0
  #peak = 0
  #closed = false
  #consumer: (() => void) | null = null
  #writable: { promise: Promise<void>; resolve: () => void } | null = null

  /**
   * @param capacity the high-water mark: `push` returns false at or above it
   * @param lowWater where `writable()` resolves again @default half the capacity
   */
  constructor(capacity: number, lowWater = Math.floor(capacity / 2)) {
    if (!Number.isInteger(capacity) || capacity < 1) {
      throw new RangeError(`channel capacity must be a positive integer, got ${capacity}`)
    }
    if (!Number.isInteger(lowWater) || lowWater < 0 || lowWater >= capacity) {
      throw new RangeError(`low-water mark must be an integer in [0, ${capacity}), got ${lowWater}`)
    }
    this.capacity = capacity
    this.lowWater = lowWater
    this.#items = new Array(ringSize(capacity))
  }

  /** items waiting to be taken */
  get depth(): number {
    return this.#size
  }

  /** the largest depth seen since the last `resetPeak()` */
  get peak(): number {
    return this.#peak
  }

  resetPeak(): void {
    this.#peak = this.#size
  }

  get closed(): boolean {
    return this.#closed
  }

  /** Keeps `item`; returns false when the producer should pause (depth at or above capacity). */
  push(item: T): boolean {
    if (this.#closed) throw new Error('push on a closed channel')
    if (this.#size === this.#items.length) this.#grow()
    this.#items[(this.#head + this.#size) & (this.#items.length - 1)] = item
    this.#size++
    if (this.#size > this.#peak) this.#peak = this.#size
    if (this.#consumer) this.#consumer()
    return this.#size < this.capacity
  }

  /** Resolves once depth is at or below the low-water mark, or the channel is closed. */
  writable(): Promise<void> {
    if (this.#size <= this.lowWater || this.#closed) return Promise.resolve()
    if (!this.#writable) {
      let resolve!: () => void
      const promise = new Promise<void>((r) => {
        resolve = r
      })
      this.#writable = { promise, resolve }
    }
    return this.#writable.promise
  }

  /**
   * Takes up to `max` items: at once when `max` are waiting; otherwise once at least one is there
   * and `maxWaitMs` has passed since the first one was available; `[]` only when the channel is
   * closed (or `signal` aborted) and empty. After close or abort it returns what is left without
   * waiting. One consumer at a time.
   */
  async take(max: number, maxWaitMs: number, signal?: AbortSignal): Promise<T[]> {
    if (this.#consumer) throw new Error('channel has a consumer waiting already')
    if (this.#size < max && !this.#closed && !signal?.aborted) {
      await this.#wait(max, maxWaitMs, signal)
    }
    return this.#drain(max)
  }

  /** Ends the channel: `take` returns what is left, then `[]`; a paused producer is released. */
  close(): void {
    this.#closed = true
    this.#consumer?.()
    this.#releaseWritable()
  }

  #wait(max: number, maxWaitMs: number, signal: AbortSignal | undefined): Promise<void> {
    return new Promise<void>((resolve) => {
      let timer: NodeJS.Timeout | undefined
      const done = () => {
        this.#consumer = null
        clearTimeout(timer)
        signal?.removeEventListener('abort', done)
        resolve()
      }
      const check = () => {
        if (this.#size >= max || this.#closed) done()
        // the batch window opens with the first item, so a lone item waits at most maxWaitMs
        else if (this.#size > 0 && timer === undefined) timer = setTimeout(done, maxWaitMs)
      }
      this.#consumer = check
      signal?.addEventListener('abort', done, { once: true })
      check()
    })
  }

  #drain(max: number): T[] {
    const n = Math.min(max, this.#size)
    const out = new Array<T>(n)
    const mask = this.#items.length - 1
    for (let i = 0; i < n; i++) {
      const at = (this.#head + i) & mask
      out[i] = this.#items[at] as T
      this.#items[at] = undefined
    }
    this.#head = (this.#head + n) & mask
    this.#size -= n
    if (this.#size <= this.lowWater) this.#releaseWritable()
    return out
  }

  #releaseWritable(): void {
    const w = this.#writable
    this.#writable = null
    w?.resolve()
  }

  #grow(): void {
    const old = this.#items
    const next = new Array<T | undefined>(old.length * 2)
    for (let i = 0; i < this.#size; i++) next[i] = old[(this.#head + i) & (old.length - 1)]
    this.#items = next
    this.#head = 0
  }
}

/** A power of two, so that index wrapping is a mask; room for the overshoot past capacity. */
function ringSize(capacity: number): number {
  let n = 16
  while (n < capacity * 2) n *= 2
  return n
}
