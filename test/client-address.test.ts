/**
 * CONTRACT §1 `TESSERA_TRUSTED_PROXIES`: the client address throttles key on and the audit trail records. The socket
 * peer, unless it is a trusted proxy; then the forwarded chain (RFC 7239 `Forwarded`, `X-Forwarded-For`) walked from
 * the right to the first hop that is not a trusted proxy.
 */
import { describe, expect } from "@effect/vitest"
import { Effect } from "effect"
import * as IpAddress from "@tessera/server-node/IpAddress"
import * as ClientAddress from "@tessera/server-node/http/ClientAddress"
import * as TestLive from "./support/TestLive.js"
import { auditOf, authOf, post, registerClient, world } from "./support/TokenFixtures.js"
import type { World } from "./support/TokenFixtures.js"

const it = TestLive.file()

const trusted = (list: string) => {
  const parsed = IpAddress.parseCidrList(list)
  if ("bad" in parsed) throw new Error(parsed.bad)
  return parsed.cidrs
}

const proxies = trusted("10.0.0.0/8, 192.168.1.1, 2001:db8:ffff::/48")

describe("CONTRACT §1: TESSERA_TRUSTED_PROXIES, the list", () => {
  it("takes IPv4 and IPv6 addresses and CIDRs, with spaces and empty entries", () => {
    expect(trusted(" 10.0.0.0/8 ,,192.0.2.1, ::1 ,fd00::/8 ,")).toHaveLength(4)
    expect(trusted("")).toEqual([])
  })
  it.each([
    "10.0.0.0/33", "10.0.0/8", "fd00::/129", "localhost", "10.0.0.1/", "10.0.0.1/08", "1.2.3.4 5.6.7.8", "*"
  ])("refuses %s, naming it", (entry) => {
    expect(IpAddress.parseCidrList(`10.0.0.1, ${entry}`)).toEqual({ bad: entry })
  })
  it("an IPv4 block also holds the IPv4-mapped IPv6 form of its addresses (RFC 4291 §2.5.5.2)", () => {
    const [block] = trusted("10.0.0.0/8")
    expect(IpAddress.inCidr(IpAddress.parse("::ffff:10.1.2.3")!, block!)).toBe(true)
    expect(IpAddress.inCidr(IpAddress.parse("11.0.0.1")!, block!)).toBe(false)
  })
})

