import { Layer } from "effect"
import { Audit, Clients, Interactions, JobLock, Keys, LoginThrottle, MemoryDb, Realms, Resources, TrustedIssuers, Users } from "@tessera/domain"
import * as InteractionsContract from "./InteractionsContract.js"

const Memory = Layer.mergeAll(
  Realms.layerMemory, Clients.layerMemory, Users.layerMemory, Resources.layerMemory, TrustedIssuers.layerMemory,
  Keys.layerMemory, Audit.layerMemory, JobLock.layerMemory, Interactions.layerMemory, LoginThrottle.layerMemory
).pipe(Layer.provide(MemoryDb.layer))

InteractionsContract.suite("memory", Memory)
