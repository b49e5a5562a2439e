/**
 * The token endpoint's commonest request, answered from Node's request event before Effect's server and router run
 * (ADR 0023): a client credentials request (RFC 6749 §4.4) of a client authenticating with its secret (Basic or
 * form), without DPoP, whose realm, client, resources and signing key are all in the `ReadCache` (ADR 0015).
 *
 * It takes the route's own decisions, the same functions `ClientAuth.authenticate`, `TokenRoute` and
 * `ClientCredentialsGrant.handle` take (`secretMatches`, `choose`, `clientToken`, `accessTokenClaims`,
 * `clientTokenEvent`), synchronously and without a fiber; then it appends the `token.issued` event through the audit
 * port (`Audit.offer`, no fiber per token) and answers only once that append has committed. A refusal, a value not in memory, any other grant or
 * authentication method, and a failed append go to `TokenRoute` with the body already read (`Respond.keepBody`):
 * every error answer comes from the route alone.
 */
import type * as Http from "node:http"
import { Duration, Effect, Either, Exit, Layer, Option, Redacted } from "effect"
import { Audit, Base64Url, ClientAuth, ClientCredentialsGrant, Jwt, Metrics, ReadCache, SigningKeys, TokenSet, Tokens } from "@tessera/domain"
import type { Realm } from "@tessera/domain"
import { ClientAuthentication, Form, TokenRequest } from "@tessera/protocol"
import { AppConfig } from "../AppConfig.js"
import * as NodeCrypto from "../NodeCrypto.js"
import * as ClientAddress from "./ClientAddress.js"
import * as RequestContext from "./RequestContext.js"
import * as Cors from "./Cors.js"
import { collect, keepBody, maxBodyBytes } from "./Respond.js"
import { tokenResponseBody } from "./TokenRoute.js"

/** `/realms/<name>/token` exactly (CONTRACT §2), no query: anything else is the router's. */
const path = /^\/realms\/([a-z0-9][a-z0-9-]{0,62})\/token$/

/** The router's pattern for the same endpoint (TokenRoute), which names it in `tessera_http_request_duration_seconds`. */
const route = "/realms/:realm/token"

/** What the route's `json` and `Cors.open` give a token response (RFC 6749 §5.1: no-store, no-cache). */
const headers = (length: number) => ({
  "cache-control": "no-store",
  pragma: "no-cache",
  ...Cors.headers,
  "content-type": "application/json",
  "content-length": String(length)
})

/**
 * The request's body when the edge may take the request: a POST of a form to a known realm's token endpoint with a
 * declared length within `maxBodyBytes` and no DPoP proof (RFC 9449 §4: the route checks proofs).
 */
const candidate = (cache: ReadCache.ReadCache["Type"], request: Http.IncomingMessage) => {
  if (request.method !== "POST" || request.url === undefined || request.headers["dpop"] !== undefined) return undefined
  const match = path.exec(request.url)
  if (match === null) return undefined
  const type = (request.headers["content-type"] ?? "").split(";")[0]!.trim().toLowerCase()
  const length = Number(request.headers["content-length"])
  if (type !== "application/x-www-form-urlencoded" || !Number.isInteger(length) || length > maxBodyBytes) return undefined
  const realm = cache.peek(ReadCache.realmByName(match[1]!))
  return realm !== undefined && Option.isSome(realm) ? realm.value : undefined
}

/**
 * The route's success path for this one case, every value it reads from the `ReadCache` and every step synchronous:
 * the token response and the event that must be appended before it is sent; undefined wherever the route might do
 * anything else (a refusal, a value not in memory, another grant or client authentication method).
 */
