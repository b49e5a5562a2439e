// Compiles the server into one CommonJS file (dist/server.cjs) with esbuild, then starts it once, up to its first
// contact with a database (a closed port: it stops there), to save V8's code cache beside it (dist/server.cjs.cache),
// which bin/server.mjs hands back to V8. `npm start` then neither resolves and transforms the TypeScript of 1 600
// modules (tsx) nor compiles again what this start compiled (issue 17, ADR 0057). Run by the root `prepare` script on
// `npm install` / `npm ci`, by `npm run build:server`, and by bin/server.mjs when a source file is newer than the bundle.
import { build } from "esbuild"
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs/promises"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

const here = fileURLToPath(new URL(".", import.meta.url))
const root = Path.resolve(here, "../..")
const dist = Path.join(here, "dist")

const result = await build({
  absWorkingDir: here,
  entryPoints: ["src/main.ts"],
  outfile: Path.join(dist, "server.cjs"),
  write: false,
  bundle: true,
  platform: "node",
  format: "cjs",
  target: "node20",
  // PGlite finds its wasm and data files beside its own module; argon2 is a native addon; pg-native is optional
  external: ["@electric-sql/pglite", "@node-rs/argon2", "pg-native"],
  // import.meta.url of a bundled module (Database.ts resolves PGlite from it): the bundle's own, as a file URL
  define: { "import.meta.url": "__bundleUrl" },
  // (after "use strict", which must stay the file's first statement: the modules are strict, as ES modules are)
  banner: { js: "\"use strict\"; const __bundleUrl = require(\"node:url\").pathToFileURL(__filename).href;" },
  metafile: true,
  legalComments: "none",
  logLevel: "warning"
})

// what the bundle and its cache were made from, for bin/server.mjs's staleness check: Tessera's own sources, the
// lockfile for everything under node_modules (npm rewrites it on every install), and package.json (node's flags)
const inputs = [
  ...Object.keys(result.metafile.inputs).filter((input) => !input.includes("node_modules/")).map((input) => Path.relative(root, Path.join(here, input))),
  "package-lock.json",
  "package.json",
  "packages/server-node/build.mjs"
]

// each file written whole, then renamed: a start meanwhile (another test worker rebuilding too) reads the old or the new
await Fs.mkdir(dist, { recursive: true })
const writeWhole = async (path, contents) => {
  const temporary = `${path}.${process.pid}.tmp`
  await Fs.writeFile(temporary, contents)
  await Fs.rename(temporary, path)
}
for (const file of result.outputFiles) await writeWhole(file.path, file.contents)
await writeWhole(Path.join(dist, "server.inputs.json"), JSON.stringify(inputs))

// the code cache: what V8 compiled while evaluating every module and building the layers up to the store, which
// refuses (nothing listens on port 9); its data directory is a temporary one (the secrets it writes go there)
// V8 takes a cache only from a process with the same flags: node's flags are those of `npm start` (package.json)
const start = JSON.parse(await Fs.readFile(Path.join(root, "package.json"), "utf8")).scripts.start.split(/\s+/)
const nodeFlags = start.slice(1).filter((word) => word.startsWith("--"))
const dataDir = await Fs.mkdtemp(Path.join(Os.tmpdir(), "tessera-build-"))
try {
  execFileSync(process.execPath, [...nodeFlags, Path.join(here, "bin/server.mjs")], {
    env: {
      PATH: process.env.PATH ?? "",
      TESSERA_SERVER_CODE_CACHE: "write",
      TESSERA_DATA_DIR: dataDir,
      TESSERA_PORT: "9",
      DATABASE_URL: "postgres://tessera@127.0.0.1:9/build-time-warm-up"
    },
    stdio: "ignore"
  })
} catch {
  // the start is refused (exit 1): what it compiled is saved all the same
} finally {
  await Fs.rm(dataDir, { recursive: true, force: true })
}
