import { describe, expect, it } from "@effect/vitest"
import { DateTime, Either } from "effect"
import { JwtBearerGrant } from "@tessera/domain"

const issuer = "https://tessera.test/realms/r"
const api = "https://api.example"
const vault = "https://vault.example"
const createdAt = DateTime.unsafeMake("2026-01-01T00:00:00Z")
const resources = [
  { realmId: "r", id: api, version: 1, uri: api, scopes: ["read", "write"], stepUpScopes: [], createdAt },
  { realmId: "r", id: vault, version: 1, uri: vault, scopes: ["list", "unseal"], stepUpScopes: ["unseal"], createdAt }
]

type Input = Parameters<typeof JwtBearerGrant.choose>[0]
const base: Input = {
  subject: "Person", issuer, requestedResource: undefined, clientResources: [api], clientScopes: undefined, requestedScopes: undefined, resources
}

/** CONTRACT §5 "Audience" for the JWT-bearer grant: what each request gets, or the refusal's tag and reason. */
const table: ReadonlyArray<readonly [string, Partial<Input>, unknown]> = [
  ["person, nothing asked: the client's only resource, its scopes", {}, { audience: api, scope: ["read", "write"] }],
  ["person, openid without resource: a userinfo token", { requestedScopes: ["openid", "email", "read"] }, { audience: issuer, scope: ["openid", "email"] }],
  ["person, offline_access dropped (no refresh token)", { requestedScopes: ["openid", "offline_access"] }, { audience: issuer, scope: ["openid"] }],
  ["person, openid cut by the client's registered scope", { requestedScopes: ["openid"], clientScopes: ["read"] }, ["ScopeRejected", "none_left"]],
  ["person, openid with resource: the resource wins, OpenID scopes left out", { requestedScopes: ["openid", "read"], requestedResource: api }, { audience: api, scope: ["read"] }],
  ["person, a resource not allowed to the client", { requestedResource: vault }, ["TargetRejected", "not_allowed"]],
  ["person, a step-up scope", { clientResources: undefined, requestedResource: vault, requestedScopes: ["unseal"] }, ["JwtBearerScopeRejected", "step_up"]],
  ["person, several resources and none asked", { clientResources: [api, vault] }, ["TargetRejected", "ambiguous"]],
  ["client, nothing asked: as client credentials", { subject: "Client" }, { audience: api, scope: ["read", "write"] }],
  ["client, openid", { subject: "Client", requestedScopes: ["openid"] }, ["JwtBearerScopeRejected", "openid"]],
  ["client, an unknown scope", { subject: "Client", requestedScopes: ["delete"] }, ["ScopeRejected", "unknown"]]
]

describe("JwtBearerGrant.choose (CONTRACT §5 Audience)", () => {
  for (const [name, input, expected] of table) {
    it(name, () => {
      const result = JwtBearerGrant.choose({ ...base, ...input })
      if (Array.isArray(expected)) {
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isLeft(result)) expect([result.left._tag, result.left.reason]).toEqual(expected)
      } else {
        expect(result).toEqual(Either.right(expected))
      }
    })
  }
})

type IdJagInput = Parameters<typeof JwtBearerGrant.chooseIdJag>[0]
const idJagBase: IdJagInput = {
  assertionResources: [api], assertionScopes: ["read", "write"], requestedResource: undefined, requestedScopes: undefined,
  clientResources: [api, vault], clientScopes: undefined, resources
}

/** CONTRACT §5 ID-JAG (ADR 0047): the assertion's resource is the audience; the scope is asked ∩ assertion ∩ client. */
const idJagTable: ReadonlyArray<readonly [string, Partial<IdJagInput>, unknown]> = [
  ["the assertion's one resource and all its scopes", {}, { audience: api, scope: ["read", "write"] }],
  ["asked ∩ assertion", { requestedScopes: ["write", "delete"] }, { audience: api, scope: ["write"] }],
  ["∩ the client's registered scope", { clientScopes: ["read"] }, { audience: api, scope: ["read"] }],
  ["no scope in the assertion: nothing authorized", { assertionScopes: [] }, ["ScopeRejected", "none_left"]],
  ["an empty intersection", { assertionScopes: ["read"], requestedScopes: ["write"] }, ["ScopeRejected", "none_left"]],
  ["a step-up scope is cut (needs a fresh authentication here)", { assertionResources: [vault], assertionScopes: ["list", "unseal"] }, { audience: vault, scope: ["list"] }],
  ["only a step-up scope: nothing left", { assertionResources: [vault], assertionScopes: ["unseal"] }, ["ScopeRejected", "none_left"]],
  ["a request's resource outside the assertion's", { requestedResource: vault }, ["TargetRejected", "not_allowed"]],
  ["several in the assertion, none asked", { assertionResources: [api, vault] }, ["TargetRejected", "ambiguous"]],
  ["several in the assertion, one asked", { assertionResources: [api, vault], requestedResource: vault, assertionScopes: ["list"] }, { audience: vault, scope: ["list"] }],
  ["the assertion's resource not allowed to the client", { clientResources: [vault] }, ["TargetRejected", "not_allowed"]],
  ["no resource in the assertion: the client's only one", { assertionResources: undefined, clientResources: [api] }, { audience: api, scope: ["read", "write"] }]
]

describe("JwtBearerGrant.chooseIdJag (CONTRACT §5 ID-JAG, RFC 6749 §3.3)", () => {
  for (const [name, input, expected] of idJagTable) {
    it(name, () => {
      const result = JwtBearerGrant.chooseIdJag({ ...idJagBase, ...input })
      if (Array.isArray(expected)) {
        expect(Either.isLeft(result)).toBe(true)
        if (Either.isLeft(result)) expect([result.left._tag, result.left.reason]).toEqual(expected)
      } else {
        expect(result).toEqual(Either.right(expected))
      }
    })
  }
})
