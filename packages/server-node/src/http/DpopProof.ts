/**
 * DPoP proofs sent to Tessera's own endpoints (RFC 9449 §4.3): the token endpoint (§5) and userinfo (§7). The checks
 * are protocol's; the realm's policy is here: its nonces (§8, §9, ADR 0017) and its replay cache (§11.1).
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { DateTime, Effect } from "effect"
import { DpopNonces, JtiCache, Jwt } from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import { Dpop } from "@tessera/protocol"

/**
 * The realm's side of a proof check: the time, its nonce when nonces are required, and the replay cache, which
 * remembers each `jti` for the URI it was sent to until the proof's window closes.
 */
export const policy = (realm: Realm.Realm) =>
  Effect.gen(function*() {
    const nonces = yield* DpopNonces.DpopNonces
    const jtis = yield* JtiCache.JtiCache
    return {
      now: yield* Jwt.nowSeconds,
      ...(nonces.required ? { nonce: (nonce: string) => nonces.check(realm.id, nonce) } : {}),
      unique: (proof: Dpop.Proof) =>
        jtis.remember(realm.id, JtiCache.dpopIssuer(proof.htu), proof.jti, DateTime.unsafeMake(proof.expiresAt * 1000))
    }
  })

/** The request's `DPoP` header, if it has one (RFC 9110 §5.1: field names are case-insensitive). */
export const header = Effect.map(HttpServerRequest.HttpServerRequest, (request) => request.headers["dpop"])

/**
 * RFC 9449 §8, §9: the `DPoP-Nonce` header when the realm requires nonces: on every answer to a request that carried
 * a proof, so the client always holds a current one (§8.2); nothing when nonces are not in use.
 */
export const nonceHeader = (realm: Realm.Realm) =>
  Effect.gen(function*() {
    const nonces = yield* DpopNonces.DpopNonces
    return nonces.required ? { "dpop-nonce": yield* nonces.current(realm.id) } : {}
  })

/** The proof of a request to `uri` (the endpoint's public URL), checked in full; undefined when there is no `DPoP` header. */
export const ofRequest = (realm: Realm.Realm, uri: string) =>
  Effect.gen(function*() {
    const request = yield* HttpServerRequest.HttpServerRequest
    const value = request.headers["dpop"]
    if (value === undefined) return undefined
    return yield* Dpop.verify(value, { method: request.method, uri, ...(yield* policy(realm)) })
  })
