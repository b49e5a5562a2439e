import { describe, expect, it } from "@effect/vitest"
import { DateTime, Duration, Effect, Either, Layer, Option } from "effect"
import * as Jose from "jose"
import type { Client } from "@tessera/domain"
import { Audience, AuthorizationCode, AuthorizationCodeGrant, ClientCredentialsGrant, DeviceCodeGrant, Entropy, JwtBearerGrant, RefreshTokenGrant, TokenExchangeGrant, Kek, Keys, MemoryDb, Pkce, Provisioning, Realms, RefreshFamily, SigningKey, SigningKeys, Tokens, Audit, PasswordHasher, Resources } from "@tessera/domain"

describe("RFC 7636 PKCE", () => {
  it.effect("Appendix B: the S256 challenge of the example verifier", () =>
    Effect.gen(function*() {
      expect(yield* Pkce.s256("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk")).toBe("E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")
      expect(yield* Pkce.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")).toBe(true)
      expect(yield* Pkce.verify("dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXl", "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM")).toBe(false)
    }))

  it.effect("§4.1: a verifier outside 43*128unreserved never matches", () =>
    Effect.gen(function*() {
      const short = "a".repeat(42)
      expect(yield* Pkce.verify(short, yield* Pkce.s256(short))).toBe(false)
      const bad = `${"a".repeat(42)}!`
      expect(yield* Pkce.verify(bad, yield* Pkce.s256(bad))).toBe(false)
    }))
})

const t0 = DateTime.unsafeMake("2026-11-29T12:00:00Z")
const issuedWith = (redirectUriGiven: boolean) => AuthorizationCode.AuthorizationCode.Issued({
  realmId: "r", clientId: "c", grantId: "g", redirectUri: "https://app.example/cb", redirectUriGiven, codeChallenge: "x",
  expiresAt: DateTime.addDuration(t0, AuthorizationCode.lifetime)
})
const issued = issuedWith(true)
const good = { clientId: "c", redirectUri: "https://app.example/cb", pkceMatches: true, dpopJkt: undefined }

describe("RFC 6749 §4.1.2 / OAuth 2.1 §4.1.3: redeeming an authorization code (pure)", () => {
  it.each([
    ["a matching client, redirect URI and verifier within 60 s", good, Duration.seconds(59), "ok"],
    ["at 60 s: expired", good, Duration.seconds(60), "expired"],
    ["another client", { ...good, clientId: "d" }, Duration.zero, "client_mismatch"],
    ["another redirect URI", { ...good, redirectUri: "https://app.example/other" }, Duration.zero, "redirect_uri_mismatch"],
    ["a verifier that does not match", { ...good, pkceMatches: false }, Duration.zero, "pkce_mismatch"]
  ] as const)("%s", (_, input, elapsed, expected) => {
    const result = AuthorizationCode.redeem(issued, input, DateTime.addDuration(t0, elapsed))
    expect(Either.match(result, { onLeft: (e) => e.reason, onRight: () => "ok" })).toBe(expected)
  })

  // OAuth 2.1 §4.1.3: redirect_uri REQUIRED if the authorization request included it; RFC 6749 §4.1.3: if included,
  // identical. A code whose request left it out is bound to the client's only registered URI.
  it.each([
    ["given at authorize, absent at token", true, undefined, "redirect_uri_mismatch"],
    ["given at authorize, the same at token", true, "https://app.example/cb", "ok"],
    ["given at authorize, another at token", true, "https://app.example/other", "redirect_uri_mismatch"],
    ["not given at authorize, absent at token", false, undefined, "ok"],
    ["not given at authorize, the bound one at token", false, "https://app.example/cb", "ok"],
    ["not given at authorize, another at token", false, "https://app.example/other", "redirect_uri_mismatch"]
  ] as const)("redirect_uri %s: %s", (_, redirectUriGiven, redirectUri, expected) => {
    const result = AuthorizationCode.redeem(issuedWith(redirectUriGiven), { ...good, redirectUri }, t0)
    expect(Either.match(result, { onLeft: (e) => e.reason, onRight: () => "ok" })).toBe(expected)
  })

  // RFC 9449 §10: a code bound by dpop_jkt needs a proof of that key; an unbound code takes any proof or none
  const jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
  const bound = AuthorizationCode.AuthorizationCode.Issued({ ...issued, dpopJkt: jkt })
  it.each([
    ["bound, a proof of that key", bound, jkt, "ok"],
    ["bound, a proof of another key", bound, "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I", "dpop_mismatch"],
    ["bound, no proof", bound, undefined, "dpop_mismatch"],
    ["unbound, a proof", issued, jkt, "ok"],
    ["unbound, no proof", issued, undefined, "ok"]
  ] as const)("RFC 9449 §10: dpop_jkt %s: %s", (_, code, dpopJkt, expected) => {
    const result = AuthorizationCode.redeem(code, { ...good, dpopJkt }, t0)
    expect(Either.match(result, { onLeft: (e) => e.reason, onRight: () => "ok" })).toBe(expected)
  })

  it("a redeemed code presented again is a replay naming its grant", () => {
    const redeemed = Either.getOrThrow(AuthorizationCode.redeem(issued, good, t0))
    const again = AuthorizationCode.redeem(redeemed, good, t0)
    expect(Either.isLeft(again) && again.left).toMatchObject({ reason: "replayed", grantId: "g" })
  })
})

describe("CONTRACT §5 Audience / RFC 8707 §2: choosing a token's audience (pure)", () => {
  const issuer = "https://id.example/realms/r"
  const api = "https://api.example"
  const other = "https://other.example"
  const resources = [api, other].map((uri) => ({ realmId: "r", id: uri, version: 1, uri, scopes: ["read"], stepUpScopes: [], createdAt: t0 }))
  const base = {
    issuer, requestedResource: undefined, grantedResources: [api], grantedScopes: ["read"], requestedScopes: undefined,
    clientResources: undefined, resources
  }

  it.each([
    ["resource asked and granted", { requestedResource: api }, { audience: api, scope: ["read"] }],
    ["resource asked, not granted", { requestedResource: other }, "TargetRejected not_granted"],
    ["no resource, scope openid: the issuer", { grantedScopes: ["openid", "read"], clientResources: [api] }, { audience: issuer, scope: ["openid"] }],
    ["no resource, the client lists exactly one: that one", { clientResources: [api] }, { audience: api, scope: ["read"] }],
    ["no resource, the client's only one is not in the grant", { clientResources: [other] }, "TargetRejected not_granted"],
    ["no resource, the client lists two", { grantedResources: [api, other], clientResources: [api, other] }, "TargetRejected ambiguous"],
    // the old rule took the grant's only resource; a client without `resources` may have every resource of the realm
    ["no resource, the client lists none (all allowed), the grant one", { clientResources: undefined }, "TargetRejected ambiguous"],
    ["no resource, the client lists an empty list", { clientResources: [] }, "TargetRejected ambiguous"]
  ] as const)("%s", (_, changes, expected) => {
    const result = Audience.choose({ ...base, ...changes })
    expect(Either.match(result, { onLeft: (e) => `${e._tag} ${e.reason}`, onRight: (choice) => choice })).toEqual(expected)
  })
})

describe("RFC 6749 §4.4 / CONTRACT §5 Audience: the client credentials grant's audience and scope (pure)", () => {
  const api = "https://api.example"
  const vault = "https://vault.example"
  const resources = [
    { realmId: "r", id: api, version: 1, uri: api, scopes: ["read", "write"], stepUpScopes: [], createdAt: t0 },
    { realmId: "r", id: vault, version: 1, uri: vault, scopes: ["list", "unseal"], stepUpScopes: ["unseal"], createdAt: t0 }
  ]
  const base = { requestedResource: undefined, clientResources: [api], clientScopes: undefined, requestedScopes: undefined, resources }

  it.each([
    ["no resource, the client's only one, no scope: its scopes", {}, { audience: api, scope: ["read", "write"] }],
    ["resource asked, allowed to every resource", { requestedResource: vault, clientResources: undefined }, { audience: vault, scope: ["list"] }],
    ["resource asked, not registered", { requestedResource: "https://x.example", clientResources: undefined }, "TargetRejected unknown_resource"],
    ["resource asked, unknown and outside the allow-list", { requestedResource: "https://x.example" }, "TargetRejected unknown_resource"],
    ["resource asked, registered but not allowed", { requestedResource: vault }, "TargetRejected not_allowed"],
    ["no resource, the client lists two", { clientResources: [api, vault] }, "TargetRejected ambiguous"],
    ["no resource, the client lists none (all allowed)", { clientResources: undefined }, "TargetRejected ambiguous"],
    ["no resource, the client's only one no longer registered", { clientResources: ["https://gone.example"] }, "TargetRejected unknown_resource"],
    ["openid asked", { requestedScopes: ["openid"] }, "ScopeRejected openid"],
    ["openid asked beats an ambiguous audience", { requestedScopes: ["openid"], clientResources: undefined }, "ScopeRejected openid"],
    ["a step-up scope asked", { requestedResource: vault, clientResources: undefined, requestedScopes: ["unseal"] }, "ScopeRejected step_up"],
    ["a scope nobody knows", { requestedScopes: ["read", "delete"] }, "ScopeRejected unknown"],
    ["the registered scope cuts the default", { clientScopes: ["read"] }, { audience: api, scope: ["read"] }],
    ["the registered scope cuts the request", { clientScopes: ["read"], requestedScopes: ["read", "write"] }, { audience: api, scope: ["read"] }],
    ["registered but not the resource's: cut, nothing left", { clientScopes: ["admin"], requestedScopes: ["admin"] }, "ScopeRejected none_left"],
    ["the default is empty", { clientScopes: ["admin"] }, "ScopeRejected none_left"]
  ] as const)("%s", (_, changes, expected) => {
    const result = Audience.forClient({ ...base, ...changes })
    expect(Either.match(result, { onLeft: (e) => `${e._tag} ${e.reason}`, onRight: (choice) => choice })).toEqual(expected)
  })

  it.effect("a public client is refused (ClientRejected, unauthorized_client at the edge); nothing is issued or audited", () =>
    Effect.gen(function*() {
      const realm = yield* Provisioning.createRealm(`t-${crypto.randomUUID().slice(0, 8)}`, "https://tessera.test")
      const client: Client.Client = {
        realmId: realm.id, clientId: "spa", createdAt: t0,
        metadata: {
          redirectUris: [], postLogoutRedirectUris: [], grantTypes: ["client_credentials"], responseTypes: [], resources: [api],
          tokenEndpointAuthMethod: "none", frontchannelLogoutSessionRequired: false, dpopBoundAccessTokens: false, principalType: "app"
        }
      }
      const refused = yield* Effect.flip(ClientCredentialsGrant.handle({
        realm, issuer: `https://tessera.test/realms/${realm.name}`, client, scope: undefined, resource: undefined, context: {}, dpopKey: Option.none()
      }))
      expect(refused).toEqual(new ClientCredentialsGrant.ClientRejected({ reason: "public_client" }))
      const trail = yield* Effect.flatMap(Audit.Audit, (audit) => audit.query(realm.id, { type: "token.issued", limit: 10 }))
      expect(trail).toEqual([])
    }).pipe(Effect.provide(Layer.mergeAll(World, Resources.layerMemory.pipe(Layer.provide(World)), Tokens.layerPolicy()))))
})

describe("RFC 9449 §5: the DPoP key a token request proved is part of every grant's command", () => {
  const jkt = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
  const api = "https://api.example"

  it.effect("§6.1: the client credentials token is bound to the command's key (cnf.jkt), and a bearer token without one", () =>
    Effect.gen(function*() {
      const realm = yield* Provisioning.createRealm(`t-${crypto.randomUUID().slice(0, 8)}`, "https://tessera.test")
      const issuer = `https://tessera.test/realms/${realm.name}`
      const created = yield* Audit.make(realm, { type: "resource.created", actor: { type: "owner", id: "owner" }, result: "success" })
      yield* Effect.flatMap(Resources.Resources, (resources) =>
        resources.insert({ realmId: realm.id, id: api, version: 1, uri: api, scopes: ["read"], stepUpScopes: [], createdAt: t0 }, created))
      const client: Client.Client = {
        realmId: realm.id, clientId: "svc", createdAt: t0,
        metadata: {
          redirectUris: [], postLogoutRedirectUris: [], grantTypes: ["client_credentials"], responseTypes: [], resources: [api],
          tokenEndpointAuthMethod: "client_secret_basic", frontchannelLogoutSessionRequired: false, dpopBoundAccessTokens: false, principalType: "app"
        }
      }
      const common = { realm, issuer, client, context: {} }
      const claimsOf = (dpopKey: Option.Option<string>) =>
        Effect.map(ClientCredentialsGrant.handle({ ...common, scope: undefined, resource: undefined, dpopKey }), (set) => Jose.decodeJwt(set.accessToken))
      expect((yield* claimsOf(Option.some(jkt)))["cnf"]).toEqual({ jkt })
      expect((yield* claimsOf(Option.none()))["cnf"]).toBeUndefined()

      // leaving the key out of any grant's command is a compile error, never a bearer token minted by default
      const commands = [
        // @ts-expect-error RFC 9449 §5: the command says which key the request proved, or none
        { ...common, scope: undefined, resource: undefined } satisfies ClientCredentialsGrant.Command,
        // @ts-expect-error RFC 9449 §5, §10: the code grant too (a code bound by dpop_jkt needs that key)
        { ...common, code: "c", redirectUri: undefined, codeVerifier: "v", resource: undefined } satisfies AuthorizationCodeGrant.Command,
        // @ts-expect-error RFC 9449 §5: the refresh grant too (a public client's family is bound to it)
        { ...common, refreshToken: "r", scope: undefined, resource: undefined } satisfies RefreshTokenGrant.Command,
        // @ts-expect-error RFC 9449 §5: the device grant too
        { ...common, deviceCode: "d", resource: undefined } satisfies DeviceCodeGrant.Command,
        // @ts-expect-error RFC 9449 §5: the JWT-bearer grant too
        { ...common, assertion: "a.b.c", scope: undefined, resource: undefined } satisfies JwtBearerGrant.Command,
        // @ts-expect-error RFC 9449 §5 (ADR 0018): the token exchange too
        { ...common, subjectToken: "s", subjectTokenType: TokenExchangeGrant.accessTokenType, actorToken: undefined, scope: undefined, resource: undefined } satisfies TokenExchangeGrant.Command,
        // @ts-expect-error draft-ietf-oauth-identity-assertion-authz-grant §8.6.1.1: the ID-JAG exchange too
        { ...common, idToken: "i", audience: "https://as.example", resource: undefined, scope: undefined } satisfies TokenExchangeGrant.IdJagCommand
      ]
      expect(commands.length).toBe(7)
    }).pipe(Effect.provide(Layer.mergeAll(World, Resources.layerMemory.pipe(Layer.provide(World)), Tokens.layerPolicy()))))

  it.effect("§6.1: an access token is bound to the key its input names, and to none when the input says none", () =>
    Effect.gen(function*() {
      const realm = yield* Provisioning.createRealm(`t-${crypto.randomUUID().slice(0, 8)}`, "https://tessera.test")
      const input = { realmId: realm.id, issuer: "https://tessera.test", sub: "u", audience: api, clientId: "c", scope: ["read"] }
      const bound = yield* Tokens.accessToken({ ...input, dpopKey: Option.some(jkt) }, Tokens.defaultLifetimes.accessToken)
      const bearer = yield* Tokens.accessToken({ ...input, dpopKey: Option.none() }, Tokens.defaultLifetimes.accessToken)
      expect([bound.claims.cnf, Jose.decodeJwt(bound.token)["cnf"]]).toEqual([{ jkt }, { jkt }])
      expect([bearer.claims.cnf, Jose.decodeJwt(bearer.token)["cnf"]]).toEqual([undefined, undefined])
    }).pipe(Effect.provide(World)))
})

describe("OAuth 2.1 §4.3.1 / RFC 9700 §4.14.2: refresh token rotation (pure)", () => {
  const policy = RefreshFamily.defaultPolicy
  const by: RefreshFamily.Presented = { generation: 1, clientId: "c", dpopJkt: undefined, publicClient: false }
  const family = RefreshFamily.RefreshFamily.Active({
    familyId: "f", realmId: "r", clientId: "c", grantId: "g", generation: 1, currentHash: "h1", createdAt: t0, lastUsedAt: t0
  })

  it("the current generation rotates to the next, with a new hash and a fresh idle window", () => {
    const later = DateTime.add(t0, { days: 1 })
    const next = Either.getOrThrow(RefreshFamily.rotate(family, { ...by, generation: 1 }, "h2", later, policy))
    expect(next).toEqual(RefreshFamily.RefreshFamily.Active({ ...family, generation: 2, currentHash: "h2", lastUsedAt: later }))
  })

  it.each([
    ["an earlier generation: reuse, naming the family", { ...by, generation: 0 }, t0, "reused"],
    ["another client", { ...by, clientId: "d" }, t0, "client_mismatch"],
    ["after the idle lifetime", by, DateTime.addDuration(t0, policy.idleLifetime), "expired"]
  ] as const)("%s", (_, presented, at, reason) => {
    const result = RefreshFamily.rotate(family, presented, "h2", at, policy)
    expect(Either.isLeft(result) && result.left.reason).toBe(reason)
  })

  it("the absolute lifetime ends a family that is used every day", () => {
    let current: RefreshFamily.RefreshFamily = family
    let at = t0
    for (let day = 1; day < 30; day++) {
      at = DateTime.add(t0, { days: day })
      current = Either.getOrThrow(RefreshFamily.rotate(current, { ...by, generation: day }, `h${day + 1}`, at, policy))
    }
    const end = DateTime.addDuration(t0, policy.absoluteLifetime)
    const result = RefreshFamily.rotate(current, { ...by, generation: 30 }, "h31", end, policy)
    expect(Either.isLeft(result) && result.left.reason).toBe("expired")
  })

  it("a revoked family refuses every generation", () => {
    const revoked = RefreshFamily.RefreshFamily.Revoked({ familyId: "f", realmId: "r", clientId: "c", grantId: "g", reason: "reuse" })
    const result = RefreshFamily.rotate(revoked, by, "h2", t0, policy)
    expect(Either.isLeft(result) && result.left.reason).toBe("revoked")
  })

  // RFC 9449 §5: a public client's refresh token is bound to the key it proves, and every use must prove that key;
  // a confidential client's is never bound
  const key1 = "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
  const key2 = "0ZcOCORZNYy-DWpqq30jZyJGHTN0d2HglBV3uiguA4I"
  const boundFamily = RefreshFamily.RefreshFamily.Active({ ...family, dpopJkt: key1 })
  it.each([
    ["bound, a proof of the same key: rotates, still bound", boundFamily, { ...by, dpopJkt: key1, publicClient: true }, key1],
    ["bound, a proof of another key", boundFamily, { ...by, dpopJkt: key2, publicClient: true }, "dpop_mismatch"],
    ["bound, no proof", boundFamily, { ...by, publicClient: true }, "dpop_mismatch"],
    ["unbound, a public client's proof: bound from now on", family, { ...by, dpopJkt: key2, publicClient: true }, key2],
    ["unbound, a confidential client's proof: stays unbound", family, { ...by, dpopJkt: key2 }, "unbound"],
    ["unbound, no proof: stays unbound", family, by, "unbound"]
  ] as const)("RFC 9449 §5: %s", (_, start, presented, expected) => {
    const result = RefreshFamily.rotate(start, presented, "h2", t0, policy)
    expect(Either.match(result, {
      onLeft: (e) => e.reason,
      onRight: (next) => next._tag === "Active" ? next.dpopJkt ?? "unbound" : "revoked"
    })).toBe(expected)
  })
})

const World = Layer.mergeAll(
  Realms.layerMemory, Keys.layerMemory, Audit.layerMemory, Entropy.layer, Kek.layer(new Uint8Array(32).fill(7)),
  SigningKeys.layerPolicy(SigningKey.defaultPolicy),
  Layer.succeed(PasswordHasher.PasswordHasher, PasswordHasher.PasswordHasher.of({ hash: Effect.succeed, verify: () => Effect.succeed(false) }))
).pipe(Layer.provideMerge(MemoryDb.layer))

describe("RFC 9068 access tokens and OIDC Core §2 ID tokens", () => {
  it.effect("§2.1-2.2: an ES256 at+jwt with the realm's active kid and the contract's claims, verifiable with the JWKS", () =>
    Effect.gen(function*() {
      const realm = yield* Provisioning.createRealm(`t-${crypto.randomUUID().slice(0, 8)}`, "https://tessera.test")
      const issuer = `https://tessera.test/realms/${realm.name}`
      const { token, claims, expiresIn } = yield* Tokens.accessToken({
        realmId: realm.id, issuer, sub: "user-1", audience: "https://api.example", clientId: "c1", scope: ["read", "write"],
        authTime: 1_800_000_000, acr: "urn:tessera:pwd", dpopKey: Option.none()
      }, Tokens.defaultLifetimes.accessToken)
      expect(expiresIn).toBe(900)
      const jwks = yield* SigningKeys.jwks(realm.id)
      const verified = yield* Effect.promise(() =>
        Jose.jwtVerify(token, Jose.createLocalJWKSet(jwks as Jose.JSONWebKeySet), { issuer, audience: "https://api.example", typ: "at+jwt", currentDate: new Date(claims.iat * 1000) })
      )
      expect(verified.protectedHeader).toEqual({ alg: "ES256", kid: expect.any(String), typ: "at+jwt" })
      const active = (yield* SigningKeys.list(realm.id)).find((k) => k.alg === "ES256" && SigningKey.status(k) === "active")!
      expect(verified.protectedHeader.kid).toBe(active.kid)
      expect(verified.payload).toEqual({
        iss: issuer, sub: "user-1", aud: "https://api.example", client_id: "c1", scope: "read write",
        jti: expect.stringMatching(/^[A-Za-z0-9_-]{22}$/), iat: expect.any(Number), exp: claims.iat + 900,
        auth_time: 1_800_000_000, acr: "urn:tessera:pwd"
      })
    }).pipe(Effect.provide(World)))

  it.effect("OIDC Core §3.1.3.6: an RS256 ID token with at_hash, nonce, azp and sid", () =>
    Effect.gen(function*() {
      const realm = yield* Provisioning.createRealm(`t-${crypto.randomUUID().slice(0, 8)}`, "https://tessera.test")
      const issuer = `https://tessera.test/realms/${realm.name}`
      const idToken = yield* Tokens.idToken({
        realmId: realm.id, issuer, sub: "user-1", clientId: "c1", authTime: 1_800_000_000, nonce: "n-0S6_WzA2Mj",
        amr: ["pwd"], sid: "s1", accessToken: "an-access-token", claims: { name: "Ada" }
      }, Tokens.defaultLifetimes.idToken)
      const jwks = yield* SigningKeys.jwks(realm.id)
      const { payload, protectedHeader } = yield* Effect.promise(() =>
        Jose.jwtVerify(idToken, Jose.createLocalJWKSet(jwks as Jose.JSONWebKeySet), { issuer, audience: "c1", currentDate: new Date(0) })
      )
      expect(protectedHeader.alg).toBe("RS256")
      const digest = new Uint8Array(yield* Effect.promise(() => crypto.subtle.digest("SHA-256", new TextEncoder().encode("an-access-token"))))
      expect(payload).toEqual({
        name: "Ada", iss: issuer, sub: "user-1", aud: "c1", azp: "c1", exp: payload.iat! + 900, iat: expect.any(Number),
        auth_time: 1_800_000_000, nonce: "n-0S6_WzA2Mj", amr: ["pwd"], sid: "s1",
        at_hash: Buffer.from(digest.slice(0, 16)).toString("base64url")
      })
    }).pipe(Effect.provide(World)))
})
