/** Signing keys per realm (DESIGN "signing key"): generation, sealing, rotation on schedule, and the JWKS. */
import { Clock, Context, DateTime, Duration, Effect, Either, Layer, Option } from "effect"
import * as Jose from "jose"
import * as Audit from "./Audit.js"
import * as AuditEvent from "./AuditEvent.js"
import { KeyRingChanged, NotFound } from "./Conflict.js"
import { Crypto } from "./Crypto.js"
import { Kek } from "./Kek.js"
import * as Jwt from "./Jwt.js"
import * as Metrics from "./Metrics.js"
import { JobLock } from "./JobLock.js"
import { Keys } from "./Keys.js"
import type { Realm } from "./Realm.js"
import * as ReadCache from "./ReadCache.js"
import { Realms } from "./Realms.js"
import * as SigningKey from "./SigningKey.js"
import * as StoreError from "./StoreError.js"

/** The key policy in force (from configuration). */
export class KeyPolicy extends Context.Tag("@tessera/domain/KeyPolicy")<KeyPolicy, SigningKey.Policy>() {}

export const layerPolicy = (policy: SigningKey.Policy) => Layer.succeed(KeyPolicy, policy)

const encoder = new TextEncoder()
const decoder = new TextDecoder()

/** Binds a sealed private key to its realm and kid. */
const sealContext = (realmId: string, kid: string) => `tessera:signing-key:${realmId}:${kid}`

const now = Effect.map(Clock.currentTimeMillis, (ms) => DateTime.unsafeMake(ms))

/** A new key pair: the kid is the RFC 7638 thumbprint of the public key; the private JWK is sealed at once. */
export const generate = (realmId: string, alg: SigningKey.Alg) =>
  Effect.gen(function*() {
    const kek = yield* Kek
    const pair = yield* Effect.promise(() =>
      Jose.generateKeyPair(alg, alg === "RS256" ? { extractable: true, modulusLength: 2048 } : { extractable: true })
    )
    const publicJwk = yield* Effect.promise(() => Jose.exportJWK(pair.publicKey))
    const privateJwk = yield* Effect.promise(() => Jose.exportJWK(pair.privateKey))
    const kid = yield* Effect.promise(() => Jose.calculateJwkThumbprint(publicJwk, "sha256"))
    const sealedPrivateJwk = yield* kek.seal(encoder.encode(JSON.stringify(privateJwk)), sealContext(realmId, kid))
    return {
      kid,
      alg,
      // RFC 7517 §4: public members only, with use and alg so verifiers pick the right key
      publicJwk: { ...publicJwk, kid, alg, use: "sig" },
      sealedPrivateJwk
    } satisfies SigningKey.Fresh
  })

const generateAll = (realmId: string) =>
  Effect.forEach(SigningKey.algs, (alg) => generate(realmId, alg), { concurrency: "unbounded" })

/** The first ring of a new realm: one active and one next key per alg. */
export const initialRing = (realmId: string) =>
  Effect.gen(function*() {
    const policy = yield* KeyPolicy
    const [active, next] = yield* Effect.all([generateAll(realmId), generateAll(realmId)], { concurrency: 2 })
    return SigningKey.initial({ active, next }, yield* now, policy)
  })

/**
 * The realm's ring. Every realm has one from its creating write on, and it goes with the realm. Issue 15 (ADR 0030): a
 * realm deleted since the caller found it is the store's `realmGone` (the edge's unknown realm, CONTRACT §2, §3); a
 * live realm without a ring (a partial restore, a manual edit) is a store fault: logged naming the realm, and the
 * endpoint's store failure (503), never an unknown realm.
 */
const ringOf = (realmId: string) =>
  Effect.flatMap(Keys, (keys) => keys.ring(realmId)).pipe(
    Effect.flatMap(Option.match({ onNone: () => ringMissing(realmId), onSome: Effect.succeed }))
  )

const ringMissing = (realmId: string) =>
  Effect.logError("a live realm has no key ring (a store fault: restore its ring or rotate after restoring)").pipe(
    Effect.annotateLogs("realm", realmId),
    Effect.zipRight(Effect.fail(new StoreError.StoreError({ cause: new Error(`realm ${realmId} has no key ring`) })))
  )

/**
 * Rotates a realm's keys and records `key.rotated` in the same write. Compare-and-set on the ring's version:
 * if another node changed the ring meanwhile, read it again and rotate that. Answers the keys of the ring it wrote
 * (as `list` shows them), not a second read: a deletion queued behind the write may commit before such a read.
 */
export const rotate = (realm: Pick<Realm, "id" | "name">, actor: AuditEvent.Actor, reason: string) =>
  ringOf(realm.id).pipe(
    // CONTRACT §3: a realm deleted since the caller found it (its ring went with it) is an unknown realm, not a defect
    Effect.catchIf(StoreError.isRealmGone, () => Effect.fail(new NotFound({ entity: "realm" }))),
    Effect.flatMap((ring) => rotateFrom(realm, ring, actor, reason)),
    Effect.retry({ while: (e) => e instanceof KeyRingChanged, times: 3 }),
    Effect.flatMap((ring) => Effect.map(now, (at) => SigningKey.published(ring, at)))
  )

