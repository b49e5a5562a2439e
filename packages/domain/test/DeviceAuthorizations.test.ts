import { Layer } from "effect"
import {
  Audit, Clients, DeviceAuthorizations, JobLock, Keys, LoginThrottle, MemoryDb, Realms, Resources, TrustedIssuers, UserCodeThrottle, Users
} from "@tessera/domain"
import * as DeviceAuthorizationsContract from "./DeviceAuthorizationsContract.js"

const Memory = Layer.mergeAll(
  Realms.layerMemory, Clients.layerMemory, Users.layerMemory, Resources.layerMemory, TrustedIssuers.layerMemory,
  Keys.layerMemory, Audit.layerMemory, JobLock.layerMemory, DeviceAuthorizations.layerMemory, UserCodeThrottle.layerMemory,
  LoginThrottle.layerMemory
).pipe(Layer.provide(MemoryDb.layer))

DeviceAuthorizationsContract.suite("memory", Memory)
