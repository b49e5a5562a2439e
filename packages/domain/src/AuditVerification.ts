/**
 * CONTRACT §3 `audit/verify` at scale (ADR 0042): a trail's hash chain verified in one pass, in bounded batches, from
 * the newest signed checkpoint it can trust (or from its first event); the intact result recorded as a new
 * checkpoint; and the periodic job that does this for every realm and the owner trail and publishes the result.
 */
import { Clock, Context, DateTime, Duration, Effect, Metric } from "effect"
import * as Audit from "./Audit.js"
import * as AuditChain from "./AuditChain.js"
import * as AuditCheckpoints from "./AuditCheckpoints.js"
import { CheckpointKey } from "./CheckpointKey.js"
import { JobLock } from "./JobLock.js"
import * as Metrics from "./Metrics.js"
import { Realms } from "./Realms.js"

/** How many links a verification reads at a time: its memory is one batch, whatever the trail's length. */
export class Batch extends Context.Reference<Batch>()("@tessera/domain/AuditVerification/Batch", {
  defaultValue: () => Audit.verifyBatch
}) {}

/** `checkpoint`: from the newest trusted checkpoint (what is new only); `genesis`: every event again. */
export type From = "checkpoint" | "genesis"

/** How many checkpoints are looked at per read while looking for one to trust. */
const checkpointPage = 50

/**
 * The newest checkpoint that is this server's (its MAC verifies) and still describes the trail (the link at its
 * position has its event id and hash); genesis when there is none. A forged or edited checkpoint is passed over.
 */
export const trustedStart = (realmId: string) =>
  Effect.gen(function*() {
    const audit = yield* Audit.Audit
    const checkpoints = yield* AuditCheckpoints.AuditCheckpoints
    const key = yield* CheckpointKey
    let before = Number.MAX_SAFE_INTEGER
    while (true) {
      const page = yield* checkpoints.newest(realmId, before, checkpointPage)
      for (const c of page) {
        if (!(yield* AuditCheckpoints.isAuthentic(key, c))) continue
        const [at] = yield* audit.links(realmId, c.seq - 1, 1)
        if (at !== undefined && at.seq === c.seq && at.hash === c.hash && at.id === c.eventId) {
          return { seq: c.seq, hash: c.hash, events: c.events } satisfies AuditChain.From
        }
      }
      if (page.length < checkpointPage) return AuditChain.fromGenesis
      before = page[page.length - 1]!.seq
    }
  })

/**
 * Verifies the trail after `from` (a trusted checkpoint or genesis), then records an intact result as a checkpoint.
 * Every authentic checkpoint the walk passes must agree with the link at its position, and none may lie beyond the
 * trail's end: a chain rewritten consistently (every hash recomputed) or cut short is found through the checkpoint
 * that recorded it, and named by that checkpoint's event.
 */
