import { expect } from "@effect/vitest"
import { Effect, Option } from "effect"
import { Clients, Hash, Provisioning } from "@tessera/domain"
import type { WireResponse } from "./support/Http.js"
import { admin, createRealm, request } from "./support/Http.js"
import { adminToken } from "./support/TestLive.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

/** `POST /admin/realms/R/clients` with a JSON body (CONTRACT §3: the RFC 7591 registration request). */
const register = (realm: string, metadata: unknown) => admin.post(`/admin/realms/${realm}/clients`, metadata)

/** RFC 7591 §3.2.1: the whole successful response's wire shape. */
const expectRegistered = (res: WireResponse) => {
  expect(res.status).toBe(201)
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["cache-control"]).toBe("no-store")
}

/** RFC 7591 §3.2.2: 400, no-store, and exactly `{error, error_description}`. */
const expectRefused = (res: WireResponse, error: string, error_description: string) => {
  expect(res.status).toBe(400)
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.json).toEqual({ error, error_description })
}

const rsaPublicJwk = {
  kty: "RSA",
  kid: "k1",
  use: "sig",
  alg: "RS256",
  n: "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
  e: "AQAB"
}

const ecPublicJwk = {
  kty: "EC",
  crv: "P-256",
  x: "f83OJ3D2xF1Bg8vub9tLe1gHMzV76e8Tus9uPHvRVEU",
  y: "x_FEzRu9m36HLN_tue659LNpXW6pCyStikYjKIWI5a0"
}

/** Every metadata default of RFC 7591 §2 and CONTRACT §3, as the registration response shows them. */
const defaults = {
  post_logout_redirect_uris: [],
  grant_types: ["authorization_code"],
  response_types: ["code"],
  token_endpoint_auth_method: "client_secret_basic",
  frontchannel_logout_session_required: false,
  dpop_bound_access_tokens: false,
  principal_type: "app"
}

/** Every string anywhere inside a value. */
const stringsIn = (value: unknown): Array<string> =>
  typeof value === "string"
    ? [value]
    : typeof value === "object" && value !== null
    ? Object.values(value).flatMap(stringsIn)
    : []