describe("CONTRACT §1, RFC 7239: the client address", () => {
  const table: ReadonlyArray<readonly [string, string | undefined, ClientAddress.Headers, string | undefined]> = [
    // an untrusted peer is the client: its headers are anyone's words
    ["an untrusted peer's X-Forwarded-For is ignored", "203.0.113.9", { xForwardedFor: "198.51.100.1" }, "203.0.113.9"],
    ["an untrusted peer's Forwarded is ignored", "203.0.113.9", { forwarded: "for=198.51.100.1" }, "203.0.113.9"],
    ["no proxies trusted: the peer", "10.0.0.1", {}, "10.0.0.1"],
    ["no peer: unknown", undefined, { xForwardedFor: "198.51.100.1" }, undefined],
    // IPv4-mapped IPv6 peers (a dual-stack socket) are their IPv4 address
    ["RFC 4291 §2.5.5.2: an IPv4-mapped peer is its IPv4 address", "::ffff:203.0.113.9", {}, "203.0.113.9"],
    ["RFC 5952 §4: IPv6 in canonical form", "2001:DB8:0:0:1:0:0:1", {}, "2001:db8::1:0:0:1"],
    // trusted peer: the chain from the right
    ["X-Forwarded-For: the trusted peer's hop", "10.0.0.1", { xForwardedFor: "198.51.100.1" }, "198.51.100.1"],
    ["X-Forwarded-For: a mapped trusted peer", "::ffff:10.0.0.1", { xForwardedFor: "198.51.100.1" }, "198.51.100.1"],
    ["X-Forwarded-For: the client's own prefix is not believed", "10.0.0.1", { xForwardedFor: "1.1.1.1, 2.2.2.2, 198.51.100.1" }, "198.51.100.1"],
    ["X-Forwarded-For: trusted hops are skipped", "10.0.0.1", { xForwardedFor: "1.1.1.1, 198.51.100.1, 10.2.3.4, 192.168.1.1" }, "198.51.100.1"],
    ["X-Forwarded-For: every hop trusted: the leftmost", "10.0.0.1", { xForwardedFor: "10.9.9.9, 10.2.3.4" }, "10.9.9.9"],
    ["X-Forwarded-For: IPv6 and ports", "10.0.0.1", { xForwardedFor: "[2001:db8::7]:4711" }, "2001:db8::7"],
    ["X-Forwarded-For: bare IPv6", "10.0.0.1", { xForwardedFor: "2001:db8::7" }, "2001:db8::7"],
    ["X-Forwarded-For: IPv4 with a port", "10.0.0.1", { xForwardedFor: "198.51.100.1:5000" }, "198.51.100.1"],
    ["X-Forwarded-For: a mapped hop is its IPv4 address", "10.0.0.1", { xForwardedFor: "::ffff:198.51.100.1" }, "198.51.100.1"],
    ["X-Forwarded-For: a trusted IPv6 proxy", "2001:db8:ffff::1", { xForwardedFor: "198.51.100.1" }, "198.51.100.1"],
    ["X-Forwarded-For: garbage from the trusted peer: the peer", "10.0.0.1", { xForwardedFor: "not an address" }, "10.0.0.1"],
    ["X-Forwarded-For: garbage behind a trusted hop: that hop", "10.0.0.1", { xForwardedFor: "1.1.1.1, garbage, 10.2.3.4" }, "10.2.3.4"],
    ["X-Forwarded-For: empty: the peer", "10.0.0.1", { xForwardedFor: "" }, "10.0.0.1"],
    ["X-Forwarded-For: a hostname is not an address", "10.0.0.1", { xForwardedFor: "evil.example" }, "10.0.0.1"],
    ["X-Forwarded-For: leading zeros are not an address", "10.0.0.1", { xForwardedFor: "010.0.0.1" }, "10.0.0.1"],
    ["X-Forwarded-For: a NUL is not an address", "10.0.0.1", { xForwardedFor: "198.51.100.1\u0000" }, "10.0.0.1"],
    // RFC 7239 §4, §6
    ["RFC 7239 §4: for= of the last element", "10.0.0.1", { forwarded: "for=198.51.100.1;proto=https;by=10.0.0.1" }, "198.51.100.1"],
    ["RFC 7239 §4: parameter names are case-insensitive", "10.0.0.1", { forwarded: "For=198.51.100.1" }, "198.51.100.1"],
    ["RFC 7239 §4: elements from the right", "10.0.0.1", { forwarded: "for=1.1.1.1, for=198.51.100.1, for=10.2.3.4" }, "198.51.100.1"],
    ["RFC 7239 §6: quoted IPv6 with a port", "10.0.0.1", { forwarded: "for=\"[2001:db8:cafe::17]:4711\"" }, "2001:db8:cafe::17"],
    ["RFC 7239 §6: quoted IPv4 with a port", "10.0.0.1", { forwarded: "for=\"198.51.100.1:47011\"" }, "198.51.100.1"],
    ["RFC 7239 §6: unquoted IPv6 is malformed: the peer", "10.0.0.1", { forwarded: "for=[2001:db8:cafe::17]" }, "10.0.0.1"],
    ["RFC 7239 §6.2: unknown stops at the hop that wrote it", "10.0.0.1", { forwarded: "for=1.1.1.1, for=unknown" }, "10.0.0.1"],
    ["RFC 7239 §6.3: an obfuscated node stops there", "10.0.0.1", { forwarded: "for=1.1.1.1, for=_hidden, for=10.2.3.4" }, "10.2.3.4"],
    ["RFC 7239 §4: an element without for stops there", "10.0.0.1", { forwarded: "for=1.1.1.1, proto=https" }, "10.0.0.1"],
    ["RFC 7239 §4: two for in one element stop there", "10.0.0.1", { forwarded: "for=1.1.1.1;for=2.2.2.2" }, "10.0.0.1"],
    ["RFC 7239 §4: a broken quoted string stops there", "10.0.0.1", { forwarded: "for=\"198.51.100.1" }, "10.0.0.1"],
    ["RFC 7239 §4: a client's unbalanced quote cannot swallow the proxy's element", "10.0.0.1", { forwarded: "for=\"1.1.1.1, for=198.51.100.1" }, "198.51.100.1"],
    // both headers: one of them came from the client when they disagree
    ["both headers agreeing: that client", "10.0.0.1", { forwarded: "for=198.51.100.1", xForwardedFor: "198.51.100.1" }, "198.51.100.1"],
    ["both headers disagreeing: neither believed, the peer", "10.0.0.1", { forwarded: "for=1.1.1.1", xForwardedFor: "198.51.100.1" }, "10.0.0.1"]
  ]
  it.each(table)("%s", (_name, peer, headers, expected) => {
    expect(ClientAddress.resolve(peer, headers, proxies)).toBe(expected)
  })

  it("a chain longer than 32 trusted hops stops at the 32nd", () => {
    const hops = Array.from({ length: 40 }, (_, i) => `10.0.0.${i + 1}`).join(", ")
    expect(ClientAddress.resolve("10.0.0.1", { xForwardedFor: hops }, proxies)).toBe("10.0.0.9")
  })

  it("never throws, whatever the headers", () => {
    const nasty = ["[", "]", "[:", "[]:1", "\"", "for=\"", ";;;", "for=\"[\"", ":::::", "1.2.3.4:", "[::1]:x", "\u0000", "\uD800", "%", "=,=,="]
    for (const a of nasty) {
      for (const b of nasty) {
        expect(() => ClientAddress.resolve("10.0.0.1", { forwarded: a, xForwardedFor: b }, proxies)).not.toThrow()
        expect(ClientAddress.resolve("10.0.0.1", { forwarded: `${a}, ${b}` }, proxies)).toBe("10.0.0.1")
      }
    }
  })
})

