/**
 * RFC 9449 end to end with an independent client, oauth4webapi 3.8.8 and its DPoP support, against the real server
 * process with nonces required (ADR 0017): code + PKCE + DPoP with `dpop_jkt`, the nonce challenges answered and
 * retried by the client (`isDPoPNonceError`), userinfo with the DPoP scheme, refresh with the same key (and not with
 * another), and a stolen token replayed without the key, refused at userinfo and at a resource server built on
 * packages/protocol alone. On PGlite, and on PostgreSQL when DATABASE_URL is set.
 */
import * as Http from "node:http"
import * as Net from "node:net"
import { Effect, Either } from "effect"
import * as oauth from "oauth4webapi"
import { afterAll, describe, expect, it } from "vitest"
import { AccessToken, Dpop } from "@tessera/protocol"
import type { Jwks } from "@tessera/protocol"
import { person } from "./support/Person.js"
import { fileDatabase, skipWithoutPostgres } from "./support/Postgres.js"
import { adminCall, cleanup, startTessera } from "./support/Process.js"

afterAll(cleanup)

const insecure = { [oauth.allowInsecureRequests]: true } as const

/**
 * A protected resource built only from packages/protocol (RFC 9068 §4 `verifyAccessToken`, RFC 9449 §7
 * `verifyPresentation`), on a loopback port: it requires its own nonce (§9) and remembers proof jtis (§11.1).
 */
const resourceServer = async (issuer: string) => {
  const jwks = (await (await fetch(`${issuer}/jwks`)).json()) as Jwks.Jwks
  const nonce = crypto.randomUUID()
  const seen = new Set<string>()
  const server = Http.createServer((req, res) => {
    const port = (server.address() as Net.AddressInfo).port
    const resource = `http://127.0.0.1:${port}/api`
    const headers = req.headers
    const check = Effect.gen(function*() {
      const credentials = Dpop.credentials(headers.authorization ?? "")
      if (credentials === undefined) return yield* Effect.fail(Dpop.resourceError(new Dpop.ProofRejected({ reason: "missing" })))
      const claims = yield* AccessToken.verifyAccessToken(credentials.token, { issuer, audience: resource, jwks }).pipe(
        Effect.mapError(() => Dpop.resourceError(new Dpop.BindingRejected({ reason: "key_mismatch" })))
      )
      yield* Dpop.verifyPresentation({
        credentials, claims, proof: headers.dpop, method: req.method ?? "GET", uri: `http://127.0.0.1:${port}${req.url}`,
        now: Math.floor(Date.now() / 1000),
        nonce: (n) => Effect.succeed(n === nonce),
        unique: (p) => Effect.sync(() => !seen.has(`${p.htu} ${p.jti}`) && seen.add(`${p.htu} ${p.jti}`) !== undefined)
      }).pipe(Effect.mapError((e) => Dpop.resourceError(e)))
      return { sub: claims.sub, scope: claims.scope }
    })
    void Effect.runPromise(Effect.either(check)).then(Either.match({
      onRight: (body) => {
        res.writeHead(200, { "content-type": "application/json" }).end(JSON.stringify(body))
      },
      onLeft: (error) => {
        res.writeHead(error.httpStatus, {
          "content-type": "application/json",
          "www-authenticate": error.wwwAuthenticate ?? "DPoP",
          // RFC 9449 §9: the nonce to use, with every refusal
          "dpop-nonce": nonce
        }).end(JSON.stringify(error.body))
      }
    }))
  })
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve))
  const port = (server.address() as Net.AddressInfo).port
  return { resource: `http://127.0.0.1:${port}/api`, url: new URL(`http://127.0.0.1:${port}/api/things?page=1`), close: () => server.close() }
}