it.layer(TestLive.World)("RFC 7591 §3.2.1 client registration response", (it) => {
  it.effect("§3.2.1: a confidential client gets an id, a non-expiring secret and every metadata default", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* register(realm.name, {
        redirect_uris: ["https://app.example/cb"],
        client_name: "Example App",
        scope: "openid profile"
      })
      expectRegistered(res)
      expect(res.json).toEqual({
        client_id: expect.any(String),
        client_secret: expect.any(String),
        client_secret_expires_at: 0,
        client_id_issued_at: expect.any(Number),
        redirect_uris: ["https://app.example/cb"],
        client_name: "Example App",
        scope: "openid profile",
        ...defaults
      })
      // RFC 6749 §10.10: credentials with enough entropy (Tessera: 32 random bytes, base64url)
      expect(res.json.client_secret).toMatch(/^[A-Za-z0-9_-]{43}$/)
      expect(res.json.client_id).toMatch(/^[A-Za-z0-9_-]{22}$/)
      expect(Number.isInteger(res.json.client_id_issued_at)).toBe(true)
    }))

  it.effect("§2: every honoured field is registered and echoed", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const metadata = {
        redirect_uris: ["https://app.example/cb", "com.example.app:/cb"],
        post_logout_redirect_uris: ["https://app.example/bye"],
        grant_types: ["authorization_code", "refresh_token", "client_credentials"],
        response_types: ["code"],
        token_endpoint_auth_method: "client_secret_post",
        scope: "openid offline_access",
        client_name: "Every Field",
        frontchannel_logout_uri: "https://app.example/logout",
        frontchannel_logout_session_required: true,
        dpop_bound_access_tokens: true,
        principal_type: "app"
      }
      const res = yield* register(realm.name, metadata)
      expectRegistered(res)
      expect(res.json).toEqual({
        client_id: expect.any(String),
        client_secret: expect.any(String),
        client_secret_expires_at: 0,
        client_id_issued_at: expect.any(Number),
        ...metadata
      })
    }))

  it.effect("§2: a public client ('none') gets no client_secret", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* register(realm.name, {
        redirect_uris: ["http://127.0.0.1/cb"],
        token_endpoint_auth_method: "none",
        grant_types: ["authorization_code", "refresh_token"]
      })
      expectRegistered(res)
      expect(res.json).toEqual({
        ...defaults,
        client_id: expect.any(String),
        client_id_issued_at: expect.any(Number),
        redirect_uris: ["http://127.0.0.1/cb"],
        grant_types: ["authorization_code", "refresh_token"],
        token_endpoint_auth_method: "none"
      })
    }))

  it.effect("§2: a private_key_jwt client with jwks gets no client_secret", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const jwks = { keys: [rsaPublicJwk, ecPublicJwk] }
      const res = yield* register(realm.name, {
        grant_types: ["client_credentials"],
        token_endpoint_auth_method: "private_key_jwt",
        jwks
      })
      expectRegistered(res)
      expect(res.json).toEqual({
        ...defaults,
        client_id: expect.any(String),
        client_id_issued_at: expect.any(Number),
        redirect_uris: [],
        grant_types: ["client_credentials"],
        response_types: [],
        token_endpoint_auth_method: "private_key_jwt",
        jwks
      })
    }))

  it.effect("§2: a private_key_jwt client with an https jwks_uri gets no client_secret", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* register(realm.name, {
        grant_types: ["client_credentials"],
        token_endpoint_auth_method: "private_key_jwt",
        jwks_uri: "https://app.example/jwks.json"
      })
      expectRegistered(res)
      expect(res.json).toEqual({
        ...defaults,
        client_id: expect.any(String),
        client_id_issued_at: expect.any(Number),
        redirect_uris: [],
        grant_types: ["client_credentials"],
        response_types: [],
        token_endpoint_auth_method: "private_key_jwt",
        jwks_uri: "https://app.example/jwks.json"
      })
    }))

  it.effect("CONTRACT §3: principal_type 'agent' is registered", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* register(realm.name, {
        grant_types: ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
        principal_type: "agent"
      })
      expectRegistered(res)
      expect(res.json).toEqual({
        ...defaults,
        client_id: expect.any(String),
        client_secret: expect.any(String),
        client_secret_expires_at: 0,
        client_id_issued_at: expect.any(Number),
        redirect_uris: [],
        grant_types: ["client_credentials", "urn:ietf:params:oauth:grant-type:token-exchange"],
        response_types: [],
        principal_type: "agent"
      })
    }))

  it.effect("§2: metadata the server does not understand is ignored and not echoed", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* register(realm.name, {
        redirect_uris: ["https://app.example/cb"],
        logo_uri: "https://app.example/logo.png",
        software_statement: "eyJhbGciOiJub25lIn0.e30.",
        contacts: ["ops@app.example"],
        x_vendor_extension: { nested: true },
        client_secret: "chosen-by-the-client",
        client_id: "chosen-by-the-client"
      })
      expectRegistered(res)
      expect(res.json).toEqual({
        ...defaults,
        client_id: expect.any(String),
        client_secret: expect.any(String),
        client_secret_expires_at: 0,
        client_id_issued_at: expect.any(Number),
        redirect_uris: ["https://app.example/cb"]
      })
      // RFC 7591 §3.2.1: the server issues the credentials; a client cannot choose them
      expect(res.json.client_id).not.toBe("chosen-by-the-client")
      expect(res.json.client_secret).not.toBe("chosen-by-the-client")
    }))

  it.effect("§3.2.1: the client secret is stored only as its SHA-256, never in clear", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* register(realm.name, { redirect_uris: ["https://app.example/cb"] })
      expectRegistered(res)
      const { client_id: clientId, client_secret: secret } = res.json as { client_id: string; client_secret: string }

      const clients = yield* Clients.Clients
      const { id: realmId } = yield* Provisioning.findRealm(realm.name)
      const stored = Option.getOrThrow(yield* clients.find(realmId, clientId))
      expect(stored.clientId).toBe(clientId)
      expect(stored.secretHash).toBe(yield* Hash.sha256(secret))
      expect(stringsIn(stored)).not.toContain(secret)
      expect(JSON.stringify(stored)).not.toContain(secret)
    }))

  it.effect("§3.2.1: a public client is stored without any secret hash", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* register(realm.name, { redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "none" })
      expectRegistered(res)
      const clients = yield* Clients.Clients
      const { id: realmId } = yield* Provisioning.findRealm(realm.name)
      const stored = Option.getOrThrow(yield* clients.find(realmId, res.json.client_id))
      expect(stored.secretHash).toBeUndefined()
    }))
})

