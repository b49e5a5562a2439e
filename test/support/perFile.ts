/** vitest setup file (vitest.config.ts), run before each test file: closes what that file opened (FileEnd). */
import { afterAll } from "vitest"
import { closeAll } from "./FileEnd.js"

afterAll(closeAll)