/** A machine client and two client credentials requests (the first through the route, the second at the edge). */
const issueTwice = (w: World, headers: Record<string, string>) =>
  Effect.gen(function*() {
    const client = yield* registerClient(w, { grant_types: ["client_credentials"], redirect_uris: [], response_types: [] })
    for (let i = 0; i < 2; i++) {
      const res = yield* post(w, "token", authOf(client), [["grant_type", "client_credentials"], ["resource", w.resource]], { headers })
      expect(res.status).toBe(200)
    }
    return (yield* auditOf(w, "token.issued")).map((e) => e["ip"])
  })

// the test client connects over loopback: the socket peer is 127.0.0.1
it.layer(TestLive.world({ trustedProxies: TestLive.loopbackProxies }))("CONTRACT §1, §7: behind a trusted proxy", (it) => {
  it.effect("the audit ip is the client the proxy's X-Forwarded-For names (route and edge alike)", () =>
    Effect.gen(function*() {
      const w = yield* world
      expect(yield* issueTwice(w, { "x-forwarded-for": "192.0.2.1, 203.0.113.50" })).toEqual(["203.0.113.50", "203.0.113.50"])
    }))
  it.effect("the audit ip is the client the proxy's Forwarded names", () =>
    Effect.gen(function*() {
      const w = yield* world
      expect(yield* issueTwice(w, { forwarded: "for=\"[2001:db8::42]:1234\";proto=https" })).toEqual(["2001:db8::42", "2001:db8::42"])
    }))
})

it.layer(TestLive.world())("CONTRACT §1, §7: no trusted proxy (the default)", (it) => {
  it.effect("the audit ip is the socket peer; the client's X-Forwarded-For and Forwarded are ignored", () =>
    Effect.gen(function*() {
      const w = yield* world
      const ips = yield* issueTwice(w, { "x-forwarded-for": "203.0.113.50", forwarded: "for=203.0.113.50" })
      expect(ips).toEqual(["127.0.0.1", "127.0.0.1"])
    }))
})