/** Rotates `ring` if it is still the stored one (compare-and-set on its version). */
const rotateFrom = (realm: Pick<Realm, "id" | "name">, ring: SigningKey.Ring, actor: AuditEvent.Actor, reason: string) =>
  Effect.gen(function*() {
    const keys = yield* Keys
    const policy = yield* KeyPolicy
    const fresh = yield* generateAll(realm.id)
    const at = yield* now
    const rotated = yield* Either.match(SigningKey.rotate(ring, fresh, at, policy), {
      onLeft: (broken) => Effect.dieMessage(broken.reason),
      onRight: Effect.succeed
    })
    const promoted = rotated.keys.filter((key) => key._tag === "Active").map((key) => key.kid).join(" ")
    const event = yield* Audit.make(realm, { type: "key.rotated", actor, result: "success", reason: `${reason}; active ${promoted}` })
    yield* keys.replace(realm.id, ring.version, rotated, Option.some(event))
    return rotated
  })

/** The published JWKS (RFC 7517 §5): active, next and still-verifying retired keys, public members only. */
export const jwks = (realmId: string) =>
  Effect.gen(function*() {
    const ring = yield* ringOf(realmId)
    return { keys: SigningKey.published(ring, yield* now).map((key) => key.publicJwk) }
  })

/**
 * The realm's published keys (`jwks`) for verifying the tokens it signed (introspection, token exchange, logout hints),
 * as one `Jwt.Verifier` kept in the `ReadCache` when there is one, under the ring's version: each key is opened once
 * per ring and cache period, not once per token. A rotation makes a new version, so a new verifier.
 */
export const verifier = (realmId: string) =>
  Effect.gen(function*() {
    const ring = yield* ringOf(realmId)
    const open = Effect.map(now, (at) => Jwt.keySet({ keys: SigningKey.published(ring, at).map((key) => key.publicJwk) }))
    const cache = yield* Effect.serviceOption(ReadCache.ReadCache)
    return yield* Option.match(cache, {
      onNone: () => open,
      onSome: (c) => c.get(verifierEntry(realmId, String(ring.version)), open)
    })
  })

const verifierEntry = ReadCache.key<Jwt.Verifier>("verifier")

/** The keys an owner sees: every key still published, with its status and times. */
export const list = (realmId: string) =>
  Effect.gen(function*() {
    const ring = yield* ringOf(realmId)
    return SigningKey.published(ring, yield* now)
  })

/**
 * The active key for `alg`, opened for signing. Opened keys are kept in the `ReadCache` when there is one, under
 * their sealed bytes: a key once opened is the same key for as long as those bytes are its.
 */
export const signer = (realmId: string, alg: SigningKey.Alg) =>
  Effect.gen(function*() {
    const ring = yield* ringOf(realmId)
    const active = activeKey(ring, alg)
    if (active === undefined) return yield* Effect.dieMessage(`realm ${realmId} has no active ${alg} key`)
    const open = Effect.gen(function*() {
      const kek = yield* Kek
      const jwk = JSON.parse(decoder.decode(yield* kek.open(active.sealedPrivateJwk, sealContext(realmId, active.kid))))
      const key = yield* Effect.flatMap(Crypto, (crypto) => crypto.importSigningKey(jwk, alg))
      return { kid: active.kid, alg, key } satisfies Signer
    })
    const cache = yield* Effect.serviceOption(ReadCache.ReadCache)
    return yield* Option.match(cache, {
      onNone: () => open,
      onSome: (c) => c.get(signerKey(realmId, active), open)
    })
  })

/** A key opened for signing: what `signer` gives, and `Jwt.sign` takes. */
export interface Signer {
  readonly kid: string
  readonly alg: SigningKey.Alg
  /** The platform's opened key (`Crypto.importSigningKey`), only ever passed back to `Crypto.sign`. */
  readonly key: unknown
}

const signerEntry = ReadCache.key<Signer>("signer")

/** Where `signer` keeps a key opened in the `ReadCache`: in its realm's scope, under its sealed bytes. */
export const signerKey = (realmId: string, key: SigningKey.SigningKey) =>
  signerEntry(realmId, `${key.kid}:${key.sealedPrivateJwk.iv}:${key.sealedPrivateJwk.ciphertext}`)

/** The key `signer` signs with for `alg`: the ring's active one. */
export const activeKey = (ring: SigningKey.Ring, alg: SigningKey.Alg) =>
  ring.keys.find((key): key is SigningKey.Active => key.alg === alg && key._tag === "Active")

/**
 * CONTRACT §8 `tessera_signing_key_age_seconds{realm,alg}`: how long each realm's active key has signed, as of now
 * (run before each scrape). A realm whose ring cannot be read keeps its last value; the failure is the caller's.
 */