it.layer(TestLive.World)("RFC 7591 §2 grant_types and response_types, OAuth 2.1 §10", (it) => {
  const refusals: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
    [
      "OAuth 2.1 §10.1: the implicit grant is refused",
      { redirect_uris: ["https://app.example/cb"], grant_types: ["implicit"] },
      "the 'implicit' grant is not supported"
    ],
    [
      "OAuth 2.1 §10.2: the password grant is refused",
      { redirect_uris: ["https://app.example/cb"], grant_types: ["authorization_code", "password"] },
      "the 'password' grant is not supported"
    ],
    [
      "OAuth 2.1 §3.1.1: response type 'token' is refused",
      { redirect_uris: ["https://app.example/cb"], response_types: ["token"] },
      "the response type 'token' is not supported; only 'code' is"
    ],
    [
      "OAuth 2.1 §3.1.1: response type 'id_token' is refused",
      { redirect_uris: ["https://app.example/cb"], response_types: ["id_token"] },
      "the response type 'id_token' is not supported; only 'code' is"
    ],
    [
      "OAuth 2.1 §3.1.1: response type 'code id_token' is refused",
      { redirect_uris: ["https://app.example/cb"], response_types: ["code id_token"] },
      "the response type 'code id_token' is not supported; only 'code' is"
    ],
    [
      "§2: a grant type the server does not know is refused",
      { redirect_uris: ["https://app.example/cb"], grant_types: ["urn:example:made-up"] },
      "unknown grant type 'urn:example:made-up'"
    ],
    [
      "§2.1: response type 'code' without the authorization_code grant is refused",
      { grant_types: ["client_credentials"], response_types: ["code"] },
      "'response_types' must contain 'code' exactly when 'grant_types' contains 'authorization_code'"
    ],
    [
      "§2.1: the authorization_code grant without response type 'code' is refused",
      { redirect_uris: ["https://app.example/cb"], grant_types: ["authorization_code"], response_types: [] },
      "'response_types' must contain 'code' exactly when 'grant_types' contains 'authorization_code'"
    ],
    [
      "§2: a repeated grant type is refused",
      { redirect_uris: ["https://app.example/cb"], grant_types: ["authorization_code", "authorization_code"] },
      "'grant_types' must not repeat a value"
    ],
    [
      "§2: token_endpoint_auth_method outside the supported set is refused",
      { redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: "client_secret_jwt" },
      "'token_endpoint_auth_method' must be one of client_secret_basic, client_secret_post, private_key_jwt, none"
    ],
    [
      "RFC 6749 §4.4: a public client ('none') may not use client_credentials",
      { grant_types: ["client_credentials"], token_endpoint_auth_method: "none" },
      "the 'client_credentials' grant needs a client that authenticates, not 'none'"
    ],
    [
      "RFC 8693 §2.1: a public client ('none') may not use token exchange",
      {
        grant_types: ["urn:ietf:params:oauth:grant-type:token-exchange"],
        token_endpoint_auth_method: "none"
      },
      "the 'urn:ietf:params:oauth:grant-type:token-exchange' grant needs a client that authenticates, not 'none'"
    ],
    [
      "CONTRACT §3: principal_type other than 'app' or 'agent' is refused",
      { redirect_uris: ["https://app.example/cb"], principal_type: "robot" },
      "'principal_type' must be 'app' or 'agent'"
    ]
  ]
  for (const [name, metadata, description] of refusals) {
    it.effect(`${name}: invalid_client_metadata`, () =>
      Effect.gen(function*() {
        const realm = yield* createRealm()
        expectRefused(yield* register(realm.name, metadata), "invalid_client_metadata", description)
      }))
  }

  it.effect("§2: grant_types without authorization_code needs no redirect URI and no response type", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* register(realm.name, { grant_types: ["client_credentials"] })
      expectRegistered(res)
      expect(res.json.redirect_uris).toEqual([])
      expect(res.json.response_types).toEqual([])
    }))

  it.effect("RFC 8628 §3.1: a public client may use the device grant", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* register(realm.name, {
        grant_types: ["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"],
        token_endpoint_auth_method: "none"
      })
      expectRegistered(res)
      expect(res.json.client_secret).toBeUndefined()
      expect(res.json.grant_types).toEqual(["urn:ietf:params:oauth:grant-type:device_code", "refresh_token"])
    }))
})

