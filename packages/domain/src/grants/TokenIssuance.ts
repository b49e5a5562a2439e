/**
 * Issuing a `TokenSet` (what a token response holds): the access token, an ID token for OpenID requests, a refresh
 * token when allowed, each audited; for a person's grant (code, device, refresh) and for a client's own request.
 */
import { DateTime, Effect, Option } from "effect"
import type { Link } from "../AccessTokens.js"
import * as AdminAccess from "../AdminAccess.js"
import * as Audience from "../Audience.js"
import * as Audit from "../Audit.js"
import type { AuditEvent, Draft } from "../AuditEvent.js"
import type { Client } from "../Client.js"
import * as Client_ from "../Client.js"
import * as Entropy from "../Entropy.js"
import type { GrantRecord } from "../GrantRecord.js"
import { Grants } from "../Grants.js"
import type { FirstTokens } from "../Grants.js"
import * as Hash from "../Hash.js"
import type { Realm } from "../Realm.js"
import { audited, type RequestContext } from "../RequestContext.js"
import * as RefreshFamily from "../RefreshFamily.js"
import { Resources } from "../Resources.js"
import * as Tokens from "../Tokens.js"
import { Users } from "../Users.js"
import type { TokenSet } from "./TokenSet.js"

/** Who a client is in the audit trail: an agent (`principal_type: "agent"`) or a client. */
export const actorOf = (client: Client) =>
  ({ type: client.metadata.principalType === "agent" ? "agent" as const : "client" as const, id: client.clientId })

/**
 * CONTRACT §5: refresh tokens are issued when the client may use `refresh_token` and, for OpenID requests, when
 * `offline_access` was granted or the client is confidential.
 */
export const mayRefresh = (client: Client, scopes: ReadonlyArray<string>) =>
  client.metadata.grantTypes.includes("refresh_token") &&
  (!scopes.includes("openid") || scopes.includes("offline_access") || Client_.isConfidential(client.metadata))

/**
 * Grants where a person signed in to a page of ours: OpenID requests get an ID token (OIDC Core §3.1.3.3; the device
 * grant, RFC 8628, ends at the same token response).
 */
export const personGrantTypes: ReadonlyArray<string> = ["authorization_code", "urn:ietf:params:oauth:grant-type:device_code"]

/** CONTRACT §7: the event of a token set issued for `sub`, with why it differs from what was asked, if it does. */
const tokenEvent = (
  input: {
    readonly context: RequestContext
    readonly client: Client
    readonly grantType: string
    readonly choice: Audience.Choice
    readonly reason?: string | undefined
  },
  type: "token.issued" | "token.refreshed",
  sub: string
): Draft => ({
  ...audited(input.context),
  type,
  actor: actorOf(input.client),
  subject: sub,
  clientId: input.client.clientId,
  grantType: input.grantType,
  resource: input.choice.audience,
  scope: input.choice.scope.join(" "),
  result: "success",
  ...(input.reason !== undefined ? { reason: input.reason } : {})
})

/** OIDC Core §5.4: claims released by scope. */
const claimsByScope = (scopes: ReadonlyArray<string>, user: { readonly name?: string; readonly email?: string; readonly username: string }) => ({
  ...(scopes.includes("profile") ? { preferred_username: user.username, ...(user.name !== undefined ? { name: user.name } : {}) } : {}),
  ...(scopes.includes("email") && user.email !== undefined ? { email: user.email } : {})
})

