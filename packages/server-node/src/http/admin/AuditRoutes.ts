/** CONTRACT §3 audit: a realm's trail and the owner trail (ADR 0030), queried and verified the same way. */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { DateTime, Effect } from "effect"
import { Audit, AuditVerification, Base64Url } from "@tessera/domain"
import type { AuditEvent } from "@tessera/domain"
import { Admin, Body, ErrorResponse } from "@tessera/protocol"
import { fromEither, json } from "../Respond.js"
import { admin, iso, ownerOnly, realmParam } from "./Auth.js"

/** Audit cursors are opaque to clients: the position of the last event of the page. */
const encodeCursor = (seq: number) => Base64Url.encode(new TextEncoder().encode(`seq:${seq}`))
const decodeCursor = (cursor: string) => {
  let text: string
  try {
    text = new TextDecoder().decode(Base64Url.decode(cursor))
  } catch {
    return undefined
  }
  const match = /^seq:([1-9][0-9]{0,15})$/.exec(text)
  return match === null ? undefined : Number(match[1])
}

const eventView = (e: AuditEvent.AuditEvent) => ({
  id: e.id,
  at: iso(e.at),
  realm: e.realm,
  type: e.type,
  actor: e.actor,
  ...(e.subject !== undefined ? { subject: e.subject } : {}),
  ...(e.clientId !== undefined ? { client_id: e.clientId } : {}),
  ...(e.grantType !== undefined ? { grant_type: e.grantType } : {}),
  ...(e.resource !== undefined ? { resource: e.resource } : {}),
  ...(e.scope !== undefined ? { scope: e.scope } : {}),
  ...(e.act !== undefined ? { act: e.act } : {}),
  result: e.result,
  ...(e.reason !== undefined ? { reason: e.reason } : {}),
  ...(e.ip !== undefined ? { ip: e.ip } : {}),
  ...(e.userAgent !== undefined ? { user_agent: e.userAgent } : {})
})

/** The trail named by `trailOf` (a realm's id, or the owner trail's), queried newest first. */
const query = <E, R>(trailOf: Effect.Effect<string, E, R>) => Effect.gen(function*() {
  const trailId = yield* trailOf
  const request = yield* HttpServerRequest.HttpServerRequest
  const params = new URL(request.url, "http://localhost").searchParams
  for (const key of new Set(params.keys())) {
    if (params.getAll(key).length > 1) return yield* ErrorResponse.invalidRequest(`'${key}' must not be given twice`)
  }
  const query = yield* fromEither(Body.decode(Admin.AuditQuery)(Object.fromEntries(params)))
  const before = query.cursor === undefined ? undefined : decodeCursor(query.cursor)
  if (query.cursor !== undefined && before === undefined) {
    return yield* ErrorResponse.invalidRequest("'cursor' must be a cursor from an earlier page")
  }
  // CONTRACT §3 lists: limit 1-200 (the schema refuses others), default 50
  const limit = query.limit ?? Admin.defaultLimit
  const found = yield* Effect.flatMap(Audit.Audit, (trail) =>
    trail.query(trailId, {
      ...(query.type !== undefined ? { type: query.type } : {}),
      ...(query.subject !== undefined ? { subject: query.subject } : {}),
      ...(query.actor !== undefined ? { actor: query.actor } : {}),
      ...(query.client_id !== undefined ? { clientId: query.client_id } : {}),
      ...(query.since !== undefined ? { since: DateTime.unsafeMake(query.since) } : {}),
      ...(query.until !== undefined ? { until: DateTime.unsafeMake(query.until) } : {}),
      ...(before !== undefined ? { before } : {}),
      // one more than asked tells whether another page exists
      limit: limit + 1
    }))
  const page = found.slice(0, limit)
  const last = page[page.length - 1]
  return json({
    events: page.map((stored) => eventView(stored.event)),
    // CONTRACT §3 lists: next_cursor absent on the last page
    ...(found.length > limit && last !== undefined ? { next_cursor: encodeCursor(last.seq) } : {})
  })
})

/**
 * CONTRACT §3: checks a trail's hash chain. ADR 0042: from the newest signed checkpoint it can trust, reading only what
 * is newer (the answer still counts every event), and recording the intact result as a new checkpoint; `full=true`
 * verifies from the first event again. Either way the answer is the contract's.
 */
const verify = <E, R>(trailOf: Effect.Effect<string, E, R>) => Effect.gen(function*() {
  const trailId = yield* trailOf
  const params = new URL((yield* HttpServerRequest.HttpServerRequest).url, "http://localhost").searchParams
  if (params.getAll("full").length > 1) return yield* ErrorResponse.invalidRequest("'full' must not be given twice")
  const query = yield* fromEither(Body.decode(Admin.AuditVerifyQuery)({ full: params.get("full") ?? undefined }))
  const verdict = yield* AuditVerification.verify(trailId, query.full === "true" ? "genesis" : "checkpoint")
  return json(verdict.ok ? { ok: true, events: verdict.events } : { ok: false, first_broken: verdict.firstBroken })
})

const realmTrail = Effect.map(realmParam, (realm) => realm.id)
const ownerTrail = Effect.succeed(Audit.ownerTrail)

export const routes = [
  HttpLayerRouter.route("GET", "/admin/realms/:realm/audit", admin(query(realmTrail))),
  HttpLayerRouter.route("GET", "/admin/realms/:realm/audit/verify", admin(verify(realmTrail))),
  // ADR 0030: the owner's own trail (owner only): realm creation and deletion, tenant invitations
  HttpLayerRouter.route("GET", "/admin/audit", ownerOnly(query(ownerTrail))),
  HttpLayerRouter.route("GET", "/admin/audit/verify", ownerOnly(verify(ownerTrail)))
] as const
