/**
 * An AbortSignal for SIGINT/SIGTERM. Only the first signal is ours: a second one finds the
 * default handler back in place and ends the process at once, for an operator in a hurry.
 */
export function untilSignal(): AbortSignal {
  const ac = new AbortController()
  const stop = (sig: NodeJS.Signals) => {
    process.off('SIGINT', stop)
    process.off('SIGTERM', stop)
    ac.abort(sig)
  }
  process.on('SIGINT', stop)
  process.on('SIGTERM', stop)
  return ac.signal
}
