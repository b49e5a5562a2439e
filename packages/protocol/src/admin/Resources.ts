/** The admin API's resource bodies and operations (CONTRACT §3). */
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import * as HttpApiSchema from "@effect/platform/HttpApiSchema"
import { Schema } from "effect"
import { field } from "../Body.js"
import { created, ErrorBody, noContent, Owner, realm } from "./Endpoints.js"
import { absoluteUri, DisplayName, Scopes } from "./Fields.js"
import { ListQuery, page } from "./Listing.js"

/** RFC 8707 §2: an absolute URI without a fragment. */
export const ResourceUri = field(Schema.String.pipe(Schema.filter(absoluteUri)), "must be an absolute URI without a fragment")

/** Shown to a person on the consent page: one line of plain text (HTML-escaped there). */
export const ScopeDescription = field(
  Schema.String.pipe(Schema.minLength(1), Schema.maxLength(300), Schema.pattern(/^[^\p{Cc}]*$/u)),
  "must be a string of 1 to 300 characters without control characters"
)

/**
 * A key `__proto__` (an own property after JSON.parse) would be dropped, not refused, by decoding into a record: it is
 * refused here, as a description of a scope no resource can usefully have.
 */
const withoutProtoKey = Schema.Unknown.pipe(
  Schema.filter((value) => typeof value !== "object" || value === null || !Object.hasOwn(value, "__proto__"))
)

/** `{scope: text}`; which scopes may be described is the resource's `scopes` (checked on the whole resource). */
export const ScopeDescriptions = field(
  Schema.compose(withoutProtoKey, Schema.Record({ key: Schema.String, value: ScopeDescription }), { strict: false }),
  "must be an object of scope descriptions, each a string of 1 to 300 characters without control characters"
)

const ResourceScopes = field(Scopes.pipe(Schema.minItems(1)), "must be a non-empty array of distinct scope tokens (RFC 6749 §3.3)")

/** A resource's name on the consent page: as a realm's display name, and without control characters. */
export const ResourceDisplayName = field(
  DisplayName.pipe(Schema.pattern(/^[^\p{Cc}]*$/u)),
  "must be a string of 1 to 200 characters without control characters"
)

export const CreateResource = Schema.Struct({
  uri: ResourceUri,
  scopes: ResourceScopes,
  step_up_scopes: Schema.optional(Scopes),
  display_name: Schema.optional(ResourceDisplayName),
  scope_descriptions: Schema.optional(ScopeDescriptions)
})

/**
 * A change: each field given is replaced (`null` clears `display_name` or `scope_descriptions`). `uri` may be given
 * only unchanged: a resource indicator is the resource's identity (ADR 0033).
 */
export const PatchResource = Schema.Struct({
  uri: Schema.optional(ResourceUri),
  scopes: Schema.optional(ResourceScopes),
  step_up_scopes: Schema.optional(Scopes),
  display_name: Schema.optional(Schema.NullOr(ResourceDisplayName)),
  scope_descriptions: Schema.optional(Schema.NullOr(ScopeDescriptions))
})

/** A resource as the admin API shows it (the 201 of its creation, GET, PATCH and the list). */
export const ResourceItem = Schema.Struct({
  id: Schema.String,
  uri: Schema.String,
  scopes: Schema.Array(Schema.String),
  step_up_scopes: Schema.Array(Schema.String),
  display_name: Schema.optional(Schema.String),
  scope_descriptions: Schema.Record({ key: Schema.String, value: Schema.String }),
  created_at: Schema.String
})

/** The creation's answer is the resource. */
export const ResourceCreated = ResourceItem

export const ResourceList = page("resources", ResourceItem)

const id = HttpApiSchema.param("id", Schema.String)

/** RFC 9110 §13.1.1: PATCH and DELETE apply only while the item's ETag is one of these. */
const IfMatch = Schema.Struct({ "if-match": Schema.optional(Schema.String) })

/** The resource operations, for the OpenAPI document. */
export const ResourcesApi = HttpApiGroup.make("resources")
  .add(HttpApiEndpoint.post("createResource")`/admin/realms/${realm}/resources`.setPayload(CreateResource)
    .addSuccess(created(ResourceCreated)).addError(ErrorBody(409)))
  .add(HttpApiEndpoint.get("listResources")`/admin/realms/${realm}/resources`.setUrlParams(ListQuery).addSuccess(ResourceList))
  .add(HttpApiEndpoint.get("getResource")`/admin/realms/${realm}/resources/${id}`.addSuccess(ResourceItem))
  .add(HttpApiEndpoint.patch("patchResource")`/admin/realms/${realm}/resources/${id}`.setPayload(PatchResource).setHeaders(IfMatch)
    .addSuccess(ResourceItem).addError(ErrorBody(412)))
  .add(HttpApiEndpoint.del("deleteResource")`/admin/realms/${realm}/resources/${id}`.setHeaders(IfMatch)
    .addSuccess(noContent).addError(ErrorBody(409)).addError(ErrorBody(412)))
  .addError(ErrorBody(400))
  .addError(ErrorBody(401))
  .addError(ErrorBody(404))
  .middlewareEndpoints(Owner)
