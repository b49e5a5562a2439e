/** DPoP in the HTTP suites (RFC 9449): proofs for a realm's endpoints at the Clock's time, and what every answer must hold. */
import { expect } from "@effect/vitest"
import { Effect } from "effect"
import * as Proofs from "../../packages/protocol/test/support/DpopProofs.js"
import { nowSeconds } from "./TokenFixtures.js"
import type { World } from "./TokenFixtures.js"

export type { ProofKey } from "../../packages/protocol/test/support/DpopProofs.js"

/** A fresh DPoP key pair (ES256 unless told). */
export const key = (alg = "ES256") => Effect.promise(() => Proofs.key(alg))

/** The URL of one of the realm's endpoints, as the proof's `htu` names it. */
export const endpoint = (w: Pick<World, "issuer">, name: "token" | "userinfo") => `${w.issuer}/${name}`

/**
 * A proof for the realm's token endpoint (POST) or userinfo (GET unless told), `iat` now by the Clock; with an access
 * token, its `ath`. Every claim and header parameter can be overridden.
 */
export const proof = (
  w: Pick<World, "issuer">,
  k: Proofs.ProofKey,
  to: "token" | "userinfo",
  options: Partial<Omit<Proofs.ProofInput, "iat">> & { readonly iat?: number } = {}
) =>
  Effect.gen(function*() {
    const iat = options.iat ?? (yield* nowSeconds)
    return yield* Effect.promise(() =>
      Proofs.proof(k, { htm: to === "token" ? "POST" : "GET", htu: endpoint(w, to), ...options, iat })
    )
  })

/** The `DPoP` header of a request. */
export const dpop = (proofJwt: string) => ({ dpop: proofJwt })

interface Wire {
  readonly status: number
  readonly headers: Readonly<Record<string, string>>
  readonly json: unknown
}

/**
 * RFC 9449 §5 / RFC 6749 §5.2: the token endpoint's refusal of a proof, the whole answer: 400, no-store, no challenge,
 * the body; `DPoP-Nonce` only when the realm requires nonces (§8).
 */
export const expectTokenError = (res: Wire, body: unknown, nonce: "none" | "present" = "none") => {
  expect(res.status).toBe(400)
  expect(res.headers["content-type"]).toBe("application/json")
  expect(res.headers["cache-control"]).toBe("no-store")
  expect(res.headers["pragma"]).toBe("no-cache")
  expect(res.headers["www-authenticate"]).toBeUndefined()
  if (nonce === "none") expect(res.headers["dpop-nonce"]).toBeUndefined()
  // RFC 9449 §8.1: nonce = 1*NQCHAR
  else expect(res.headers["dpop-nonce"]).toMatch(/^[\x21\x23-\x5B\x5D-\x7E]+$/)
  expect(res.json).toEqual(body)
}

export const invalidProof = (description: string) => ({ error: "invalid_dpop_proof", error_description: description })

export { athOf, unsigned } from "../../packages/protocol/test/support/DpopProofs.js"
