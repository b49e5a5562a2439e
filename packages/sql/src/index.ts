/** @tessera/sql: the domain's store ports on Postgres (and PGlite), with row-level security per realm. */
import { Layer } from "effect"
import * as PgAudit from "./PgAudit.js"
import * as PgAuditCheckpoints from "./PgAuditCheckpoints.js"
import * as PgClients from "./PgClients.js"
import * as PgDelegations from "./PgDelegations.js"
import * as PgDeviceAuthorizations from "./PgDeviceAuthorizations.js"
import * as PgIdentityLinks from "./PgIdentityLinks.js"
import * as PgInvitations from "./PgInvitations.js"
import * as PgJobLock from "./PgJobLock.js"
import * as PgJtiCache from "./PgJtiCache.js"
import * as PgKeys from "./PgKeys.js"
import * as PgRealms from "./PgRealms.js"
import * as PgResources from "./PgResources.js"
import * as PgSignIn from "./PgSignIn.js"
import * as PgSignInState from "./PgSignInState.js"
import * as PgStoreHealth from "./PgStoreHealth.js"
import * as PgThrottles from "./PgThrottles.js"
import * as PgTrustedIssuers from "./PgTrustedIssuers.js"
import * as PgUsers from "./PgUsers.js"

export * as Database from "./Database.js"
export * as Migrations from "./Migrations.js"
/** ADR 0059: `RateLimit` on the store, for several nodes; not in `ports` (each node counts for itself by default). */
export * as PgRateLimit from "./PgRateLimit.js"
export * as Sql from "./Sql.js"

/** Every store port on the `SqlClient` in context (except `JobLock`, which needs more than one connection). */
export const ports = Layer.mergeAll(
  PgRealms.layer,
  PgKeys.layer,
  PgAudit.layer,
  PgAuditCheckpoints.layer,
  PgClients.layerClients,
  PgUsers.layerUsers,
  PgResources.layerResources,
  PgTrustedIssuers.layerTrustedIssuers,
  PgIdentityLinks.layer,
  PgSignIn.layer,
  PgSignInState.layer,
  PgJtiCache.layer,
  PgDeviceAuthorizations.layer,
  PgThrottles.layer,
  PgDelegations.layer,
  PgInvitations.layer,
  PgStoreHealth.layer
)

/** The advisory-lock `JobLock`, for a real Postgres shared by many nodes. */
export const jobLock = PgJobLock.layer
