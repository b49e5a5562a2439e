/** The admin API's audit views and query (CONTRACT §3, §7). */
import { Schema } from "effect"
import { field } from "../Body.js"
import * as HttpApiEndpoint from "@effect/platform/HttpApiEndpoint"
import * as HttpApiGroup from "@effect/platform/HttpApiGroup"
import { ErrorBody, Owner, realm } from "./Endpoints.js"
import { Limit, page } from "./Listing.js"

export const AuditEventView = Schema.Struct({
  id: Schema.String,
  at: Schema.String,
  realm: Schema.String,
  type: Schema.String,
  actor: Schema.Struct({ type: Schema.Literal("user", "client", "agent", "owner", "tenant_admin"), id: Schema.String }),
  subject: Schema.optional(Schema.String),
  client_id: Schema.optional(Schema.String),
  grant_type: Schema.optional(Schema.String),
  resource: Schema.optional(Schema.String),
  scope: Schema.optional(Schema.String),
  act: Schema.optional(Schema.Unknown),
  result: Schema.Literal("success", "failure"),
  reason: Schema.optional(Schema.String),
  ip: Schema.optional(Schema.String),
  user_agent: Schema.optional(Schema.String)
})

/** CONTRACT §3 lists: `next_cursor` only when another page exists. */
export const AuditPage = page("events", AuditEventView)

const Rfc3339 = field(
  Schema.String.pipe(
    Schema.pattern(/^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$/i),
    Schema.filter((s) => !Number.isNaN(Date.parse(s)))
  ),
  "must be an RFC 3339 date-time"
)

/** A filter value: printable text (no control characters, which no stored field holds). */
const FilterText = field(Schema.String.pipe(Schema.pattern(/^[^\p{Cc}]{1,1024}$/u)), "must be 1 to 1024 characters without control characters")

export const AuditQuery = Schema.Struct({
  type: Schema.optional(FilterText),
  subject: Schema.optional(FilterText),
  actor: Schema.optional(FilterText),
  client_id: Schema.optional(FilterText),
  since: Schema.optional(Rfc3339),
  until: Schema.optional(Rfc3339),
  // CONTRACT §3 lists: limit 1-200, default 50, parsed as every other list's
  limit: Schema.optional(Limit),
  cursor: Schema.optional(field(Schema.String.pipe(Schema.pattern(/^[A-Za-z0-9_-]{1,64}$/)), "must be a cursor from an earlier page"))
})

/**
 * CONTRACT §3 `audit/verify`'s query (ADR 0042): by default the trail is verified from its newest signed checkpoint;
 * `full=true` verifies it from its first event.
 */
export const AuditVerifyQuery = Schema.Struct({
  full: Schema.optional(field(Schema.Literal("true", "false"), "must be true or false"))
})

/** CONTRACT §3 `audit/verify`. */
export const AuditVerdict = Schema.Union(
  Schema.Struct({ ok: Schema.Literal(true), events: Schema.Number }),
  Schema.Struct({ ok: Schema.Literal(false), first_broken: Schema.String })
)

/** The audit operations, for the OpenAPI document. */
export const AuditApi = HttpApiGroup.make("audit")
  .add(HttpApiEndpoint.get("audit")`/admin/realms/${realm}/audit`.setUrlParams(AuditQuery).addSuccess(AuditPage))
  .add(HttpApiEndpoint.get("verifyAudit")`/admin/realms/${realm}/audit/verify`.setUrlParams(AuditVerifyQuery).addSuccess(AuditVerdict))
  // the owner trail (ADR 0030): realm creation and deletion, tenant invitations; it outlives the realms it names
  .add(HttpApiEndpoint.get("ownerAudit", "/admin/audit").setUrlParams(AuditQuery).addSuccess(AuditPage))
  .add(HttpApiEndpoint.get("verifyOwnerAudit", "/admin/audit/verify").setUrlParams(AuditVerifyQuery).addSuccess(AuditVerdict))
  .addError(ErrorBody(400))
  .addError(ErrorBody(401))
  .addError(ErrorBody(404))
  .middlewareEndpoints(Owner)
