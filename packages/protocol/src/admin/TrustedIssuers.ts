/** The admin API's trusted-issuer bodies (CONTRACT §3). */
import { Schema } from "effect"
import { field } from "../Body.js"
import * as RedirectUri from "../RedirectUri.js"
import { absoluteUri } from "./Fields.js"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { created, ErrorBody, Owner, realm } from "./Endpoints.js"

const issuerUrl = (s: string) => {
  if (!RedirectUri.isUriSyntax(s)) return false
  try {
    const url = new URL(s)
    // RFC 8414 §2 / RFC 7523 §3: an https URL without query or fragment (http only on loopback, for development)
    const loopback = url.protocol === "http:" && ["127.0.0.1", "[::1]", "localhost"].includes(url.hostname)
    return (url.protocol === "https:" || loopback) && url.search === "" && !s.includes("#")
  } catch {
    return false
  }
}

export const CreateTrustedIssuer = Schema.Struct({
  issuer: field(Schema.String.pipe(Schema.filter(issuerUrl)), "must be an https URL without query or fragment"),
  jwks: Schema.optional(Schema.Unknown),
  jwks_uri: Schema.optional(field(Schema.String.pipe(Schema.filter((s) => absoluteUri(s) && s.startsWith("https://"))), "must be an https URL"))
})

export const TrustedIssuerCreated = Schema.Struct({
  issuer: Schema.String,
  jwks: Schema.optional(Schema.Unknown),
  jwks_uri: Schema.optional(Schema.String)
})

/** The trusted-issuer operations, for the OpenAPI document. */
export const TrustedIssuersApi = HttpApiGroup.make("trusted-issuers")
  .add(HttpApiEndpoint.post("createTrustedIssuer")`/admin/realms/${realm}/trusted-issuers`.setPayload(CreateTrustedIssuer)
    .addSuccess(created(TrustedIssuerCreated)).addError(ErrorBody(409)))
  .addError(ErrorBody(400))
  .addError(ErrorBody(401))
  .addError(ErrorBody(404))
  .middlewareEndpoints(Owner)
