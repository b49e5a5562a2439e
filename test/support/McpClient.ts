/**
 * The MCP TypeScript SDK's own client (1.32; the provider also serves SDK 2.4's client), headless: an `OAuthClientProvider` whose `redirectToAuthorization`
 * walks Tessera's login and consent forms over HTTP (CONTRACT §4) with a cookie jar, and stops at the redirect to the
 * client's loopback callback (nothing listens there), keeping the code. Checks `state` and RFC 9207 `iss`.
 */
import { randomUUID } from "node:crypto"
import { Client } from "@modelcontextprotocol/sdk/client/index.js"
import { type OAuthClientProvider, UnauthorizedError } from "@modelcontextprotocol/sdk/client/auth.js"
import { StreamableHTTPClientTransport } from "@modelcontextprotocol/sdk/client/streamableHttp.js"
import type { OAuthClientInformationMixed, OAuthClientMetadata, OAuthTokens } from "@modelcontextprotocol/sdk/shared/auth.js"
import { formsOf } from "./Browser.js"

export interface Login {
  readonly username: string
  readonly password: string
}

/** One request the SDK sent (through `fetch`), and the answer. */
export interface Seen {
  readonly method: string
  readonly url: string
  readonly status: number
  readonly wwwAuthenticate: string | null
}

export class HeadlessProvider implements OAuthClientProvider {
  /** The last authorization code, and the `iss` that came with it. */
  code: string | undefined
  iss: string | null = null
  /** The whole query of the last redirect to the client (SDK 2's `finishAuth` takes it and checks `iss` itself). */
  callbackParams: URLSearchParams | undefined
  /** How many times the login form was filled in (a step-up shows it again). */
  logins = 0
  /** Every authorization URL the SDK sent the person to. */
  readonly authorizations: Array<URL> = []
  private readonly jar = new Map<string, string>()
  private st: string | undefined
  private verifier: string | undefined
  private info: OAuthClientInformationMixed | undefined
  private saved: OAuthTokens | undefined

  constructor(
    private readonly login: Login,
    /** Where the client comes back: a loopback URL nothing listens on. */
    readonly redirectUrl: string,
    /** Pre-set client information (a registered id, or a client ID metadata document URL used as one). */
    preset?: OAuthClientInformationMixed,
    /** The issuer the authorization responses must name (RFC 9207). */
    private readonly issuer?: string
  ) {
    this.info = preset
  }

  /**
   * What the SDK sends to a registration endpoint as is. MCP 2026-07-28 requires `application_type` there (Tessera
   * refuses a registration without it, ADR 0046); SDK 1.32's type predates it, so it rides along untyped.
   */
  get clientMetadata(): OAuthClientMetadata {
    const metadata = {
      application_type: "native",
      client_name: "e2e",
      redirect_uris: [this.redirectUrl],
      response_types: ["code"],
      grant_types: ["authorization_code", "refresh_token"],
      token_endpoint_auth_method: "none"
    }
    return metadata
  }

  state() {
    return (this.st = randomUUID())
  }
  clientInformation() {
    return this.info
  }
  saveClientInformation(info: OAuthClientInformationMixed) {
    this.info = info
  }
  tokens() {
    return this.saved
  }
  saveTokens(tokens: OAuthTokens) {
    this.saved = tokens
  }
  saveCodeVerifier(verifier: string) {
    this.verifier = verifier
  }
  codeVerifier() {
    if (this.verifier === undefined) throw new Error("no code verifier")
    return this.verifier
  }
  invalidateCredentials(scope: "all" | "client" | "tokens" | "verifier" | "discovery") {
    if (scope === "all" || scope === "tokens") this.saved = undefined
    if (scope === "all" || scope === "client") this.info = undefined
  }

  /**
   * The MCP SDK 1.32 refreshes at the old scope before a step-up when it holds a refresh token, gets the same 403 and
   * gives up (modelcontextprotocol/typescript-sdk#2255): the step-up call goes without it (docs/mcp-clients.md).
   */
  withholdRefreshToken() {
    if (this.saved !== undefined) {
      const { refresh_token: _, ...rest } = this.saved
      this.saved = rest
    }
  }

  private async http(url: URL, init: RequestInit = {}) {
    const cookie = [...this.jar].map(([k, v]) => `${k}=${v}`).join("; ")
    const res = await fetch(url, {
      ...init,
      redirect: "manual",
      headers: { ...(init.headers as Record<string, string> | undefined), ...(cookie !== "" ? { cookie } : {}) }
    })
    for (const line of res.headers.getSetCookie()) {
      const [pair] = line.split(";")
      const eq = pair!.indexOf("=")
      const name = pair!.slice(0, eq).trim()
      if (/max-age=0/i.test(line)) this.jar.delete(name)
      else this.jar.set(name, pair!.slice(eq + 1).trim())
    }
    return res
  }

