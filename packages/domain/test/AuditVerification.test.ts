import { Chunk, Effect, HashMap, Layer, Order, Ref } from "effect"
import { Audit, AuditCheckpoints, CheckpointKey, Clients, JobLock, Keys, MemoryDb, Realms, Resources, TrustedIssuers, Users } from "@tessera/domain"
import * as AuditVerificationContract from "./AuditVerificationContract.js"

/** The memory trail edited in place, as a process with the state's reference could. */
const tamper = Layer.effect(AuditVerificationContract.Tamper, Effect.map(MemoryDb.MemoryDb, (db) => {
  const change = (realmId: string, f: (trail: Chunk.Chunk<MemoryDb.StoredLink>) => Chunk.Chunk<MemoryDb.StoredLink>) =>
    Ref.update(db.state, (state) => ({ ...state, audit: HashMap.set(state.audit, realmId, f(MemoryDb.trailOf(state, realmId))) }))
  return AuditVerificationContract.Tamper.of({
    update: (realmId, seq, fields) =>
      change(realmId, Chunk.map((l) =>
        l.seq !== seq ? l : {
          ...l,
          ...(fields.prevHash !== undefined ? { prevHash: fields.prevHash } : {}),
          ...(fields.hash !== undefined ? { hash: fields.hash } : {}),
          event: fields.subject !== undefined ? { ...l.event, subject: fields.subject } : l.event
        })),
    remove: (realmId, seq, andAfter = false) => change(realmId, Chunk.filter((l) => (andAfter ? l.seq < seq : l.seq !== seq))),
    swap: (realmId, a, b) =>
      change(realmId, (trail) =>
        Chunk.sortWith(Chunk.map(trail, (l) => (l.seq === a ? { ...l, seq: b } : l.seq === b ? { ...l, seq: a } : l)), (l) => l.seq, Order.number))
  })
}))

const Memory = Layer.mergeAll(
  Realms.layerMemory, Clients.layerMemory, Users.layerMemory, Resources.layerMemory, TrustedIssuers.layerMemory, Keys.layerMemory,
  Audit.layerMemory, AuditCheckpoints.layerMemory, JobLock.layerMemory, tamper, CheckpointKey.layer(AuditVerificationContract.testKey)
).pipe(Layer.provide(MemoryDb.layer))

AuditVerificationContract.suite("memory", Memory)
