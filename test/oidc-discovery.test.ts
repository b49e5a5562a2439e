import { describe, expect } from "@effect/vitest"
import { Effect } from "effect"
import { createRealm, get, request } from "./support/Http.js"
import { publicUrl } from "./support/TestLive.js"
import * as TestLive from "./support/TestLive.js"

const it = TestLive.file()

/** RFC 8414 §2: asymmetric algorithms only for private_key_jwt assertions. */
const assertionAlgs = ["RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA", "Ed25519"]

it.layer(TestLive.World)("OIDC Discovery 1.0 §4 and RFC 8414 §3: the three metadata URLs", (it) => {
  it.effect("§4.1: {issuer}/.well-known/openid-configuration serves the realm's metadata", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const res = yield* get(`/realms/${realm.name}/.well-known/openid-configuration`)
      expect(res.status).toBe(200)
      expect(res.headers["access-control-allow-origin"]).toBe("*")
      expect(res.headers["content-type"]).toBe("application/json")
      expect(res.json).toEqual({
        issuer: `${publicUrl}/realms/${realm.name}`,
        jwks_uri: `${publicUrl}/realms/${realm.name}/jwks`,
        response_types_supported: ["code"],
        response_modes_supported: ["query", "form_post"],
        grant_types_supported: [
          "authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer",
          "urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:device_code"
        ],
        code_challenge_methods_supported: ["S256"],
        subject_types_supported: ["public"],
        id_token_signing_alg_values_supported: ["RS256"],
        dpop_signing_alg_values_supported: ["ES256", "ES384", "ES512", "RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "EdDSA", "Ed25519"],
        // CONTRACT §5 ID-JAG: MCP enterprise-managed authorization's grant profile
        authorization_grant_profiles_supported: ["urn:ietf:params:oauth:grant-profile:id-jag"],
        // ADR 0048: as the enterprise IdP, token exchange issues ID-JAGs
        identity_chaining_requested_token_types_supported: ["urn:ietf:params:oauth:token-type:id-jag"],
        authorization_endpoint: `${publicUrl}/realms/${realm.name}/authorize`,
        // RFC 8414 §2: the realm's resources' scopes, its built-in admin resource's among them (ADR 0035)
        scopes_supported: ["openid", "profile", "email", "offline_access", "tessera:admin"],
        authorization_response_iss_parameter_supported: true,
        prompt_values_supported: ["none", "login", "consent", "select_account"],
        acr_values_supported: ["urn:tessera:acr:password"],
        claims_supported: [
          "sub", "iss", "aud", "exp", "iat", "auth_time", "nonce", "acr", "amr", "azp", "sid", "name", "preferred_username", "email"
        ],
        request_parameter_supported: false,
        request_uri_parameter_supported: false,
        token_endpoint: `${publicUrl}/realms/${realm.name}/token`,
        token_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        token_endpoint_auth_signing_alg_values_supported: assertionAlgs,
        introspection_endpoint: `${publicUrl}/realms/${realm.name}/introspect`,
        introspection_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "private_key_jwt"],
        introspection_endpoint_auth_signing_alg_values_supported: assertionAlgs,
        revocation_endpoint: `${publicUrl}/realms/${realm.name}/revoke`,
        revocation_endpoint_auth_methods_supported: ["client_secret_basic", "client_secret_post", "private_key_jwt", "none"],
        revocation_endpoint_auth_signing_alg_values_supported: assertionAlgs,
        device_authorization_endpoint: `${publicUrl}/realms/${realm.name}/device_authorization`,
        userinfo_endpoint: `${publicUrl}/realms/${realm.name}/userinfo`,
        end_session_endpoint: `${publicUrl}/realms/${realm.name}/logout`,
        frontchannel_logout_supported: true,
        frontchannel_logout_session_supported: true,
        client_id_metadata_document_supported: true
      })
    }))

  it.effect("RFC 8414 §3.1: the path-inserted URLs serve the identical document", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const oidc = yield* get(`/realms/${realm.name}/.well-known/openid-configuration`)
      const rfc8414 = yield* get(`/.well-known/oauth-authorization-server/realms/${realm.name}`)
      const inserted = yield* get(`/.well-known/openid-configuration/realms/${realm.name}`)
      for (const res of [rfc8414, inserted]) {
        expect(res.status).toBe(200)
        expect(res.headers["access-control-allow-origin"]).toBe("*")
        expect(res.text).toBe(oidc.text)
      }
    }))
})