it.layer(TestLive.World)("RFC 7591 §2 redirect_uris: RFC 6749 §3.1.2, OAuth 2.1 §2.3.1, RFC 8252 §7", (it) => {
  const refusals: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
    [
      "OAuth 2.1 §2.3.1: the code grant needs registered redirect URIs",
      { grant_types: ["authorization_code"] },
      "'redirect_uris' is required for the authorization_code grant"
    ],
    [
      "OAuth 2.1 §2.3.1: an empty redirect_uris for the code grant",
      { redirect_uris: [] },
      "'redirect_uris' is required for the authorization_code grant"
    ],
    [
      "RFC 6749 §3.1.2: a redirect URI with a fragment",
      { redirect_uris: ["https://app.example/cb#frag"] },
      "redirect_uris[0] must not contain a fragment"
    ],
    [
      "RFC 6749 §3.1.2: a redirect URI with an empty fragment",
      { redirect_uris: ["https://app.example/cb", "https://app.example/cb2#"] },
      "redirect_uris[1] must not contain a fragment"
    ],
    [
      "RFC 6749 §3.1.2: a relative redirect URI",
      { redirect_uris: ["/cb"] },
      "redirect_uris[0] must be an absolute URI"
    ],
    [
      "RFC 3986 §4.3: a redirect URI with a space is not a URI",
      { redirect_uris: ["https://app.example/a b"] },
      "redirect_uris[0] must be an absolute URI"
    ],
    [
      "RFC 3986 §4.3: a redirect URI with leading whitespace is not a URI",
      { redirect_uris: [" https://app.example/cb"] },
      "redirect_uris[0] must be an absolute URI"
    ],
    [
      "RFC 3986 §4.3: a redirect URI with non-ASCII characters is not a URI",
      { redirect_uris: ["https://app.example/caf\u00e9"] },
      "redirect_uris[0] must be an absolute URI"
    ],
    [
      "OAuth 2.1 §2.3.1: plain http on a non-loopback host",
      { redirect_uris: ["http://app.example/cb"] },
      "redirect_uris[0] may use http only for a loopback host"
    ],
    [
      "RFC 8252 §7.3: a name that merely starts like a loopback address is not loopback",
      { redirect_uris: ["http://127.0.0.1.app.example/cb"] },
      "redirect_uris[0] may use http only for a loopback host"
    ],
    [
      "OAuth 2.1 §7.12: a javascript: redirect URI",
      { redirect_uris: ["javascript:alert(1)"] },
      "redirect_uris[0] must use https, http on a loopback host, or a private-use scheme (reverse domain name)"
    ],
    [
      "OAuth 2.1 §7.12: a data: redirect URI",
      { redirect_uris: ["data:text/html,hi"] },
      "redirect_uris[0] must use https, http on a loopback host, or a private-use scheme (reverse domain name)"
    ],
    [
      "RFC 9110 §4.2.2: an https redirect URI without an authority",
      { redirect_uris: ["https:app.example/cb"] },
      "redirect_uris[0] must name a host"
    ],
    [
      "§2: a repeated redirect URI",
      { redirect_uris: ["https://app.example/cb", "https://app.example/cb"] },
      "'redirect_uris' must not repeat a value"
    ],
    [
      "§2: redirect_uris given as a string rather than an array",
      { redirect_uris: "https://app.example/cb" },
      "'redirect_uris' must be an array of strings"
    ],
    [
      "§2: redirect_uris holding a non-string",
      { redirect_uris: ["https://app.example/cb", 42] },
      "'redirect_uris' must be an array of strings"
    ]
  ]
  for (const [name, metadata, description] of refusals) {
    it.effect(`${name}: invalid_redirect_uri`, () =>
      Effect.gen(function*() {
        const realm = yield* createRealm()
        expectRefused(yield* register(realm.name, metadata), "invalid_redirect_uri", description)
      }))
  }

  const accepted: ReadonlyArray<readonly [string, string]> = [
    ["RFC 8252 §7.3: loopback http on 127.0.0.1 with a port", "http://127.0.0.1:8765/cb"],
    ["RFC 8252 §7.3: loopback http on [::1]", "http://[::1]/cb"],
    ["RFC 8252 §7.3: loopback http on [::1] with a port", "http://[::1]:8765/cb"],
    ["RFC 8252 §8.3: loopback http on localhost", "http://localhost:3000/cb"],
    ["RFC 8252 §7.1: a private-use scheme (reverse domain name)", "com.example.app:/cb"],
    ["OAuth 2.1 §2.3.1: an https URI with a query", "https://app.example/cb?tenant=1"]
  ]
  for (const [name, uri] of accepted) {
    it.effect(`${name} is accepted`, () =>
      Effect.gen(function*() {
        const realm = yield* createRealm()
        const res = yield* register(realm.name, { redirect_uris: [uri], token_endpoint_auth_method: "none" })
        expectRegistered(res)
        expect(res.json).toEqual({
          ...defaults,
          client_id: expect.any(String),
          client_id_issued_at: expect.any(Number),
          redirect_uris: [uri],
          token_endpoint_auth_method: "none"
        })
      }))
  }

  it.effect("OIDC RP-Initiated Logout §3.1: a post-logout redirect URI with plain http off loopback is invalid_client_metadata", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      expectRefused(
        yield* register(realm.name, { redirect_uris: ["https://app.example/cb"], post_logout_redirect_uris: ["http://app.example/bye"] }),
        "invalid_client_metadata",
        "post_logout_redirect_uris[0] may use http only for a loopback host"
      )
    }))
})

