import { describe, expect, it } from "@effect/vitest"
import { Form } from "@tessera/protocol"
import { expectError, expectNoEcho, hostile, left, right } from "./support/Expect.js"

const pairs = (input: string) => right(Form.parse(input)).pairs

const notForm = { error: "invalid_request", error_description: "the request is not valid form encoding" }

describe("RFC 6749 Appendix B: application/x-www-form-urlencoded decoding", () => {
  const cases: ReadonlyArray<readonly [string, string, ReadonlyArray<readonly [string, string]>]> = [
    ["pairs in request order", "b=2&a=1&b=3", [["b", "2"], ["a", "1"], ["b", "3"]]],
    ["'+' is a space", "a=b+c", [["a", "b c"]]],
    ["percent-encoded reserved characters", "a=%2B%26%3D%25", [["a", "+&=%"]]],
    ["percent-encoded names", "%63lient_id=x", [["client_id", "x"]]],
    ["UTF-8 sequences", "n=%C3%A9%F0%9F%98%80", [["n", "é😀"]]],
    ["lower-case hex digits", "a=%c3%a9", [["a", "é"]]],
    ["a name without '=' has an empty value", "a", [["a", ""]]],
    ["a name with '=' and nothing after has an empty value", "a=", [["a", ""]]],
    ["the value runs to the next '&', '=' included", "a=1=2", [["a", "1=2"]]],
    ["empty sequences are skipped", "&&a=1&&&b=2&", [["a", "1"], ["b", "2"]]],
    ["an empty body has no parameters", "", []],
    ["markup decodes verbatim (escaping is the renderer's job)", "s=%3Cscript%3E", [["s", "<script>"]]],
    // CONTRACT §2: no store can hold a NUL; the value is kept out, and reading its name fails (below)
    ["a NUL byte is kept out of the pairs", "s=a%00b", []]
  ]
  for (const [name, input, expected] of cases) {
    it(`${name}: ${JSON.stringify(input)}`, () => {
      expect(pairs(input)).toStrictEqual(expected)
    })
  }

  it("parseQuery takes url.search with or without its '?'", () => {
    expect(right(Form.parseQuery("?a=1&b=2")).pairs).toStrictEqual([["a", "1"], ["b", "2"]])
    expect(right(Form.parseQuery("a=1")).pairs).toStrictEqual([["a", "1"]])
    expect(right(Form.parseQuery("")).pairs).toStrictEqual([])
  })

  it("parseBytes decodes UTF-8 bodies", () => {
    expect(right(Form.parseBytes(new TextEncoder().encode("a=%C3%A9&b=é"))).pairs).toStrictEqual([["a", "é"], ["b", "é"]])
  })
})

describe("RFC 6749 Appendix B: broken encoding is invalid_request", () => {
  const broken: ReadonlyArray<readonly [string, string]> = [
    ["not hex digits", "a=%zz"],
    ["a cut three-byte sequence", "a=%E0%A4%A"],
    ["a lone '%'", "a=%"],
    ["one hex digit", "a=%2"],
    ["a bad continuation byte", "a=%C3%28"],
    ["a byte that is never UTF-8", "a=%FF"],
    ["an overlong encoding of '/'", "a=%C0%AF"],
    ["an encoded surrogate", "a=%ED%A0%80"],
    ["a lead byte without continuation", "a=%C3"],
    ["broken encoding in a name", "%zz=a"],
    ["broken encoding in an unknown parameter", "client_id=x&junk=%E0%A4%A"],
    ["a raw lone surrogate", "a=\uD800"],
    ["hostile markup with broken encoding", "state=<script>%zz</script>"]
  ]
  for (const [name, input] of broken) {
    it(`${name}: ${JSON.stringify(input)}`, () => {
      const error = left(Form.parse(input))
      expectError(error, 400, notForm)
      expectNoEcho(error, input)
    })
  }

  it("bytes that are not UTF-8 are the same refusal", () => {
    expectError(left(Form.parseBytes(Uint8Array.of(0x61, 0x3d, 0xff))), 400, notForm)
    expectError(left(Form.parseBytes(Uint8Array.of(0x61, 0x3d, 0xc3))), 400, notForm)
  })
})

