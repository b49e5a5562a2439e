/** The address classifier behind the Fetcher's address policy (IANA special-purpose registries, RFC 6890). */
import { describe, expect, it } from "@effect/vitest"
import * as FetcherNode from "@tessera/server-node/FetcherNode"
import * as IpAddress from "@tessera/server-node/IpAddress"

const table: ReadonlyArray<readonly [string, IpAddress.Kind]> = [
  // IPv4
  ["93.184.215.14", "public"],
  ["8.8.8.8", "public"],
  ["1.1.1.1", "public"],
  ["0.0.0.0", "unspecified"],
  ["0.1.2.3", "unspecified"],
  ["10.0.0.1", "private"],
  ["10.255.255.255", "private"],
  ["100.63.255.255", "public"],
  ["100.64.0.1", "cgnat"],
  ["100.127.255.255", "cgnat"],
  ["100.128.0.0", "public"],
  ["127.0.0.1", "loopback"],
  ["127.255.255.254", "loopback"],
  ["169.254.169.254", "link_local"],
  ["172.15.255.255", "public"],
  ["172.16.0.1", "private"],
  ["172.31.255.255", "private"],
  ["172.32.0.0", "public"],
  ["192.0.0.8", "reserved"],
  ["192.0.2.1", "documentation"],
  ["192.88.99.1", "reserved"],
  ["192.168.0.1", "private"],
  ["198.18.0.1", "benchmarking"],
  ["198.19.255.255", "benchmarking"],
  ["198.20.0.0", "public"],
  ["198.51.100.7", "documentation"],
  ["203.0.113.9", "documentation"],
  ["224.0.0.1", "multicast"],
  ["239.255.255.255", "multicast"],
  ["240.0.0.1", "reserved"],
  ["255.255.255.255", "reserved"],
  // IPv6
  ["2606:4700:4700::1111", "public"],
  ["2a00:1450:4001:81b::200e", "public"],
  ["::", "unspecified"],
  ["::1", "loopback"],
  ["0:0:0:0:0:0:0:1", "loopback"],
  ["[::1]", "loopback"],
  ["::ffff:127.0.0.1", "loopback"],
  ["::ffff:7f00:1", "loopback"],
  ["::ffff:10.0.0.1", "private"],
  ["::ffff:169.254.169.254", "link_local"],
  ["::ffff:8.8.8.8", "public"],
  ["64:ff9b::192.168.0.1", "private"],
  ["64:ff9b::8.8.8.8", "public"],
  ["64:ff9b:1::1", "reserved"],
  ["::127.0.0.1", "reserved"],
  ["100::1", "reserved"],
  ["fe80::1", "link_local"],
  ["fe80::1%eth0", "link_local"],
  ["febf::1", "link_local"],
  ["fec0::1", "private"],
  ["fc00::1", "private"],
  ["fd12:3456::1", "private"],
  ["ff02::1", "multicast"],
  ["2001:db8::1", "documentation"],
  ["3fff::1", "documentation"],
  ["2001:2::1", "benchmarking"],
  ["2001::1", "reserved"],
  ["2002:c0a8:0101::1", "reserved"],
  ["5f00::1", "reserved"],
  ["4000::1", "reserved"],
  // not addresses
  ["example.com", "invalid"],
  ["1.2.3", "invalid"],
  ["1.2.3.256", "invalid"],
  ["010.0.0.1", "invalid"],
  ["1::2::3", "invalid"],
  ["1:2:3:4:5:6:7:8:9", "invalid"],
  ["1:2:3:4:5:6:7", "invalid"],
  ["12345::1", "invalid"],
  ["::ffff:1.2.3.999", "invalid"],
  ["1::2:", "invalid"]
]

describe("IpAddress.classify (IANA IPv4/IPv6 special-purpose address registries)", () => {
  for (const [address, kind] of table) {
    it(`${address} is ${kind}`, () => expect(IpAddress.classify(address)).toBe(kind))
  }
})

describe("FetcherNode.allowed (the address policy)", () => {
  const kinds: ReadonlyArray<IpAddress.Kind> = [
    "public", "loopback", "private", "link_local", "cgnat", "unspecified", "multicast", "documentation", "benchmarking", "reserved", "invalid"
  ]
  it("public admits only public; public_or_loopback adds loopback; any admits every address", () => {
    expect(kinds.filter((k) => FetcherNode.allowed("public", k))).toEqual(["public"])
    expect(kinds.filter((k) => FetcherNode.allowed("public_or_loopback", k))).toEqual(["public", "loopback"])
    expect(kinds.filter((k) => FetcherNode.allowed("any", k))).toEqual(kinds.filter((k) => k !== "invalid"))
  })
})
