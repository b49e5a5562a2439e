/** CPU time of processes from `/proc/<pid>/stat` (Linux): user + system, all threads, in seconds. */
import { execFileSync } from "node:child_process"
import * as Fs from "node:fs"

/** Clock ticks per second, the unit of utime and stime. */
const ticksPerSecond = (() => {
  try {
    return Number(execFileSync("getconf", ["CLK_TCK"], { encoding: "utf8" }).trim()) || 100
  } catch {
    return 100
  }
})()

/** utime + stime of `pid` in seconds, or undefined when the process is gone. */
export const seconds = (pid: number): number | undefined => {
  let stat: string
  try {
    stat = Fs.readFileSync(`/proc/${pid}/stat`, "utf8")
  } catch {
    return undefined
  }
  // proc(5): the command name (field 2) is in parentheses and may hold spaces; fields 14 and 15 follow it
  const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ")
  return (Number(fields[11]) + Number(fields[12])) / ticksPerSecond
}

/** The resolution of `seconds`: one clock tick. */
export const resolution = 1 / ticksPerSecond

/**
 * CPU over a window for a changing set of processes (a database's backends): the set is sampled every 200 ms so a
 * process that exits mid-window still counts up to its last sample, and one that starts mid-window counts from zero.
 */
export const windowOver = (pids: () => Promise<ReadonlyArray<number>>) => {
  const first = new Map<number, number>()
  const last = new Map<number, number>()
  const sample = async (initial: boolean) => {
    for (const pid of await pids()) {
      const s = seconds(pid)
      if (s === undefined) continue
      if (!first.has(pid)) first.set(pid, initial ? s : 0)
      last.set(pid, s)
    }
  }
  let timer: NodeJS.Timeout | undefined
  return {
    begin: async () => {
      await sample(true)
      timer = setInterval(() => void sample(false).catch(() => undefined), 200)
    },
    /** Total CPU seconds of the set since `begin`, and how many processes took part. */
    end: async () => {
      clearInterval(timer)
      await sample(false)
      let total = 0
      for (const [pid, s] of last) total += s - (first.get(pid) ?? 0)
      return { seconds: total, processes: last.size }
    }
  }
}
