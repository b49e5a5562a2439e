/**
 * The client's address (CONTRACT §1 `TESSERA_TRUSTED_PROXIES`): the socket peer, unless that peer is a trusted proxy;
 * then the forwarded chain (RFC 7239 `Forwarded`, or `X-Forwarded-For`) walked from the right, each hop a trusted
 * proxy vouches for, up to the first address that is not a trusted proxy. Throttles key on it and the audit trail
 * records it (`ip`), so a client can never choose it: only what trusted hops wrote is read.
 *
 * Pure and total: malformed, unknown or obfuscated values stop the walk at the trusted hop that wrote them, and that
 * hop is the answer; nothing here throws.
 */
import * as HttpServerRequest from "@effect/platform/HttpServerRequest"
import { Effect, Option } from "effect"
import { AppConfig } from "../AppConfig.js"
import * as IpAddress from "../IpAddress.js"

type TrustedProxies = ReadonlyArray<IpAddress.Cidr>

/** How many hops are walked at most: a chain longer than any real deployment stops at the hop reached. */
const maxHops = 32

/** One hop as a trusted proxy reported it: its address (8 groups), or undefined when unusable. */
type Hop = ReadonlyArray<number> | undefined

/**
 * A node as `X-Forwarded-For` and RFC 7239 §6 write it: `a.b.c.d`, `a.b.c.d:port`, `[v6]`, `[v6]:port`, or bare IPv6.
 * `unknown` and obfuscated identifiers (§6.2, §6.3) name no address: undefined.
 */
const node = (raw: string): Hop => {
  const text = raw.trim()
  if (text.startsWith("[")) {
    const end = text.indexOf("]")
    if (end < 0) return undefined
    const rest = text.slice(end + 1)
    // RFC 7239 §6: node-port is a port number or an obfuscated `_` identifier
    if (rest !== "" && !/^:([0-9]{1,5}|_[A-Za-z0-9._-]+)$/.test(rest)) return undefined
    const inner = text.slice(1, end)
    return inner.includes(":") ? IpAddress.parse(inner) : undefined
  }
  if (text.includes(":") && text.indexOf(":") !== text.lastIndexOf(":")) return IpAddress.parse(text)
  const colon = text.indexOf(":")
  if (colon >= 0 && !/^([0-9]{1,5}|_[A-Za-z0-9._-]+)$/.test(text.slice(colon + 1))) return undefined
  const host = colon >= 0 ? text.slice(0, colon) : text
  return host.includes(".") ? IpAddress.parse(host) : undefined
}

/**
 * The `for` node of each element of a `Forwarded` header (RFC 7239 §4), in order. Elements are split at every comma
 * (a quoted comma only appears in extension values and makes that element unusable, never a wrong address); an
 * element without exactly one `for`, or with a broken quoted string, is an unusable hop.
 */
export const forwardedHops = (header: string): ReadonlyArray<Hop> =>
  header.split(",").map((element) => {
    let found: Hop | null = null
    for (const pair of element.split(";")) {
      const eq = pair.indexOf("=")
      if (eq < 0) return undefined
      if (pair.slice(0, eq).trim().toLowerCase() !== "for") continue
      if (found !== null) return undefined
      let value = pair.slice(eq + 1).trim()
      if (value.startsWith("\"")) {
        // RFC 7230 §3.2.6 quoted-string; a node never needs a quoted-pair
        if (value.length < 2 || !value.endsWith("\"") || value.slice(1, -1).includes("\"") || value.includes("\\")) return undefined
        value = value.slice(1, -1)
      } else if (value.includes("[")) {
        // RFC 7239 §6: an IPv6 node (it has `:`) must be a quoted-string
        return undefined
      }
      found = node(value)
    }
    return found ?? undefined
  })

/** Each address of an `X-Forwarded-For` header, in order. */
export const xForwardedForHops = (header: string): ReadonlyArray<Hop> => header.split(",").map(node)

/** Walks `hops` from the right, starting after the trusted `peer`: the first hop not trusted, or where it stops. */
const walk = (hops: ReadonlyArray<Hop>, peer: ReadonlyArray<number>, trusted: TrustedProxies) => {
  let current = peer
  for (let i = hops.length - 1, n = 0; i >= 0 && n < maxHops; i--, n++) {
    const hop = hops[i]
    // the trusted hop `current` wrote something that is not an address: it is as far as anyone vouches
    if (hop === undefined) return current
    current = hop
    if (!isTrusted(hop, trusted)) return hop
  }
  // every hop is a trusted proxy (or the chain is longer than maxHops): the leftmost reached
  return current
}

const isTrusted = (address: ReadonlyArray<number>, trusted: TrustedProxies) => trusted.some((cidr) => IpAddress.inCidr(address, cidr))

const same = (a: ReadonlyArray<number>, b: ReadonlyArray<number>) => a.every((g, i) => g === b[i])

export interface Headers {
  readonly forwarded?: string | undefined
  readonly xForwardedFor?: string | undefined
}

/**
 * The client's address from the socket `peer` and the request's forwarding headers, normalised (`IpAddress.format`:
 * IPv4-mapped IPv6 as IPv4). A peer that is not a trusted proxy is the client and the headers are ignored. Behind
 * trusted proxies, `Forwarded` and `X-Forwarded-For` are each walked; when both are there and name different clients,
 * one of them was written by the client (a proxy that writes one header passes the other through untouched), so
 * neither is believed and the answer is the peer, the proxy (ADR 0027).
 */
export const resolve = (peer: string | undefined, headers: Headers, trusted: TrustedProxies): string | undefined => {
  if (peer === undefined) return undefined
  const peerGroups = IpAddress.parse(peer)
  if (peerGroups === undefined) return peer
  if (!isTrusted(peerGroups, trusted)) return IpAddress.format(peerGroups)
  const fromForwarded = headers.forwarded !== undefined ? walk(forwardedHops(headers.forwarded), peerGroups, trusted) : undefined
  const fromXff = headers.xForwardedFor !== undefined ? walk(xForwardedForHops(headers.xForwardedFor), peerGroups, trusted) : undefined
  const client = fromForwarded !== undefined && fromXff !== undefined
    ? (same(fromForwarded, fromXff) ? fromForwarded : peerGroups)
    : fromForwarded ?? fromXff ?? peerGroups
  return IpAddress.format(client)
}

/** A header Node gives as one string (repeated `X-Forwarded-For` / `Forwarded` lines are joined with ", "). */
const headerOf = (value: string | ReadonlyArray<string> | undefined) => typeof value === "string" ? value : value?.join(", ")

/** `resolve` for a Node request's peer and headers. */
export const ofNode = (
  peer: string | undefined,
  headers: Readonly<Record<string, string | ReadonlyArray<string> | undefined>>,
  trusted: TrustedProxies
) => resolve(peer, { forwarded: headerOf(headers["forwarded"]), xForwardedFor: headerOf(headers["x-forwarded-for"]) }, trusted)

/** The current request's client address (the throttles' key, the audit trail's `ip`). */
export const current: Effect.Effect<string | undefined, never, HttpServerRequest.HttpServerRequest | AppConfig> = Effect.map(
  Effect.all([HttpServerRequest.HttpServerRequest, AppConfig]),
  ([request, config]) => ofNode(Option.getOrUndefined(request.remoteAddress), request.headers, config.trustedProxies)
)
