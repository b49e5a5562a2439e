/**
 * The top of a server's V8 CPU profile (BENCH_CPU_PROF: `node --cpu-prof` in every child) over one row's measured
 * window only: tokens.ts writes each row's window (the monotonic clock in µs, which is the profile's clock too) to
 * `<dir>/windows.json`, and this cuts the samples of that server's main thread to it. Busy time (idle left out) is
 * split three ways: by the package or file running (self time), by function (self time), and by the innermost
 * Tessera frame on the stack (`packages/*`: which of Tessera's functions the time is spent under, libraries included).
 *
 * The server runs TypeScript through tsx, whose compiled modules are one line each: a Tessera frame's place is mapped
 * back to its line in the source through the source map tsx keeps in its cache (the newest entry for that path: run
 * this right after the run, before the file changes), and shown with that line's text.
 *
 *   node --import tsx bench/profile.ts <dir>     every window in <dir>/windows.json
 */
import * as Fs from "node:fs"
import { SourceMap, type SourceMapPayload } from "node:module"
import * as Os from "node:os"
import * as Path from "node:path"
import { fileURLToPath } from "node:url"

export interface Frame {
  readonly functionName: string
  readonly url: string
  readonly lineNumber: number
  readonly columnNumber: number
}
export interface Node {
  readonly id: number
  readonly callFrame: Frame
  readonly children?: ReadonlyArray<number>
}
export interface Profile {
  readonly nodes: ReadonlyArray<Node>
  readonly startTime: number
  readonly samples: ReadonlyArray<number>
  readonly timeDeltas: ReadonlyArray<number>
}

export interface Window {
  readonly server: string
  readonly endpoint: string
  readonly pid: number
  readonly start: number
  readonly end: number
  readonly requests: number
}

/** tsx's cache: source path -> source map of its newest compiled code (tsx keeps one JSON file per compiled module). */
const sourceMaps = (() => {
  let index: Map<string, { readonly map: SourceMapPayload; readonly at: number }> | undefined
  return () => {
    if (index !== undefined) return index
    const made = new Map<string, { readonly map: SourceMapPayload; readonly at: number }>()
    const dir = Path.join(Os.tmpdir(), `tsx-${process.getuid?.() ?? 0}`)
    for (const name of Fs.existsSync(dir) ? Fs.readdirSync(dir) : []) {
      try {
        const file = Path.join(dir, name)
        const entry = JSON.parse(Fs.readFileSync(file, "utf8")) as { map?: SourceMapPayload }
        const source = entry.map?.sources[0]
        const at = Fs.statSync(file).mtimeMs
        if (source !== undefined && (made.get(source)?.at ?? -1) < at) made.set(source, { map: entry.map!, at })
      } catch {
        // not a cache entry
      }
    }
    index = made
    return made
  }
})()

const sources = new Map<string, { readonly map: SourceMap | undefined; readonly lines: ReadonlyArray<string> }>()

/** A Tessera frame's line in its TypeScript source and that line's text, when tsx's cache has the file's map. */
const sourceLine = (frame: Frame): { line: number; text: string } | undefined => {
  if (!frame.url.startsWith("file://")) return undefined
  let source = sources.get(frame.url)
  if (source === undefined) {
    const path = fileURLToPath(frame.url)
    const payload = sourceMaps().get(path)?.map
    source = { map: payload === undefined ? undefined : new SourceMap(payload), lines: Fs.readFileSync(path, "utf8").split("\n") }
    sources.set(frame.url, source)
  }
  const entry = source.map?.findEntry(frame.lineNumber, frame.columnNumber)
  if (entry === undefined || !("originalLine" in entry)) return undefined
  return { line: entry.originalLine + 1, text: (source.lines[entry.originalLine] ?? "").trim().slice(0, 70) }
}

/** A frame for a reader: its function's name, where it is (a Tessera file's source line and its text). */
const describe = (frame: Frame) => {
  const place = placeOf(frame)
  if (place.startsWith("packages/")) {
    const at = sourceLine(frame)
    if (at !== undefined) return `${frame.functionName || "(anonymous)"} ${place}:${at.line}  ${at.text}`
  }
  const module = /node_modules\/(.*)$/.exec(frame.url)
  const where = module !== null ? module[1]! : place
  return `${frame.functionName || "(anonymous)"} ${where}${frame.url === "" ? "" : `:${frame.lineNumber + 1}`}`
}

