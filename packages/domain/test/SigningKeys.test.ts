import { describe, expect, it } from "@effect/vitest"
import { Duration, Effect, Layer, Option, TestClock } from "effect"
import { Audit, AuditEvent, Clients, Entropy, Jwt, Kek, Keys, MemoryDb, PasswordHasher, Provisioning, ReadCache, Realms, Resources, SigningKey, SigningKeys, Tokens } from "@tessera/domain"

/** The ports as a node runs them: key ring, realms, clients and resources read through the `ReadCache`. */
const node = Layer.mergeAll(
  Audit.layerMemory, Entropy.layer, Kek.layer(new Uint8Array(32).fill(7)), SigningKeys.layerPolicy(SigningKey.defaultPolicy),
  Layer.succeed(PasswordHasher.PasswordHasher, PasswordHasher.PasswordHasher.of({ hash: Effect.succeed, verify: () => Effect.succeed(false) }))
).pipe(
  Layer.provideMerge(ReadCache.layerPorts.pipe(
    Layer.provideMerge(ReadCache.layer),
    Layer.provideMerge(Layer.mergeAll(Keys.layerMemory, Realms.layerMemory, Clients.layerMemory, Resources.layerMemory))
  )),
  Layer.provideMerge(MemoryDb.layer)
)

const issuer = "https://tessera.test/realms/r"

/** An access token the realm's active ES256 key signs now. */
const accessToken = (realmId: string) =>
  Effect.map(Tokens.accessToken({
    realmId, issuer, sub: "c", audience: "https://api.example/", clientId: "c", scope: [], dpopKey: Option.none()
  }, Duration.minutes(15)), (issued) => issued.token)

const verified = (token: string, verifier: Jwt.Verifier) =>
  Effect.map(Jwt.verify(token, verifier, { issuer, typ: "at+jwt", algorithms: ["ES256"] }), (v) => v.payload.sub)

describe("SigningKeys.verifier: the realm's published keys, opened once per ring (RFC 7517 §5, ADR 0015)", () => {
  it.effect("one verifier per ring and cache period; a rotation gives a new one, which verifies the retired key's tokens and the new active key's", () =>
    Effect.gen(function*() {
      const realm = yield* Provisioning.createRealm(`t-${crypto.randomUUID().slice(0, 8)}`, "https://tessera.test")
      const first = yield* SigningKeys.verifier(realm.id)
      // the same key set for every token of the period: each key is imported the first time a token names it, once
      expect(yield* SigningKeys.verifier(realm.id)).toBe(first)
      const before = yield* accessToken(realm.id)
      expect(yield* verified(before, first)).toBe("c")
      yield* SigningKeys.rotate(realm, AuditEvent.scheduler, "test")
      const rotated = yield* SigningKeys.verifier(realm.id)
      expect(rotated).not.toBe(first)
      const after = yield* accessToken(realm.id)
      expect(Jwt.unverifiedKid(after)).not.toBe(Jwt.unverifiedKid(before))
      expect([yield* verified(before, rotated), yield* verified(after, rotated)]).toEqual(["c", "c"])
      // past the cache period the ring is read again, and with it a fresh verifier
      yield* TestClock.adjust(ReadCache.ttl)
      expect(yield* SigningKeys.verifier(realm.id)).not.toBe(rotated)
    }).pipe(Effect.provide(node)))

  it.effect("a token of another realm's key does not verify", () =>
    Effect.gen(function*() {
      const one = yield* Provisioning.createRealm(`t-${crypto.randomUUID().slice(0, 8)}`, "https://tessera.test")
      const other = yield* Provisioning.createRealm(`t-${crypto.randomUUID().slice(0, 8)}`, "https://tessera.test")
      const failed = yield* Effect.flip(verified(yield* accessToken(other.id), yield* SigningKeys.verifier(one.id)))
      expect(failed).toEqual(new Jwt.TokenInvalid({ reason: "ERR_JWKS_NO_MATCHING_KEY" }))
    }).pipe(Effect.provide(node)))
})
