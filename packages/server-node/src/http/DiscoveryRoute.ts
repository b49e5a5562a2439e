/** Authorization server metadata at the three URLs of CONTRACT §2, and the realm's JWKS (RFC 7517 §5). */
import * as HttpLayerRouter from "@effect/platform/HttpLayerRouter"
import * as HttpServerResponse from "@effect/platform/HttpServerResponse"
import { Duration, Effect } from "effect"
import { Endpoints, SigningKeys } from "@tessera/domain"
import { ServerMetadata } from "@tessera/protocol"
import { AppConfig } from "../AppConfig.js"
import * as AuthorizeRoute from "./AuthorizeRoute.js"
import * as ClientCredentials from "./ClientCredentials.js"
import * as DeviceAuthorizationRoute from "./DeviceAuthorizationRoute.js"
import * as Documents from "./Documents.js"
import * as Issuer from "./Issuer.js"
import * as LogoutRoute from "./LogoutRoute.js"
import * as RegistrationRoute from "./RegistrationRoute.js"
import { handle } from "./Respond.js"

/** Public documents any origin may read (browser-based MCP clients fetch them cross-origin). */
const cors = { "access-control-allow-origin": "*" }

/** The preflight a browser sends before a cross-origin fetch carrying MCP's or OAuth's headers. */
const preflight = Effect.succeed(HttpServerResponse.empty({
  status: 204,
  headers: {
    ...cors,
    "access-control-allow-methods": "GET, OPTIONS",
    "access-control-allow-headers": "MCP-Protocol-Version, Authorization, Content-Type",
    "access-control-max-age": "86400"
  }
}))

/** Grant types that work today: later grants add themselves here as they are built. */
export const grantTypesSupported: ReadonlyArray<string> = [
  "authorization_code", "refresh_token", "client_credentials", "urn:ietf:params:oauth:grant-type:jwt-bearer",
  "urn:ietf:params:oauth:grant-type:token-exchange", "urn:ietf:params:oauth:grant-type:device_code"
]

const metadata = handle(Effect.gen(function*() {
  const realm = yield* Issuer.realmParam(Issuer.unknownRealm)
  const issuer = yield* Issuer.of(realm.name)
  const document = {
    ...ServerMetadata.make({ issuer, jwksUri: Endpoints.jwks(issuer), grantTypes: grantTypesSupported }),
    ...(yield* AuthorizeRoute.metadata(realm, issuer)),
    // RFC 8414 §2: the token, introspection and revocation endpoints, and how clients authenticate at each
    ...ClientCredentials.metadata(issuer),
    // RFC 8628 §4: the device authorization endpoint
    ...DeviceAuthorizationRoute.metadata(issuer),
    // OIDC Discovery §3: the UserInfo endpoint
    userinfo_endpoint: Endpoints.userinfo(issuer),
    // OIDC RP-Initiated Logout §2.1, Front-Channel Logout §3
    ...LogoutRoute.metadata(issuer),
    // draft-ietf-oauth-client-id-metadata-document-00 "Authorization Server Metadata"; RFC 7591 when the realm allows
    client_id_metadata_document_supported: true,
    ...RegistrationRoute.metadata(realm, issuer)
  }
  return HttpServerResponse.unsafeJson(document, {
    headers: { ...cors, "cache-control": "public, max-age=300" }
  })
})).pipe(Effect.map((response) => HttpServerResponse.setHeaders(response, cors)))

const jwks = handle(Effect.gen(function*() {
  const realm = yield* Issuer.realmParam(Issuer.unknownRealm)
  const config = yield* AppConfig
  const set = yield* SigningKeys.jwks(realm.id)
  return HttpServerResponse.unsafeJson(set, {
    headers: {
      ...cors,
      "content-type": "application/jwk-set+json",
      // a next key is published at least twice this long before it signs (SigningKey.checkPolicy)
      "cache-control": `public, max-age=${Duration.toSeconds(config.keyPolicy.jwksMaxAge)}`
    }
  })
})).pipe(Effect.map((response) => HttpServerResponse.setHeaders(response, cors)))

/** OIDC Discovery §4, RFC 8414 §3 (path insertion), and the path-inserted OIDC form MCP clients try. */
const metadataPaths = [
  "/realms/:realm/.well-known/openid-configuration",
  "/.well-known/oauth-authorization-server/realms/:realm",
  "/.well-known/openid-configuration/realms/:realm"
] as const

export const Routes = HttpLayerRouter.addAll([
  ...metadataPaths.flatMap((path) => [
    HttpLayerRouter.route("GET", path, Documents.cached("metadata", metadata)),
    HttpLayerRouter.route("OPTIONS", path, preflight)
  ]),
  HttpLayerRouter.route("GET", "/realms/:realm/jwks", Documents.cached("jwks", jwks)),
  HttpLayerRouter.route("OPTIONS", "/realms/:realm/jwks", preflight)
])
