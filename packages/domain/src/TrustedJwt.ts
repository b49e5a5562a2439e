/**
 * A JWT signed by a trusted issuer of the realm (RFC 7523 §3 items 1 and 9; RFC 8693 §3 `jwt` subject tokens): its
 * `iss` names the issuer, whose registered keys (inline `jwks`, or its `jwks_uri` through `RemoteJwks`) verify it
 * (`JwtAssertion.verifySignature`). The claims beyond the signature and the times are each caller's, through
 * `JwtAssertion`'s rules.
 */
import { Effect, Option } from "effect"
import * as Jwt from "./Jwt.js"
import * as JwtAssertion from "./JwtAssertion.js"
import type { Realm } from "./Realm.js"
import * as RemoteJwks from "./RemoteJwks.js"
import { TrustedIssuers } from "./TrustedIssuers.js"

/**
 * Verifies `token` with the keys of the trusted issuer its `iss` names; answers that issuer (`iss`, and its
 * registration), the verified payload and whether its `typ` says it is an ID-JAG. Unless `idJag` is "accepted" (the
 * JWT-bearer grant, which applies the draft's rules to it), an ID-JAG is refused (`invalid`).
 */
export const verify = (realm: Realm, token: string, options: { readonly idJag: "accepted" | "refused" } = { idJag: "refused" }) =>
  Effect.gen(function*() {
    const unverified = Jwt.unverifiedClaims(token)
    if (unverified === undefined) return yield* JwtAssertion.reject("malformed")
    const iss = unverified.iss
    // RFC 7523 §3 item 1: iss MUST be present; it names whose keys verify the JWT
    if (typeof iss !== "string" || iss === "") return yield* JwtAssertion.reject("malformed")
    const trusted = yield* Effect.flatMap(TrustedIssuers, (issuers) => issuers.find(realm.id, iss))
    if (Option.isNone(trusted)) return yield* JwtAssertion.reject("untrusted_issuer")
    const registered = trusted.value.keys
    const jwks = registered._tag === "Jwks"
      ? registered.jwks
      : yield* RemoteJwks.keys(registered.jwksUri, {
        addresses: RemoteJwks.adminRegisteredAddresses,
        // RFC 7515 §4.1.4: the kid says which key; one the cached set lacks may mean the issuer rotated
        kid: Jwt.unverifiedKid(token)
      }).pipe(Effect.mapError(() => new JwtAssertion.JwtRejected({ reason: "jwks_unavailable" })))
    // RFC 7523 §3 item 9: the JWT MUST be digitally signed; RFC 7515 §5.2: by a key of the issuer the JWT names
    const { payload, idJag } = yield* JwtAssertion.verifySignature(token, jwks, { issuer: iss, idJag: options.idJag })
    return { iss, trusted: trusted.value, payload, idJag }
  })
