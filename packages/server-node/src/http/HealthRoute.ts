/**
 * CONTRACT §2: `GET /healthz` (the process runs) and `GET /readyz` (it should get traffic), for load balancers. Outside
 * every realm: no realm is looked up, and neither answer is ever cached by anyone.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect } from "effect"
import { Readiness } from "../Readiness.js"
import { json } from "./Respond.js"

const healthz = Effect.succeed(json({ status: "ok" }))

// CONTRACT §2: 200 {"status":"ready"}, else 503 {"status":"unavailable","checks":{...}} naming each check's state
const readyz = Effect.map(Effect.flatMap(Readiness, (readiness) => readiness.report), ({ checks, ready }) =>
  ready ? json({ status: "ready" }) : json({ status: "unavailable", checks }, 503))

// HEAD too (load balancers use it): the catch-all route would otherwise take it before the GET fallback
export const Routes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("GET", "/healthz", healthz),
  HttpLayerRouter.route("HEAD", "/healthz", healthz),
  HttpLayerRouter.route("GET", "/readyz", readyz),
  HttpLayerRouter.route("HEAD", "/readyz", readyz)
])