export const issue = (input: {
  readonly realm: Realm
  readonly issuer: string
  readonly client: Client
  readonly grant: GrantRecord
  readonly choice: Audience.Choice
  readonly grantType: string
  readonly context: RequestContext
  /** RFC 9449 §5: the key the request proved, or none; the access token is bound to it. */
  readonly dpopKey: Tokens.DpopKey
  /** For the audit trail: why the set differs from what the grant holds (e.g. a step-up scope left out). */
  readonly reason?: string | undefined
}) =>
  Effect.gen(function*() {
    const policy = yield* Tokens.TokenPolicy
    const authTime = Math.floor(input.grant.authTime.epochMillis / 1000)
    const access = yield* Tokens.accessToken({
      realmId: input.realm.id,
      issuer: input.issuer,
      sub: input.grant.sub,
      audience: input.choice.audience,
      clientId: input.client.clientId,
      scope: input.choice.scope,
      authTime,
      acr: input.grant.acr,
      dpopKey: input.dpopKey
    }, policy.lifetimes.accessToken)
    // RFC 7009 §2.1: revoking a grant reaches its access tokens; the JWT names no grant, so the link is kept by jti
    // (written by the caller with the rest of the set: Grants.firstTokens, RefreshTokens.rotate)
    const link: Link = { jti: access.claims.jti, grantId: input.grant.grantId, expiresAt: DateTime.unsafeMake(access.claims.exp * 1000) }
    let idToken: string | undefined
    if (input.grant.scopes.includes("openid") && personGrantTypes.includes(input.grantType)) {
      const user = yield* Effect.flatMap(Users, (users) => users.find(input.realm.id, input.grant.sub))
      idToken = yield* Tokens.idToken({
        realmId: input.realm.id,
        issuer: input.issuer,
        sub: input.grant.sub,
        clientId: input.client.clientId,
        authTime,
        acr: input.grant.acr,
        amr: input.grant.amr,
        ...(input.grant.nonce !== undefined ? { nonce: input.grant.nonce } : {}),
        ...(input.grant.sid !== undefined ? { sid: input.grant.sid } : {}),
        accessToken: access.token,
        claims: Option.match(user, { onNone: () => ({}), onSome: (u) => claimsByScope(input.grant.scopes, u) })
      }, policy.lifetimes.idToken)
    }
    const event = yield* Audit.make(input.realm, tokenEvent(input, input.grantType === "refresh_token" ? "token.refreshed" : "token.issued", input.grant.sub))
    return {
      set: {
        accessToken: access.token,
        expiresIn: access.expiresIn,
        scope: input.choice.scope,
        ...(idToken !== undefined ? { idToken } : {})
      } satisfies TokenSet,
      event,
      link
    }
  })

/**
 * A token for a client's own request with no grant behind it (client credentials, JWT bearer): the access token for
 * `sub` with the chosen audience and scope, and its `token.issued` event appended; no refresh token, no ID token.
 * No grant to link the token to (AccessTokens.record): it stays active until `exp` unless revoked by its jti.
 * RFC 9068 §2.2: no auth_time or acr, as nobody authenticated at Tessera.
 */
export interface ClientToken {
  readonly realm: Realm
  readonly issuer: string
  readonly client: Client
  readonly sub: string
  readonly choice: Audience.Choice
  readonly grantType: string
  readonly context: RequestContext
  /** RFC 9449 §5: the key the request proved, or none; the access token is bound to it. */
  readonly dpopKey: Tokens.DpopKey
  /** For the audit trail: why the token was issued to this subject (e.g. who vouched for it). */
  readonly reason?: string
}

/** What `issueClientToken`'s access token says (the token endpoint's edge in server-node mints the same). */
export const clientTokenInput = (input: ClientToken): Tokens.AccessTokenInput => ({
  realmId: input.realm.id,
  issuer: input.issuer,
  sub: input.sub,
  audience: input.choice.audience,
  clientId: input.client.clientId,
  scope: input.choice.scope,
  dpopKey: input.dpopKey
})

/** `issueClientToken`'s `token.issued` event (CONTRACT §7). */
export const clientTokenEvent = (input: ClientToken): Draft => tokenEvent(input, "token.issued", input.sub)

export const issueClientToken = (input: ClientToken) =>
  Effect.gen(function*() {
    const policy = yield* Tokens.TokenPolicy
    const access = yield* Tokens.accessToken(clientTokenInput(input), policy.lifetimes.accessToken)
    const event = yield* Audit.make(input.realm, clientTokenEvent(input))
    yield* Effect.flatMap(Audit.Audit, (audit) => audit.append(event))
    return { accessToken: access.token, expiresIn: access.expiresIn, scope: input.choice.scope } satisfies TokenSet
  })

