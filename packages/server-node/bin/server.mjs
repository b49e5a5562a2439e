#!/usr/bin/env node
// `npm start`: the server compiled by build.mjs (run by the root `prepare` on `npm install`) into one file, run with
// the V8 code cache made then, so that it starts without transpiling, resolving or compiling much (issue 17, ADR
// 0057). When a source file the bundle was made from is newer than it (an edit, a checkout), it is built again first:
// `npm start` always runs the sources as they are. V8 ignores a cache that does not fit its version or the file.
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"
import Module, { createRequire } from "node:module"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"
import { Script } from "node:vm"

const here = fileURLToPath(new URL("..", import.meta.url))
const root = Path.resolve(here, "../..")
const file = Path.join(here, "dist/server.cjs")
const cacheFile = `${file}.cache`

/** Whether the bundle is missing, or older than any file it was made from (or one of them is gone). */
const stale = () => {
  try {
    const built = Fs.statSync(file).mtimeMs
    const inputs = JSON.parse(Fs.readFileSync(Path.join(here, "dist/server.inputs.json"), "utf8"))
    return inputs.some((input) => (Fs.statSync(Path.join(root, input), { throwIfNoEntry: false })?.mtimeMs ?? Infinity) > built)
  } catch {
    return true
  }
}

if (process.env.TESSERA_SERVER_CODE_CACHE !== "write" && stale()) {
  process.stderr.write("tessera: the server's sources changed since it was built: building it (packages/server-node/build.mjs)\n")
  // stdout stays the server's own: the build's output goes to stderr
  execFileSync(process.execPath, [Path.join(here, "build.mjs")], { stdio: ["ignore", 2, 2] })
}

const source = Fs.readFileSync(file, "utf8")
let cachedData
try {
  // TESSERA_SERVER_CODE_CACHE=off: without it (to measure what it saves)
  cachedData = process.env.TESSERA_SERVER_CODE_CACHE === "off" ? undefined : Fs.readFileSync(cacheFile)
} catch {
  cachedData = undefined
}

const script = new Script(Module.wrap(source), { filename: file, ...(cachedData !== undefined ? { cachedData } : {}) })

if (process.env.TESSERA_SERVER_CODE_CACHE === "write") {
  // at exit, so that the functions the run compiled are in the cache too
  process.once("exit", () => {
    const temporary = `${cacheFile}.${process.pid}.tmp`
    Fs.writeFileSync(temporary, script.createCachedData())
    Fs.renameSync(temporary, cacheFile)
  })
}

const module = { exports: {} }
script.runInThisContext()(module.exports, createRequire(file), module, file, Path.dirname(file))
