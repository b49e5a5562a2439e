/**
 * CONTRACT §3 clients after registration: list, read, update (RFC 7591 metadata, validated as at registration),
 * delete (every grant and token of the client revoked with it), and secret rotation with an optional overlap window
 * (ADR 0032). Each change is written with its event, only while the row is at the version the caller read.
 */
import { Clock, Data, DateTime, Duration, Effect, Option } from "effect"
import * as Audit from "./Audit.js"
import type { Actor } from "./AuditEvent.js"
import * as Client from "./Client.js"
import { Clients } from "./Clients.js"
import { NotFound } from "./Conflict.js"
import * as Entropy from "./Entropy.js"
import * as Hash from "./Hash.js"
import type * as Page from "./Page.js"
import { checkResources, ClientMetadataRejected, findRealm } from "./Provisioning.js"

/** CONTRACT §3: the longest overlap a rotation may give the old secret (seven days). */
export const maxPreviousValidFor = Duration.days(7)

/** A secret rotation asked of a client that authenticates without one (`none`, `private_key_jwt`). */
export class SecretNotUsed extends Data.TaggedError("SecretNotUsed")<{}> {}

/** The RFC 7591 §2 names of the metadata fields, for the events that name what changed (CONTRACT §7). */
const wireNames: { readonly [K in keyof Client.Metadata]-?: string } = {
  redirectUris: "redirect_uris",
  postLogoutRedirectUris: "post_logout_redirect_uris",
  grantTypes: "grant_types",
  responseTypes: "response_types",
  tokenEndpointAuthMethod: "token_endpoint_auth_method",
  applicationType: "application_type",
  jwks: "jwks",
  jwksUri: "jwks_uri",
  scope: "scope",
  clientName: "client_name",
  frontchannelLogoutUri: "frontchannel_logout_uri",
  frontchannelLogoutSessionRequired: "frontchannel_logout_session_required",
  dpopBoundAccessTokens: "dpop_bound_access_tokens",
  principalType: "principal_type",
  resources: "resources",
  idJagTargets: "id_jag_targets"
}

/** The wire names of the fields whose values differ, in RFC 7591 order. */
export const changedFields = (before: Client.Metadata, after: Client.Metadata): ReadonlyArray<string> =>
  (Object.keys(wireNames) as Array<keyof Client.Metadata>)
    .filter((key) => JSON.stringify(before[key]) !== JSON.stringify(after[key]))
    .map((key) => wireNames[key])

/** The realm's client `clientId` (a row: a client ID metadata document client is none), or `NotFound`. */
export const find = (realmName: string, clientId: string) =>
  Effect.gen(function*() {
    const realm = yield* findRealm(realmName)
    const found = yield* Effect.flatMap(Clients, (clients) => clients.find(realm.id, clientId))
    if (Option.isNone(found)) return yield* new NotFound({ entity: "client" })
    return { realm, client: found.value }
  })

/** One page of the realm's clients (`Clients.sortKey` order). */
export const list = (realmName: string, window: Page.Window) =>
  Effect.flatMap(findRealm(realmName), (realm) => Effect.flatMap(Clients, (clients) => clients.page(realm.id, window)))

/**
 * Replaces the metadata of `client` (as read, at its version) with `metadata`, already merged and validated as at
 * registration; its `resources` must be registered resources. A client keeps its kind of credential: a change between
 * secret-based methods and the others is refused (ADR 0032). No field changed: nothing is written.
 */
export const update = (realmName: string, client: Client.Client, metadata: Client.Metadata, actor: Actor) =>
  Effect.gen(function*() {
    const realm = yield* findRealm(realmName)
    yield* checkResources(realm, metadata)
    if (Client.usesSecret(client.metadata) !== Client.usesSecret(metadata)) {
      return yield* new ClientMetadataRejected({
        reason: "auth_method_change",
        detail: "'token_endpoint_auth_method' cannot change between secret-based methods and the others; register a new client"
      })
    }
    const changed = changedFields(client.metadata, metadata)
    if (changed.length === 0) return client
    const version = Client.versionOf(client)
    const event = yield* Audit.make(realm, {
      type: "client.updated",
      actor,
      clientId: client.clientId,
      result: "success",
      reason: `changed: ${changed.join(", ")}`
    })
    const next: Client.Client = { ...client, metadata, version: version + 1 }
    yield* Effect.flatMap(Clients, (clients) => clients.update(next, version, event))
    return next
  })

/**
 * Deletes `client` (as read, at its version) and, in the same write, revokes every grant of it with their refresh
 * tokens (their access tokens introspect inactive) and removes its consents.
 */
export const remove = (realmName: string, client: Client.Client, actor: Actor) =>
  Effect.gen(function*() {
    const realm = yield* findRealm(realmName)
    const event = yield* Audit.make(realm, {
      type: "client.deleted",
      actor,
      clientId: client.clientId,
      result: "success",
      reason: "its grants, refresh tokens and consents revoked"
    })
    yield* Effect.flatMap(Clients, (clients) =>
      clients.remove(realm.id, client.clientId, Client.versionOf(client), event.at, event))
  })

/** A new secret, shown once, and until when the one it replaced still works (none: not at all). */
export interface Rotated {
  readonly secret: string
  readonly previousExpiresAt: Option.Option<DateTime.Utc>
}

/**
 * CONTRACT §3: a new secret for `client` (as read, at its version), stored only as SHA-256; the old one keeps working
 * for `previousValidFor` (zero or absent: not at all). Only one previous secret is kept: an earlier one still in its
 * window stops working now. Of two racing rotations one wins; the other fails `Stale` and its secret never works.
 */
export const rotateSecret = (realmName: string, client: Client.Client, previousValidFor: Duration.Duration, actor: Actor) =>
  Effect.gen(function*() {
    if (!Client.usesSecret(client.metadata)) return yield* new SecretNotUsed()
    const realm = yield* findRealm(realmName)
    const secret = yield* Entropy.token(32)
    const secretHash = yield* Hash.sha256(secret)
    const now = DateTime.unsafeMake(yield* Clock.currentTimeMillis)
    const overlap = Duration.greaterThan(previousValidFor, Duration.zero) && client.secretHash !== undefined
    const previousExpiresAt = overlap ? Option.some(DateTime.addDuration(now, previousValidFor)) : Option.none()
    const seconds = Math.floor(Duration.toSeconds(previousValidFor))
    const event = yield* Audit.make(realm, {
      type: "client.secret_rotated",
      actor,
      clientId: client.clientId,
      result: "success",
      reason: overlap ? `previous secret valid for ${seconds} s` : "previous secret revoked"
    })
    const { previousSecretHash: _hash, previousSecretExpiresAt: _expiry, ...rest } = client
    const version = Client.versionOf(client)
    const next: Client.Client = {
      ...rest,
      secretHash,
      ...(Option.isSome(previousExpiresAt) ? { previousSecretHash: client.secretHash!, previousSecretExpiresAt: previousExpiresAt.value } : {}),
      version: version + 1
    }
    yield* Effect.flatMap(Clients, (clients) => clients.update(next, version, event))
    return { secret, previousExpiresAt } satisfies Rotated
  })
