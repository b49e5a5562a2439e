/**
 * What a test file opened for all its tests and closes after its last one, whether or not vitest gives each file a
 * fresh module graph: `test/support/perFile.ts` (a setup file, run again before every file) registers `closeAll` as
 * that file's `afterAll`. A module-level `afterAll` in a support module would be registered only by the first file
 * of a worker once modules are shared between files (vitest.config.ts `isolate: false`).
 */
const closers = new Set<() => Promise<void>>()

/** Runs `close` after the current file's last test. */
export const onFileEnd = (close: () => Promise<void>) => {
  closers.add(close)
}

export const closeAll = async () => {
  for (const close of [...closers]) {
    closers.delete(close)
    await close()
  }
}