  async redirectToAuthorization(authorizationUrl: URL) {
    this.authorizations.push(authorizationUrl)
    const callback = new URL(this.redirectUrl)
    let at = authorizationUrl
    let res = await this.http(at)
    for (let hop = 0; hop < 12; hop++) {
      const location = res.headers.get("location")
      if (location !== null) {
        const next = new URL(location, at)
        if (next.hostname === callback.hostname && next.pathname === callback.pathname && next.protocol === callback.protocol) {
          // the client checks state (RFC 6749 §10.12) and iss (RFC 9207 §2.4); SDK 1.32 leaves both to the app
          if (next.searchParams.get("state") !== this.st) throw new Error("state mismatch")
          this.callbackParams = next.searchParams
          if (next.searchParams.has("error")) throw new Error(`authorization error ${next.searchParams.get("error")}`)
          this.iss = next.searchParams.get("iss")
          if (this.issuer !== undefined && this.iss !== this.issuer) throw new Error(`iss ${this.iss} is not ${this.issuer}`)
          this.code = next.searchParams.get("code") ?? undefined
          return
        }
        at = next
        res = await this.http(at)
        continue
      }
      const html = await res.text()
      const form = formsOf(html).find((f) => f.method.toLowerCase() === "post")
      if (form === undefined) throw new Error(`no form at ${at.href} (${res.status}): ${html.slice(0, 500)}`)
      const body = new URLSearchParams(form.hidden)
      const names = form.controls.map(([, a]) => a["name"])
      if (names.includes("username")) {
        body.set("username", this.login.username)
        body.set("password", this.login.password)
        this.logins++
      }
      if (form.controls.some(([tag, a]) => tag === "button" && a["name"] === "decision" && a["value"] === "allow")) body.set("decision", "allow")
      at = new URL(form.action !== "" ? form.action : at.href, at)
      res = await this.http(at, { method: "POST", headers: { "content-type": "application/x-www-form-urlencoded" }, body: body.toString() })
    }
    throw new Error("the authorization never came back to the redirect URI")
  }
}

/** A `fetch` that records what the SDK sends and what comes back. */
export const recordingFetch = (seen: Array<Seen>): typeof fetch => async (input, init) => {
  const res = await fetch(input, init)
  const url = input instanceof Request ? input.url : String(input)
  seen.push({ method: init?.method ?? (input instanceof Request ? input.method : "GET"), url, status: res.status, wwwAuthenticate: res.headers.get("www-authenticate") })
  return res
}

/** Connects as the SDK's README shows: the first attempt ends in `UnauthorizedError`, then `finishAuth`, then again. */
export const connect = async (mcpUrl: string, provider: HeadlessProvider, fetchFn?: typeof fetch): Promise<Client> => {
  for (let attempt = 0; attempt < 2; attempt++) {
    const client = new Client({ name: "e2e", version: "0" })
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, ...(fetchFn !== undefined ? { fetch: fetchFn } : {}) })
    try {
      await client.connect(transport)
      return client
    } catch (e) {
      if (!(e instanceof UnauthorizedError) || provider.code === undefined) throw e
      await transport.finishAuth(provider.code)
    }
  }
  throw new Error("still unauthorized after signing in")
}

/**
 * Calls a tool that may answer 403 `insufficient_scope`: the SDK asks for the challenged scope (a new authorization,
 * where Tessera demands a fresh login for a step-up scope), then the call is made again with the new token.
 */
export const callWithStepUp = async (mcpUrl: string, provider: HeadlessProvider, client: Client, name: string, args: Record<string, unknown> = {}, fetchFn?: typeof fetch) => {
  provider.withholdRefreshToken()
  const before = provider.code
  try {
    return { client, result: await client.callTool({ name, arguments: args }) }
  } catch (e) {
    if (!(e instanceof UnauthorizedError) || provider.code === undefined || provider.code === before) throw e
    const transport = new StreamableHTTPClientTransport(new URL(mcpUrl), { authProvider: provider, ...(fetchFn !== undefined ? { fetch: fetchFn } : {}) })
    await transport.finishAuth(provider.code)
    const again = await connect(mcpUrl, provider, fetchFn)
    return { client: again, result: await again.callTool({ name, arguments: args }) }
  }
}
