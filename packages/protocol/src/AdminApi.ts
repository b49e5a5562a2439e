/**
 * The admin API described as an `HttpApi`, used only to publish its OpenAPI document (`/admin/openapi.json`).
 * It is served by plain routes so that every decode failure is the contract's `invalid_request` JSON. Each noun's
 * group lives beside its schemas under `admin/`.
 */
import * as HttpApi from "@effect/platform/HttpApi"
import * as OpenApi from "@effect/platform/OpenApi"
import * as Agents from "./admin/Agents.js"
import * as Audit from "./admin/Audit.js"
import * as Clients from "./admin/Clients.js"
import * as Invitations from "./admin/Invitations.js"
import * as Keys from "./admin/Keys.js"
import * as Realms from "./admin/Realms.js"
import * as Resources from "./admin/Resources.js"
import * as TrustedIssuers from "./admin/TrustedIssuers.js"
import * as Users from "./admin/Users.js"

export const Api = HttpApi.make("tessera-admin")
  .add(Realms.RealmsApi)
  .add(Users.UsersApi)
  .add(Clients.ClientsApi)
  .add(Resources.ResourcesApi)
  .add(TrustedIssuers.TrustedIssuersApi)
  .add(Agents.AgentsApi)
  .add(Invitations.InvitationsApi)
  .add(Keys.KeysApi)
  .add(Audit.AuditApi)
  .annotateContext(OpenApi.annotations({
    title: "Tessera admin API",
    description: "Realms, users, clients, resources, trusted issuers, agents, invitations, keys and the audit trail (CONTRACT §3)."
  }))

const decodeErrorRef = "#/components/schemas/HttpApiDecodeError"

/** Removes HttpApi's own decode-error schema: the routes answer every malformed request with `ErrorBody`. */
const withoutDecodeError = (node: unknown): unknown => {
  if (Array.isArray(node)) return node.map(withoutDecodeError)
  if (typeof node !== "object" || node === null) return node
  const entries = Object.entries(node).map(([key, value]) => {
    if (key === "anyOf" && Array.isArray(value)) {
      const kept = value.filter((v) => (v as { $ref?: string }).$ref !== decodeErrorRef)
      return [key, kept.map(withoutDecodeError)] as const
    }
    return [key, withoutDecodeError(value)] as const
  }).filter(([key]) => key !== "HttpApiDecodeError" && key !== "Issue" && key !== "PropertyKey")
  const object = Object.fromEntries(entries) as Record<string, unknown>
  // an anyOf left with one member is that member
  if (Array.isArray(object["anyOf"]) && (object["anyOf"] as Array<unknown>).length === 1) {
    const { anyOf, ...rest } = object
    return { ...rest, ...((anyOf as Array<Record<string, unknown>>)[0]) }
  }
  return object
}

/** The OpenAPI 3.1 document of the admin API. */
export const openApi = () => withoutDecodeError(OpenApi.fromApi(Api)) as OpenApi.OpenAPISpec
