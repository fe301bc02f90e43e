import type { Reporter, SerializedError, TestModule } from 'vitest/node'

/**
 * Ends the run with one plain `N passed, N failed, N skipped` line that any CI can read. A file
 * whose setup failed counts as one failure, so its skipped tests cannot pass for green.
 */
export default class SummaryReporter implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>, errors: ReadonlyArray<SerializedError>): void {
    const count = { passed: 0, failed: errors.length, skipped: 0 }
    for (const mod of modules) {
      let failedHere = 0
      for (const test of mod.children.allTests()) {
        const state = test.result().state
        if (state === 'passed') count.passed++
        else if (state === 'failed') failedHere++
        else count.skipped++
      }
      count.failed += failedHere === 0 && mod.state() === 'failed' ? 1 : failedHere
    }
    process.stdout.write(
      `\n${count.passed} passed, ${count.failed} failed, ${count.skipped} skipped\n`,
    )
  }
}
