// Compiles the CLI into one ES module (dist/tessera.mjs) with esbuild: run by the root `prepare` script on
// `npm install` / `npm ci`, and by `npm run build:cli` after editing packages/cli. One bundled, minified file loads
// in a fraction of the time Node takes to resolve and read effect's hundreds of modules (ADR 0043).
import { build } from "esbuild"
import * as Fs from "node:fs/promises"
import { fileURLToPath } from "node:url"

const here = fileURLToPath(new URL(".", import.meta.url))
const outfile = `${here}dist/tessera.mjs`

const result = await build({
  absWorkingDir: here,
  entryPoints: ["src/main.ts"],
  outfile,
  write: false,
  bundle: true,
  platform: "node",
  format: "esm",
  target: "node20",
  minify: true,
  legalComments: "none",
  logLevel: "warning",
  // a bundled CommonJS dependency may still call require(): give the ES module one
  banner: { js: "import { createRequire as __tesseraRequire } from 'node:module'; const require = __tesseraRequire(import.meta.url);" }
})

// written whole, then renamed: a CLI started meanwhile (another test worker building too) reads the old file or the new
await Fs.mkdir(`${here}dist`, { recursive: true })
for (const file of result.outputFiles) {
  const temporary = `${file.path}.${process.pid}.tmp`
  await Fs.writeFile(temporary, file.contents)
  await Fs.rename(temporary, file.path)
}
