/** What the owner does through the admin API: realms, users, clients, resources, trusted issuers. Each write carries its event. */
import { Clock, Data, DateTime, Effect, Option } from "effect"
import * as AdminAccess from "./AdminAccess.js"
import * as Audit from "./Audit.js"
import * as AuditEvent from "./AuditEvent.js"
import * as Client from "./Client.js"
import { Clients } from "./Clients.js"
import * as Entropy from "./Entropy.js"
import { audited, type RequestContext } from "./RequestContext.js"
import * as Hash from "./Hash.js"
import { PasswordHasher } from "./PasswordHasher.js"
import * as Realm from "./Realm.js"
import { Realms } from "./Realms.js"
import * as Resource from "./Resource.js"
import { Resources } from "./Resources.js"
import * as SigningKeys from "./SigningKeys.js"
import * as StoreError from "./StoreError.js"
import type { TrustedIssuer } from "./TrustedIssuer.js"
import { TrustedIssuers } from "./TrustedIssuers.js"
import type * as User from "./User.js"
import { Users } from "./Users.js"

export class RealmNotFound extends Data.TaggedError("RealmNotFound")<{ readonly name: string }> {}

/** Client metadata that is well-formed but does not fit this realm. */
export class ClientMetadataRejected extends Data.TaggedError("ClientMetadataRejected")<{
  /** `auth_method_change`: an update between secret-based and other authentication methods (ADR 0032). */
  readonly reason: "resource_unknown" | "auth_method_change"
  readonly detail: string
}> {}

const now = Effect.map(Clock.currentTimeMillis, (ms) => DateTime.unsafeMake(ms))

export const findRealm = (name: string) =>
  Effect.flatMap(Realms, (realms) => realms.findByName(name)).pipe(
    Effect.flatMap(Option.match({
      onNone: () => Effect.fail(new RealmNotFound({ name })),
      onSome: Effect.succeed
    }))
  )

/**
 * Creates realm `name` under the public origin `origin` (`$TESSERA_PUBLIC_URL`, which names its issuer and its admin
 * resource), born with its key ring and its built-ins (ADR 0035), all in one write.
 */
export const createRealm = (name: string, origin: string) =>
  Effect.gen(function*() {
    const realms = yield* Realms
    const realm: Realm.Realm = { id: yield* Entropy.uuid, name, dynamicRegistration: false, createdAt: yield* now, version: 1 }
    const ring = yield* SigningKeys.initialRing(realm.id)
    // ADR 0030: in the realm's own trail (which begins with it) and in the owner trail (which outlives the realm)
    const event = yield* Audit.make(realm, { type: "realm.created", actor: AuditEvent.owner, result: "success" })
    const ownerEvent = yield* Audit.makeOwner(realm, { type: "realm.created", actor: AuditEvent.owner, result: "success" })
    const resource = yield* builtInResource(realm, origin)
    yield* realms.create(realm, ring, event, ownerEvent, { ...resource, ...(yield* builtInClient(realm, resource.resource.uri)) })
    return realm
  })

/** CONTRACT §3, ADR 0035: the realm's admin resource as first stored, with its `resource.created` event (the owner's). */
const builtInResource = (realm: Realm.Realm, origin: string) =>
  Effect.gen(function*() {
    const settings = AdminAccess.resourceSettings(origin, realm.name)
    const resourceEvent = yield* Audit.make(realm, {
      type: "resource.created",
      actor: AuditEvent.owner,
      resource: settings.uri,
      result: "success",
      reason: "built in"
    })
    const resource: Resource.Resource = { realmId: realm.id, id: yield* Entropy.uuid, version: 1, ...settings, createdAt: resourceEvent.at }
    return { resource, resourceEvent }
  })

/** CONTRACT §3, ADR 0035: the realm's `tessera-cli` as first stored, with its `client.created` event (the owner's). */
const builtInClient = (realm: Realm.Realm, adminResourceUri: string) =>
  Effect.gen(function*() {
    const clientEvent = yield* Audit.make(realm, {
      type: "client.created",
      actor: AuditEvent.owner,
      clientId: AdminAccess.cliClientId,
      result: "success",
      reason: "built in"
    })
    const client: Client.Client = {
      realmId: realm.id,
      clientId: AdminAccess.cliClientId,
      metadata: AdminAccess.cliMetadata(adminResourceUri),
      createdAt: clientEvent.at,
      version: 1
    }
    return { client, clientEvent }
  })

/** What the built-ins pass did in one realm (for the start-up log). */
export interface Ensured {
  readonly realm: string
  readonly created: ReadonlyArray<"resource" | "client">
  readonly updated: ReadonlyArray<"client">
  /** Issue 15: the realm was deleted during the pass (what it did before is in `created`/`updated`); nothing more to do. */
  readonly gone?: true
}

