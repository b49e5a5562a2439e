/** CONTRACT §3 agents: the realm's agent clients with their delegations, and revoking one (ADR 0034). */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpRouter from "@effect/platform/HttpRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Effect } from "effect"
import { AgentsAdmin, Conflict } from "@tessera/domain"
import type { Delegations } from "@tessera/domain"
import { Admin } from "@tessera/protocol"
import { json } from "../Respond.js"
import { admin, destructive, iso, realmName } from "./Auth.js"
import * as Caller from "./Caller.js"
import * as Listing from "./Listing.js"

const agentView = (agent: Delegations.Agent): typeof Admin.AgentView.Encoded => ({
  client_id: agent.clientId,
  ...(agent.clientName !== undefined ? { client_name: agent.clientName } : {}),
  delegations: agent.delegations.map((d) => ({
    sub: d.sub,
    resources: d.resources,
    scopes: d.scopes,
    first_at: iso(d.firstAt),
    last_at: iso(d.lastAt)
  }))
})

const listAgents = admin(Effect.gen(function*() {
  const name = yield* realmName
  const { window } = yield* Listing.query(Admin.AgentsQuery)
  const { items, next_cursor } = Listing.page(yield* AgentsAdmin.list(name, window), window, (agent) => agent.clientId)
  return json({ agents: items.map(agentView), ...(next_cursor !== undefined ? { next_cursor } : {}) })
}))

/** Ids Tessera makes are printable ASCII; anything else names nothing here (and never reaches the store). */
const id = /^[\x21-\x7e]{1,512}$/

const revokeDelegation = destructive(Effect.gen(function*() {
  const name = yield* realmName
  const params = yield* HttpRouter.params
  const clientId = params["client_id"] ?? ""
  const sub = params["sub"] ?? ""
  if (!id.test(clientId) || !id.test(sub)) return yield* new Conflict.NotFound({ entity: "delegation" })
  yield* AgentsAdmin.revokeDelegation(name, clientId, sub, yield* Caller.actor)
  return HttpServerResponse.empty({ status: 204, headers: { "cache-control": "no-store" } })
}))

export const routes = [
  HttpLayerRouter.route("GET", "/admin/realms/:realm/agents", listAgents),
  HttpLayerRouter.route("DELETE", "/admin/realms/:realm/agents/:client_id/delegations/:sub", revokeDelegation)
] as const