describe("Tessera limits: parameter count and value length", () => {
  const many = (n: number) => Array.from({ length: n }, (_, i) => `p${i}=v`).join("&")

  it("100 parameters are accepted, 101 are invalid_request", () => {
    expect(pairs(many(100))).toHaveLength(100)
    expectError(left(Form.parse(many(101))), 400, {
      error: "invalid_request",
      error_description: "the request has too many parameters"
    })
  })

  it("empty sequences do not count", () => {
    expect(pairs("&".repeat(10_000) + "a=1")).toStrictEqual([["a", "1"]])
  })

  it("a value of 4096 characters is accepted; 4097 is invalid_request when the parameter is read", () => {
    const ok = right(Form.parse(`state=${"s".repeat(4096)}`))
    expect(right(Form.single(ok, "state"))).toHaveLength(4096)
    const long = right(Form.parse(`state=${"s".repeat(4097)}`))
    expectError(left(Form.single(long, "state")), 400, { error: "invalid_request", error_description: "'state' is too long" })
    expectError(left(Form.required(long, "state")), 400, { error: "invalid_request", error_description: "'state' is too long" })
    expectError(left(Form.all(long, "state")), 400, { error: "invalid_request", error_description: "'state' is too long" })
  })

  it("length counts decoded characters: 4096 percent-encoded characters fit", () => {
    expect(right(Form.single(right(Form.parse(`a=${"%41".repeat(4096)}`)), "a"))).toBe("A".repeat(4096))
  })

  it("RFC 6749 §3.1: an over-long unrecognized parameter is ignored like any unrecognized one", () => {
    const params = right(Form.parse(`${encodeURIComponent("<script>")}=${"x".repeat(100_000)}&client_id=c`))
    expect(right(Form.single(params, "client_id"))).toBe("c")
    expect(params.pairs).toStrictEqual([["client_id", "c"]])
  })

  it("the limits can be set per call", () => {
    expectError(left(Form.parse("a=1&b=2", { maxParams: 1 })), 400, {
      error: "invalid_request",
      error_description: "the request has too many parameters"
    })
    expectError(left(Form.single(right(Form.parse("a=123", { maxValueLength: 2 })), "a")), 400, {
      error: "invalid_request",
      error_description: "'a' is too long"
    })
  })
})

describe("RFC 6749 §3.1: single, required and all", () => {
  const params = (input: string) => right(Form.parse(input))

  it("single: absent is undefined, present is the value", () => {
    expect(right(Form.single(params("a=1"), "b"))).toBeUndefined()
    expect(right(Form.single(params("a=1"), "a"))).toBe("1")
  })

  it("single: parameters sent without a value MUST be treated as if they were omitted", () => {
    expect(right(Form.single(params("a="), "a"))).toBeUndefined()
    expect(right(Form.single(params("a"), "a"))).toBeUndefined()
    expect(right(Form.single(params("a=&a="), "a"))).toBeUndefined()
    expect(right(Form.single(params("a=&a=x"), "a"))).toBe("x")
  })

  it("single: parameters MUST NOT be included more than once", () => {
    for (const input of ["code=a&code=b", "code=a&code=a", "code=a&x=1&code=<script>"]) {
      const error = left(Form.single(params(input), "code"))
      expectError(error, 400, { error: "invalid_request", error_description: "'code' must not be provided twice" })
      expectNoEcho(error, input)
    }
  })

  it("names are case-sensitive", () => {
    expect(right(Form.single(params("Code=a&code=b"), "code"))).toBe("b")
  })

  it("required: absent or empty is invalid_request naming the parameter", () => {
    for (const input of ["", "other=1", "code=", "code"]) {
      expectError(left(Form.required(params(input), "code")), 400, {
        error: "invalid_request",
        error_description: "'code' is required"
      })
    }
    expect(right(Form.required(params("code=x"), "code"))).toBe("x")
  })

  it("all: RFC 8707 §2 resource may repeat; empty values are left out", () => {
    expect(right(Form.all(params("resource=https%3A%2F%2Fa&resource=&resource=https%3A%2F%2Fb"), "resource")))
      .toStrictEqual(["https://a", "https://b"])
    expect(right(Form.all(params("x=1"), "resource"))).toStrictEqual([])
  })

  it("hostile values come back verbatim from single, and names never appear in errors", () => {
    for (const value of hostile.filter((v) => v.length <= 4096 && !v.includes("\u0000"))) {
      const p = params(`v=${encodeURIComponent(value)}`)
      expect(right(Form.single(p, "v"))).toBe(value)
    }
  })

  it("CONTRACT §2: a value holding a NUL is invalid_request when read (single, required, all); unread, it is ignored", () => {
    const p = params("v=a%00b&w=1")
    const refusal = { error: "invalid_request", error_description: "'v' must not contain NUL characters" }
    expectError(left(Form.single(p, "v")), 400, refusal)
    expectError(left(Form.required(p, "v")), 400, refusal)
    expectError(left(Form.all(p, "v")), 400, refusal)
    expect(Form.isUnstorable(p, "v")).toBe(true)
    expect(Form.isUnstorable(p, "w")).toBe(false)
    expect(right(Form.single(p, "w"))).toBe("1")
  })
})