/** Where a frame's code lives: a package of node_modules, a file of this repository, Node's internals, or V8's own. */
const placeOf = (frame: Frame) => {
  const url = frame.url
  if (url === "") return frame.functionName.startsWith("(") ? frame.functionName : "(native)"
  const module = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url)
  if (module !== null) return module[1]!
  if (url.startsWith("node:")) return url.replace(/^node:(internal\/)?/, "node:").replace(/\/.*$/, "")
  const repo = /\/(packages\/[^/]+\/src\/.*|bench\/.*)$/.exec(url)
  return repo !== null ? repo[1]! : url
}

const top = (micros: Map<string, number>, busy: number, n: number) =>
  [...micros].sort((a, b) => b[1] - a[1]).slice(0, n).map(([name, us]) => `${(100 * us / busy).toFixed(1).padStart(5)}%  ${name}`)

export const summarize = (profile: Profile, window: Window, n = 12) => {
  const byId = new Map(profile.nodes.map((node) => [node.id, node]))
  const parent = new Map<number, number>()
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id)
  const tesseraFrame = new Map<number, string>()
  const innermostTessera = (id: number): string => {
    const known = tesseraFrame.get(id)
    if (known !== undefined) return known
    let found = "(no Tessera frame: node:http, the event loop, timers)"
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const frame = byId.get(at)!.callFrame
      const place = placeOf(frame)
      if (place.startsWith("packages/")) {
        found = describe(frame)
        break
      }
    }
    tesseraFrame.set(id, found)
    return found
  }
  const byPlace = new Map<string, number>()
  const byFunction = new Map<string, number>()
  const byTessera = new Map<string, number>()
  const add = (map: Map<string, number>, key: string, us: number) => map.set(key, (map.get(key) ?? 0) + us)
  let busy = 0
  let t = profile.startTime
  profile.samples.forEach((id, i) => {
    t += profile.timeDeltas[i]!
    if (t < window.start || t > window.end) return
    const frame = byId.get(id)!.callFrame
    if (frame.functionName === "(idle)") return
    const us = profile.timeDeltas[i]!
    busy += us
    const place = placeOf(frame)
    add(byPlace, place, us)
    add(byFunction, describe(frame), us)
    add(byTessera, innermostTessera(id), us)
  })
  if (busy === 0) return `${window.server} ${window.endpoint}: no samples in the window (was the profile written?)`
  return [
    `${window.server} ${window.endpoint}: ${(busy / 1000).toFixed(0)} ms busy in ${((window.end - window.start) / 1e6).toFixed(1)} s, ` +
    (window.endpoint.startsWith("startup") ? "from the first sample to the ready line" : `${(busy / window.requests).toFixed(0)} µs per request`) +
    " (the profiler's own cost included)",
    "  by package or file (self):", ...top(byPlace, busy, n).map((l) => `    ${l}`),
    "  by function (self):", ...top(byFunction, busy, n).map((l) => `    ${l}`),
    "  under Tessera's function (innermost on the stack):", ...top(byTessera, busy, n).map((l) => `    ${l}`)
  ].join("\n")
}

/** The main thread's profile of `pid` in `dir` (`CPU.<date>.<time>.<pid>.0.<n>.cpuprofile`). */
const profileOf = (dir: string, pid: number) => {
  const file = Fs.readdirSync(dir).find((name) => new RegExp(`^CPU\\.[0-9.]+\\.${pid}\\.0\\.[0-9]+\\.cpuprofile$`).test(name))
  return file === undefined ? undefined : JSON.parse(Fs.readFileSync(Path.join(dir, file), "utf8")) as Profile
}

export const windowsFile = (dir: string) => Path.join(dir, "windows.json")

export const recordWindow = (dir: string, window: Window) => {
  const file = windowsFile(dir)
  const windows = Fs.existsSync(file) ? JSON.parse(Fs.readFileSync(file, "utf8")) as Array<Window> : []
  windows.push(window)
  Fs.writeFileSync(file, JSON.stringify(windows, null, 1))
}

/** Every recorded window's summary (the children must have exited, so their profiles are written). */
export const summarizeDir = (dir: string, windows?: ReadonlyArray<Window>) =>
  (windows ?? JSON.parse(Fs.readFileSync(windowsFile(dir), "utf8")) as ReadonlyArray<Window>).map((window) => {
    const profile = profileOf(dir, window.pid)
    return profile === undefined ? `${window.server} ${window.endpoint}: no profile of pid ${window.pid} in ${dir}` : summarize(profile, window)
  }).join("\n\n")

if (process.argv[1]?.endsWith("profile.ts")) console.log(summarizeDir(process.argv[2] ?? "."))
