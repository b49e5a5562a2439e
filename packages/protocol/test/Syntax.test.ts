import { describe, expect, it } from "@effect/vitest"
import { Syntax } from "@tessera/protocol"

/** `depth` arrays around a string. */
const arrays = (depth: number): unknown => JSON.parse(`${"[".repeat(depth)}"x"${"]".repeat(depth)}`)

describe("CONTRACT §2: isShallowJson, nesting at most Syntax.maxJsonDepth levels", () => {
  for (
    const [name, value, expected] of [
      ["a string", "x", true],
      ["null", null, true],
      ["an empty object: one level", {}, true],
      [`${Syntax.maxJsonDepth} arrays`, arrays(Syntax.maxJsonDepth), true],
      [`${Syntax.maxJsonDepth + 1} arrays`, arrays(Syntax.maxJsonDepth + 1), false],
      ["a deep member beside shallow ones", { a: 1, b: [2], c: { d: arrays(Syntax.maxJsonDepth) } }, false],
      ["100 000 arrays, without recursion", arrays(100_000), false]
    ] as const
  ) {
    it(name, () => {
      expect(Syntax.isShallowJson(value)).toBe(expected)
    })
  }

  it("a bound given: 2 levels", () => {
    expect(Syntax.isShallowJson({ a: [1] }, 2)).toBe(true)
    expect(Syntax.isShallowJson({ a: [[1]] }, 2)).toBe(false)
  })
})
