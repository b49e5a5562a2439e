import { describe, expect, it } from "@effect/vitest"
import { DateTime } from "effect"
import { IdentityLink } from "@tessera/domain"

/** ADR 0047: what a provisioned user takes from an ID-JAG's claims (OpenID Connect Core §5.1 `email`, `name`). */
describe("IdentityLink (ADR 0047)", () => {
  it("the email is used when shaped as an address and not marked unverified", () => {
    expect(IdentityLink.vouchedEmail({ email: "grace@acme.example" })).toBe("grace@acme.example")
    expect(IdentityLink.vouchedEmail({ email: "grace@acme.example", email_verified: true })).toBe("grace@acme.example")
    expect(IdentityLink.vouchedEmail({ email: "grace@acme.example", email_verified: false })).toBeUndefined()
    for (const email of [undefined, 42, "", "grace", "a b@c", "@acme", "grace@", "a@b@c", "x\u0007@acme.example", `${"a".repeat(250)}@b.example`]) {
      expect(IdentityLink.vouchedEmail({ email })).toBeUndefined()
    }
  })

  it("the name is used when plain text of at most 200 characters", () => {
    expect(IdentityLink.vouchedName({ name: "Grace Hopper" })).toBe("Grace Hopper")
    for (const name of [undefined, 7, "", "   ", "a\u0000b", "line\nbreak", "x".repeat(201)]) {
      expect(IdentityLink.vouchedName({ name })).toBeUndefined()
    }
  })

  it("RFC 4648 §6: a generated username is idjag- and the random bytes in lower-case base32", () => {
    expect(IdentityLink.generatedUsername(new Uint8Array([0xff, 0, 0x10, 0x42, 0x99, 0xde, 0xad, 0xbe, 0xef, 0x01]))).toBe("idjag-74abaquz32w353yb")
  })

  it("a provisioned user has no password that verifies, no role, and is enabled", () => {
    const user = IdentityLink.provisionedUser({
      realmId: "r", sub: "s", username: IdentityLink.generatedUsername(new Uint8Array(10)), email: undefined, name: undefined,
      createdAt: DateTime.unsafeMake(0)
    })
    expect(user).toMatchObject({ username: "idjag-aaaaaaaaaaaaaaaa", passwordHash: "!", roles: [], disabled: false, version: 1 })
    expect(user.passwordHash.startsWith("$")).toBe(false)
  })
})
