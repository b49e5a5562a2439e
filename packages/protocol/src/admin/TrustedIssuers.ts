/** The admin API's trusted-issuer bodies and operations (CONTRACT §3). */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema } from "effect"
import { field } from "../Body.js"
import * as RedirectUri from "../RedirectUri.js"
import { created, ErrorBody, noContent, Owner, realm } from "./Endpoints.js"
import { absoluteUri } from "./Fields.js"
import { ListQuery, page } from "./Listing.js"

export const Issuer = field(Schema.String.pipe(Schema.filter(RedirectUri.isIssuerUrl)), "must be an https URL without query or fragment")

export const JwksUri = field(Schema.String.pipe(Schema.filter((s) => absoluteUri(s) && s.startsWith("https://"))), "must be an https URL")

const Flag = field(Schema.Boolean, "must be a boolean")

export const CreateTrustedIssuer = Schema.Struct({
  issuer: Issuer,
  jwks: Schema.optional(Schema.Unknown),
  jwks_uri: Schema.optional(JwksUri),
  id_jag: Schema.optional(Flag),
  provision_users: Schema.optional(Flag)
})

/**
 * A change: at most one of `jwks` and `jwks_uri` (the one given replaces whichever the issuer had) and the flags.
 * `issuer` may be given only unchanged: it names whose assertions these are (ADR 0033).
 */
export const PatchTrustedIssuer = Schema.Struct({
  issuer: Schema.optional(Issuer),
  jwks: Schema.optional(Schema.Unknown),
  jwks_uri: Schema.optional(JwksUri),
  id_jag: Schema.optional(Flag),
  provision_users: Schema.optional(Flag)
})

/** A trusted issuer as the admin API shows it (the 201 of its creation, GET, PATCH and the list). */
export const TrustedIssuerItem = Schema.Struct({
  id: Schema.String,
  issuer: Schema.String,
  jwks: Schema.optional(Schema.Unknown),
  jwks_uri: Schema.optional(Schema.String),
  id_jag: Schema.Boolean,
  provision_users: Schema.Boolean,
  created_at: Schema.String
})

/** The creation's answer is the trusted issuer. */
export const TrustedIssuerCreated = TrustedIssuerItem

export const TrustedIssuerList = page("trusted_issuers", TrustedIssuerItem)

const id = HttpApiSchema.param("id", Schema.String)

/** RFC 9110 §13.1.1: PATCH and DELETE apply only while the item's ETag is one of these. */
const IfMatch = Schema.Struct({ "if-match": Schema.optional(Schema.String) })

/** The trusted-issuer operations, for the OpenAPI document. */
export const TrustedIssuersApi = HttpApiGroup.make("trusted-issuers")
  .add(HttpApiEndpoint.post("createTrustedIssuer")`/admin/realms/${realm}/trusted-issuers`.setPayload(CreateTrustedIssuer)
    .addSuccess(created(TrustedIssuerCreated)).addError(ErrorBody(409)))
  .add(HttpApiEndpoint.get("listTrustedIssuers")`/admin/realms/${realm}/trusted-issuers`.setUrlParams(ListQuery).addSuccess(TrustedIssuerList))
  .add(HttpApiEndpoint.get("getTrustedIssuer")`/admin/realms/${realm}/trusted-issuers/${id}`.addSuccess(TrustedIssuerItem))
  .add(HttpApiEndpoint.patch("patchTrustedIssuer")`/admin/realms/${realm}/trusted-issuers/${id}`.setPayload(PatchTrustedIssuer)
    .setHeaders(IfMatch).addSuccess(TrustedIssuerItem).addError(ErrorBody(412)))
  .add(HttpApiEndpoint.del("deleteTrustedIssuer")`/admin/realms/${realm}/trusted-issuers/${id}`.setHeaders(IfMatch)
    .addSuccess(noContent).addError(ErrorBody(412)))
  .addError(ErrorBody(400))
  .addError(ErrorBody(401))
  .addError(ErrorBody(404))
  .middlewareEndpoints(Owner)
