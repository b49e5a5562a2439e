/**
 * CONTRACT §2: `GET /healthz` (the process runs) and `GET /readyz` (it should get traffic), for load balancers. Outside
 * every realm: no realm is looked up, and neither answer is ever cached by anyone.
 */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import type * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { Readiness } from "../Readiness.js"
import { notFound } from "./NotFoundRoute.js"
import { json } from "./Respond.js"

const healthz = Effect.succeed(json({ status: "ok" }))

// CONTRACT §2: 200 {"status":"ready"}, else 503 {"status":"unavailable","checks":{...}} naming each check's state
const readyz = Effect.map(Effect.flatMap(Readiness, (readiness) => readiness.report), ({ checks, ready }) =>
  ready ? json({ status: "ready" }) : json({ status: "unavailable", checks }, 503))

/**
 * GET and HEAD (load balancers use either): a route for every method, since the catch-all route would otherwise take
 * HEAD before the router's GET fallback; any other method is the catch-all's 404.
 */
const getOrHead = <E, R>(answer: Effect.Effect<HttpServerResponse.HttpServerResponse, E, R>) =>
  Effect.flatMap(HttpServerRequest.HttpServerRequest, (request) =>
    request.method === "GET" || request.method === "HEAD" ? answer : notFound)

export const Routes = HttpLayerRouter.addAll([
  HttpLayerRouter.route("*", "/healthz", getOrHead(healthz)),
  HttpLayerRouter.route("*", "/readyz", getOrHead(readyz))
])
