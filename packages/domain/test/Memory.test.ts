import { Layer } from "effect"
import {
  AccessTokens, Audit, Clients, Codes, Consents, Grants, IdentityLinks, JobLock, Keys, MemoryDb, Realms, RefreshTokens, Resources, Sessions, TrustedIssuers, Users
} from "@tessera/domain"
import * as IdentityLinksContract from "./IdentityLinksContract.js"
import * as PortContract from "./PortContract.js"
import * as SignInContract from "./SignInContract.js"

const Memory = Layer.mergeAll(
  Realms.layerMemory, Clients.layerMemory, Users.layerMemory, Resources.layerMemory,
  TrustedIssuers.layerMemory, Keys.layerMemory, Audit.layerMemory, JobLock.layerMemory,
  Codes.layerMemory, Grants.layerMemory, Sessions.layerMemory, Consents.layerMemory, RefreshTokens.layerMemory,
  IdentityLinks.layerMemory
).pipe(Layer.provideMerge(AccessTokens.layerMemory), Layer.provide(MemoryDb.layer))

PortContract.suite("memory", Memory)
SignInContract.suite("memory", Memory)
IdentityLinksContract.suite("memory", Memory)