it.layer(TestLive.World)("CONTRACT §2: realms, CORS and what is not served", (it) => {
  const unknown = { error: "invalid_request", error_description: "unknown realm" }

  it.effect("an unknown realm is 404 unknown realm at each of the three URLs", () =>
    Effect.gen(function*() {
      for (const path of [
        "/realms/nope/.well-known/openid-configuration",
        "/.well-known/oauth-authorization-server/realms/nope",
        "/.well-known/openid-configuration/realms/nope",
        "/realms/Not_A_Name/.well-known/openid-configuration"
      ]) {
        const res = yield* get(path)
        expect(res.status).toBe(404)
        expect(res.headers["content-type"]).toBe("application/json")
        expect(res.headers["access-control-allow-origin"]).toBe("*")
        expect(res.json).toEqual(unknown)
      }
    }))

  it.effect("an OPTIONS preflight allows MCP-Protocol-Version, Authorization and Content-Type from any origin", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      for (const path of [
        `/realms/${realm.name}/.well-known/openid-configuration`,
        `/.well-known/oauth-authorization-server/realms/${realm.name}`,
        `/.well-known/openid-configuration/realms/${realm.name}`,
        `/realms/${realm.name}/jwks`
      ]) {
        const res = yield* request("OPTIONS", path, {
          headers: {
            origin: "https://app.example",
            "access-control-request-method": "GET",
            "access-control-request-headers": "mcp-protocol-version"
          }
        })
        expect(res.status).toBe(204)
        expect(res.text).toBe("")
        expect(res.headers["access-control-allow-origin"]).toBe("*")
        expect(res.headers["access-control-allow-methods"]).toBe("GET, OPTIONS")
        expect(res.headers["access-control-allow-headers"]).toBe("MCP-Protocol-Version, Authorization, Content-Type")
      }
    }))

  it.effect("unserved well-known variants answer 404 JSON, never 5xx", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      for (const path of [
        "/.well-known/oauth-authorization-server",
        "/.well-known/openid-configuration",
        "/.well-known/oauth-protected-resource",
        `/realms/${realm.name}/.well-known/oauth-authorization-server`,
        `/.well-known/oauth-authorization-server/realms/${realm.name}/extra`,
        "/.well-known/anything"
      ]) {
        const res = yield* get(path)
        expect(res.status).toBe(404)
        expect(res.headers["content-type"]).toBe("application/json")
        expect(res.json).toEqual({ error: "not_found", error_description: "nothing is served at this path" })
      }
    }))

  it.effect("RFC 8414 §2: the metadata never advertises implicit, password, plain PKCE or a token response type", () =>
    Effect.gen(function*() {
      const realm = yield* createRealm()
      const doc = (yield* get(`/.well-known/oauth-authorization-server/realms/${realm.name}`)).json
      // RFC 8414 §2: omitted grant_types_supported means ["authorization_code", "implicit"], so it is always present
      expect(doc.grant_types_supported).toBeDefined()
      expect(doc.grant_types_supported).not.toContain("implicit")
      expect(doc.grant_types_supported).not.toContain("password")
      expect(doc.response_types_supported).toEqual(["code"])
      expect(doc.code_challenge_methods_supported).toEqual(["S256"])
      // RFC 8414 §2: the issuer has no query or fragment, and is the realm's path under the one origin
      expect(doc.issuer).toBe(`${publicUrl}/realms/${realm.name}`)
    }))
})
