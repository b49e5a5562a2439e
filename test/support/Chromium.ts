/** Debian's Chromium for the real-browser tests (playwright-core never downloads a browser; .ci/run installs it). */
import * as Fs from "node:fs"

export const chromiumPath = "/usr/bin/chromium"

const chromiumMissing = `${chromiumPath} is missing: install Debian's Chromium (apt-get install -y chromium), as .ci/run does`

/**
 * The one skip of the browser tests, with its reason: outside CI, on a machine without Chromium, the test is skipped
 * and says why; under CI=true a missing binary is a broken machine, and the test fails instead of skipping.
 */
export const requireChromium = (ctx: { readonly skip: (note?: string) => void }) => {
  if (Fs.existsSync(chromiumPath)) return
  if (process.env["CI"] === "true") throw new Error(`${chromiumMissing} (CI=true: not skipped)`)
  ctx.skip(chromiumMissing)
}