const dpopFlow = (env: Record<string, string>) => async () => {
  const { base, child } = await startTessera({ TESSERA_DPOP_NONCE_REQUIRED: "1", ...env })
  let rs: Awaited<ReturnType<typeof resourceServer>> | undefined
  try {
    const name = `dpop-${process.pid}-${Date.now().toString(36)}`
    const issuer = (await adminCall(base, "/admin/realms", { name }))["issuer"] as string
    await adminCall(base, `/admin/realms/${name}/users`, { username: "ada", password: "correct horse battery", name: "Ada" })
    rs = await resourceServer(issuer)
    await adminCall(base, `/admin/realms/${name}/resources`, { uri: rs.resource, scopes: ["read"] })
    const redirectUri = "http://127.0.0.1:9/callback"
    // RFC 9449 §5.2: a public client that always uses DPoP
    const registered = await adminCall(base, `/admin/realms/${name}/clients`, {
      client_name: "DPoP app", redirect_uris: [redirectUri], grant_types: ["authorization_code", "refresh_token"],
      token_endpoint_auth_method: "none", dpop_bound_access_tokens: true
    })

    const issuerUrl = new URL(issuer)
    const as = await oauth.processDiscoveryResponse(issuerUrl, await oauth.discoveryRequest(issuerUrl, { algorithm: "oidc", ...insecure }))
    expect(as.dpop_signing_alg_values_supported).toContain("ES256")
    const client: oauth.Client = { client_id: registered["client_id"] }
    const DPoP = oauth.DPoP(client, await oauth.generateKeyPair("ES256"))

    // RFC 9449 §8, §9: the client answers every nonce challenge by retrying once with the nonce it was given
    let challenges = 0
    const retryOnNonce = async <T>(attempt: () => Promise<T>): Promise<T> => {
      try {
        return await attempt()
      } catch (e) {
        if (!oauth.isDPoPNonceError(e)) throw e
        challenges++
        return attempt()
      }
    }

    // the authorization request, with PKCE and dpop_jkt (RFC 9449 §10)
    const verifier = oauth.generateRandomCodeVerifier()
    const state = oauth.generateRandomState()
    const authorizationUrl = new URL(as.authorization_endpoint!)
    for (const [k, v] of Object.entries({
      client_id: client.client_id, redirect_uri: redirectUri, response_type: "code", scope: "openid offline_access read",
      resource: rs.resource, state, code_challenge: await oauth.calculatePKCECodeChallenge(verifier), code_challenge_method: "S256",
      dpop_jkt: await DPoP.calculateThumbprint()
    })) authorizationUrl.searchParams.set(k, v)
    const browser = person()
    const login = await browser.follow(base, await browser.go(authorizationUrl.href))
    const consent = await browser.submit(base, login.url || authorizationUrl.href, login.html, { username: "ada", password: "correct horse battery" })
    const done = await browser.submit(base, consent.url, consent.html, { decision: "allow" })
    const callback = new URL(done.res.headers.get("location")!)
    const params = oauth.validateAuthResponse(as, client, callback, state)

    // RFC 9449 §5: the code grant with a proof: nonce challenge first (§8), then a DPoP-bound token
    const tokens = await retryOnNonce(async () =>
      oauth.processAuthorizationCodeResponse(as, client,
        await oauth.authorizationCodeGrantRequest(as, client, oauth.None(), params, redirectUri, verifier, { DPoP, ...insecure })))
    expect(challenges).toBe(1)
    expect(tokens.token_type).toBe("dpop")
    const sub = oauth.getValidatedIdTokenClaims(tokens)!.sub

    // RFC 9449 §7: userinfo with the DPoP scheme and a proof with ath (the nonce from the token endpoint serves)
    const info = await retryOnNonce(async () =>
      oauth.processUserInfoResponse(as, client, sub, await oauth.userInfoRequest(as, client, tokens.access_token, { DPoP, ...insecure })))
    expect(info).toEqual({ sub })

    // RFC 9449 §5: the public client's refresh token is bound: the same key refreshes, for the resource server
    const refreshed = await retryOnNonce(async () =>
      oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), tokens.refresh_token!, {
        DPoP, additionalParameters: { resource: rs!.resource }, ...insecure
      })))
    expect(refreshed.token_type).toBe("dpop")
    expect(refreshed.scope).toBe("read")

    // another key cannot use the (new) refresh token: invalid_grant
    const thiefDPoP = oauth.DPoP(client, await oauth.generateKeyPair("ES256"))
    const stolenRefresh = retryOnNonce(async () =>
      oauth.processRefreshTokenResponse(as, client, await oauth.refreshTokenGrantRequest(as, client, oauth.None(), refreshed.refresh_token!, {
        DPoP: thiefDPoP, ...insecure
      })))
    await expect(stolenRefresh).rejects.toMatchObject({ error: "invalid_grant" })

    // the resource server built on packages/protocol: a nonce challenge of its own (§9), then the claims
    const before = challenges
    const api = await retryOnNonce(async () => oauth.protectedResourceRequest(refreshed.access_token, "GET", rs!.url, undefined, undefined, { DPoP, ...insecure }))
    expect(challenges).toBe(before + 1)
    expect(api.status).toBe(200)
    expect(await api.json()).toEqual({ sub, scope: ["read"] })

    // a stolen token replayed without the key: as a bearer token (§7.2), or with the thief's own key (§7.1)
    const asBearer = await fetch(rs.url, { headers: { authorization: `Bearer ${refreshed.access_token}` } })
    expect(asBearer.status).toBe(401)
    expect(asBearer.headers.get("www-authenticate")).toBe(
      `Bearer error="invalid_token", error_description="${Dpop.bindingDescriptions.bearer_bound}", DPoP algs="${Dpop.algorithms.join(" ")}"`
    )
    const withThiefKey = retryOnNonce(() =>
      oauth.protectedResourceRequest(refreshed.access_token, "GET", rs!.url, undefined, undefined, { DPoP: thiefDPoP, ...insecure }))
    await expect(withThiefKey).rejects.toSatisfy((e: unknown) =>
      e instanceof oauth.WWWAuthenticateChallengeError && e.cause[0]?.parameters.error === "invalid_token" &&
      e.cause[0]?.parameters.error_description === "Invalid DPoP key binding")
    // and at userinfo
    const userinfoBearer = await fetch(as.userinfo_endpoint!, { headers: { authorization: `Bearer ${tokens.access_token}` } })
    expect(userinfoBearer.status).toBe(401)
    expect(await userinfoBearer.json()).toEqual({ error: "invalid_token", error_description: Dpop.bindingDescriptions.bearer_bound })
    const userinfoThief = retryOnNonce(async () =>
      oauth.processUserInfoResponse(as, client, sub, await oauth.userInfoRequest(as, client, tokens.access_token, { DPoP: thiefDPoP, ...insecure })))
    await expect(userinfoThief).rejects.toSatisfy((e: unknown) =>
      e instanceof oauth.WWWAuthenticateChallengeError && e.cause[0]?.scheme === "dpop" && e.cause[0]?.parameters.error === "invalid_token")
  } finally {
    rs?.close()
    child.kill("SIGTERM")
  }
}

describe("RFC 9449 end to end with oauth4webapi 3.8.8 (DPoP)", () => {
  it("on the embedded store (PGlite)", { timeout: 180_000 }, dpopFlow({}))
  // skipped only without DATABASE_URL outside CI (a fresh clone with no Postgres); under CI=true it fails instead
  it.skipIf(skipWithoutPostgres)("on PostgreSQL", { timeout: 180_000 }, async () => dpopFlow({ DATABASE_URL: await fileDatabase() })())
})
