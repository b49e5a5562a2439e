/** The admin API's agents and their delegations (CONTRACT §3 "agents", DESIGN "Agents"). */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema } from "effect"
import { ErrorBody, noContent, Owner, realm } from "./Endpoints.js"
import { ListQuery, page } from "./Listing.js"

/** `GET .../agents`: the list's `limit` and `cursor` only. */
export const AgentsQuery = ListQuery

/** Which person let the agent act for them, toward which resources and scopes, first and last (RFC 3339). */
export const DelegationView = Schema.Struct({
  sub: Schema.String,
  resources: Schema.Array(Schema.String),
  scopes: Schema.Array(Schema.String),
  first_at: Schema.String,
  last_at: Schema.String
})

/** An agent client (`principal_type: "agent"`); `client_name` when it has one. */
export const AgentView = Schema.Struct({
  client_id: Schema.String,
  client_name: Schema.optional(Schema.String),
  delegations: Schema.Array(DelegationView)
})

export const AgentList = page("agents", AgentView)

const clientId = HttpApiSchema.param("client_id", Schema.String)
const sub = HttpApiSchema.param("sub", Schema.String)

/** The agent operations, for the OpenAPI document. */
export const AgentsApi = HttpApiGroup.make("agents")
  .add(HttpApiEndpoint.get("listAgents")`/admin/realms/${realm}/agents`.setUrlParams(AgentsQuery).addSuccess(AgentList))
  .add(HttpApiEndpoint.del("revokeDelegation")`/admin/realms/${realm}/agents/${clientId}/delegations/${sub}`.addSuccess(noContent))
  .addError(ErrorBody(400))
  .addError(ErrorBody(401))
  .addError(ErrorBody(404))
  .middlewareEndpoints(Owner)
