/**
 * The cookies of signing in (issue 4 item 3): the session cookie and one short-lived cookie per pending
 * interaction that binds its forms to the browser that started it (login CSRF, RFC 9700 §4.4.1.8), and the one that
 * binds the device verification form (RFC 8628 §3.3) likewise. All are `HttpOnly`, `SameSite=Lax`, `Secure` when the
 * public URL is https, and scoped to the realm's path.
 */
import type * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Duration, Effect } from "effect"
import { Interactions, Session } from "@tessera/domain"
import { AppConfig } from "../AppConfig.js"

/** The session cookie of realm `name`: its value is 32 random bytes (base64url), stored server-side as SHA-256. */
export const sessionName = (realmName: string) => `tessera_session_${realmName}`

/** The cookie holding interaction `id`'s CSRF token; the forms carry the same token in `csrf`. */
export const interactionName = (id: string) => `tessera_ix_${id}`

/** Every cookie of a realm is sent only to its own paths (`/realms/a` never sees `/realms/ab`'s, RFC 6265 §5.1.4). */
const options = (realmName: string, maxAge: Duration.Duration) =>
  Effect.map(AppConfig, (config) => ({
    path: `/realms/${realmName}`,
    httpOnly: true,
    sameSite: "lax" as const,
    secure: config.publicUrl.startsWith("https:"),
    maxAge
  }))

/** The device verification form's CSRF token (double submit: the form's `csrf` must equal it). */
export const deviceName = "tessera_device"

export const readSession = (request: HttpServerRequest.HttpServerRequest, realmName: string): string | undefined =>
  request.cookies[sessionName(realmName)]

export const readInteraction = (request: HttpServerRequest.HttpServerRequest, id: string): string | undefined =>
  request.cookies[interactionName(id)]

export const readDevice = (request: HttpServerRequest.HttpServerRequest): string | undefined => request.cookies[deviceName]

/** Binds the device verification form to this browser for as long as an interaction would live. */
export const setDevice = (realmName: string, csrf: string) => (response: HttpServerResponse.HttpServerResponse) =>
  Effect.map(options(realmName, Interactions.lifetime), (o) => HttpServerResponse.unsafeSetCookie(response, deviceName, csrf, o))

export const setSession = (realmName: string, value: string) => (response: HttpServerResponse.HttpServerResponse) =>
  Effect.map(options(realmName, Session.lifetime), (o) => HttpServerResponse.unsafeSetCookie(response, sessionName(realmName), value, o))

export const setInteraction = (realmName: string, id: string, csrf: string) => (response: HttpServerResponse.HttpServerResponse) =>
  Effect.map(options(realmName, Interactions.lifetime), (o) => HttpServerResponse.unsafeSetCookie(response, interactionName(id), csrf, o))

/** Removes the session cookie at logout (`Max-Age=0`, with the path and flags it was set with). */
export const clearSession = (realmName: string) => (response: HttpServerResponse.HttpServerResponse) =>
  Effect.map(options(realmName, Duration.zero), (o) => HttpServerResponse.unsafeSetCookie(response, sessionName(realmName), "", o))

/** Removes the interaction's cookie once it is finished (`Max-Age=0`). */
export const clearInteraction = (realmName: string, id: string) => (response: HttpServerResponse.HttpServerResponse) =>
  Effect.map(options(realmName, Duration.zero), (o) => HttpServerResponse.unsafeSetCookie(response, interactionName(id), "", o))
