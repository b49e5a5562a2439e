/**
 * Refresh-token rotation with reuse detection (OAuth 2.1 §4.3.1, RFC 9700 §4.14.2): every use returns a new
 * token; presenting an older generation means the family leaked, and the whole family is revoked.
 */
import { Data, DateTime, Duration, Either } from "effect"

export interface Policy {
  /** A refresh token unused this long expires (sliding). */
  readonly idleLifetime: Duration.Duration
  /** No family lives longer than this from the person's authorization (absolute). */
  readonly absoluteLifetime: Duration.Duration
}

export const defaultPolicy: Policy = { idleLifetime: Duration.days(14), absoluteLifetime: Duration.days(30) }

export type RefreshFamily = Data.TaggedEnum<{
  Active: {
    readonly familyId: string
    readonly realmId: string
    readonly clientId: string
    readonly grantId: string
    /** The generation of the current token; earlier generations are reuse. */
    readonly generation: number
    /** SHA-256 of the current token. */
    readonly currentHash: string
    readonly createdAt: DateTime.Utc
    readonly lastUsedAt: DateTime.Utc
    /** RFC 9449 §5: a public client's family is bound to the DPoP key it proved; every use must prove it again. */
    readonly dpopJkt?: string
  }
  Revoked: { readonly familyId: string; readonly realmId: string; readonly clientId: string; readonly grantId: string; readonly reason: string }
}>
export const RefreshFamily = Data.taggedEnum<RefreshFamily>()

export class RefreshRejected extends Data.TaggedError("RefreshRejected")<{
  readonly reason: "unknown" | "expired" | "revoked" | "reused" | "client_mismatch" | "dpop_mismatch"
  /** Set on reuse: the family to revoke and audit as `refresh.reuse_detected`. */
  readonly familyId?: string
  readonly grantId?: string
}> {}

/** Who presents a refresh token, and the DPoP key they proved. */
export interface Presented {
  readonly generation: number
  readonly clientId: string
  /** RFC 7638 thumbprint of the key the request's DPoP proof proved, if it had one. */
  readonly dpopJkt: string | undefined
  /** RFC 9449 §5: a public client's refresh token is bound to the key it proves; a confidential client's is not. */
  readonly publicClient: boolean
}

/**
 * Pure: presenting the token of `generation` (looked up by its hash) to `family` at `now` by `clientId`.
 * Right: the family advanced by one generation with `nextHash` as its current token.
 */
export const rotate = (
  family: RefreshFamily,
  presented: Presented,
  nextHash: string,
  now: DateTime.Utc,
  policy: Policy
): Either.Either<RefreshFamily, RefreshRejected> =>
  RefreshFamily.$match(family, {
    Revoked: () => Either.left(new RefreshRejected({ reason: "revoked" })),
    Active: (f) => {
      // RFC 6749 §6: the refresh token is bound to the client it was issued to
      if (presented.clientId !== f.clientId) return Either.left(new RefreshRejected({ reason: "client_mismatch" }))
      // RFC 9700 §4.14.2: an old generation presented again: revoke the family
      if (presented.generation !== f.generation) {
        return Either.left(new RefreshRejected({ reason: "reused", familyId: f.familyId, grantId: f.grantId }))
      }
      const idleEnd = DateTime.addDuration(f.lastUsedAt, policy.idleLifetime)
      const absoluteEnd = DateTime.addDuration(f.createdAt, policy.absoluteLifetime)
      if (DateTime.lessThanOrEqualTo(idleEnd, now) || DateTime.lessThanOrEqualTo(absoluteEnd, now)) {
        return Either.left(new RefreshRejected({ reason: "expired" }))
      }
      // RFC 9449 §5: the binding MUST be validated: a proof of the same key, each time the token is used
      if (f.dpopJkt !== undefined && presented.dpopJkt !== f.dpopJkt) return Either.left(new RefreshRejected({ reason: "dpop_mismatch" }))
      // RFC 9449 §5: a refresh token issued to a public client that presents a proof MUST be bound to its key
      const dpopJkt = f.dpopJkt ?? (presented.publicClient ? presented.dpopJkt : undefined)
      return Either.right(RefreshFamily.Active({
        ...f,
        generation: f.generation + 1,
        currentHash: nextHash,
        lastUsedAt: now,
        ...(dpopJkt !== undefined ? { dpopJkt } : {})
      }))
    }
  })

/** When the current token stops working: the earlier of the idle and the absolute end. */
export const expiresAt = (family: Extract<RefreshFamily, { _tag: "Active" }>, policy: Policy) =>
  DateTime.min(DateTime.addDuration(family.lastUsedAt, policy.idleLifetime), DateTime.addDuration(family.createdAt, policy.absoluteLifetime))