it.layer(TestLive.World)("RFC 7591 §2 jwks, jwks_uri and token_endpoint_auth_method", (it) => {
  const refusals: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
    [
      "RFC 7523 §2.2: private_key_jwt without keys",
      { grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt" },
      "'private_key_jwt' needs 'jwks' or 'jwks_uri'"
    ],
    [
      "RFC 7517 §4 / RFC 7518 §6.3.2: a jwks holding a private member ('d')",
      {
        grant_types: ["client_credentials"],
        token_endpoint_auth_method: "private_key_jwt",
        jwks: { keys: [{ ...ecPublicJwk, d: "jpsQnnGQmL-YBIffH1136cspYG6-0iY7X1fCE9-E9LI" }] }
      },
      "'jwks' keys[0] must be a public key (no private members)"
    ],
    [
      "RFC 7518 §6.4: a jwks holding a symmetric key",
      {
        grant_types: ["client_credentials"],
        token_endpoint_auth_method: "private_key_jwt",
        jwks: { keys: [rsaPublicJwk, { kty: "oct", k: "c2VjcmV0" }] }
      },
      "'jwks' keys[1] must have kty EC, RSA or OKP"
    ],
    [
      "RFC 7518 §6.3.1: an RSA key without its modulus",
      {
        grant_types: ["client_credentials"],
        token_endpoint_auth_method: "private_key_jwt",
        jwks: { keys: [{ kty: "RSA", e: "AQAB" }] }
      },
      "'jwks' keys[0] must have 'n' as a base64url string"
    ],
    [
      "RFC 7518 §6.2.1.1: an EC key on an unknown curve",
      {
        grant_types: ["client_credentials"],
        token_endpoint_auth_method: "private_key_jwt",
        jwks: { keys: [{ ...ecPublicJwk, crv: "P-999" }] }
      },
      "'jwks' keys[0] must have crv P-256, P-384, P-521, secp256k1"
    ],
    [
      "RFC 7518 §6.2.1.2: an EC key whose 'x' is not base64url",
      {
        grant_types: ["client_credentials"],
        token_endpoint_auth_method: "private_key_jwt",
        jwks: { keys: [{ ...ecPublicJwk, x: 12 }] }
      },
      "'jwks' keys[0] must have 'x' as a base64url string"
    ],
    [
      "RFC 7517 §5: a jwks that is not a JWK Set",
      { grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", jwks: [rsaPublicJwk] },
      "'jwks' must be a JWK Set: an object with a 'keys' array"
    ],
    [
      "RFC 7517 §5: an empty JWK Set",
      { grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", jwks: { keys: [] } },
      "'jwks' must hold at least one key"
    ],
    [
      "RFC 7591 §2: jwks and jwks_uri both present",
      {
        grant_types: ["client_credentials"],
        token_endpoint_auth_method: "private_key_jwt",
        jwks: { keys: [rsaPublicJwk] },
        jwks_uri: "https://app.example/jwks.json"
      },
      "'jwks' and 'jwks_uri' must not both be present"
    ],
    [
      "RFC 7591 §2: a jwks_uri that is not https",
      { grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", jwks_uri: "http://app.example/jwks.json" },
      "'jwks_uri' must be an https URL"
    ],
    [
      "RFC 7591 §2: a jwks_uri that is not a URL",
      { grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", jwks_uri: "https://" },
      "'jwks_uri' must be an https URL"
    ]
  ]
  for (const [name, metadata, description] of refusals) {
    it.effect(`${name}: invalid_client_metadata`, () =>
      Effect.gen(function*() {
        const realm = yield* createRealm()
        expectRefused(yield* register(realm.name, metadata), "invalid_client_metadata", description)
      }))
  }

  it.effect("RFC 8037 §2: an Ed25519 (OKP) public key is accepted", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const jwks = { keys: [{ kty: "OKP", crv: "Ed25519", x: "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo" }] }
      const res = yield* register(realm.name, { grant_types: ["client_credentials"], token_endpoint_auth_method: "private_key_jwt", jwks })
      expectRegistered(res)
      expect(res.json.jwks).toEqual(jwks)
    }))
})

it.layer(TestLive.World)("RFC 7591 §2 scope, types and front-channel logout", (it) => {
  const refusals: ReadonlyArray<readonly [string, Record<string, unknown>, string]> = [
    [
      "RFC 6749 §3.3: a scope with a double quote",
      { redirect_uris: ["https://app.example/cb"], scope: "read \"write\"" },
      "'scope' must be space-separated scope tokens"
    ],
    [
      "RFC 6749 §3.3: a scope with a backslash",
      { redirect_uris: ["https://app.example/cb"], scope: "read\\write" },
      "'scope' must be space-separated scope tokens"
    ],
    [
      "RFC 6749 §3.3: scope tokens separated by two spaces",
      { redirect_uris: ["https://app.example/cb"], scope: "read  write" },
      "'scope' must be space-separated scope tokens"
    ],
    [
      "RFC 6749 §3.3: a scope with a non-ASCII character",
      { redirect_uris: ["https://app.example/cb"], scope: "r\u00e9ad" },
      "'scope' must be space-separated scope tokens"
    ],
    [
      "RFC 6749 §3.3: an empty scope",
      { redirect_uris: ["https://app.example/cb"], scope: "" },
      "'scope' must be a non-empty string"
    ],
    [
      "§2: client_name a number",
      { redirect_uris: ["https://app.example/cb"], client_name: 42 },
      "'client_name' must be a non-empty string"
    ],
    [
      "§2: dpop_bound_access_tokens a string (RFC 9449 §5.2)",
      { redirect_uris: ["https://app.example/cb"], dpop_bound_access_tokens: "true" },
      "'dpop_bound_access_tokens' must be a boolean"
    ],
    [
      "§2: frontchannel_logout_session_required a string",
      { redirect_uris: ["https://app.example/cb"], frontchannel_logout_session_required: "yes" },
      "'frontchannel_logout_session_required' must be a boolean"
    ],
    [
      "§2: grant_types a string",
      { redirect_uris: ["https://app.example/cb"], grant_types: "authorization_code" },
      "'grant_types' must be an array of strings"
    ],
    [
      "§2: token_endpoint_auth_method a number",
      { redirect_uris: ["https://app.example/cb"], token_endpoint_auth_method: 1 },
      "'token_endpoint_auth_method' must be one of client_secret_basic, client_secret_post, private_key_jwt, none"
    ],
    [
      "OIDC Front-Channel Logout 1.0 §2: a frontchannel_logout_uri whose origin matches no redirect URI",
      { redirect_uris: ["https://app.example/cb"], frontchannel_logout_uri: "https://other.example/logout" },
      "'frontchannel_logout_uri' must have the scheme, host and port of a registered redirect URI"
    ],
    [
      "OIDC Front-Channel Logout 1.0 §2: a frontchannel_logout_uri on another port of the redirect URI's host",
      { redirect_uris: ["https://app.example/cb"], frontchannel_logout_uri: "https://app.example:8443/logout" },
      "'frontchannel_logout_uri' must have the scheme, host and port of a registered redirect URI"
    ],
    [
      "OIDC Front-Channel Logout 1.0 §2: a frontchannel_logout_uri with a fragment",
      { redirect_uris: ["https://app.example/cb"], frontchannel_logout_uri: "https://app.example/logout#x" },
      "'frontchannel_logout_uri' must be an https (or loopback http) URL without a fragment"
    ]
  ]
  for (const [name, metadata, description] of refusals) {
    it.effect(`${name}: invalid_client_metadata`, () =>
      Effect.gen(function*() {
        const realm = yield* createRealm()
        expectRefused(yield* register(realm.name, metadata), "invalid_client_metadata", description)
      }))
  }

  it.effect("RFC 6749 §3.3: every printable scope-token character is accepted", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const scope = "openid !#$%&'()*+,-./:;<=>?@[]^_`{|}~ https://api.example/read"
      const res = yield* register(realm.name, { redirect_uris: ["https://app.example/cb"], scope })
      expectRegistered(res)
      expect(res.json.scope).toBe(scope)
    }))
})

