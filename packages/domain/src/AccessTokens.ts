/**
 * What became of issued access tokens (RFC 7009 §2.1, RFC 7662 §2.2): the grant each one stems from, and the ones
 * revoked. An RFC 9068 JWT names neither, so both are kept by `jti` until the token expires.
 */
import { Clock, Context, DateTime, Effect, HashMap, Layer, Option, Ref } from "effect"
import type { AuditEvent } from "./AuditEvent.js"
import * as Delegations from "./Delegations.js"
import * as MemoryDb from "./MemoryDb.js"
import * as RealmPin from "./RealmPin.js"
import * as User from "./User.js"
import type { StoreError } from "./StoreError.js"

/** What `active` reads of a verified token (RFC 9068 §2.2). */
export interface Presented {
  readonly jti: string
  readonly sub: string
  readonly clientId: string
  /** `iat`, epoch seconds. */
  readonly issuedAt: number
}

/** draft-ietf-oauth-client-id-metadata-document: a client named by its document's URL is fetched, never registered. */
export const isDocumentClient = (clientId: string) => /^https?:\/\//i.test(clientId)

/** RFC 9068 §2.2: a `sub` equal to `client_id` is the client itself (client credentials); any other names a person. */
export const isPerson = (token: Pick<Presented, "sub" | "clientId">) => token.sub !== token.clientId

export interface Status {
  /** The grant the token was issued from; revoking the grant makes the token inactive. */
  readonly grantId?: string
  /** Revoked on its own (RFC 7009). */
  readonly revoked: boolean
  /** When the record may be forgotten: the token's `exp`. */
  readonly expiresAt: DateTime.Utc
}

/**
 * RFC 7009 §2.1: a newly issued token's link to its grant (what `record` writes), for a store that writes it in the
 * same transaction as the token set it belongs to (issue 17: `Grants.firstTokens`, `RefreshTokens.rotate`).
 */
export interface Link {
  readonly jti: string
  readonly grantId: string
  /** The token's `exp`: the link may be forgotten then. */
  readonly expiresAt: DateTime.Utc
}

export class AccessTokens extends Context.Tag("@tessera/domain/AccessTokens")<AccessTokens, {
  /** Links a newly issued token to its grant, until the token expires. */
  readonly record: (realmId: string, jti: string, grantId: string, expiresAt: DateTime.Utc) => Effect.Effect<void, StoreError>
  /** Marks a token revoked until it expires (keeping its grant link), written together with its event. */
  readonly revoke: (realmId: string, jti: string, expiresAt: DateTime.Utc, event: AuditEvent | undefined) => Effect.Effect<void, StoreError>
  /** The token's record, if it has one that has not expired. */
  readonly find: (realmId: string, jti: string) => Effect.Effect<Option.Option<Status>, StoreError>
  /**
   * Whether a token that verified is still good (CONTRACT §5 Introspection, ADR 0034), in one read (it is on userinfo's
   * path): not revoked itself; its grant (when it has one) present and not revoked; its client still registered (a
   * client ID metadata document URL is never stored, so never deleted); its person (a `sub` other than the client's
   * own) still a user of the realm, and not disabled; and not issued at or before a revocation of its client's delegation from that
   * person. A token without a live record (issued without a grant, and never revoked) is otherwise decided by the
   * JWT's signature and `exp`.
   */
  readonly active: (realmId: string, token: Presented) => Effect.Effect<boolean, StoreError>
}>() {}

/**
 * CONTRACT §5 Introspection: a token revoked itself, of a revoked grant or delegation, of a deleted client or person,
 * is inactive (`AccessTokens.active`).
 */
export const isActive = (realmId: string, token: Presented) => Effect.flatMap(AccessTokens, (tokens) => tokens.active(realmId, token))