/**
 * ADR 0035: gives every realm its built-ins where they are missing (realms made before them, or under another public
 * origin): the admin resource under `origin`, and `tessera-cli` listing it (rewritten, with `client.updated`, when it
 * lists another). Idempotent, and safe beside another node doing the same: a row another node wrote first, or a
 * client it rewrote first, is left as it is. Rows are never deleted here. A realm deleted during the pass is reported
 * `gone` (issue 15), never as done, and the pass goes on.
 */
export const ensureBuiltIns = (origin: string) =>
  Effect.gen(function*() {
    const realms = yield* Realms
    const resources = yield* Resources
    const clients = yield* Clients
    return yield* Effect.forEach(yield* realms.list, (realm) => {
      const created: Array<"resource" | "client"> = []
      const updated: Array<"client"> = []
      const report = (gone: boolean): Ensured =>
        gone ? { realm: realm.name, created, updated, gone: true } : { realm: realm.name, created, updated }
      // the realm deleted during the pass: a NotFound (the SQL stores' realm, the memory store's client) when R is gone
      const realmGone = Effect.map(realms.findByName(realm.name), (found) => Option.isNone(found) || found.value.id !== realm.id)
      return Effect.gen(function*() {
        const uri = AdminAccess.resourceUri(origin, realm.name)
        if (Option.isNone(yield* resources.find(realm.id, uri))) {
          const { resource, resourceEvent } = yield* builtInResource(realm, origin)
          yield* resources.insert(resource, resourceEvent).pipe(
            Effect.zipRight(Effect.sync(() => created.push("resource"))),
            Effect.catchTag("AlreadyExists", () => Effect.void)
          )
        }
        const cli = yield* clients.find(realm.id, AdminAccess.cliClientId)
        if (Option.isNone(cli)) {
          const { client, clientEvent } = yield* builtInClient(realm, uri)
          yield* clients.insert(client, clientEvent).pipe(
            Effect.zipRight(Effect.sync(() => created.push("client"))),
            Effect.catchTag("AlreadyExists", () => Effect.void)
          )
        } else if (JSON.stringify(cli.value.metadata.resources) !== JSON.stringify([uri])) {
          // ADR 0035: the public origin changed; tessera-cli follows the admin resource under the new one
          const version = Client.versionOf(cli.value)
          const event = yield* Audit.make(realm, {
            type: "client.updated",
            actor: AuditEvent.owner,
            clientId: AdminAccess.cliClientId,
            result: "success",
            reason: "changed: resources (built in: the admin resource moved with the public URL)"
          })
          const next: Client.Client = { ...cli.value, metadata: { ...cli.value.metadata, resources: [uri] }, version: version + 1 }
          // a rewrite another node made first is Stale; the realm deleted meanwhile (NotFound realm) is reported below
          yield* clients.update(next, version, event).pipe(
            Effect.zipRight(Effect.sync(() => updated.push("client"))),
            Effect.catchTags({
              Stale: () => Effect.void,
              NotFound: (e) =>
                Effect.flatMap(e.entity === "realm" ? Effect.succeed(true) : realmGone, (gone) => gone ? Effect.fail(e) : Effect.void)
            })
          )
        }
        return report(false)
      }).pipe(
        // issue 15 (ADR 0030): a realm deleted during the pass needs no built-ins: reported gone, never as done, and
        // the pass goes on for the other realms (a deletion must not stop a node's start)
        Effect.catchIf(
          (e) => e._tag === "NotFound" || (e._tag === "StoreError" && StoreError.isRealmGone(e)),
          () => Effect.succeed(report(true))
        )
      )
    })
  })

export interface NewUser {
  readonly username: string
  readonly password: string
  readonly email?: string | undefined
  readonly name?: string | undefined
  readonly roles?: ReadonlyArray<User.Role> | undefined
}

/** CONTRACT §7: `actor` is whoever called the admin API (the owner, a tenant admin, an automation client). */
export const createUser = (realmName: string, input: NewUser, actor: AuditEvent.Actor) =>
  Effect.gen(function*() {
    const realm = yield* findRealm(realmName)
    const passwordHash = yield* Effect.flatMap(PasswordHasher, (h) => h.hash(input.password))
    const sub = yield* Entropy.uuid
    const event = yield* Audit.make(realm, { type: "user.created", actor, subject: sub, result: "success" })
    const user: User.User = {
      realmId: realm.id,
      sub,
      username: input.username,
      passwordHash,
      ...(input.email !== undefined ? { email: input.email } : {}),
      ...(input.name !== undefined ? { name: input.name } : {}),
      roles: input.roles ?? [],
      disabled: false,
      version: 1,
      createdAt: event.at
    }
    yield* Effect.flatMap(Users, (users) => users.insert(user, event))
    return user
  })

