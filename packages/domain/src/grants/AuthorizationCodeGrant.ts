/** The authorization code grant at the token endpoint (RFC 6749 §4.1.3, OAuth 2.1 §4.1.3, OIDC Core §3.1.3). */
import { DateTime, Effect, Either, Option } from "effect"
import * as Audit from "../Audit.js"
import * as AuthorizationCode from "../AuthorizationCode.js"
import type { Client } from "../Client.js"
import * as Hash from "../Hash.js"
import * as Pkce from "../Pkce.js"
import type { Realm } from "../Realm.js"
import * as Session from "../Session.js"
import { Sessions } from "../Sessions.js"
import { Codes } from "../Codes.js"
import { Grants } from "../Grants.js"
import { audited, type RequestContext } from "../RequestContext.js"
import * as Tokens from "../Tokens.js"
import * as TokenIssuance from "./TokenIssuance.js"
import * as Tracing from "../Tracing.js"

export const grantType = "authorization_code"

export interface Command {
  readonly realm: Realm
  readonly issuer: string
  readonly client: Client
  readonly code: string
  /** OAuth 2.1 §4.1.3: present when the authorization request included one (the code records whether it did). */
  readonly redirectUri: string | undefined
  readonly codeVerifier: string
  readonly resource: string | undefined
  readonly context: RequestContext
  /** RFC 9449 §5: the key the request proved with a DPoP proof, or none; RFC 9449 §10: a code bound by `dpop_jkt` needs that key. */
  readonly dpopKey: Tokens.DpopKey
}

export const handle = Effect.fnUntraced(function*(cmd: Command) {
  const codes = yield* Codes
  const grants = yield* Grants
  const now = yield* DateTime.now
  // the code consumed and its grant read in one step (issue 17)
  const consumed = yield* codes.consume(cmd.realm.id, yield* Hash.sha256(cmd.code))
  if (Option.isNone(consumed)) return yield* new AuthorizationCode.CodeRejected({ reason: "unknown" })
  const { code: stored, grant } = consumed.value
  const challenge = stored._tag === "Issued" ? stored.codeChallenge : ""
  const redeemed = AuthorizationCode.redeem(stored, {
    clientId: cmd.client.clientId,
    redirectUri: cmd.redirectUri,
    pkceMatches: yield* Pkce.verify(cmd.codeVerifier, challenge),
    dpopJkt: Option.getOrUndefined(cmd.dpopKey)
  }, now)
  if (Either.isLeft(redeemed)) {
    const rejected = redeemed.left
    // RFC 6749 §4.1.2: a code used twice: revoke every token its grant produced
    if (rejected.reason === "replayed" && rejected.grantId !== undefined) {
      const event = yield* Audit.make(cmd.realm, {
        ...audited(cmd.context),
        type: "token.revoked",
        actor: { type: "client", id: cmd.client.clientId },
        clientId: cmd.client.clientId,
        grantType,
        result: "success",
        reason: "authorization code replayed: the grant is revoked"
      })
      yield* grants.revoke(cmd.realm.id, rejected.grantId, now, event)
    }
    return yield* rejected
  }
  if (Option.isNone(grant) || grant.value.revokedAt !== undefined) {
    return yield* new AuthorizationCode.CodeRejected({ reason: "unknown" })
  }
  // ADR 0062 (RP-Initiated Logout 1.0 §2, Back-Channel Logout 1.0 §2.7): a code issued in a session the person has
  // since logged out of buys nothing, unless its grant holds offline_access (OIDC Core §11)
  const { sid, scopes } = grant.value
  if (sid !== undefined && !scopes.includes("offline_access")) {
    const session = Option.getOrUndefined(yield* Effect.flatMap(Sessions, (s) => s.find(cmd.realm.id, sid)))
    if (!Session.codeOutlives(session, scopes)) return yield* new AuthorizationCode.CodeRejected({ reason: "session_ended" })
  }
  return yield* TokenIssuance.fromGrant({ ...cmd, grant: grant.value, grantType })
}, Tracing.span("AuthorizationCodeGrant.handle"))