const issue = (deps: {
  readonly cache: ReadCache.ReadCache["Type"]
  readonly issuerOf: (realm: Realm.Realm) => string
  readonly lifetime: Duration.Duration
  readonly trustedProxies: AppConfig["Type"]["trustedProxies"]
  readonly nowMillis: () => number
}, realm: Realm.Realm, body: Uint8Array, request: Http.IncomingMessage) => {
  const issuer = deps.issuerOf(realm)
  const params = Form.parseBytes(body)
  if (Either.isLeft(params)) return undefined
  const token = TokenRequest.decode(params.right)
  // RFC 8707 §2: one resource per token; more is the route's invalid_target
  if (Either.isLeft(token) || token.right.grant_type !== ClientCredentialsGrant.grantType || token.right.resource.length > 1) return undefined
  const credentials = ClientAuthentication.extract({ authorization: request.headers["authorization"], params: params.right }, issuer)
  // client secrets only (a client ID metadata document is fetched, never in memory, and such clients have no secret)
  if (Either.isLeft(credentials) || (credentials.right._tag !== "Basic" && credentials.right._tag !== "Post")) return undefined
  const presented = credentials.right
  const client = deps.cache.peek(ReadCache.clientById(realm.id, presented.clientId))
  if (client === undefined || Option.isNone(client)) return undefined
  const metadata = client.value.metadata
  // as domain ClientAuth.authenticate: the registered method (RFC 7591 §2), then the secret's SHA-256 in constant time
  if (ClientAuth.methodOf(presented) !== metadata.tokenEndpointAuthMethod) return undefined
  const digest = Base64Url.encode(NodeCrypto.sha256(Redacted.value(presented.clientSecret)))
  if (!ClientAuth.secretMatches(client.value, digest, deps.nowMillis())) return undefined
  // as TokenRoute: registered for the grant (RFC 6749 §5.2), and a DPoP-bound client must send a proof (RFC 9449 §5.2)
  if (!metadata.grantTypes.includes(ClientCredentialsGrant.grantType) || metadata.dpopBoundAccessTokens) return undefined
  const resources = deps.cache.peek(ReadCache.resourceList(realm.id))
  if (resources === undefined) return undefined
  const choice = ClientCredentialsGrant.choose({ client: client.value, scope: token.right.scope, resource: token.right.resource[0], resources })
  if (Either.isLeft(choice)) return undefined
  const ring = deps.cache.peek(ReadCache.keyRing(realm.id))
  const active = ring !== undefined && Option.isSome(ring) ? SigningKeys.activeKey(ring.value, "ES256") : undefined
  const signer = active !== undefined ? deps.cache.peek(SigningKeys.signerKey(realm.id, active)) : undefined
  if (signer === undefined) return undefined
  // ClientCredentialsGrant.handle's token and event, minted as Tokens.accessToken and Audit.make mint them
  const clientToken = ClientCredentialsGrant.clientToken({
    realm,
    issuer,
    client: client.value,
    context: RequestContext.of(ClientAddress.ofNode(request.socket.remoteAddress, request.headers, deps.trustedProxies), request.headers["user-agent"]),
    // a request with a DPoP header never reaches the edge (`candidate`): a bearer token
    dpopKey: Option.none()
  }, choice.right)
  const now = deps.nowMillis()
  // Entropy.layer's CSPRNG, called directly: a fiber per token costs more than the two calls
  const jti = NodeCrypto.randomBytes(16)
  const eventId = NodeCrypto.randomUUID()
  const claims = Tokens.accessTokenClaims(TokenSet.clientTokenInput(clientToken), {
    iat: Math.floor(now / 1000),
    jti: Base64Url.encode(jti),
    lifetime: deps.lifetime
  })
  const input = Jwt.signingInput(claims, signer, "at+jwt")
  const accessToken = Jwt.compact(input, NodeCrypto.sign(signer.key, signer.alg, encoder.encode(input)))
  return {
    body: tokenResponseBody({ accessToken, expiresIn: Duration.toSeconds(deps.lifetime), scope: choice.right.scope }, false),
    event: Audit.complete(realm, TokenSet.clientTokenEvent(clientToken), eventId, now)
  }
}

const encoder = new TextEncoder()

/** How many requests this process's edges answered, and how many they handed to the route (for tests and profiles). */
export const counts = { answered: 0, toRoute: 0 }

export const layerServer = (server: Http.Server) =>
  Layer.scopedDiscard(Effect.gen(function*() {
    const cache = yield* ReadCache.ReadCache
    const audit = yield* Audit.Audit
    const config = yield* AppConfig
    const policy = yield* Tokens.TokenPolicy
    const clock = yield* Effect.clock
    const deps = {
      cache,
      issuerOf: (realm: Realm.Realm) => `${config.publicUrl}/realms/${realm.name}`,
      lifetime: policy.lifetimes.accessToken,
      trustedProxies: config.trustedProxies,
      nowMillis: () => clock.unsafeCurrentTimeMillis()
    }

    const answer = (
      realm: Realm.Realm,
      body: Uint8Array,
      request: Http.IncomingMessage,
      response: Http.ServerResponse,
      toRoute: () => void,
      startNanos: bigint
    ) => {
      let issued: ReturnType<typeof issue>
      try {
        issued = issue(deps, realm, body, request)
      } catch {
        // a defect here would be thrown in a Node event listener and end the process: the route decides again,
        // and answers and logs a defect as every route does (Respond.handle)
        issued = undefined
      }
      if (issued === undefined) {
        counts.toRoute++
        return toRoute()
      }
      // ADR 0004: the token is answered only once the append that records it has committed; a failed append is the
      // route's to answer (it issues afresh and answers the store's failure as it always does)
      audit.offer(issued.event, (appended) => {
        if (Exit.isFailure(appended)) {
          counts.toRoute++
          return toRoute()
        }
        counts.answered++
        const json = Buffer.from(JSON.stringify(issued.body))
        response.writeHead(200, headers(json.length))
        response.end(json)
        // CONTRACT §8, as TokenRoute counts its own answers
        Metrics.unsafe.tokenIssued(realm.name, ClientCredentialsGrant.grantType)
        Metrics.unsafe.httpResponse(route, 200, Number(clock.unsafeCurrentTimeNanos() - startNanos) / 1e9)
      })
    }

    const serve = (request: Http.IncomingMessage, response: Http.ServerResponse, router: () => void) => {
      const realm = candidate(cache, request)
      if (realm === undefined) return false
      const startNanos = clock.unsafeCurrentTimeNanos()
      collect(request, maxBodyBytes, (collected) => {
        const toRoute = () => {
          keepBody(request, collected)
          router()
        }
        // a body that could not be read (or, CONTRACT §2, over the limit after all) is the route's to answer
        if (collected._tag !== "Read") return toRoute()
        answer(realm, collected.body, request, response, toRoute, startNanos)
      })
      return true
    }

    const emit = server.emit
    yield* Effect.acquireRelease(
      Effect.sync(() => {
        server.emit = function(this: Http.Server, event: string | symbol, ...args: Array<any>) {
          if (event === "request" && serve(args[0], args[1], () => Reflect.apply(emit, this, [event, ...args]))) return true
          return Reflect.apply(emit, this, [event, ...args]) as boolean
        } as typeof server.emit
      }),
      () => Effect.sync(() => void (server.emit = emit))
    )
  }))
