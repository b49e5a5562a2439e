/**
 * CLI start-up benchmark (issue 15: `tessera --help` within 0.5 s). Builds the CLI (packages/cli/build.mjs), then runs
 * the built command (packages/cli/bin/tessera.mjs) `BENCH_CLI_RUNS` times (default 15) per row, one run after the
 * other, and reports the median wall time (and the fastest and slowest) and the mean CPU time (user + system) per run:
 *
 *   node -e 0                   Node alone, for scale
 *   tessera --help              with the V8 code cache made at build time, and without it (TESSERA_CLI_CODE_CACHE=off)
 *   tessera users list --help   one noun's commands built from the admin API's schemas
 *   tessera realms list         one real call: Tessera on PGlite started here (a temporary data directory)
 *
 * The machine is shared and noisy: compare rows within one run; the load average is printed at the start and the end.
 *
 *   npm run bench:cli
 *   BENCH_CLI_RUNS=30 npm run bench:cli
 */
import { execFileSync, spawnSync } from "node:child_process"
import * as Fs from "node:fs"
import * as Os from "node:os"
import * as Path from "node:path"
import * as Children from "./children.js"
import { inheritedEnv } from "../test/support/Children.js"

const runs = Number(process.env["BENCH_CLI_RUNS"] ?? 15)
const bin = Path.join(Children.repoRoot, "packages/cli/bin/tessera.mjs")
const adminToken = "bench-cli-owner-token-0123456789abcdefghijklmnop"

const loadAverage = () => Os.loadavg().map((n) => n.toFixed(2)).join(" ")

/** CPU time (ms, user + system) of every child this process has waited for so far: /proc/self/stat cutime + cstime. */
const childrenCpu = () => {
  const stat = Fs.readFileSync("/proc/self/stat", "utf8")
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  // after the command name: state is field 3, so cutime (16) and cstime (17) are at 13 and 14
  return ((Number(fields[13]) + Number(fields[14])) * 1000) / 100
}

interface Row {
  readonly name: string
  readonly median: number
  readonly min: number
  readonly max: number
  readonly cpu: number
}

const measure = (name: string, args: ReadonlyArray<string>, env: Record<string, string> = {}): Row => {
  const walls: Array<number> = []
  const cpuBefore = childrenCpu()
  for (let i = 0; i < runs; i++) {
    const started = process.hrtime.bigint()
    const result = spawnSync(process.execPath, args, { env: { ...inheritedEnv(), ...env }, stdio: ["ignore", "pipe", "pipe"] })
    walls.push(Number(process.hrtime.bigint() - started) / 1e6)
    if (result.status !== 0) throw new Error(`${name}: exit ${result.status}\n${result.stderr}`)
  }
  walls.sort((a, b) => a - b)
  return { name, median: walls[Math.floor(walls.length / 2)]!, min: walls[0]!, max: walls[walls.length - 1]!, cpu: (childrenCpu() - cpuBefore) / runs }
}

console.log(`load average at start: ${loadAverage()}`)
execFileSync(process.execPath, [Path.join(Children.repoRoot, "packages/cli/build.mjs")], { stdio: "inherit" })

const rows: Array<Row> = [
  measure("node -e 0", ["-e", "0"]),
  measure("tessera --help", [bin, "--help"]),
  measure("tessera --help (no code cache)", [bin, "--help"], { TESSERA_CLI_CODE_CACHE: "off" }),
  measure("tessera users list --help", [bin, "users", "list", "--help"])
]

const dataDir = Fs.mkdtempSync(Path.join(Os.tmpdir(), "tessera-bench-cli-"))
const port = await Children.freePort()
const server = await Children.start("tessera", Path.join(Children.repoRoot, "packages/server-node/src/main.ts"), {
  TESSERA_PORT: String(port),
  TESSERA_DATA_DIR: dataDir,
  TESSERA_ADMIN_TOKEN: adminToken
}, "tessera listening on")
try {
  const env = { TESSERA_URL: `http://127.0.0.1:${port}`, TESSERA_ADMIN_TOKEN: adminToken }
  execFileSync(process.execPath, [bin, "realms", "create", "--name", "bench"], { env: { ...inheritedEnv(), ...env }, stdio: "ignore" })
  rows.push(measure("tessera realms list (PGlite server)", [bin, "realms", "list"], env))
} finally {
  await Children.stop(server)
  Fs.rmSync(dataDir, { recursive: true, force: true })
}

console.log(`\n${runs} runs a row\n`)
console.log("| command | median wall ms | fastest | slowest | CPU ms/run |")
console.log("| --- | ---: | ---: | ---: | ---: |")
for (const row of rows) {
  console.log(`| ${row.name} | ${row.median.toFixed(0)} | ${row.min.toFixed(0)} | ${row.max.toFixed(0)} | ${row.cpu.toFixed(0)} |`)
}
console.log(`\nload average at end: ${loadAverage()}`)