it.layer(TestLive.World)("RFC 7591 §2 with RFC 8707 resources (Tessera's 'resources')", (it) => {
  it.effect("RFC 8707 §2: a resource with a fragment is invalid_client_metadata", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      expectRefused(
        yield* register(realm.name, { redirect_uris: ["https://app.example/cb"], resources: ["https://api.example/#x"] }),
        "invalid_client_metadata",
        "resources[0] must be an absolute URI without a fragment"
      )
    }))

  it.effect("RFC 8707 §2: a relative resource is invalid_client_metadata", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      expectRefused(
        yield* register(realm.name, { redirect_uris: ["https://app.example/cb"], resources: ["/api"] }),
        "invalid_client_metadata",
        "resources[0] must be an absolute URI without a fragment"
      )
    }))

  it.effect("RFC 3986 §4.3: a resource with a space or a quote is not a URI", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      expectRefused(
        yield* register(realm.name, { redirect_uris: ["https://app.example/cb"], resources: ["https://api.example/ok", "https://api.example/\"a b\""] }),
        "invalid_client_metadata",
        "resources[1] must be an absolute URI without a fragment"
      )
    }))

  it.effect("CONTRACT §3: a resource not registered in the realm is invalid_client_metadata", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      expectRefused(
        yield* register(realm.name, { redirect_uris: ["https://app.example/cb"], resources: ["https://api.example/mcp"] }),
        "invalid_client_metadata",
        "resource 'https://api.example/mcp' is not registered in this realm"
      )
    }))

  it.effect("CONTRACT §3: a resource registered in another realm only is invalid_client_metadata", () =>
    Effect.gen(function*() {
      const other = yield* createRealm()
      const realm = yield* createRealm()
      const created = yield* admin.post(`/admin/realms/${other.name}/resources`, { uri: "https://api.example/mcp", scopes: ["read"] })
      expect(created.status).toBe(201)
      expectRefused(
        yield* register(realm.name, { redirect_uris: ["https://app.example/cb"], resources: ["https://api.example/mcp"] }),
        "invalid_client_metadata",
        "resource 'https://api.example/mcp' is not registered in this realm"
      )
    }))

  it.effect("CONTRACT §3: a resource registered in the realm is accepted and echoed", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const created = yield* admin.post(`/admin/realms/${realm.name}/resources`, { uri: "https://api.example/mcp", scopes: ["read"] })
      expect(created.status).toBe(201)
      const res = yield* register(realm.name, { redirect_uris: ["https://app.example/cb"], resources: ["https://api.example/mcp"] })
      expectRegistered(res)
      expect(res.json).toEqual({
        ...defaults,
        client_id: expect.any(String),
        client_secret: expect.any(String),
        client_secret_expires_at: 0,
        client_id_issued_at: expect.any(Number),
        redirect_uris: ["https://app.example/cb"],
        resources: ["https://api.example/mcp"]
      })
    }))
})

it.layer(TestLive.World)("RFC 7591 §3.2.2 error response for bodies that are not client metadata", (it) => {
  it.effect("§3.2.2: a JSON array body is invalid_request", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      expectRefused(yield* register(realm.name, [{ redirect_uris: ["https://app.example/cb"] }]), "invalid_request", "the body must be a JSON object")
    }))

  it.effect("§3.2.2: malformed JSON is invalid_request", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* request("POST", `/admin/realms/${realm.name}/clients`, {
        headers: { authorization: `Bearer ${adminToken}` },
        body: "{\"redirect_uris\": ["
      })
      expectRefused(res, "invalid_request", "the body is not valid JSON")
    }))
})
