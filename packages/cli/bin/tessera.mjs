#!/usr/bin/env node
// The `tessera` command: the CLI compiled at install time (packages/cli/build.mjs, run by the root `prepare`) into
// one file, run with the V8 code cache made then, so that it starts without transpiling, resolving or compiling
// much (issue 15: `tessera --help` within 0.5 s; ADR 0043). V8 ignores a cache that does not fit its version or the
// file (then it compiles as usual).
import * as Fs from "node:fs"
import Module, { createRequire } from "node:module"
import { fileURLToPath } from "node:url"
import { Script } from "node:vm"

const dist = fileURLToPath(new URL("../dist/", import.meta.url))
const file = `${dist}tessera.cjs`
const cacheFile = `${file}.cache`

let source
try {
  source = Fs.readFileSync(file, "utf8")
} catch {
  process.stderr.write(`tessera: ${file} is missing: run \`npm run build:cli\` (or \`npm install\`) in the repository\n`)
  process.exit(1)
}
let cachedData
try {
  // TESSERA_CLI_CODE_CACHE=off: without it (npm run bench:cli measures what it saves)
  cachedData = process.env.TESSERA_CLI_CODE_CACHE === "off" ? undefined : Fs.readFileSync(cacheFile)
} catch {
  cachedData = undefined
}

const script = new Script(Module.wrap(source), { filename: file, ...(cachedData !== undefined ? { cachedData } : {}) })

if (process.env.TESSERA_CLI_CODE_CACHE === "write") {
  // after the run, so that the functions it compiled are in the cache too
  process.once("exit", () => {
    const temporary = `${cacheFile}.${process.pid}.tmp`
    Fs.writeFileSync(temporary, script.createCachedData())
    Fs.renameSync(temporary, cacheFile)
  })
}

const module = { exports: {} }
script.runInThisContext()(module.exports, createRequire(file), module, file, dist)