/** Tessera's `resources`: each must be a resource registered in this realm (at registration and at every update). */
export const checkResources = (realm: Pick<Realm.Realm, "id">, metadata: Client.Metadata) =>
  Effect.forEach(metadata.resources ?? [], (uri) =>
    Effect.flatMap(Resources, (resources) => resources.find(realm.id, uri)).pipe(
      Effect.filterOrFail(Option.isSome, () =>
        new ClientMetadataRejected({ reason: "resource_unknown", detail: `resource '${uri}' is not registered in this realm` }))
    ), { discard: true })

/** A registered client and, for secret-based methods, its secret: shown once, stored only as SHA-256. */
export interface Registered {
  readonly client: Client.Client
  readonly secret: Option.Option<string>
}

/**
 * Who registered a client, for its `client.created` event: the admin API's caller (CONTRACT §7: the owner, a tenant
 * admin or an automation client), or the client itself through dynamic registration (RFC 7591 §3), with where the
 * request came from.
 */
export type Registrar =
  | { readonly _tag: "Admin"; readonly actor: AuditEvent.Actor }
  | { readonly _tag: "Dynamic"; readonly context: RequestContext }

export const registerClient = (realmName: string, metadata: Client.Metadata, registrar: Registrar) =>
  Effect.gen(function*() {
    const realm = yield* findRealm(realmName)
    yield* checkResources(realm, metadata)
    const clientId = yield* Entropy.token(16)
    const secret = Client.usesSecret(metadata)
      ? Option.some(yield* Entropy.token(32))
      : Option.none()
    const secretHash = yield* Option.match(secret, { onNone: () => Effect.succeed(undefined), onSome: Hash.sha256 })
    const event = yield* Audit.make(realm, registrar._tag === "Admin"
      ? { type: "client.created", actor: registrar.actor, clientId, result: "success" }
      : {
        type: "client.created",
        actor: { type: "client", id: clientId },
        clientId,
        result: "success",
        reason: "dynamic client registration (RFC 7591)",
        ...audited(registrar.context)
      })
    const client: Client.Client = {
      realmId: realm.id,
      clientId,
      ...(secretHash !== undefined ? { secretHash } : {}),
      metadata,
      ...(registrar._tag === "Dynamic" ? { dynamic: true } : {}),
      createdAt: event.at,
      version: 1
    }
    yield* Effect.flatMap(Clients, (clients) => clients.insert(client, event))
    return { client, secret } satisfies Registered
  })

/** A resource's settings that do not stand (CONTRACT §3: 400 `invalid_request` with `detail`). */
export class ResourceRejected extends Data.TaggedError("ResourceRejected")<{ readonly detail: string }> {}

export const registerResource = (
  realmName: string,
  input: { readonly uri: string } & Resource.Settings,
  actor: AuditEvent.Actor
) =>
  Effect.gen(function*() {
    const invalid = Resource.invalidSettings(input)
    if (invalid !== undefined) return yield* new ResourceRejected({ detail: invalid })
    const realm = yield* findRealm(realmName)
    const event = yield* Audit.make(realm, { type: "resource.created", actor, resource: input.uri, result: "success" })
    const resource: Resource.Resource = {
      realmId: realm.id,
      id: yield* Entropy.uuid,
      version: 1,
      uri: input.uri,
      scopes: input.scopes,
      stepUpScopes: input.stepUpScopes,
      ...(input.displayName !== undefined ? { displayName: input.displayName } : {}),
      ...(input.scopeDescriptions !== undefined && Object.keys(input.scopeDescriptions).length > 0
        ? { scopeDescriptions: input.scopeDescriptions }
        : {}),
      createdAt: event.at
    }
    yield* Effect.flatMap(Resources, (resources) => resources.insert(resource, event))
    return resource
  })

export const registerTrustedIssuer = (
  realmName: string,
  input: Pick<TrustedIssuer, "issuer" | "keys"> & {
    readonly idJag?: boolean | undefined
    readonly provisionUsers?: boolean | undefined
  },
  actor: AuditEvent.Actor
) =>
  Effect.gen(function*() {
    const realm = yield* findRealm(realmName)
    const event = yield* Audit.make(realm, { type: "trusted_issuer.created", actor, subject: input.issuer, result: "success" })
    const trusted: TrustedIssuer = {
      realmId: realm.id,
      id: yield* Entropy.uuid,
      version: 1,
      issuer: input.issuer,
      keys: input.keys,
      idJag: input.idJag ?? false,
      provisionUsers: input.provisionUsers ?? false,
      createdAt: event.at
    }
    yield* Effect.flatMap(TrustedIssuers, (issuers) => issuers.insert(trusted, event))
    return trusted
  })

export const rotateKeys = (realmName: string, actor: AuditEvent.Actor) =>
  Effect.flatMap(findRealm(realmName), (realm) => SigningKeys.rotate(realm, actor, rotationReason(actor)))

/** Why a rotation ran, for its `key.rotated` event: who asked for it through the admin API. */
export const rotationReason = (actor: AuditEvent.Actor) =>
  actor.type === "owner" ? "requested by the owner" : actor.type === "tenant_admin" ? "requested by a tenant admin" : "requested by an automation client"
