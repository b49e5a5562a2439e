import { Layer } from "effect"
import {
  AccessTokens, Audit, Clients, Delegations, JobLock, JtiCache, Keys, MemoryDb, Realms, Resources, Codes, Consents, Grants, RefreshTokens, Sessions, TrustedIssuers, Users
} from "@tessera/domain"
import * as TokenStateContract from "./TokenStateContract.js"

const Memory = Layer.mergeAll(
  Realms.layerMemory, Clients.layerMemory, Users.layerMemory, Resources.layerMemory, TrustedIssuers.layerMemory,
  Keys.layerMemory, Audit.layerMemory, JobLock.layerMemory,
  Codes.layerMemory, Grants.layerMemory, Sessions.layerMemory, Consents.layerMemory, RefreshTokens.layerMemory, JtiCache.layerMemory,
  Delegations.layerMemory
).pipe(Layer.provideMerge(AccessTokens.layerMemory), Layer.provide(MemoryDb.layer))

TokenStateContract.suite("memory", Memory)
