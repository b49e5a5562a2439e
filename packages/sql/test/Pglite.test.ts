import { Layer } from "effect"
import { JobLock } from "@tessera/domain"
import { Database, PgRateLimit, ports } from "@tessera/sql"
import * as IdentityLinksContract from "../../domain/test/IdentityLinksContract.js"
import * as PortContract from "../../domain/test/PortContract.js"
import * as DeviceAuthorizationsContract from "../../domain/test/DeviceAuthorizationsContract.js"
import * as InteractionsContract from "../../domain/test/InteractionsContract.js"
import * as RateLimitContract from "../../domain/test/RateLimitContract.js"
import * as SignInContract from "../../domain/test/SignInContract.js"
import * as TokenStateContract from "../../domain/test/TokenStateContract.js"

/** PGlite is one process by construction (the data directory lock), so its jobs need only an in-process lock. */
const Pglite = Layer.mergeAll(ports, JobLock.layerMemory).pipe(Layer.provide(Database.layerPglite(undefined)))

PortContract.suite("PGlite", Pglite)
SignInContract.suite("PGlite", Pglite)
InteractionsContract.suite("PGlite", Pglite)
TokenStateContract.suite("PGlite", Pglite)
DeviceAuthorizationsContract.suite("PGlite", Pglite)
IdentityLinksContract.suite("PGlite", Pglite)
RateLimitContract.suite("PGlite", PgRateLimit.layer.pipe(Layer.provide(Database.layerPglite(undefined))))
