/** Token revocation (RFC 7009 §2.1): a client revokes a token it was issued; anything else changes nothing. */
import { DateTime, Effect, Option } from "effect"
import { AccessTokens } from "./AccessTokens.js"
import * as Audit from "./Audit.js"
import type { Client } from "./Client.js"
import * as Introspection from "./Introspection.js"
import type { Realm } from "./Realm.js"
import { Grants } from "./Grants.js"
import { audited, type RequestContext } from "./RequestContext.js"
import * as Tracing from "./Tracing.js"

export interface Command {
  readonly realm: Realm
  readonly issuer: string
  /** The authenticated client making the request. */
  readonly client: Client
  readonly token: string
  readonly hint: Introspection.Hint | undefined
  readonly context: RequestContext
}

/**
 * What revoking did: `revoked` names the kind of token, `ignored` covers an unknown, inactive or other client's
 * token. RFC 7009 §2.2: the answer on the wire is the same for both.
 */
export type Outcome = "access_token_revoked" | "refresh_token_revoked" | "ignored"

export const revoke = Effect.fnUntraced(function*(cmd: Command) {
  const found = yield* Introspection.inspect(cmd)
  if (Option.isNone(found)) return "ignored" as Outcome
  // RFC 7009 §2.1: the server verifies that the token was issued to the client making the request
  if (Introspection.clientIdOf(found.value) !== cmd.client.clientId) return "ignored" as Outcome
  const actor = { type: cmd.client.metadata.principalType === "agent" ? "agent" as const : "client" as const, id: cmd.client.clientId }
  const inspected = found.value
  if (inspected._tag === "AccessToken") {
    const { claims } = inspected
    const event = yield* Audit.make(cmd.realm, {
      ...audited(cmd.context),
      type: "token.revoked",
      actor,
      subject: claims.sub,
      clientId: cmd.client.clientId,
      ...(typeof claims.aud === "string" ? { resource: claims.aud } : {}),
      scope: claims.scope,
      result: "success",
      reason: "access token revoked by its client"
    })
    yield* Effect.flatMap(AccessTokens, (tokens) =>
      tokens.revoke(cmd.realm.id, claims.jti, DateTime.unsafeMake(claims.exp * 1000), event))
    return "access_token_revoked" as Outcome
  }
  const event = yield* Audit.make(cmd.realm, {
    ...audited(cmd.context),
    type: "token.revoked",
    actor,
    subject: inspected.sub,
    clientId: cmd.client.clientId,
    scope: inspected.scope.join(" "),
    result: "success",
    reason: "refresh token revoked by its client: its grant, refresh family and access tokens are revoked"
  })
  // RFC 7009 §2.1: revoking a refresh token SHOULD also invalidate the access tokens of the same grant. A grant has
  // one family (its code is single-use), so revoking the grant ends the family and, through AccessTokens' links,
  // every access token it produced.
  yield* Effect.flatMap(Grants, (grants) => grants.revoke(cmd.realm.id, inspected.grantId, event.at, event))
  return "refresh_token_revoked" as Outcome
}, Tracing.span("Revocation.revoke"))