export const verify = (realmId: string, from: From = "checkpoint") =>
  Effect.gen(function*() {
    const audit = yield* Audit.Audit
    const checkpoints = yield* AuditCheckpoints.AuditCheckpoints
    const key = yield* CheckpointKey
    const batch = yield* Batch
    const start = from === "genesis" ? AuditChain.fromGenesis : yield* trustedStart(realmId)
    const authentic = (found: ReadonlyArray<AuditCheckpoints.Checkpoint>) =>
      Effect.filter(found, (c) => AuditCheckpoints.isAuthentic(key, c))
    // the signed checkpoints past the start, read a page at a time as the walk reaches them (usually one read in all)
    let signed: ReadonlyArray<AuditCheckpoints.Checkpoint> = []
    let readUpTo = start.seq
    const walked = yield* AuditChain.walk(
      (after, limit) => audit.links(realmId, after, limit),
      start,
      batch,
      (links) =>
        Effect.gen(function*() {
          const last = links[links.length - 1]!.seq
          while (readUpTo < last) {
            const page = yield* checkpoints.between(realmId, readUpTo, Number.MAX_SAFE_INTEGER, checkpointPage)
            signed = [...signed.filter((c) => c.seq >= links[0]!.seq), ...(yield* authentic(page))]
            readUpTo = page.length < checkpointPage ? Number.MAX_SAFE_INTEGER : page[page.length - 1]!.seq
          }
          const bySeq = new Map(signed.filter((c) => c.seq >= links[0]!.seq && c.seq <= last).map((c) => [c.seq, c]))
          return (l: AuditChain.Link) => {
            const c = bySeq.get(l.seq)
            return c === undefined || (c.hash === l.hash && c.eventId === l.id)
          }
        })
    )
    if (!walked.ok) return walked satisfies AuditChain.Verdict
    const end = walked.last?.seq ?? start.seq
    // a signed checkpoint past the end: events it recorded are gone (ADR 0007 could not see a cut-off trail)
    for (let after = end; after < Number.MAX_SAFE_INTEGER;) {
      const page = yield* checkpoints.between(realmId, after, Number.MAX_SAFE_INTEGER, checkpointPage)
      const [beyond] = yield* authentic(page)
      if (beyond !== undefined) return { ok: false, firstBroken: beyond.eventId } satisfies AuditChain.Verdict
      after = page.length < checkpointPage ? Number.MAX_SAFE_INTEGER : page[page.length - 1]!.seq
    }
    if (walked.last !== undefined) {
      const at = DateTime.unsafeMake(yield* Clock.currentTimeMillis)
      yield* Effect.flatMap(
        AuditCheckpoints.sign(key, { realmId, seq: walked.last.seq, eventId: walked.last.id, hash: walked.last.hash, events: walked.events, at }),
        checkpoints.add
      )
    }
    return { ok: true, events: walked.events } satisfies AuditChain.Verdict
  })

/** The owner trail's `realm` label on the metrics (no realm name can begin with `~`, CONTRACT §2). */
export const ownerTrailLabel = "~owner"

/** The job's name under `JobLock`: one node of many runs each pass. */
export const job = "audit-verify"

/**
 * One pass: every realm's trail and the owner trail, each from its checkpoint; the verdict and the time set on the
 * metrics (`tessera_audit_verify_ok`, `tessera_audit_verify_last_run_timestamp_seconds`, by `realm`); a broken chain
 * logged as an error naming the realm and the first broken event. A trail that cannot be read is logged and left
 * for the next pass; the others are still verified.
 */
export const verifyEveryTrail = Effect.gen(function*() {
  const realms = yield* (yield* Realms).list
  const trails = [...realms.map((r) => ({ id: r.id, label: r.name })), { id: Audit.ownerTrail, label: ownerTrailLabel }]
  for (const trail of trails) {
    yield* verify(trail.id).pipe(
      Effect.flatMap((verdict) =>
        Effect.gen(function*() {
          const now = yield* Clock.currentTimeMillis
          yield* Metric.set(Metrics.auditVerifyOk.pipe(Metric.tagged("realm", trail.label)), verdict.ok ? 1 : 0)
          yield* Metric.set(Metrics.auditVerifyLastRun.pipe(Metric.tagged("realm", trail.label)), Math.floor(now / 1000))
          if (!verdict.ok) {
            yield* Effect.logError(`audit chain of realm ${trail.label} is broken: first broken event ${verdict.firstBroken}`).pipe(
              Effect.annotateLogs({ realm: trail.label, first_broken: verdict.firstBroken })
            )
          }
        })
      ),
      Effect.catchAllCause((cause) => Effect.logError(`audit verification of realm ${trail.label} failed`, cause))
    )
  }
})

/** The first pass waits this long after start: start-up and its first requests go first. */
export const firstPassAfter = Duration.minutes(1)

/** The default interval between passes (`TESSERA_AUDIT_VERIFY_INTERVAL`). */
export const defaultInterval = Duration.hours(1)

/** Runs `verifyEveryTrail` every `interval`, on one node at a time (`JobLock`), for as long as the server runs. */
export const runScheduler = (interval: Duration.DurationInput) =>
  Effect.gen(function*() {
    const jobs = yield* JobLock
    yield* Effect.sleep(Duration.min(firstPassAfter, interval))
    while (true) {
      yield* jobs.tryRun(job, verifyEveryTrail).pipe(
        Effect.catchAllCause((cause) => Effect.logError("audit verification pass failed", cause))
      )
      yield* Effect.sleep(interval)
    }
  })
