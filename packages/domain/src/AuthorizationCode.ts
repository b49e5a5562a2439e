/** The authorization code (RFC 6749 §4.1.2, OAuth 2.1 §4.1.2): single use, 60 seconds, bound to client, redirect URI and PKCE. */
import { Data, DateTime, Duration, Either } from "effect"

/** OAuth 2.1 §4.1.2: a maximum lifetime of 10 minutes is RECOMMENDED; Tessera uses 60 seconds. */
export const lifetime = Duration.seconds(60)

export type AuthorizationCode = Data.TaggedEnum<{
  Issued: {
    readonly realmId: string
    readonly clientId: string
    readonly grantId: string
    /** The redirect URI the code was sent to: as given, or the client's only registered one when left out. */
    readonly redirectUri: string
    /** Whether the authorization request included `redirect_uri` (OAuth 2.1 §4.1.3: then the token request must too). */
    readonly redirectUriGiven: boolean
    readonly codeChallenge: string
    /** RFC 9449 §10: the `dpop_jkt` of the authorization request: the token request must prove that key. */
    readonly dpopJkt?: string
    readonly expiresAt: DateTime.Utc
  }
  Redeemed: { readonly realmId: string; readonly clientId: string; readonly grantId: string }
}>
export const AuthorizationCode = Data.taggedEnum<AuthorizationCode>()

export class CodeRejected extends Data.TaggedError("CodeRejected")<{
  readonly reason:
    | "unknown"
    | "expired"
    | "replayed"
    | "client_mismatch"
    | "redirect_uri_mismatch"
    | "pkce_mismatch"
    | "dpop_mismatch"
    /** ADR 0062: the session the code was issued in has ended, and its grant does not hold `offline_access`. */
    | "session_ended"
  /** On replay, the grant whose tokens must be revoked (RFC 6749 §4.1.2). */
  readonly grantId?: string
}> {}

export interface RedeemInput {
  readonly clientId: string
  /** The token request's `redirect_uri`, if it had one. */
  readonly redirectUri: string | undefined
  /** Whether the presented code_verifier hashes to the stored challenge (computed by the caller, `Pkce.verify`). */
  readonly pkceMatches: boolean
  /** RFC 7638 thumbprint of the key the token request's DPoP proof proved, if it had one. */
  readonly dpopJkt: string | undefined
}

/** Pure: what redeeming `code` now means. The store makes the Issued -> Redeemed step atomic. */
export const redeem = (code: AuthorizationCode, input: RedeemInput, now: DateTime.Utc) =>
  AuthorizationCode.$match(code, {
    Redeemed: ({ grantId }): Either.Either<AuthorizationCode, CodeRejected> =>
      Either.left(new CodeRejected({ reason: "replayed", grantId })),
    Issued: (c): Either.Either<AuthorizationCode, CodeRejected> => {
      if (DateTime.lessThanOrEqualTo(c.expiresAt, now)) return Either.left(new CodeRejected({ reason: "expired" }))
      // RFC 6749 §4.1.3: issued to the authenticated client
      if (c.clientId !== input.clientId) return Either.left(new CodeRejected({ reason: "client_mismatch" }))
      // OAuth 2.1 §4.1.3: redirect_uri REQUIRED if the authorization request included it; RFC 6749 §4.1.3: if
      // included, the values MUST be identical (so one sent although the request left it out must be the bound one)
      const redirectOk = input.redirectUri === undefined ? !c.redirectUriGiven : input.redirectUri === c.redirectUri
      if (!redirectOk) return Either.left(new CodeRejected({ reason: "redirect_uri_mismatch" }))
      // RFC 7636 §4.6: the verifier must match the challenge
      if (!input.pkceMatches) return Either.left(new CodeRejected({ reason: "pkce_mismatch" }))
      // RFC 9449 §10: a code bound by dpop_jkt needs a proof of that very key; if they do not match, MUST reject
      if (c.dpopJkt !== undefined && input.dpopJkt !== c.dpopJkt) return Either.left(new CodeRejected({ reason: "dpop_mismatch" }))
      return Either.right(AuthorizationCode.Redeemed({ realmId: c.realmId, clientId: c.clientId, grantId: c.grantId }))
    }
  })
