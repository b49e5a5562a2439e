/**
 * Issue 17, the token route's steps, each the old shape against the new one (interleaved, 5 rounds, the median), in CPU
 * time per call (process.cpuUsage): a domain step as `Effect.fn` (an in-memory span and a call-site capture on every
 * call) against `Effect.fnUntraced` + `Tracing.span` with nothing exported, two calls as a client-credentials token
 * makes; the grant `Match` built per request against once; `ErrorResponse` validated against `make`; a JWT verified
 * with a key set made per token (each key imported again) against one kept (`SigningKeys.verifier`).
 *
 *   node --import tsx bench/route-steps.ts
 */
import { Effect, Match, Runtime } from "effect"
import * as Jose from "jose"
import { Tracing } from "@tessera/domain"
import { ErrorResponse, TokenRequest } from "@tessera/protocol"

const cpu = () => { const u = process.cpuUsage(); return u.user + u.system }
const time = async (n: number, f: () => unknown | Promise<unknown>) => {
  const t = cpu()
  for (let i = 0; i < n; i++) await f()
  return (cpu() - t) / n
}
const runtime = Runtime.defaultRuntime
const run = <A>(e: Effect.Effect<A>) => Runtime.runPromise(runtime)(e)

// 1. Effect.fn vs fnUntraced + Tracing.span (not exported), two calls per request as a client-credentials token makes
const traced = Effect.fn("X.step")(function*(n: number) { return n + 1 })
const untraced = Effect.fnUntraced(function*(n: number) { return n + 1 }, Tracing.span("X.step"))
const twice = (f: (n: number) => Effect.Effect<number>) => Effect.flatMap(f(1), f)

// 2. Match built per request vs once
type R = TokenRequest.TokenRequest
const perRequest = (r: R) => Match.value(r).pipe(
  Match.when({ grant_type: "authorization_code" }, () => 1), Match.when({ grant_type: "refresh_token" }, () => 2),
  Match.when({ grant_type: "client_credentials" }, () => 3), Match.when({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer" }, () => 4),
  Match.when({ grant_type: TokenRequest.tokenExchangeGrantType, requested_token_type: TokenRequest.idJagTokenType }, () => 5),
  Match.when({ grant_type: TokenRequest.tokenExchangeGrantType }, () => 6), Match.when({ grant_type: TokenRequest.deviceCodeGrantType }, () => 7),
  Match.exhaustive)
const once = Match.type<R>().pipe(
  Match.when({ grant_type: "authorization_code" }, () => 1), Match.when({ grant_type: "refresh_token" }, () => 2),
  Match.when({ grant_type: "client_credentials" }, () => 3), Match.when({ grant_type: "urn:ietf:params:oauth:grant-type:jwt-bearer" }, () => 4),
  Match.when({ grant_type: TokenRequest.tokenExchangeGrantType, requested_token_type: TokenRequest.idJagTokenType }, () => 5),
  Match.when({ grant_type: TokenRequest.tokenExchangeGrantType }, () => 6), Match.when({ grant_type: TokenRequest.deviceCodeGrantType }, () => 7),
  Match.exhaustive)
const request = new TokenRequest.ClientCredentials({ grant_type: "client_credentials", scope: ["read"], resource: [] })

// 3. ErrorResponse: validated vs not
const validated = () => new ErrorResponse.ErrorResponse({ error: "invalid_grant", error_description: "x" })

// 4. verification: a key set per token (old) vs one kept
const main = async () => {
  const { publicKey, privateKey } = await Jose.generateKeyPair("ES256", { extractable: true })
  const jwk = { ...(await Jose.exportJWK(publicKey)), kid: "k", alg: "ES256", use: "sig" }
  const jwks = { keys: [jwk, { ...jwk, kid: "k2" }] }
  const token = await new Jose.SignJWT({ sub: "s", client_id: "c", jti: "j" }).setProtectedHeader({ alg: "ES256", kid: "k", typ: "at+jwt" })
    .setIssuer("i").setIssuedAt().setExpirationTime("15m").sign(privateKey)
  const kept = Jose.createLocalJWKSet(jwks)
  const opts = { issuer: "i", typ: "at+jwt", algorithms: ["ES256"] }
  const rows: Record<string, Array<[number, number]>> = { fn: [], match: [], error: [], verify: [] }
  for (let round = 0; round < 5; round++) {
    rows.fn!.push([await time(20000, () => run(twice(traced))), await time(20000, () => run(twice(untraced)))])
    rows.match!.push([await time(100000, () => perRequest(request)), await time(100000, () => once(request))])
    rows.error!.push([await time(100000, validated), await time(100000, () => ErrorResponse.make("invalid_grant", "x"))])
    rows.verify!.push([await time(2000, () => Jose.jwtVerify(token, Jose.createLocalJWKSet(jwks), opts)), await time(2000, () => Jose.jwtVerify(token, kept, opts))])
  }
  const median = (xs: Array<number>) => xs.sort((a, b) => a - b)[Math.floor(xs.length / 2)]!
  for (const [name, pairs] of Object.entries(rows)) {
    const before = median(pairs.map((p) => p[0])), after = median(pairs.map((p) => p[1]))
    console.log(`${name}: before ${before.toFixed(2)} µs, after ${after.toFixed(2)} µs, saved ${(before - after).toFixed(2)} µs per call (median of 5 rounds)`)
  }
}
main()
