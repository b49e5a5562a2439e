// Compiles the CLI into one CommonJS file (dist/tessera.cjs) with esbuild, then runs it once (`tessera --help`) to
// save V8's code cache beside it (dist/tessera.cjs.cache), which bin/tessera.mjs hands back to V8: the command then
// neither resolves effect's hundreds of modules nor compiles what it already compiled once (ADR 0043). Run by the
// root `prepare` script on `npm install` / `npm ci`, and by `npm run build:cli` after editing packages/cli.
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs/promises"
import { fileURLToPath } from "node:url"

const here = fileURLToPath(new URL(".", import.meta.url))

const result = await build({
  absWorkingDir: here,
  entryPoints: ["src/main.ts"],
  outfile: `${here}dist/tessera.cjs`,
  write: false,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  minify: true,
  legalComments: "none",
  logLevel: "warning"
})

// written whole, then renamed: a CLI started meanwhile (another test worker building too) reads the old file or the new
await Fs.mkdir(`${here}dist`, { recursive: true })
for (const file of result.outputFiles) {
  const temporary = `${file.path}.${process.pid}.tmp`
  await Fs.writeFile(temporary, file.contents)
  await Fs.rename(temporary, file.path)
}

// the code cache: what V8 compiled while answering help and a call (to a closed port), each run adding to what the
// run before it saved (bin/tessera.mjs writes it when asked)
for (const args of [["--help"], ["users", "list", "--help"], ["users", "list", "--realm", "r", "--json"]]) {
  try {
    execFileSync(process.execPath, [`${here}bin/tessera.mjs`, ...args], {
      env: { ...process.env, TESSERA_CLI_CODE_CACHE: "write", TESSERA_URL: "http://127.0.0.1:9", TESSERA_ADMIN_TOKEN: "build-time-warm-up" },
      stdio: "ignore"
    })
  } catch {
    // the call is refused (exit 1): what it compiled is saved all the same
  }
}