export const recordAges = Effect.gen(function*() {
  for (const { realm, ring } of yield* everyRing) {
    const at = yield* now
    for (const alg of SigningKey.algs) {
      const active = activeKey(ring, alg)
      if (active === undefined) continue
      const age = Math.max(0, DateTime.distance(active.activatesAt, at) / 1000)
      yield* Metrics.signingKeyAgeOf(realm.name, alg, age)
    }
  }
})

/**
 * Every realm with its ring, for the passes over all realms. A realm listed whose ring is gone was deleted between
 * the two reads (its ring goes with it, `realmGone`): it is skipped, so one deletion never fails the pass for every
 * other realm. A live realm without a ring (issue 15, ADR 0030) is skipped too, logged as the store fault it is.
 */
const everyRing = Effect.gen(function*() {
  const realms = yield* Realms
  const keys = yield* Keys
  const found: Array<{ readonly realm: Realm; readonly ring: SigningKey.Ring }> = []
  for (const realm of yield* realms.list) {
    const ring = yield* keys.ring(realm.id).pipe(
      Effect.catchIf(StoreError.isRealmGone, () =>
        Effect.as(
          Effect.logDebug("key pass skipped a realm deleted meanwhile").pipe(Effect.annotateLogs("realm", realm.name)),
          Option.none<SigningKey.Ring>()
        )),
      Effect.tap((ring) => Option.isNone(ring) ? Effect.ignore(ringMissing(realm.id)) : Effect.void)
    )
    if (Option.isSome(ring)) found.push({ realm, ring: ring.value })
  }
  return found
})

/** The scheduler's job name: one node rotates at a time (`JobLock`). */
export const rotationJob = "tessera:key-rotation"

/**
 * One pass of the scheduler: rotate every realm whose next key is due, and drop keys whose tokens expired.
 * If another node changed a ring meanwhile, that realm is left for the next pass to look at again.
 */
export const rotateDue = Effect.gen(function*() {
  const keys = yield* Keys
  for (const { realm, ring } of yield* everyRing) {
    const at = yield* now
    const step = SigningKey.isDue(ring, at)
      ? rotateFrom(realm, ring, AuditEvent.scheduler, "scheduled")
      : SigningKey.hasExpired(ring, at)
      ? keys.replace(realm.id, ring.version, SigningKey.prune(ring, at), Option.none())
      : Effect.void
    yield* step.pipe(
      Effect.catchTag("KeyRingChanged", () => Effect.void),
      // a ring that breaks the invariants is that realm's fault: logged for the operator, and every other realm still
      // rotates (a store failure still fails the pass, retried a minute later)
      Effect.catchAllDefect((defect) =>
        Effect.logError("key rotation skipped a realm whose ring cannot be rotated", defect).pipe(Effect.annotateLogs("realm", realm.name))
      )
    )
  }
})

/** When the next pass must run: the earliest activation or expiry across every realm's ring. */
export const nextChange = Effect.gen(function*() {
  let earliest: Option.Option<DateTime.Utc> = Option.none()
  for (const { ring } of yield* everyRing) {
    const change = SigningKey.nextChange(ring)
    if (Option.isSome(change) && (Option.isNone(earliest) || DateTime.lessThan(change.value, earliest.value))) earliest = change
  }
  return earliest
})

/**
 * The longest the scheduler sleeps: it wakes exactly when a known key falls due, and at least this often to
 * see realms other nodes created (their keys fall due a whole rotation interval later, so nothing is missed).
 */
export const scheduleEvery = Duration.hours(1)

/** After a failed pass (the store unreachable, say), the scheduler tries again this soon. */
export const retryAfterFailure = Duration.minutes(1)

/**
 * Runs `rotateDue` forever, sleeping until the next change; a failed pass is logged and retried a minute later.
 * `afterPass` runs after every pass that succeeded (CONTRACT §2 `/readyz`: the keys are loaded).
 */
export const runSchedulerWith = (afterPass: Effect.Effect<void>) => Effect.gen(function*() {
  const jobs = yield* JobLock
  while (true) {
    const wake = yield* jobs.tryRun(rotationJob, rotateDue).pipe(
      Effect.zipRight(nextChange),
      Effect.tap(() => afterPass),
      Effect.map(Option.some),
      Effect.catchAllCause((cause) => Effect.logError("key rotation pass failed", cause).pipe(Effect.as(Option.none())))
    )
    const at = yield* now
    const wait = Option.match(wake, {
      onNone: () => retryAfterFailure,
      onSome: Option.match({ onNone: () => scheduleEvery, onSome: (due) => untilDue(at, due) })
    })
    yield* Effect.sleep(wait)
  }
})

export const runScheduler = runSchedulerWith(Effect.void)

const untilDue = (at: DateTime.Utc, due: DateTime.Utc) =>
  Duration.clamp(Duration.millis(DateTime.distance(at, due)), { minimum: Duration.seconds(1), maximum: scheduleEvery })
