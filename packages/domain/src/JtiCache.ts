/**
 * JWT IDs already used (RFC 7523 §3, RFC 7519 §4.1.7, RFC 9449 §11.1): a `jti` is accepted once per issuer and realm
 * for as long as its JWT could still be valid: client assertions for `private_key_jwt` and the JWT-bearer grant's
 * assertions (keyed by their issuer), and DPoP proofs (keyed by `dpopIssuer` of the URI they are for).
 */
import { Clock, Context, DateTime, Effect, HashMap, Layer, Ref } from "effect"
import type { StoreError } from "./StoreError.js"

export class JtiCache extends Context.Tag("@tessera/domain/JtiCache")<JtiCache, {
  /**
   * Records that `issuer` used `jti` in the realm, remembered until `expiresAt` (the JWT's `exp`: after that the JWT
   * is refused as expired anyway). Answers false, recording nothing, when that issuer's `jti` is still remembered:
   * a replay. Compare-and-set: of two racing calls with the same `jti`, exactly one gets true.
   */
  readonly remember: (realmId: string, issuer: string, jti: string, expiresAt: DateTime.Utc) => Effect.Effect<boolean, StoreError>
}>() {}

/**
 * The longest `jti` Tessera remembers (ADR 0047): it keys the replay store, whose index entry has a bound (a random
 * 2 600-character jti overflowed PostgreSQL's b-tree entry, a 503); longer ones are refused before the store is asked.
 */
export const maxLength = 255

/** RFC 9449 §11.1: DPoP proofs' jtis are remembered "in the context of the target URI", apart from any issuer's. */
export const dpopIssuer = (htu: string) => `dpop ${htu}`

/** An unambiguous key: realm, issuer and jti may hold any character. */
const keyOf = (realmId: string, issuer: string, jti: string) => JSON.stringify([realmId, issuer, jti])

/** In memory: expired entries are dropped on each write, so the map holds only JWTs that could still be valid. */
export const layerMemory = Layer.effect(JtiCache, Effect.gen(function*() {
  const seen = yield* Ref.make(HashMap.empty<string, number>())
  return JtiCache.of({
    remember: (realmId, issuer, jti, expiresAt) =>
      Effect.flatMap(Clock.currentTimeMillis, (now) =>
        Ref.modify(seen, (entries) => {
          const live = HashMap.filter(entries, (until) => until > now)
          const key = keyOf(realmId, issuer, jti)
          if (HashMap.has(live, key)) return [false, live] as const
          return [true, HashMap.set(live, key, DateTime.toEpochMillis(expiresAt))] as const
        }))
  })
}))