/**
 * A new grant's first token set written (`Grants.firstTokens`): the access token's link, a refresh family when the
 * client may refresh, the client remembered in the person's session (front-channel logout tells it), and the set's
 * audit event, all in one write before the set is answered.
 */
export const startFamily = (input: {
  readonly realm: Realm
  readonly client: Client
  readonly grant: GrantRecord
  readonly set: TokenSet
  readonly event: AuditEvent
  readonly link: Link
  /** RFC 9449 §5: the key the request proved, or none. */
  readonly dpopKey: Tokens.DpopKey
}) =>
  Effect.gen(function*() {
    const session = input.grant.sid !== undefined ? { sid: input.grant.sid, clientId: input.client.clientId } : undefined
    const write = (refresh: FirstTokens["refresh"]) =>
      Effect.flatMap(Grants, (grants) => grants.firstTokens({ realmId: input.realm.id, access: input.link, refresh, session }, input.event))
    if (!mayRefresh(input.client, input.grant.scopes)) {
      yield* write(undefined)
      return input.set
    }
    const refreshToken = yield* Tokens.refreshToken
    // RFC 9449 §5: a public client's refresh token is bound to the DPoP key it proved; a confidential client's is not
    const dpopJkt = Client_.isConfidential(input.client.metadata) ? undefined : Option.getOrUndefined(input.dpopKey)
    const family = RefreshFamily.RefreshFamily.Active({
      familyId: yield* Entropy.uuid,
      realmId: input.realm.id,
      clientId: input.client.clientId,
      grantId: input.grant.grantId,
      generation: 1,
      currentHash: yield* Hash.sha256(refreshToken),
      // RefreshFamily.Policy: the absolute lifetime runs from the person's authorization
      createdAt: input.grant.createdAt,
      lastUsedAt: yield* DateTime.now,
      ...(dpopJkt !== undefined ? { dpopJkt } : {})
    })
    yield* write({ family, tokenHash: family.currentHash })
    return { ...input.set, refreshToken }
  })

/**
 * CONTRACT §5: the audience and scope of a person's grant's token, `resource` picking one the grant covers; CONTRACT
 * §3: for the admin resource, only while the person's roles still hold `admin`.
 */
export const choiceFor = (input: {
  readonly realm: Realm
  readonly issuer: string
  readonly client: Client
  readonly grant: GrantRecord
  readonly resource: string | undefined
}) =>
  Effect.flatMap(Effect.flatMap(Resources, (r) => r.list(input.realm.id)), (resources) =>
    Audience.choose({
      issuer: input.issuer,
      requestedResource: input.resource,
      grantedResources: input.grant.resources,
      clientResources: input.client.metadata.resources,
      grantedScopes: input.grant.scopes,
      requestedScopes: undefined,
      resources
    }).pipe(Effect.tap((choice) => AdminAccess.requirePerson(input.realm.id, input.grant.sub, [choice.audience]))))

/**
 * The first token set of a person's grant (code and device grants): audience and scope per CONTRACT §5 (`resource`
 * picks one the grant covers), the set issued and audited, its refresh family started, and the client remembered in
 * the person's session (front-channel logout tells it).
 */
export const fromGrant = (input: {
  readonly realm: Realm
  readonly issuer: string
  readonly client: Client
  readonly grant: GrantRecord
  readonly resource: string | undefined
  readonly grantType: string
  readonly context: RequestContext
  /** RFC 9449 §5: the key the request proved, or none: the access token, and a public client's refresh token, are bound to it. */
  readonly dpopKey: Tokens.DpopKey
}) =>
  Effect.gen(function*() {
    const { grant } = input
    const choice = yield* choiceFor(input)
    const issued = yield* issue({ ...input, choice })
    return yield* startFamily({ realm: input.realm, client: input.client, grant, ...issued, dpopKey: input.dpopKey })
  })
