/** CONTRACT §3 trusted issuers: whose assertions the RFC 7523 grant (and ID-JAG) accepts. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import { Effect } from "effect"
import { Provisioning } from "@tessera/domain"
import { Admin, ErrorResponse, Jwks } from "@tessera/protocol"
import { json } from "../Respond.js"
import { admin, decodeBody, realmName } from "./Auth.js"

const createTrustedIssuer = admin(Effect.gen(function*() {
  const name = yield* realmName
  const input = yield* decodeBody(Admin.CreateTrustedIssuer)
  if ((input.jwks === undefined) === (input.jwks_uri === undefined)) {
    return yield* ErrorResponse.invalidRequest("exactly one of 'jwks' and 'jwks_uri' is required")
  }
  const jwks = input.jwks === undefined ? undefined : Jwks.validatePublic(input.jwks)
  if (typeof jwks === "string") return yield* ErrorResponse.invalidRequest(`'jwks' ${jwks}`)
  const keys = jwks !== undefined
    ? { _tag: "Jwks" as const, jwks }
    : { _tag: "JwksUri" as const, jwksUri: input.jwks_uri! }
  const trusted = yield* Provisioning.registerTrustedIssuer(name, { issuer: input.issuer, keys })
  return json({
    issuer: trusted.issuer,
    ...(trusted.keys._tag === "Jwks" ? { jwks: trusted.keys.jwks } : { jwks_uri: trusted.keys.jwksUri })
  }, 201)
}))

export const routes = [
  HttpLayerRouter.route("POST", "/admin/realms/:realm/trusted-issuers", createTrustedIssuer)
] as const
