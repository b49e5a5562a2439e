/** The admin API (CONTRACT §3): JSON in and out, nothing half-written; one module of routes per noun under `admin/`. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect } from "effect"
import { AdminApi } from "@tessera/protocol"
import * as AgentRoutes from "./admin/AgentRoutes.js"
import * as AuditRoutes from "./admin/AuditRoutes.js"
import * as ClientRoutes from "./admin/ClientRoutes.js"
import * as InvitationRoutes from "./admin/InvitationRoutes.js"
import * as KeyRoutes from "./admin/KeyRoutes.js"
import * as RealmRoutes from "./admin/RealmRoutes.js"
import * as ResourceRoutes from "./admin/ResourceRoutes.js"
import * as TrustedIssuerRoutes from "./admin/TrustedIssuerRoutes.js"
import * as UserRoutes from "./admin/UserRoutes.js"
import { json } from "./Respond.js"

/** The admin API's OpenAPI document: public, like any API description. */
const openApi = Effect.sync(() => json(AdminApi.openApi(), 200, { "cache-control": "public, max-age=300" }))

export const Routes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("GET", "/admin/openapi.json", openApi),
  ...RealmRoutes.routes,
  ...UserRoutes.routes,
  ...ClientRoutes.routes,
  ...ResourceRoutes.routes,
  ...TrustedIssuerRoutes.routes,
  ...AgentRoutes.routes,
  ...InvitationRoutes.routes,
  ...AuditRoutes.routes,
  ...KeyRoutes.routes
])
