/**
 * vitest setup file (vitest.config.ts), run before each test file: undoes what the last file of this worker left in
 * the modules the files share (`isolate: false`), and closes what this file opens (FileEnd).
 */
import { afterAll } from "vitest"
import { closeAll, restoreEffectVitest } from "./FileEnd.js"
import { fileStarts } from "./Postgres.js"

restoreEffectVitest()

fileStarts()

afterAll(closeAll)