/** The answer of `active` for a token's record, given its grant's (looked up only when the record links one). */
const activeFrom = (status: Option.Option<Status>, grantRevoked: (grantId: string) => Option.Option<boolean>) =>
  Option.match(status, {
    onNone: () => true,
    onSome: ({ grantId, revoked }) =>
      !revoked && (grantId === undefined || Option.exists(grantRevoked(grantId), (isRevoked) => !isRevoked))
  })

/**
 * In memory. `revoke` changes the table and appends its event under MemoryDb's one lock, so the two land together as
 * they would in one Postgres transaction. Expired records are dropped on each write.
 */
export const layerMemory = Layer.effect(AccessTokens, Effect.gen(function*() {
  const db = yield* MemoryDb.MemoryDb
  const table = yield* Ref.make(HashMap.empty<string, Status>())
  const live = (now: number) => (rows: HashMap.HashMap<string, Status>) =>
    HashMap.filter(rows, (status) => DateTime.toEpochMillis(status.expiresAt) > now)
  // issue 14: this table lives beside MemoryDb, so it checks the realm pin itself
  const upsert = (realmId: string, jti: string, f: (before: Option.Option<Status>) => Status) =>
    Effect.zipRight(RealmPin.check(realmId), Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Ref.update(table, (rows) => {
        const kept = live(now)(rows)
        const key = MemoryDb.key(realmId, jti)
        return HashMap.set(kept, key, f(HashMap.get(kept, key)))
      })))
  const find = (realmId: string, jti: string) =>
    Effect.zipRight(RealmPin.check(realmId), Effect.flatMap(Clock.currentTimeMillis, (now) =>
      Effect.map(Ref.get(table), (rows) =>
        HashMap.get(rows, MemoryDb.key(realmId, jti)).pipe(
          Option.filter((status) => DateTime.toEpochMillis(status.expiresAt) > now)
        ))))
  return AccessTokens.of({
    record: (realmId, jti, grantId, expiresAt) =>
      upsert(realmId, jti, (before) => ({ grantId, revoked: Option.exists(before, (status) => status.revoked), expiresAt })),
    revoke: (realmId, jti, expiresAt, event) =>
      MemoryDb.write(db, (state) =>
        Effect.gen(function*() {
          const next = yield* MemoryDb.withEvent(state, event)
          yield* upsert(realmId, jti, (before) =>
            Option.match(before, {
              onNone: () => ({ revoked: true, expiresAt }),
              onSome: (status) => ({ ...status, revoked: true })
            }))
          return [undefined, next] as const
        })),
    find,
    active: (realmId, token) =>
      Effect.flatMap(find(realmId, token.jti), (status) =>
        MemoryDb.read(db, (state) => {
          const grant = Option.flatMap(status, ({ grantId }) =>
            grantId === undefined ? Option.none() : HashMap.get(state.grants, MemoryDb.key(realmId, grantId)))
          // as on Postgres (ADR 0034): a token linked to a grant of its own client and person is decided by its record
          // and that grant (every cut-off revokes the grant in its own write)
          if (Option.isSome(status) && Option.isSome(grant) && grant.value.clientId === token.clientId && grant.value.sub === token.sub) {
            return !status.value.revoked && grant.value.revokedAt === undefined
          }
          return activeFrom(status, (grantId) =>
            Option.map(HashMap.get(state.grants, MemoryDb.key(realmId, grantId)), (grant) => grant.revokedAt !== undefined)) &&
          (isDocumentClient(token.clientId) || HashMap.has(state.clients, MemoryDb.key(realmId, token.clientId))) &&
          (!isPerson(token) || Option.exists(HashMap.get(state.users, MemoryDb.key(realmId, token.sub)), (user) => User.acceptsTokenIssuedAt(user, token.issuedAt))) &&
          !Delegations.revokedFor(
            Option.getOrUndefined(HashMap.get(state.delegations, Delegations.memoryKey(realmId, token.clientId, token.sub))),
            token.issuedAt
          )
        }))
  })
}))
