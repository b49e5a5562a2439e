/** The refresh token grant (RFC 6749 §6, OAuth 2.1 §4.3): rotation on every use, reuse revokes the family. */
import { DateTime, Effect, Either, Option } from "effect"
import * as AdminAccess from "../AdminAccess.js"
import * as Audience from "../Audience.js"
import * as Audit from "../Audit.js"
import type { Client } from "../Client.js"
import * as Client_ from "../Client.js"
import * as Hash from "../Hash.js"
import type { Realm } from "../Realm.js"
import * as RefreshFamily from "../RefreshFamily.js"
import { Resources } from "../Resources.js"
import { Grants } from "../Grants.js"
import { RefreshTokens } from "../RefreshTokens.js"
import { audited, type RequestContext } from "../RequestContext.js"
import * as StepUp from "../StepUp.js"
import * as Tokens from "../Tokens.js"
import * as TokenIssuance from "./TokenIssuance.js"
import * as Tracing from "../Tracing.js"

export const grantType = "refresh_token"

export interface Command {
  readonly realm: Realm
  readonly issuer: string
  readonly client: Client
  readonly refreshToken: string
  readonly scope: ReadonlyArray<string> | undefined
  readonly resource: string | undefined
  readonly context: RequestContext
  /** RFC 9449 §5: the key the request proved with a DPoP proof, or none; every access token minted is bound to it. */
  readonly dpopKey: Tokens.DpopKey
}

export const handle = Effect.fnUntraced(function*(cmd: Command) {
  const refreshes = yield* RefreshTokens
  const policy = yield* Tokens.TokenPolicy
  const now = yield* DateTime.now
  const presented = yield* refreshes.find(cmd.realm.id, yield* Hash.sha256(cmd.refreshToken))
  if (Option.isNone(presented)) return yield* new RefreshFamily.RefreshRejected({ reason: "unknown" })
  const nextToken = yield* Tokens.refreshToken
  const nextHash = yield* Hash.sha256(nextToken)
  const rotated = RefreshFamily.rotate(
    presented.value.family,
    {
      generation: presented.value.generation,
      clientId: cmd.client.clientId,
      dpopJkt: Option.getOrUndefined(cmd.dpopKey),
      publicClient: !Client_.isConfidential(cmd.client.metadata)
    },
    nextHash,
    now,
    policy.refresh
  )
  const reuse = (familyId: string, grantId: string) =>
    Effect.gen(function*() {
      // RFC 9700 §4.14.2: a refresh token used twice means it leaked: the whole family goes, and with it (CONTRACT §5
      // Introspection) the access tokens it produced. A grant has one family, so the grant is revoked: its family,
      // and every access token linked to it, end in one write with the event
      const event = yield* Audit.make(cmd.realm, {
        ...audited(cmd.context),
        type: "refresh.reuse_detected",
        actor: { type: "client", id: cmd.client.clientId },
        clientId: cmd.client.clientId,
        grantType,
        result: "failure",
        reason: "a rotated refresh token was presented again; the family is revoked"
      })
      yield* Effect.flatMap(Grants, (grants) => grants.revoke(cmd.realm.id, grantId, now, event))
      return yield* new RefreshFamily.RefreshRejected({ reason: "reused", familyId })
    })
  if (Either.isLeft(rotated)) {
    const rejected = rotated.left
    return yield* rejected.reason === "reused" && rejected.familyId !== undefined && rejected.grantId !== undefined
      ? reuse(rejected.familyId, rejected.grantId)
      : Effect.fail(rejected)
  }
  const next = rotated.right as Extract<RefreshFamily.RefreshFamily, { _tag: "Active" }>
  // the family's grant, read with it (issue 17); a revocation committed since is caught by the rotation's compare-and-set
  const grant = presented.value.grant
  if (Option.isNone(grant) || grant.value.revokedAt !== undefined) return yield* new RefreshFamily.RefreshRejected({ reason: "revoked" })
  const resources = yield* Effect.flatMap(Resources, (r) => r.list(cmd.realm.id))
  const chosen = yield* Audience.choose({
    issuer: cmd.issuer,
    requestedResource: cmd.resource,
    grantedResources: grant.value.resources,
    clientResources: cmd.client.metadata.resources,
    grantedScopes: grant.value.scopes,
    requestedScopes: cmd.scope,
    resources
  })
  // CONTRACT §3: a refresh for the admin resource needs the role still; refused before anything is written (ADR 0035)
  yield* AdminAccess.requirePerson(cmd.realm.id, grant.value.sub, [chosen.audience])
  // CONTRACT §5 "Step-up": a step-up scope outlives its login by 5 minutes, not by the family's 30 days; refused
  // before anything is written, so the presented refresh token stays the current one
  const scope = yield* StepUp.withoutStale(
    chosen.scope,
    resources.find((r) => r.uri === chosen.audience),
    Math.floor(DateTime.toEpochMillis(grant.value.authTime) / 1000),
    Math.floor(DateTime.toEpochMillis(now) / 1000)
  )
  const choice = { ...chosen, scope }
  const reason = scope.length < chosen.scope.length
    ? `step-up scope left out: the login is older than ${StepUp.freshAuthenticationSeconds} seconds`
    : undefined
  const issued = yield* TokenIssuance.issue({ ...cmd, grant: grant.value, choice, grantType, reason })
  // compare-and-set: of two racing uses of one token, the loser is a reuse
  yield* refreshes.rotate(next, presented.value.generation, issued.event, issued.link).pipe(
    Effect.catchTag("RefreshChanged", () => reuse(next.familyId, next.grantId))
  )
  return { ...issued.set, refreshToken: nextToken }
}, Tracing.span("RefreshTokenGrant.handle"))
